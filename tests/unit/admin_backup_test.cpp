// The encrypted network backup: round trip, wrong password, damage, and
// import never overwriting a database.
#include <sys/stat.h>

#include "admin/backup.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

constexpr std::string_view kPassword = "backup password 1";

class AdminBackupTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    a().add_host(coordinator("hub"));
    a().add_host(client("x", "hub"));
    add_user("x", "alice");
    backup = dir.file("network.backup");
  }
  std::string backup;
};

TEST_F(AdminBackupTest, ExportImportRoundTrip) {
  a().export_backup(backup, kPassword);
  struct stat st {};
  ASSERT_EQ(::stat(backup.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Nothing of the database is readable in the file.
  const auto bytes = read_bytes(backup);
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  EXPECT_EQ(text.find("SQLite format"), std::string::npos);
  EXPECT_EQ(text.find("alice"), std::string::npos);

  const std::string restored = dir.file("restored.db");
  const NetworkInfo info = Admin::import_backup(backup, restored, kPassword);
  EXPECT_EQ(info.spec.number, 1);
  EXPECT_EQ(info.hosts, 2);
  EXPECT_EQ(info.users, 1);
  ASSERT_EQ(::stat(restored.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  Admin copy = Admin::open(restored);
  EXPECT_EQ(content_dump(copy.database()), dump());
  EXPECT_EQ(copy.audit_log(1).back().operation, "network import");
}

// Like every --out (docs/administration.md, "network").
TEST_F(AdminBackupTest, ExportCreatesTheMissingDirectoryPrivately) {
  const std::string parent = dir.file("backups");
  a().export_backup(parent + "/network.backup", kPassword);
  struct stat st {};
  ASSERT_EQ(::stat(parent.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(Admin::import_backup(parent + "/network.backup", dir.file("restored.db"), kPassword).hosts == 2);
}

TEST_F(AdminBackupTest, WrongPasswordOrDamageIsRefusedAndNothingIsCreated) {
  a().export_backup(backup, kPassword);
  const std::string restored = dir.file("restored.db");
  expect_refused([&] { Admin::import_backup(backup, restored, "another password"); }, {backup, "password is wrong"});
  expect_refused([&] { Admin::import_backup(backup, restored, "short"); }, {"9 to 32"});

  auto bytes = read_bytes(backup);
  bytes[bytes.size() / 2] ^= std::byte{1};
  const std::string damaged = dir.file("damaged.backup");
  {
    std::ofstream(damaged, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  expect_refused([&] { Admin::import_backup(damaged, restored, kPassword); }, {"altered or damaged"});

  const auto whole = read_bytes(backup);
  const std::string truncated = dir.file("truncated.backup");
  { std::ofstream(truncated, std::ios::binary).write(reinterpret_cast<const char*>(whole.data()), 100); }
  expect_refused([&] { Admin::import_backup(truncated, restored, kPassword); }, {"truncated"});

  const std::string other = dir.file("other.file");
  { std::ofstream(other) << "hello, this is not a backup at all, not at all"; }
  expect_refused([&] { Admin::import_backup(other, restored, kPassword); }, {"not a Cordon network backup"});
  EXPECT_FALSE(fs::exists(restored));
}

TEST_F(AdminBackupTest, ImportNeverOverwritesADatabase) {
  a().export_backup(backup, kPassword);
  const std::string before = dump();
  expect_refused([&] { Admin::import_backup(backup, db_path, kPassword); }, {db_path, "never overwrites"});
  EXPECT_EQ(dump(), before);
}

TEST_F(AdminBackupTest, BackupPasswordLengthIsChecked) {
  expect_refused([&] { a().export_backup(backup, "short"); }, {"backup password", "9 to 32"});
  EXPECT_FALSE(fs::exists(backup));
}

TEST(AdminBackupImage, ImageCheckRefusesGarbage) {
  crypto::SecretBytes junk(4096);
  expect_refused([&] { check_image(junk); }, {"backup"});
}

}  // namespace
}  // namespace cordon::admin::test
