// SQLite connection, statements and transactions (database.hpp).
#include "admin/database.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "admin/schema.hpp"
#include "os/linux/files.hpp"

namespace cordon::admin {

// Looked up by the SQL text as a string_view: cached() is called once per
// statement run (millions of times when a batch builds a large network),
// and a std::string key would copy the text on every lookup.
struct SqlHash {
  using is_transparent = void;
  size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
};

struct Database::Cache {
  std::unordered_map<std::string, Statement, SqlHash, std::equal_to<>> statements;
  // Set by the key_retired triggers below, cleared once the WAL is truncated.
  bool keys_retired = false;
  // No host number below this is free (0: unknown); see host_number_floor().
  int64_t host_number_floor = 0;
  // Dirty marks made now also mark the hosts urgent; see urgent_marks().
  bool urgent_marks = false;
};

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
// in the schema) call cordon_key_retired(), so that Transaction::commit
// knows to push the old bytes out of the WAL (docs/administration.md, "What
// is stored where").
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

}  // namespace

Database::Database(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)), cache_(std::make_unique<Cache>()) {}

Database::Database(Database&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)), cache_(std::move(o.cache_)) {}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    cache_.reset();
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
    cache_ = std::move(o.cache_);
  }
  return *this;
}

Database::~Database() {
  cache_.reset();  // statements first: sqlite3_close_v2 would otherwise linger
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Database Database::open(const std::string& path, Mode mode) {
  const bool exists = file_exists(path);
  if (mode == Mode::kCreate && exists) {
    throw AdminError(
        fmt::format("{} already exists; refusing to overwrite a network database (move it away or "
                    "pass another --db)",
                    path));
  }
  if (mode == Mode::kOpenExisting && !exists) {
    throw AdminError(
        fmt::format("no network database at {}; create one with `cordon admin network init` or "
                    "pass --db",
                    path));
  }
  check_private_file(path);

  sqlite3* raw = nullptr;
  int rc;
  {
    UmaskGuard umask(077);
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (mode == Mode::kCreate ? SQLITE_OPEN_CREATE : 0);
    rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  }
  Database db(raw, path);
  if (rc != SQLITE_OK) db.fail(rc, "open");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);

  const int64_t version = db.user_version();
  const int64_t latest = latest_schema_version();
  if (version > latest) {
    throw AdminError(
        fmt::format("network database {} has schema version {}, newer than this cordon understands "
                    "(up to {}); use the cordon release that wrote it",
                    path, version, latest));
  }
  if (mode == Mode::kOpenExisting && version == 0) {
    throw AdminError(
        fmt::format("{} is not a Cordon network database (schema version 0); create one with "
                    "`cordon admin network init`",
                    path));
  }
  {
    // WAL: readers (list/show) never wait for a writer, and a crash leaves
    // the last committed state (https://sqlite.org/wal.html). The -wal and
    // -shm files SQLite creates take the database file's mode.
    UmaskGuard umask(077);
    db.exec("PRAGMA journal_mode=WAL");
  }
  // secure_delete: a deleted or overwritten row (a retired key) is zeroed
  // in its page instead of lingering in free space until reused
  // (https://sqlite.org/pragma.html#pragma_secure_delete).
  // cache_size: up to 256 MiB of pages (SQLite's default is 2 MiB), taken
  // only as pages are read. A 50,000-host network is about 90 MB, and with
  // the default cache adding its links at random places re-read and spilled
  // pages through system calls (docs/design.md, "Administration at scale").
  db.exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA cache_size=-262144");

  if (version < latest) {
    Transaction tx(db, Transaction::Kind::kMigration);
    // Re-read under the write lock: another process may have migrated.
    for (const Migration& m : migrations()) {
      if (m.version <= db.user_version()) continue;
      db.exec(m.sql);
      db.exec(fmt::format("PRAGMA user_version={}", m.version));
    }
    tx.commit();
  }
  db.watch_key_retirement();
  return db;
}

void Database::watch_key_retirement() {
  const int rc = sqlite3_create_function_v2(db_, "cordon_key_retired", 0, SQLITE_UTF8, &cache_->keys_retired,
                                            note_key_retired, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, "create function");
  const int rc2 = sqlite3_create_function_v2(db_, "cordon_host_number_freed", 0, SQLITE_UTF8,
                                             &cache_->host_number_floor, note_host_number_freed, nullptr, nullptr,
                                             nullptr);
  if (rc2 != SQLITE_OK) fail(rc2, "create function");
  exec(kKeyRetiredTriggers);
}

bool Database::truncate_wal_if_keys_retired() {
  if (!cache_->keys_retired) return true;
  // A cached statement left mid-result would hold a read snapshot, and a
  // reader stops a TRUNCATE checkpoint.
  for (auto& [sql, statement] : cache_->statements) statement.reset();
  int log_frames = 0, checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, "main", SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &checkpointed);
  if (rc != SQLITE_OK) return false;  // keep the mark: the next write commit tries again
  cache_->keys_retired = false;
  return true;
}

void Database::forget_retired_keys() { cache_->keys_retired = false; }

int64_t Database::host_number_floor() const { return cache_->host_number_floor; }
void Database::set_host_number_floor(int64_t floor) { cache_->host_number_floor = floor; }

bool Database::urgent_marks() const { return cache_->urgent_marks; }
void Database::set_urgent_marks(bool on) { cache_->urgent_marks = on; }

void Database::fail(int rc, std::string_view what) const {
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

void Database::exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  if (rc != SQLITE_OK) fail(rc, text.substr(0, text.find_first_of(" ;")));
}

Statement Database::prepare(std::string_view sql) const { return Statement(*this, sql); }

Statement& Database::cached(const char* sql) {
  auto it = cache_->statements.find(std::string_view(sql));
  if (it == cache_->statements.end()) it = cache_->statements.emplace(sql, Statement(*this, sql)).first;
  it->second.reset();
  return it->second;
}

int64_t Database::user_version() {
  Statement st(*this, "PRAGMA user_version");
  st.step();
  return st.int64(0);
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

// ---------------------------------------------------------------------------

Statement::Statement(const Database& db, std::string_view sql) : db_(&db) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, "prepare");
}

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::byte> blob) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const std::byte empty{};
  const void* data = blob.empty() ? &empty : blob.data();
  const int rc = sqlite3_bind_blob(stmt_, index, data, static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(rc, "query");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::span<const std::byte> Statement::blob(int column) const {
  const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) return {};
  return {p, static_cast<size_t>(n)};
}

// ---------------------------------------------------------------------------

Transaction::Transaction(Database& db, Kind kind) : db_(db), kind_(kind) {
  // BEGIN IMMEDIATE takes the write lock now, so two admin commands never
  // interleave and a locked database is reported before any work is done.
  db_.exec(kind == Kind::kRead ? "BEGIN" : "BEGIN IMMEDIATE");
  open_ = true;
  db_.set_host_number_floor(0);  // another process may have removed hosts
}

Transaction::~Transaction() {
  if (!open_) return;
  sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  db_.set_host_number_floor(0);  // the hosts added since BEGIN are gone
  if (kind_ != Kind::kRead) db_.forget_retired_keys();  // the old keys are back in place
}

void Transaction::commit() {
  const char* crash = std::getenv("CORDON_ADMIN_TEST_CRASH");
  if (kind_ == Kind::kWrite && crash != nullptr && std::strcmp(crash, "before-commit") == 0) ::raise(SIGKILL);
  db_.exec("COMMIT");
  open_ = false;
  db_.set_host_number_floor(0);
  // Best effort: the command is committed whatever happens here. If another
  // process holds a read snapshot, the old pages stay in the WAL until the
  // next write commit that manages the checkpoint.
  if (kind_ != Kind::kRead) (void)db_.truncate_wal_if_keys_retired();
}

}  // namespace cordon::admin
