// The network database: one SQLite file (opened in WAL mode with foreign
// keys and secure_delete on) or one PostgreSQL database, a versioned schema
// (schema.cpp) and one transaction per admin command. The two backends
// (connection.hpp) run the same SQL: the PostgreSQL one translates
// SQLite's dialect in one place (postgres_dialect.hpp).
//
// The administrator tool is control plane, not data path, so its errors are
// C++ exceptions (AdminError) carrying the one-line message the user sees;
// a Transaction that unwinds rolls back, which is what makes "bad input
// changes nothing" hold for every command.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace cordon::admin {

// A refusal or failure, worded for the administrator: what went wrong, which
// host/field/file, and what to do.
class AdminError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The write lock is held by another `cordon admin` process.
class DatabaseLocked : public AdminError {
 public:
  using AdminError::AdminError;
};

// How long a command waits for another `cordon admin` holding the write lock
// before it gives up (short: the other command may be interactive). The
// same bound holds on both backends (docs/administration.md, "PostgreSQL").
constexpr int kBusyTimeoutMs = 200;

// Where the network database lives: an SQLite file, or a PostgreSQL
// database named by a libpq URI (postgresql://... or postgres://...).
enum class Backend { kSqlite, kPostgres };
bool is_postgres_uri(std::string_view where);
// What messages call the database --db names: the path, or the PostgreSQL
// URI without its password.
std::string database_name(const std::string& db);

// The kind of a column value, for copying rows between backends.
enum class ValueKind { kNull, kInteger, kText, kBlob };

enum class TxKind {
  kWrite,      // a command: the write lock (SQLite BEGIN IMMEDIATE)
  kRead,       // a query: a snapshot
  kMigration,  // schema migrations and `network migrate`: the write lock, no crash hook
};

class Statement;
namespace detail {
class Connection;
class Cursor;
}  // namespace detail

class Database {
 public:
  enum class Mode {
    kOpenExisting,  // every command but `network init`
    kCreate,        // `network init` and `network import`: the file must not exist
    kCreateEmpty,   // `network migrate`: like kCreate, but no schema yet (apply_migrations)
  };

  // Opens the database: an SQLite file, or a PostgreSQL database when
  // `where` is a postgresql:// URI (docs/administration.md, "PostgreSQL").
  // SQLite: kCreate makes the file with mode 0600 (umask 077 while SQLite
  // creates it and its -wal/-shm companions); an existing file that group
  // or others can access is refused. PostgreSQL: kCreate needs a database
  // without Cordon's tables. Brings the schema up to date (migrations run
  // in their own write transaction) and refuses a schema version newer
  // than this program knows.
  static Database open(const std::string& where, Mode mode);
  // A private in-memory SQLite database with the latest schema: the
  // image a backup of a PostgreSQL database is made from (backup.cpp).
  static Database open_memory();

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  Backend backend() const;
  // The SQLite file, or the PostgreSQL URI without its password: what
  // messages name.
  const std::string& path() const { return path_; }
  // The SQLite connection (nullptr on PostgreSQL): backups and tests.
  sqlite3* handle() const;

  // Runs one or more statements without results or parameters.
  void exec(std::string_view sql);
  // Prepares a statement; statements used in loops are cached by SQL text.
  Statement prepare(std::string_view sql) const;
  Statement& cached(const char* sql);
  // Resets every cached statement. A statement left stepped holds a read
  // snapshot in SQLite: a long-running process (the console) would see
  // nothing newer and could not write. Transactions call it when they end.
  void reset_cached();

  int64_t user_version();
  int changes() const;
  bool in_transaction() const;

  // Inside a kMigration transaction on a kCreateEmpty database: creates
  // the schema (`network migrate`).
  void apply_migrations();
  // Rows of `table` were copied in with their ids: ids made later continue
  // above them.
  void after_copy(std::string_view table);
  // `network init` failed: removes what open(kCreate) made, so that the
  // next init works.
  void discard() noexcept;

  // No host number below the floor is free (0: not known). Set by
  // next_host_number (addressing.hpp) inside a write transaction, so that
  // adding many hosts in one batch does not count the hosts each time;
  // cleared when a transaction begins or ends and when a host row is
  // deleted (the backend sees to it), the only ways a lower number becomes
  // free.
  int64_t host_number_floor() const;
  void set_host_number_floor(int64_t floor);

  // While on, every dirty mark also marks its host urgent (dirty.hpp,
  // UrgentMarks): the command under way is a revocation.
  bool urgent_marks() const;
  void set_urgent_marks(bool on);

 private:
  friend class Statement;
  friend class Transaction;
  Database(std::unique_ptr<detail::Connection> conn, std::string path);
  static Database bring_up_to_date(Database db, Mode mode);
  void quiesce();
  struct Cache;

  std::unique_ptr<detail::Connection> conn_;
  std::string path_;
  std::unique_ptr<Cache> cache_;
};

// A prepared statement. Binding indexes start at 1, column indexes at 0, as
// in the SQLite C API; the SQL is SQLite's, which the PostgreSQL backend
// translates (postgres_dialect.hpp).
class Statement {
 public:
  Statement(const Database& db, std::string_view sql);
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::byte> blob);
  // `kind`: what the value would be if it were there. PostgreSQL needs a
  // parameter's type where the SQL does not say it (`?1 IS NULL OR ...`).
  Statement& bind_null(int index, ValueKind kind = ValueKind::kNull);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    if (value) return bind(index, *value);
    return bind_null(index, std::is_integral_v<T> ? ValueKind::kInteger : ValueKind::kText);
  }

  // Steps once: true while there is a row. Throws on error.
  bool step();
  // Steps a statement that returns no rows, then resets it for reuse.
  void run();
  // Resets and clears bindings so that a cached statement can be reused.
  void reset();

  int columns() const;
  std::string column_name(int column) const;
  ValueKind kind(int column) const;
  bool is_null(int column) const { return kind(column) == ValueKind::kNull; }
  int64_t int64(int column) const;
  std::string text(int column) const;
  std::span<const std::byte> blob(int column) const;  // valid until the next step/reset

 private:
  std::unique_ptr<detail::Cursor> cursor_;
};

// A write transaction (the write lock), or a read snapshot; rolls back in
// the destructor unless committed. SQLite: BEGIN IMMEDIATE or BEGIN.
// PostgreSQL: an advisory lock, then BEGIN ISOLATION LEVEL SERIALIZABLE; or
// BEGIN ISOLATION LEVEL REPEATABLE READ (docs/design.md, decision 17).
class Transaction {
 public:
  using Kind = TxKind;
  Transaction(Database& db, Kind kind);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Test instrumentation: with CORDON_ADMIN_TEST_CRASH=before-commit in the
  // environment the process kills itself with SIGKILL right before COMMIT,
  // so that tests can show an interrupted command leaves the database as it
  // was (docs/administration.md). Only kWrite transactions (commands) honour
  // it. Nothing else reads this variable.
  void commit();

 private:
  Database& db_;
  Kind kind_;
  bool open_ = false;
};

}  // namespace cordon::admin
