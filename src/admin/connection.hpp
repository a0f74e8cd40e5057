// The two backends of the network database (database.hpp): one connection
// interface with an SQLite and a PostgreSQL implementation. Only
// database.cpp and the two implementations include this header; the rest of
// src/admin talks to Database, Statement and Transaction.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "admin/database.hpp"

namespace cordon::admin::detail {

// A prepared statement of one backend. Binding indexes start at 1, column
// indexes at 0.
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void bind_int(int index, int64_t value) = 0;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_blob(int index, std::span<const std::byte> blob) = 0;
  virtual void bind_null(int index, ValueKind kind) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual int columns() const = 0;
  virtual std::string column_name(int column) const = 0;
  virtual ValueKind kind(int column) const = 0;
  virtual int64_t int64(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual std::span<const std::byte> blob(int column) const = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Backend backend() const = 0;
  virtual sqlite3* sqlite_handle() const { return nullptr; }
  virtual void exec(std::string_view sql) = 0;
  virtual std::unique_ptr<Cursor> prepare(std::string_view sql) = 0;
  virtual int changes() const = 0;
  virtual bool in_transaction() const = 0;
  virtual void begin(TxKind kind) = 0;
  // `quiesce` resets every cached statement (an SQLite checkpoint after
  // the commit needs no statement in progress).
  virtual void commit(TxKind kind, const std::function<void()>& quiesce) = 0;
  virtual void rollback(TxKind kind) noexcept = 0;
  virtual int64_t schema_version() = 0;
  // Inside a kMigration transaction: runs one migration's SQL (schema.cpp)
  // in this backend's dialect and records its version.
  virtual void migrate(int64_t version, std::string_view sql) = 0;
  // After rows were copied in with their own ids (`network migrate`):
  // generated ids continue above them.
  virtual void after_copy(std::string_view table) { (void)table; }
  // `network init` failed: removes what open(kCreate) made.
  virtual void discard() noexcept = 0;
  // Called once the schema version was checked, before migrations (SQLite:
  // WAL mode and the PRAGMAs).
  virtual void configure() {}
  // Called once the schema is up to date (SQLite: the key-retirement
  // triggers).
  virtual void watch() {}

  // Shared with Database (database.hpp): the host number floor, which the
  // backend clears when a host row is deleted, and the urgent-marks flag.
  int64_t host_number_floor = 0;
  bool urgent_marks = false;
};

std::unique_ptr<Connection> open_sqlite(const std::string& path, Database::Mode mode);
std::unique_ptr<Connection> open_sqlite_memory();
std::unique_ptr<Connection> open_postgres(const std::string& uri, Database::Mode mode);

// The administrator-facing name of a PostgreSQL URI: without its password.
std::string postgres_display_name(const std::string& uri);

}  // namespace cordon::admin::detail
