// The SQLite backend of the network database (connection.hpp): one file in
// WAL mode, BEGIN IMMEDIATE for commands, key-retirement marks that make a
// write commit truncate the WAL.
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "admin/connection.hpp"
#include "os/linux/files.hpp"

namespace cordon::admin::detail {
namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The database holds every link key of the network: like a key file it must
// be private to the user who runs `cordon admin` (docs/administration.md,
// "What is stored where").
void check_private_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if ((st.st_mode & 077) != 0) {
    throw AdminError(
        fmt::format("network database {} is accessible by group or others (mode {:04o}); it holds "
                    "every link key: run `chmod 600 {}`",
                    path, st.st_mode & 07777, path));
  }
  if (auto owner = os::check_owner(path, st); !owner) throw AdminError("network database: " + owner.error().what);
}

// A key leaves the database when its row is deleted or its key column is
// overwritten. These TEMP triggers (this connection only; nothing is stored
// in the schema) call cordon_key_retired(), so that a write commit knows to
// push the old bytes out of the WAL (docs/administration.md, "What is
// stored where").
constexpr const char* kKeyRetiredTriggers = R"sql(
CREATE TEMP TRIGGER retired_link_update AFTER UPDATE OF key ON main.links
  WHEN OLD.key IS NOT NEW.key BEGIN SELECT cordon_key_retired(); END;
CREATE TEMP TRIGGER retired_link_delete AFTER DELETE ON main.links BEGIN SELECT cordon_key_retired(); END;
CREATE TEMP TRIGGER retired_host_update AFTER UPDATE OF host_key, next_host_key ON main.hosts
  WHEN OLD.host_key IS NOT NEW.host_key OR OLD.next_host_key IS NOT NEW.next_host_key
  BEGIN SELECT cordon_key_retired(); END;
CREATE TEMP TRIGGER retired_host_delete AFTER DELETE ON main.hosts
  BEGIN SELECT cordon_key_retired(); SELECT cordon_host_number_freed(); END;
CREATE TEMP TRIGGER retired_user_update AFTER UPDATE OF user_key, wrapped_user_key ON main.users
  WHEN OLD.user_key IS NOT NEW.user_key OR OLD.wrapped_user_key IS NOT NEW.wrapped_user_key
  BEGIN SELECT cordon_key_retired(); END;
CREATE TEMP TRIGGER retired_user_delete AFTER DELETE ON main.users BEGIN SELECT cordon_key_retired(); END;
)sql";

void note_key_retired(sqlite3_context* context, int, sqlite3_value**) {
  *static_cast<bool*>(sqlite3_user_data(context)) = true;
  sqlite3_result_null(context);
}

void note_host_number_freed(sqlite3_context* context, int, sqlite3_value**) {
  *static_cast<int64_t*>(sqlite3_user_data(context)) = 0;
  sqlite3_result_null(context);
}

class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }

 private:
  mode_t old_;
};

class SqliteConnection;

class SqliteCursor final : public Cursor {
 public:
  SqliteCursor(const SqliteConnection& conn, std::string_view sql);
  ~SqliteCursor() override { sqlite3_finalize(stmt_); }

  void bind_int(int index, int64_t value) override { check(sqlite3_bind_int64(stmt_, index, value)); }
  void bind_text(int index, std::string_view text) override {
    check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
  }
  void bind_blob(int index, std::span<const std::byte> blob) override {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    static const std::byte empty{};
    const void* data = blob.empty() ? &empty : blob.data();
    check(sqlite3_bind_blob(stmt_, index, data, static_cast<int>(blob.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int index, ValueKind) override { check(sqlite3_bind_null(stmt_, index)); }
  bool step() override;
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int columns() const override { return sqlite3_column_count(stmt_); }
  std::string column_name(int column) const override { return sqlite3_column_name(stmt_, column); }
  ValueKind kind(int column) const override {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_NULL: return ValueKind::kNull;
      case SQLITE_INTEGER: return ValueKind::kInteger;
      case SQLITE_BLOB: return ValueKind::kBlob;
      default: return ValueKind::kText;
    }
  }
  int64_t int64(int column) const override { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const override {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (p == nullptr) return {};
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::span<const std::byte> blob(int column) const override {
    const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
    const int n = sqlite3_column_bytes(stmt_, column);
    if (p == nullptr || n <= 0) return {};
    return {p, static_cast<size_t>(n)};
  }

 private:
  void check(int rc) const;
  const SqliteConnection& conn_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  Backend backend() const override { return Backend::kSqlite; }
  sqlite3* sqlite_handle() const override { return db_; }

  // Throws AdminError with `what` plus SQLite's message; names the lock
  // holder when the code is SQLITE_BUSY.
  [[noreturn]] void fail(int rc, std::string_view what) const {
    const int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      throw DatabaseLocked(
          fmt::format("network database {} is locked by another `cordon admin` command; wait for it to "
                      "finish and run this command again",
                      path_));
    }
    if (primary == SQLITE_NOTADB) {
      throw AdminError(fmt::format("{} is not a Cordon network database (not an SQLite file)", path_));
    }
    const char* msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    throw AdminError(fmt::format("network database {}: {} failed: {}", path_, what, msg));
  }

  void exec(std::string_view sql) override {
    const std::string text(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (err != nullptr) sqlite3_free(err);
    if (rc != SQLITE_OK) fail(rc, text.substr(0, text.find_first_of(" ;")));
  }
  std::unique_ptr<Cursor> prepare(std::string_view sql) override {
    return std::make_unique<SqliteCursor>(*this, sql);
  }
  int changes() const override { return sqlite3_changes(db_); }
  bool in_transaction() const override { return sqlite3_get_autocommit(db_) == 0; }

  // BEGIN IMMEDIATE takes the write lock now, so two admin commands never
  // interleave and a locked database is reported before any work is done.
  void begin(TxKind kind) override { exec(kind == TxKind::kRead ? "BEGIN" : "BEGIN IMMEDIATE"); }

  void commit(TxKind kind, const std::function<void()>& quiesce) override {
    exec("COMMIT");
    // Best effort: the command is committed whatever happens here. If
    // another process holds a read snapshot, the old pages stay in the WAL
    // until the next write commit that manages the checkpoint.
    if (kind != TxKind::kRead) (void)truncate_wal_if_keys_retired(quiesce);
  }

  void rollback(TxKind kind) noexcept override {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    if (kind != TxKind::kRead) keys_retired_ = false;  // the old keys are back in place
  }

  int64_t schema_version() override {
    SqliteCursor st(*this, "PRAGMA user_version");
    st.step();
    return st.int64(0);
  }

  void migrate(int64_t version, std::string_view sql) override {
    exec(sql);
    exec(fmt::format("PRAGMA user_version={}", version));
  }

  void discard() noexcept override {
    // Don't leave a half-made database behind: the next `init` must work.
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix, ec);
  }

  void configure() override {
    {
      // WAL: readers (list/show) never wait for a writer, and a crash leaves
      // the last committed state (https://sqlite.org/wal.html). The -wal and
      // -shm files SQLite creates take the database file's mode. Only once
      // the schema version was checked (Database::open).
      UmaskGuard umask(077);
      exec("PRAGMA journal_mode=WAL");
    }
    // secure_delete: a deleted or overwritten row (a retired key) is zeroed
    // in its page instead of lingering in free space until reused
    // (https://sqlite.org/pragma.html#pragma_secure_delete).
    // cache_size: up to 256 MiB of pages (SQLite's default is 2 MiB), taken
    // only as pages are read. A 50,000-host network is about 90 MB, and with
    // the default cache adding its links at random places re-read and spilled
    // pages through system calls (docs/design.md, "Administration at scale").
    exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA cache_size=-262144");
  }

  void watch() override {
    const int rc = sqlite3_create_function_v2(db_, "cordon_key_retired", 0, SQLITE_UTF8, &keys_retired_,
                                              note_key_retired, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(rc, "create function");
    const int rc2 = sqlite3_create_function_v2(db_, "cordon_host_number_freed", 0, SQLITE_UTF8, &host_number_floor,
                                               note_host_number_freed, nullptr, nullptr, nullptr);
    if (rc2 != SQLITE_OK) fail(rc2, "create function");
    exec(kKeyRetiredTriggers);
  }

 private:
  // Retired keys (a deleted row, an overwritten key column; the TEMP
  // triggers set the mark) must not linger in the WAL or in free pages.
  // After a write commit that retired one, the WAL is truncated (PRAGMA
  // wal_checkpoint(TRUNCATE)); secure_delete zeroes the freed space. False
  // when a reader blocked the checkpoint (the mark stays).
  bool truncate_wal_if_keys_retired(const std::function<void()>& quiesce) {
    if (!keys_retired_) return true;
    // A cached statement left mid-result would hold a read snapshot, and a
    // reader stops a TRUNCATE checkpoint.
    quiesce();
    int log_frames = 0, checkpointed = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &checkpointed);
    if (rc != SQLITE_OK) return false;  // keep the mark: the next write commit tries again
    keys_retired_ = false;
    return true;
  }

  sqlite3* db_;
  std::string path_;
  bool keys_retired_ = false;
};

SqliteCursor::SqliteCursor(const SqliteConnection& conn, std::string_view sql) : conn_(conn) {
  const int rc = sqlite3_prepare_v3(conn.sqlite_handle(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) conn.fail(rc, "prepare");
}

void SqliteCursor::check(int rc) const {
  if (rc != SQLITE_OK) conn_.fail(rc, "bind");
}

bool SqliteCursor::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail(rc, "query");
}

std::unique_ptr<SqliteConnection> connect(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc;
  {
    UmaskGuard umask(077);
    rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  }
  auto conn = std::make_unique<SqliteConnection>(raw, path);
  if (rc != SQLITE_OK) conn->fail(rc, "open");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  return conn;
}

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::string& path, Database::Mode mode) {
  const bool exists = file_exists(path);
  if (mode != Database::Mode::kOpenExisting && exists) {
    throw AdminError(
        fmt::format("{} already exists; refusing to overwrite a network database (move it away or "
                    "pass another --db)",
                    path));
  }
  if (mode == Database::Mode::kOpenExisting && !exists) {
    throw AdminError(
        fmt::format("no network database at {}; create one with `cordon admin network init` or "
                    "pass --db",
                    path));
  }
  check_private_file(path);
  auto conn =
      connect(path, SQLITE_OPEN_READWRITE | (mode != Database::Mode::kOpenExisting ? SQLITE_OPEN_CREATE : 0));
  return conn;
}

std::unique_ptr<Connection> open_sqlite_memory() {
  auto conn = connect(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  conn->exec("PRAGMA foreign_keys=ON");
  return conn;
}

}  // namespace cordon::admin::detail
