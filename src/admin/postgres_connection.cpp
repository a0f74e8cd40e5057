// The PostgreSQL backend of the network database (connection.hpp; docs/
// administration.md, "PostgreSQL"; docs/design.md, decision 17).
//
//  - Commands: a session advisory lock taken before BEGIN ISOLATION LEVEL
//    SERIALIZABLE, waited for at most kBusyTimeoutMs (lock_timeout), is
//    the BEGIN IMMEDIATE of the SQLite backend: one writer at a time, and
//    its snapshot is taken after the previous writer committed. A
//    serialization failure all the same is a refusal (DatabaseLocked).
//  - Queries: BEGIN ISOLATION LEVEL REPEATABLE READ, a snapshot.
//  - A lost connection before COMMIT: the server rolls the transaction
//    back. During COMMIT: the outcome is asked of the server on a new
//    connection (pg_xact_status of the transaction's ID).
#include <libpq-fe.h>
#include <sodium.h>

#include <charconv>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "admin/connection.hpp"
#include "admin/postgres_dialect.hpp"
#include "admin/schema.hpp"

namespace cordon::admin::detail {
namespace {

// The advisory lock every `cordon admin` write transaction holds; advisory
// locks are per database, so one network's lock never stops another's.
constexpr int64_t kWriteLock = 0x436f72646f6e4144;  // "CordonAD"

// PostgreSQL type OIDs (src/include/catalog/pg_type.dat of PostgreSQL).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's messages span lines (a hint on a tab-indented second line); an
// AdminError is one line.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void ignore_notice(void*, const char*) {}

class PgConnection;

class PgCursor final : public Cursor {
 public:
  PgCursor(PgConnection& conn, std::string_view sql);
  void bind_int(int index, int64_t value) override { set(index, std::to_string(value), kInt8Oid, 0); }
  void bind_text(int index, std::string_view text) override { set(index, std::string(text), kTextOid, 0); }
  void bind_blob(int index, std::span<const std::byte> blob) override {
    set(index, std::string(reinterpret_cast<const char*>(blob.data()), blob.size()), kByteaOid, 1);
  }
  // Typed when the caller knows the type; otherwise the SQL must say it.
  void bind_null(int index, ValueKind kind) override {
    const Oid type = kind == ValueKind::kInteger ? kInt8Oid
                     : kind == ValueKind::kText  ? kTextOid
                     : kind == ValueKind::kBlob  ? kByteaOid
                                                 : 0;
    set(index, std::nullopt, type, 0);
  }
  bool step() override;
  void reset() override {
    result_.reset();
    row_ = 0;
    values_.clear();
    types_.clear();
    formats_.clear();
  }
  int columns() const override { return result_ ? PQnfields(result_.get()) : 0; }
  std::string column_name(int column) const override { return PQfname(result_.get(), column); }
  ValueKind kind(int column) const override {
    if (PQgetisnull(result_.get(), row_, column)) return ValueKind::kNull;
    switch (PQftype(result_.get(), column)) {
      case kBoolOid:
      case kInt2Oid:
      case kInt4Oid:
      case kInt8Oid: return ValueKind::kInteger;
      case kByteaOid: return ValueKind::kBlob;
      default: return ValueKind::kText;
    }
  }
  int64_t int64(int column) const override {
    const char* v = PQgetvalue(result_.get(), row_, column);
    if (v[0] == 't') return 1;  // a boolean: SQLite's comparisons are integers
    int64_t out = 0;
    std::from_chars(v, v + PQgetlength(result_.get(), row_, column), out);
    return out;
  }
  std::string text(int column) const override {
    return std::string(PQgetvalue(result_.get(), row_, column),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, column)));
  }
  std::span<const std::byte> blob(int column) const override;

 private:
  void set(int index, std::optional<std::string> value, Oid type, int format) {
    const auto i = static_cast<size_t>(index - 1);
    if (values_.size() <= i) {
      values_.resize(i + 1);
      types_.resize(i + 1, 0);
      formats_.resize(i + 1, 0);
    }
    values_[i] = std::move(value);
    types_[i] = type;
    formats_[i] = format;
  }

  PgConnection& conn_;
  std::string sql_;
  // A host row deleted: a lower host number may be free (database.hpp,
  // host_number_floor). The SQLite backend learns it from a TEMP trigger;
  // PostgreSQL has no per-connection triggers, and the admin code deletes
  // hosts with this one statement form.
  bool deletes_hosts_ = false;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
  Result result_;
  int row_ = 0;
  mutable std::vector<std::vector<std::byte>> blobs_;
};

class PgConnection final : public Connection {
 public:
  PgConnection(std::string uri, std::string name) : uri_(std::move(uri)), name_(std::move(name)) {}
  ~PgConnection() override {
    if (conn_ != nullptr) PQfinish(conn_);
    sodium_memzero(uri_.data(), uri_.size());  // it may hold a password
  }

  Backend backend() const override { return Backend::kPostgres; }

  void connect() {
    PGconn* conn = dial();
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string detail = one_line(PQerrorMessage(conn));
      PQfinish(conn);
      throw AdminError(connect_error(detail));
    }
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = conn;
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    exec(fmt::format("SET lock_timeout = {}; SET client_min_messages = warning", kBusyTimeoutMs));
  }

  void exec(std::string_view sql) override {
    Result r(PQexec(conn_, std::string(sql).c_str()));
    check(r.get(), sql);
  }

  // One statement with its parameters, results as text.
  Result run(const std::string& sql, const std::vector<std::optional<std::string>>& values,
             const std::vector<Oid>& types, const std::vector<int>& formats) {
    std::vector<const char*> pointers(values.size());
    std::vector<int> lengths(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      pointers[i] = values[i] ? values[i]->data() : nullptr;
      lengths[i] = values[i] ? static_cast<int>(values[i]->size()) : 0;
    }
    Result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), types.data(), pointers.data(),
                          lengths.data(), formats.data(), 0));
    check(r.get(), sql);
    return r;
  }

  std::unique_ptr<Cursor> prepare(std::string_view sql) override { return std::make_unique<PgCursor>(*this, sql); }
  int changes() const override { return changes_; }
  bool in_transaction() const override {
    return conn_ != nullptr && PQtransactionStatus(conn_) != PQTRANS_IDLE &&
           PQtransactionStatus(conn_) != PQTRANS_UNKNOWN;
  }

  // A long-lived Admin (the web console) outlives a server restart: a
  // connection found broken when a transaction begins is made again, since
  // nothing was under way on it.
  void begin(TxKind kind) override {
    if (PQstatus(conn_) != CONNECTION_OK) connect();
    try {
      begin_once(kind);
    } catch (const DatabaseLocked&) {
      throw;
    } catch (const AdminError&) {
      if (PQstatus(conn_) == CONNECTION_OK) throw;
      connect();
      begin_once(kind);
    }
  }

  void begin_once(TxKind kind) {
    if (kind == TxKind::kRead) {
      exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
      return;
    }
    // Before BEGIN, so that the transaction's snapshot is taken once the
    // previous writer has committed.
    exec(fmt::format("SELECT pg_advisory_lock({})", kWriteLock));
    try {
      exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
    } catch (...) {
      unlock();
      throw;
    }
  }

  void commit(TxKind kind, const std::function<void()>&) override {
    if (kind == TxKind::kRead) {
      exec("COMMIT");
      return;
    }
    const std::string xid = transaction_id();
    Result r(PQexec(conn_, "COMMIT"));
    const bool answered = r != nullptr && PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) != nullptr;
    if (PQstatus(conn_) != CONNECTION_OK || (PQresultStatus(r.get()) != PGRES_COMMAND_OK && !answered)) {
      settle_lost_commit(xid);  // throws unless the transaction committed
      return;
    }
    const bool ok = PQresultStatus(r.get()) == PGRES_COMMAND_OK;
    // A COMMIT of a failed transaction answers ROLLBACK, not an error.
    const bool rolled_back = ok && std::string_view(PQcmdStatus(r.get())) == "ROLLBACK";
    unlock();
    if (!ok) check(r.get(), "COMMIT");
    if (rolled_back) throw AdminError(fmt::format("network database {}: the transaction failed and was rolled back; nothing was changed", name_));
  }

  void rollback(TxKind kind) noexcept override {
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return;  // the server rolls back on its own
    PQclear(PQexec(conn_, "ROLLBACK"));
    if (kind != TxKind::kRead) unlock();
  }

  int64_t schema_version() override {
    if (!has_table("cordon_schema")) return 0;
    return scalar("SELECT version FROM cordon_schema");
  }

  void migrate(int64_t version, std::string_view sql) override {
    exec(postgres_schema(sql));
    exec(fmt::format(
        "CREATE TABLE IF NOT EXISTS cordon_schema (version BIGINT NOT NULL); DELETE FROM cordon_schema; "
        "INSERT INTO cordon_schema (version) VALUES ({})",
        version));
  }

  void after_copy(std::string_view table) override {
    const std::string t(table);
    Result seq = run("SELECT pg_get_serial_sequence($1, 'id') FROM information_schema.columns "
                     "WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id' "
                     "AND is_identity = 'YES'",
                     {t}, {0}, {0});
    if (PQntuples(seq.get()) == 0) return;
    const std::string sequence = PQgetvalue(seq.get(), 0, 0);
    (void)run(fmt::format("SELECT setval($1, max(id)) FROM {} HAVING max(id) IS NOT NULL", t), {sequence}, {0},
              {0});
  }

  void discard() noexcept override {
    if (PQstatus(conn_) != CONNECTION_OK) return;
    std::string sql = "DROP TABLE IF EXISTS cordon_schema";
    for (const char* table : schema_tables()) sql += std::string(", ") + table;
    PQclear(PQexec(conn_, (sql + " CASCADE").c_str()));
  }

  // kCreate and kCreateEmpty: the database holds no table of ours.
  void check_empty() {
    const int64_t tables =
        scalar("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()");
    if (tables == 0) return;
    throw AdminError(fmt::format(
        "PostgreSQL database {} is not empty ({} tables{}); a new network needs an empty database: create one "
        "with `createdb` or pass another --db",
        name_, tables, has_table("cordon_schema") ? ", a Cordon network among them" : ""));
  }

  const std::string& name() const { return name_; }
  int changes_ = 0;

 private:
  PGconn* dial() {
    // connect_timeout first: the URI's own value, if any, comes later and wins.
    const char* keys[] = {"connect_timeout", "fallback_application_name", "dbname", nullptr};
    const char* values[] = {"10", "cordon admin", uri_.c_str(), nullptr};
    return PQconnectdbParams(keys, values, 1);
  }

  std::string connect_error(const std::string& detail) const {
    if (detail.find("authentication") != std::string::npos || detail.find("password") != std::string::npos ||
        detail.find("pg_hba.conf") != std::string::npos || detail.find("role \"") != std::string::npos) {
      return fmt::format(
          "cannot log in to PostgreSQL server {}: {}; check the user, its password (in ~/.pgpass or "
          "PGPASSWORD, not in the URI) and the server's pg_hba.conf",
          name_, detail);
    }
    if (detail.find("database \"") != std::string::npos && detail.find("does not exist") != std::string::npos) {
      return fmt::format("cannot open PostgreSQL database {}: {}; create it with `createdb` or correct the URI",
                         name_, detail);
    }
    return fmt::format(
        "cannot connect to PostgreSQL server {}: {}; check that the server is running and that the URI's host "
        "and port are right",
        name_, detail);
  }

  // Throws the administrator's message for a failed statement.
  void check(PGresult* r, std::string_view what) {
    const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      changes_ = std::atoi(PQcmdTuples(r));
      return;
    }
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    // An error without an SQLSTATE comes from libpq, not from the server:
    // the connection broke.
    if (PQstatus(conn_) != CONNECTION_OK || state == nullptr) {
      throw AdminError(fmt::format(
          "the connection to PostgreSQL server {} was lost ({}); nothing was changed (the server rolls back an "
          "unfinished transaction): run the command again once the server is back",
          name_, one_line(PQerrorMessage(conn_))));
    }
    const std::string_view code = state;
    if (code == "55P03") {  // lock_not_available: lock_timeout ran out
      throw DatabaseLocked(fmt::format(
          "network database {} is locked by another `cordon admin` command; wait for it to finish and run this "
          "command again",
          name_));
    }
    if (code == "40001" || code == "40P01") {  // serialization_failure, deadlock_detected
      throw DatabaseLocked(fmt::format(
          "network database {} was changed by another `cordon admin` command at the same time; nothing was "
          "changed: run this command again",
          name_));
    }
    const std::string message = one_line(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    const std::string verb(what.substr(0, what.find_first_of(" ;")));
    throw AdminError(fmt::format("network database {}: {} failed: {}", name_, verb, message));
  }

  bool has_table(const char* table) {
    return scalar(fmt::format("SELECT CASE WHEN to_regclass('{}') IS NULL THEN 0 ELSE 1 END", table)) == 1;
  }

  int64_t scalar(const std::string& sql) {
    Result r = run(sql, {}, {}, {});
    if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return 0;
    return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  }

  std::string transaction_id() {
    Result r = run("SELECT pg_current_xact_id()::text", {}, {}, {});
    return PQgetvalue(r.get(), 0, 0);
  }

  void unlock() noexcept {
    if (PQstatus(conn_) != CONNECTION_OK) return;  // a session lock ends with its session
    PQclear(PQexec(conn_, fmt::format("SELECT pg_advisory_unlock({})", kWriteLock).c_str()));
  }

  // The connection broke while COMMIT was on its way: whether the server
  // committed is its transaction status, asked on a new connection
  // (https://www.postgresql.org/docs/15/functions-info.html, pg_xact_status).
  void settle_lost_commit(const std::string& xid) {
    const std::string lost = one_line(PQerrorMessage(conn_));
    std::optional<std::string> status;
    try {
      connect();
      Result r = run("SELECT pg_xact_status($1::xid8)", {xid}, {0}, {0});
      if (!PQgetisnull(r.get(), 0, 0)) status = PQgetvalue(r.get(), 0, 0);
    } catch (const AdminError&) {
      throw AdminError(fmt::format(
          "the connection to PostgreSQL server {} was lost during COMMIT ({}) and the server cannot be reached "
          "to ask whether transaction {} committed; once it is back, `SELECT pg_xact_status('{}')` answers "
          "committed or aborted (and `cordon admin audit` shows the command only if it committed)",
          name_, lost, xid, xid));
    }
    if (status == "committed") return;  // the change is whole: the command succeeded
    if (status == "aborted") {
      throw AdminError(fmt::format(
          "the connection to PostgreSQL server {} was lost during COMMIT ({}); the server rolled the change "
          "back (transaction {} aborted), nothing was changed: run the command again",
          name_, lost, xid));
    }
    throw AdminError(fmt::format(
        "the connection to PostgreSQL server {} was lost during COMMIT ({}); transaction {} is still {} on the "
        "server: `SELECT pg_xact_status('{}')` says when it has committed or aborted",
        name_, lost, xid, status ? *status : "unknown", xid));
  }

  std::string uri_;  // with its password, if any: connect() needs it again
  std::string name_;
  PGconn* conn_ = nullptr;
};

PgCursor::PgCursor(PgConnection& conn, std::string_view sql)
    : conn_(conn), sql_(postgres_query(sql)), deletes_hosts_(sql_.find("DELETE FROM hosts") != std::string::npos) {}

bool PgCursor::step() {
  if (!result_) {
    result_ = conn_.run(sql_, values_, types_, formats_);
    row_ = 0;
    blobs_.clear();
    if (deletes_hosts_) conn_.host_number_floor = 0;
  } else {
    ++row_;
  }
  return row_ < PQntuples(result_.get());
}

std::span<const std::byte> PgCursor::blob(int column) const {
  if (PQgetisnull(result_.get(), row_, column)) return {};
  size_t length = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, column)), &length);
  if (raw == nullptr) throw AdminError("out of memory while reading the network database");
  const auto i = static_cast<size_t>(column);
  if (blobs_.size() <= i) blobs_.resize(i + 1);
  const auto* bytes = reinterpret_cast<const std::byte*>(raw);
  blobs_[i].assign(bytes, bytes + length);
  PQfreemem(raw);
  return blobs_[i];
}

// The options of a URI, or a refusal naming what is wrong with it.
std::string describe(const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (options == nullptr) {
    std::string detail = error != nullptr ? one_line(error) : "out of memory";
    if (error != nullptr) PQfreemem(error);
    // libpq quotes the URI, which may hold a password.
    for (size_t at = detail.find(uri); at != std::string::npos; at = detail.find(uri)) {
      detail.replace(at, uri.size(), "…");
    }
    throw AdminError(fmt::format(
        "--db: not a valid PostgreSQL URI: {} (expected postgresql://[USER@]HOST[:PORT]/DATABASE or "
        "postgresql:///DATABASE?host=/SOCKET/DIR)",
        detail));
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "user") user = o->val;
    if (key == "host") host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  std::string name = "postgresql://";
  if (!user.empty()) name += user + "@";
  const bool socket = !host.empty() && host.front() == '/';
  if (!socket) name += host;
  if (!port.empty()) name += ":" + port;
  name += "/" + dbname;
  if (socket) name += "?host=" + host;
  return name;
}

}  // namespace

std::string postgres_display_name(const std::string& uri) { return describe(uri); }

std::unique_ptr<Connection> open_postgres(const std::string& uri, Database::Mode mode) {
  auto conn = std::make_unique<PgConnection>(uri, describe(uri));
  conn->connect();
  if (mode != Database::Mode::kOpenExisting) conn->check_empty();
  return conn;
}

}  // namespace cordon::admin::detail
