// The network database: one SQLite file, opened in WAL mode with foreign
// keys and secure_delete on, a versioned schema (PRAGMA user_version, schema.cpp) and one
// transaction per admin command.
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
// before it gives up (short: the other command may be interactive).
constexpr int kBusyTimeoutMs = 200;

class Statement;

class Database {
 public:
  enum class Mode {
    kOpenExisting,  // every command but `network init`
    kCreate,        // `network init` and `network import`: the file must not exist
  };

  // Opens the database file; kCreate makes it with mode 0600 (umask 077
  // while SQLite creates it and its -wal/-shm companions). An existing file
  // that group or others can access is refused. Brings the schema up to
  // date (migrations run in their own BEGIN IMMEDIATE transaction) and
  // refuses a schema version newer than this program knows.
  static Database open(const std::string& path, Mode mode);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs one or more statements without results.
  void exec(std::string_view sql);
  // Prepares a statement; statements used in loops are cached by SQL text.
  Statement prepare(std::string_view sql) const;
  Statement& cached(const char* sql);

  int64_t user_version();
  int64_t last_insert_rowid() const;
  int changes() const;

  // Throws AdminError with `what` plus SQLite's message; names the lock
  // holder when the code is SQLITE_BUSY.
  [[noreturn]] void fail(int rc, std::string_view what) const;

  // Retired keys (a deleted row, an overwritten key column; TEMP triggers
  // set the mark) must not linger in the WAL or in free pages. After a
  // write commit that retired one, Transaction::commit truncates the WAL
  // (PRAGMA wal_checkpoint(TRUNCATE)); secure_delete zeroes the freed
  // space. False when a reader blocked the checkpoint (the mark stays).
  bool truncate_wal_if_keys_retired();
  void forget_retired_keys();

  // No host number below the floor is free (0: not known). Set by
  // next_host_number (addressing.hpp) inside a write transaction, so that
  // adding many hosts in one batch does not count the hosts each time;
  // cleared when a transaction begins or ends and when a host row is
  // deleted (a TEMP trigger), the only ways a lower number becomes free.
  int64_t host_number_floor() const;
  void set_host_number_floor(int64_t floor);

  // While on, every dirty mark also marks its host urgent (dirty.hpp,
  // UrgentMarks): the command under way is a revocation.
  bool urgent_marks() const;
  void set_urgent_marks(bool on);

 private:
  Database(sqlite3* db, std::string path);
  void watch_key_retirement();
  struct Cache;

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unique_ptr<Cache> cache_;
};

// A prepared statement (RAII over sqlite3_stmt). Binding indexes start at 1,
// column indexes at 0, as in the SQLite C API.
class Statement {
 public:
  Statement(const Database& db, std::string_view sql);
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::byte> blob);
  Statement& bind_null(int index);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind_null(index);
  }

  // Steps once: true while there is a row. Throws on error.
  bool step();
  // Steps a statement that returns no rows, then resets it for reuse.
  void run();
  // Resets and clears bindings so that a cached statement can be reused.
  void reset();

  bool is_null(int column) const;
  int64_t int64(int column) const;
  std::string text(int column) const;
  std::span<const std::byte> blob(int column) const;  // valid until the next step/reset

 private:
  const Database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE (write) or BEGIN (read snapshot) ... COMMIT; rolls back in
// the destructor unless committed.
class Transaction {
 public:
  enum class Kind {
    kWrite,      // a command: BEGIN IMMEDIATE
    kRead,       // a query: BEGIN (a snapshot; WAL readers never wait)
    kMigration,  // schema migrations: BEGIN IMMEDIATE, no crash hook
  };
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
