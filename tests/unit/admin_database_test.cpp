// The network database itself: file mode, WAL and foreign keys, schema
// versions, the write lock, and what a refused command leaves behind.
#include <sys/stat.h>

#include "admin/schema.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string pragma(Database& db, const char* sql) {
  Statement st = db.prepare(sql);
  return st.step() ? st.text(0) : "";
}

// A second connection, like another `cordon admin` process.
struct RawConnection {
  sqlite3* db = nullptr;
  explicit RawConnection(const std::string& path) {
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  }
  ~RawConnection() { sqlite3_close_v2(db); }
  int exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
};

TEST_F(AdminTest, DatabaseFileIsPrivateWalWithForeignKeys) {
  EXPECT_EQ(mode_of(db_path), 0600u);
  EXPECT_EQ(pragma(a().database(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma(a().database(), "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(a().database().user_version(), latest_schema_version());
  a().add_host(coordinator("hub"));
  // The -wal file SQLite made for the write has the database file's mode.
  if (fs::exists(db_path + "-wal")) {
    EXPECT_EQ(mode_of(db_path + "-wal") & 077, 0u);
  }
}

TEST_F(AdminTest, InitRefusesAnExistingDatabase) {
  expect_refused([&] { Admin::init(db_path, test_network()); }, {db_path, "already exists"});
}

TEST(AdminDatabase, InitRefusesBadNetworkSettings) {
  TempDir dir;
  NetworkSpec spec = test_network();
  spec.ipv4 = *Prefix::parse("10.77.0.1/24");
  expect_refused([&] { Admin::init(dir.file("a.db"), spec); }, {"--ipv4", "host bits", "10.77.0.0/24"});
  spec = test_network();
  spec.ipv4 = *Prefix::parse("fd00::/64");
  expect_refused([&] { Admin::init(dir.file("a.db"), spec); }, {"--ipv4", "not an IPv4"});
  spec = test_network();
  spec.ipv4 = *Prefix::parse("10.77.0.0/31");
  expect_refused([&] { Admin::init(dir.file("a.db"), spec); }, {"--ipv4", "too small"});
  spec = test_network();
  spec.number = 0;
  expect_refused([&] { Admin::init(dir.file("a.db"), spec); }, {"--number"});
  // A refused init leaves no file behind, so the next one can succeed.
  EXPECT_FALSE(fs::exists(dir.file("a.db")));
}

TEST(AdminDatabase, OpenRefusesAMissingFile) {
  TempDir dir;
  expect_refused([&] { Admin::open(dir.file("none.db")); }, {"no network database", "network init"});
}

TEST(AdminDatabase, OpenRefusesAFileOthersCanRead) {
  TempDir dir;
  const std::string path = dir.file("admin.db");
  { Admin::init(path, test_network()); }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  expect_refused([&] { Admin::open(path); }, {path, "0644", "chmod 600"});
}

TEST(AdminDatabase, OpenRefusesAnUnknownNewerSchemaVersion) {
  TempDir dir;
  const std::string path = dir.file("admin.db");
  { Admin::init(path, test_network()); }
  {
    RawConnection raw(path);
    ASSERT_EQ(raw.exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  expect_refused([&] { Admin::open(path); }, {"schema version 99", "newer"});
}

TEST(AdminDatabase, OpenRefusesANonCordonDatabase) {
  TempDir dir;
  const std::string path = dir.file("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ::chmod(path.c_str(), 0600);
  expect_refused([&] { Admin::open(path); }, {"not a Cordon network database"});

  const std::string junk = dir.file("junk.db");
  {
    std::ofstream out(junk);
    out << std::string(4096, 'x');
  }
  ::chmod(junk.c_str(), 0600);
  expect_refused([&] { Admin::open(junk); }, {"not"});
}

TEST_F(AdminTest, MigrationsAreNumberedInOrder) {
  const auto list = migrations();
  ASSERT_FALSE(list.empty());
  for (size_t i = 0; i < list.size(); ++i) EXPECT_EQ(list[i].version, static_cast<int64_t>(i + 1));
  EXPECT_EQ(latest_schema_version(), list.back().version);
}

TEST_F(AdminTest, LockedDatabaseIsReportedAtOnceAndNothingChanges) {
  a().add_host(coordinator("hub"));
  const std::string before = dump();
  RawConnection other(db_path);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  expect_refused([&] { a().add_host(client("c1", "hub")); }, {db_path, "locked by another `cordon admin`"});
  // A second process opening the database meanwhile gets the same answer.
  expect_refused([&] { Admin::open(db_path).add_group("g"); }, {"locked by another"});
  // Reads still work: WAL readers never wait for the writer.
  EXPECT_EQ(a().list_hosts().size(), 1u);
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  EXPECT_EQ(dump(), before);
  // Once the other command is done, the same command works.
  a().add_host(client("c1", "hub"));
  EXPECT_EQ(a().list_hosts().size(), 2u);
}

TEST_F(AdminTest, RefusedCommandChangesNothingButIsAudited) {
  a().add_host(coordinator("hub"));
  const std::string before = dump();
  expect_refused([&] { a().add_host(coordinator("hub")); }, {"--name", "hub", "already exists"});
  EXPECT_EQ(dump(), before);
  const auto log = a().audit_log(0);
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[0].operation, "network init");
  EXPECT_EQ(log[1].operation, "host add");
  EXPECT_EQ(log[1].result, "ok");
  EXPECT_EQ(log.back().operation, "host add");
  EXPECT_NE(log.back().result.find("refused"), std::string::npos);
  EXPECT_NE(log.back().arguments.find("name=hub"), std::string::npos);
}

TEST_F(AdminTest, AuditNeverRecordsPasswords) {
  a().add_host(coordinator("hub"));
  const std::string generated = add_user("hub", "root");
  a().add_user("hub", "alice", std::string_view("correct horse battery"));
  for (const AuditEntry& e : a().audit_log(0)) {
    EXPECT_EQ(e.arguments.find(generated), std::string::npos);
    EXPECT_EQ(e.arguments.find("correct horse"), std::string::npos);
  }
  EXPECT_EQ(a().audit_log(1).size(), 1u);
}

TEST_F(AdminTest, BatchCommitsEverythingTogetherOrNothing) {
  {
    Admin::Batch batch(a());
    a().add_host(coordinator("hub"));
    a().add_host(client("c1", "hub"));
    // No commit: rolled back.
  }
  EXPECT_TRUE(a().list_hosts().empty());
  {
    Admin::Batch batch(a());
    a().add_host(coordinator("hub"));
    a().add_host(client("c1", "hub"));
    batch.commit();
  }
  EXPECT_EQ(a().list_hosts().size(), 2u);
}

}  // namespace
}  // namespace cordon::admin::test
