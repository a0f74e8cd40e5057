// What the network database leaves behind: retired keys are gone from the
// raw files (secure_delete, WAL truncated after the commit), and a database
// another user owns is refused (docs/administration.md, "What is stored
// where, and what is encrypted").
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

std::vector<std::byte> link_key(Database& db) {
  Statement st = db.prepare("SELECT key FROM links");
  if (!st.step()) return {};
  const auto key = st.blob(0);
  return {key.begin(), key.end()};
}

bool file_contains(const std::string& path, const std::vector<std::byte>& needle) {
  const std::vector<std::byte> hay = read_bytes(path);
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// Both raw files SQLite writes the database to.
void expect_gone(const std::string& db_path, const std::vector<std::byte>& key, const char* what) {
  ASSERT_EQ(key.size(), 32u);
  EXPECT_FALSE(file_contains(db_path, key)) << what << " is still in " << db_path;
  EXPECT_FALSE(file_contains(db_path + "-wal", key)) << what << " is still in " << db_path << "-wal";
}

using AdminHygiene = LinkedPairTest;

TEST_F(AdminHygiene, RotatedLinkKeyLeavesNoTraceInTheDatabaseFiles) {
  const std::vector<std::byte> old_key = link_key(a().database());
  ASSERT_TRUE(file_contains(db_path, old_key) || file_contains(db_path + "-wal", old_key));
  a().rotate_link("a", "b");
  expect_gone(db_path, old_key, "the rotated link key");
  EXPECT_NE(link_key(a().database()), old_key);
}

TEST_F(AdminHygiene, RemovedLinkKeyLeavesNoTraceInTheDatabaseFiles) {
  const std::vector<std::byte> old_key = link_key(a().database());
  a().remove_link("a", "b");
  expect_gone(db_path, old_key, "the removed link key");
}

TEST_F(AdminHygiene, RemovedUserKeyLeavesNoTraceInTheDatabaseFiles) {
  add_user("a", "alice");
  std::vector<std::byte> user_key;
  {
    Statement st = a().database().prepare("SELECT user_key FROM users");
    ASSERT_TRUE(st.step());
    user_key.assign(st.blob(0).begin(), st.blob(0).end());
  }
  a().remove_user("a", "alice");
  expect_gone(db_path, user_key, "the removed user key");
}

TEST_F(AdminHygiene, HostKeyReplacedByAnUpdateLeavesNoTrace) {
  add_user("a", "alice");
  a().export_keyset("a", std::nullopt, dir.file("a.keyset"));
  std::vector<std::byte> host_key;
  {
    Statement st = a().database().prepare("SELECT host_key FROM hosts WHERE name = 'a'");
    ASSERT_TRUE(st.step());
    host_key.assign(st.blob(0).begin(), st.blob(0).end());
  }
  a().rotate_host("a");  // pending: the next package is sealed under the old key
  a().build_updates(dir.file("updates"));
  expect_gone(db_path, host_key, "the host key an update replaced");
}

TEST_F(AdminHygiene, SecureDeleteIsOn) {
  Statement st = a().database().prepare("PRAGMA secure_delete");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 1);
}

TEST_F(AdminHygiene, RolledBackRotationLeavesTheMarkClear) {
  // A refused command retires nothing: the WAL is left as it is.
  expect_refused([&] { a().rotate_link("a", "nobody"); }, {"nobody"});
  a().add_host(client("c"));
  EXPECT_GT(fs::file_size(db_path + "-wal"), 0u);
}

TEST(AdminDatabaseOwner, OpenRefusesADatabaseAnotherUserOwns) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  TempDir dir;
  const std::string path = dir.file("admin.db");
  { Admin::init(path, test_network()); }
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  expect_refused([&] { Admin::open(path); }, {path, "uid 65534", "chown"});
}

}  // namespace
}  // namespace cordon::admin::test
