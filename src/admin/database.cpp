// The network database over either backend (database.hpp, connection.hpp):
// opening and schema versions, the statement cache, transactions.
#include "admin/database.hpp"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "admin/connection.hpp"
#include "admin/schema.hpp"

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
};

bool is_postgres_uri(std::string_view where) {
  return where.starts_with("postgresql://") || where.starts_with("postgres://");
}

std::string database_name(const std::string& db) {
  return is_postgres_uri(db) ? detail::postgres_display_name(db) : db;
}

Database::Database(std::unique_ptr<detail::Connection> conn, std::string path)
    : conn_(std::move(conn)), path_(std::move(path)), cache_(std::make_unique<Cache>()) {}

Database::Database(Database&& o) noexcept
    : conn_(std::move(o.conn_)), path_(std::move(o.path_)), cache_(std::move(o.cache_)) {}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    cache_.reset();  // statements before their connection
    conn_ = std::move(o.conn_);
    path_ = std::move(o.path_);
    cache_ = std::move(o.cache_);
  }
  return *this;
}

Database::~Database() {
  cache_.reset();  // statements first: sqlite3_close_v2 would otherwise linger
}

Database Database::open(const std::string& where, Mode mode) {
  if (is_postgres_uri(where)) {
    return bring_up_to_date(Database(detail::open_postgres(where, mode), detail::postgres_display_name(where)), mode);
  }
  return bring_up_to_date(Database(detail::open_sqlite(where, mode), where), mode);
}

Database Database::bring_up_to_date(Database db, Mode mode) {
  const int64_t version = db.user_version();
  const int64_t latest = latest_schema_version();
  if (version > latest) {
    throw AdminError(
        fmt::format("network database {} has schema version {}, newer than this cordon understands "
                    "(up to {}); use the cordon release that wrote it",
                    db.path(), version, latest));
  }
  if (mode == Mode::kOpenExisting && version == 0) {
    throw AdminError(
        fmt::format("{} is not a Cordon network database (schema version 0); create one with "
                    "`cordon admin network init`",
                    db.path()));
  }
  db.conn_->configure();
  if (mode == Mode::kCreateEmpty) return db;
  if (version < latest) {
    Transaction tx(db, Transaction::Kind::kMigration);
    db.apply_migrations();  // re-reads the version under the write lock: another process may have migrated
    tx.commit();
  }
  db.conn_->watch();
  return db;
}

Database Database::open_memory() {
  Database db(detail::open_sqlite_memory(), ":memory:");
  Transaction tx(db, Transaction::Kind::kMigration);
  db.apply_migrations();
  tx.commit();
  return db;
}

void Database::apply_migrations() {
  for (const Migration& m : migrations()) {
    if (m.version <= user_version()) continue;
    conn_->migrate(m.version, m.sql);
  }
}

void Database::after_copy(std::string_view table) { conn_->after_copy(table); }
void Database::discard() noexcept {
  cache_->statements.clear();
  conn_->discard();
}

Backend Database::backend() const { return conn_->backend(); }
sqlite3* Database::handle() const { return conn_->sqlite_handle(); }

void Database::quiesce() {
  for (auto& [sql, statement] : cache_->statements) statement.reset();
}

int64_t Database::host_number_floor() const { return conn_->host_number_floor; }
void Database::set_host_number_floor(int64_t floor) { conn_->host_number_floor = floor; }

bool Database::urgent_marks() const { return conn_->urgent_marks; }
void Database::set_urgent_marks(bool on) { conn_->urgent_marks = on; }

void Database::exec(std::string_view sql) { conn_->exec(sql); }

Statement Database::prepare(std::string_view sql) const { return Statement(*this, sql); }

Statement& Database::cached(const char* sql) {
  auto it = cache_->statements.find(std::string_view(sql));
  if (it == cache_->statements.end()) it = cache_->statements.emplace(sql, Statement(*this, sql)).first;
  it->second.reset();
  return it->second;
}

void Database::reset_cached() {
  for (auto& [sql, st] : cache_->statements) st.reset();
}

int64_t Database::user_version() { return conn_->schema_version(); }
int Database::changes() const { return conn_->changes(); }
bool Database::in_transaction() const { return conn_->in_transaction(); }

// ---------------------------------------------------------------------------

Statement::Statement(const Database& db, std::string_view sql) : cursor_(db.conn_->prepare(sql)) {}
Statement::Statement(Statement&& o) noexcept = default;
Statement& Statement::operator=(Statement&& o) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::bind(int index, int64_t value) {
  cursor_->bind_int(index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  cursor_->bind_text(index, text);
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::byte> blob) {
  cursor_->bind_blob(index, blob);
  return *this;
}

Statement& Statement::bind_null(int index, ValueKind kind) {
  cursor_->bind_null(index, kind);
  return *this;
}

bool Statement::step() { return cursor_->step(); }

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() { cursor_->reset(); }
int Statement::columns() const { return cursor_->columns(); }
std::string Statement::column_name(int column) const { return cursor_->column_name(column); }
ValueKind Statement::kind(int column) const { return cursor_->kind(column); }
int64_t Statement::int64(int column) const { return cursor_->int64(column); }
std::string Statement::text(int column) const { return cursor_->text(column); }
std::span<const std::byte> Statement::blob(int column) const { return cursor_->blob(column); }

// ---------------------------------------------------------------------------

Transaction::Transaction(Database& db, Kind kind) : db_(db), kind_(kind) {
  db_.conn_->begin(kind);
  open_ = true;
  db_.set_host_number_floor(0);  // another process may have removed hosts
}

Transaction::~Transaction() {
  if (!open_) return;
  db_.reset_cached();
  db_.conn_->rollback(kind_);
  db_.set_host_number_floor(0);  // the hosts added since BEGIN are gone
}

void Transaction::commit() {
  const char* crash = std::getenv("CORDON_ADMIN_TEST_CRASH");
  if (kind_ == Kind::kWrite && crash != nullptr && std::strcmp(crash, "before-commit") == 0) ::raise(SIGKILL);
  db_.reset_cached();  // no statement keeps a snapshot past its transaction
  db_.conn_->commit(kind_, [this] { db_.quiesce(); });
  open_ = false;
  db_.set_host_number_floor(0);
}

}  // namespace cordon::admin
