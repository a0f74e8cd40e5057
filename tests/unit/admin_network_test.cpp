// Settings of the whole network (docs/administration.md, "Network
// settings"): the rekey period, its range, its audit rows, its place in
// key sets, and the schema migration that added it.
#include <sqlite3.h>
#include <sys/stat.h>

#include "admin/schema.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

TEST_F(AdminTest, RekeyPeriodDefaultsToTheP3RekeyWait) {
  EXPECT_EQ(a().network_info().rekey_period, 3600);
  a().add_host(client("a"));
  const keys::OpenedKeySet ks = export_and_open("a", add_user("a", "u"));
  // The default is left out of the key set; hosts read it as 3600.
  EXPECT_FALSE(ks.body.rekey_period.has_value());
  EXPECT_EQ(ks.body.rekey_period_or_default(), 3600u);
}

TEST_F(AdminTest, RekeyPeriodIsSetShownAuditedAndExported) {
  a().add_host(client("a"));
  const std::string password = add_user("a", "u");
  const RekeyPeriodChange change = a().set_rekey_period(900);
  EXPECT_EQ(change.previous, 3600);
  EXPECT_EQ(change.current, 900);
  EXPECT_EQ(a().network_info().rekey_period, 900);
  const auto log = a().audit_log(1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].operation, "network set");
  EXPECT_EQ(log[0].arguments, "rekey-period=900");
  EXPECT_EQ(log[0].result, "ok");
  EXPECT_EQ(export_and_open("a", password).body.rekey_period, std::optional<uint32_t>(900));

  a().set_rekey_period(0);
  EXPECT_EQ(a().network_info().rekey_period, 0);
  EXPECT_EQ(export_and_open("a", password).body.rekey_period, std::optional<uint32_t>(0));
  a().set_rekey_period(60);
  a().set_rekey_period(86400);
  EXPECT_EQ(a().network_info().rekey_period, 86400);
}

TEST_F(AdminTest, RekeyPeriodOutOfRangeIsRefusedAndChangesNothing) {
  a().add_host(client("a"));
  a().database().exec("UPDATE hosts SET dirty = 0");
  const std::string before = dump();
  for (int64_t seconds : {int64_t{-1}, int64_t{1}, int64_t{59}, int64_t{86401}, int64_t{1} << 40}) {
    const std::string value = std::to_string(seconds);
    expect_refused([&] { a().set_rekey_period(seconds); },
                   {"--rekey-period: " + value + " is out of range", "0 (off) or 60 to 86400 seconds"});
    EXPECT_EQ(dump(), before) << seconds;
    const auto log = a().audit_log(1);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].arguments, "rekey-period=" + value);
    EXPECT_EQ(log[0].result.rfind("refused: --rekey-period: " + value, 0), 0u) << log[0].result;
  }
  EXPECT_EQ(a().network_info().rekey_period, 3600);
  EXPECT_TRUE(a().pending_updates().empty());
}

// A database of schema version 4 (before the rekey period) opens, migrates
// to the latest version, and has the default period.
TEST(AdminNetworkMigration, Version4DatabaseGetsTheDefaultRekeyPeriod) {
  TempDir dir;
  const std::string path = dir.file("v4.db");
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    for (const Migration& m : migrations()) {
      if (m.version > 4) break;
      ASSERT_EQ(sqlite3_exec(raw, m.sql, nullptr, nullptr, nullptr), SQLITE_OK) << m.version;
    }
    ASSERT_EQ(sqlite3_exec(raw,
                           "INSERT INTO network (id, number, name, ipv4, ipv6, created_at) "
                           "VALUES (1, 1, 'old', '10.77.0.0/24', NULL, 0); PRAGMA user_version = 4;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  ::chmod(path.c_str(), 0600);
  Admin admin = Admin::open(path);
  const NetworkInfo info = admin.network_info();
  EXPECT_EQ(info.schema_version, latest_schema_version());
  EXPECT_EQ(info.rekey_period, 3600);
  EXPECT_EQ(admin.set_rekey_period(120).previous, 3600);
}

}  // namespace
}  // namespace cordon::admin::test
