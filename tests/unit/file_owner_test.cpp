// Secret files another user owns are refused, whatever their mode: that
// user can read them or put other bytes in them (docs/configuration.md,
// "Key files"). Tests chown a file in a private temp dir to nobody (65534),
// so they need root; they skip otherwise.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "daemon/keyfile.hpp"
#include "daemon/keyset_store.hpp"
#include "daemon/password_input.hpp"
#include "os/linux/files.hpp"

namespace cordon {
namespace {

namespace fs = std::filesystem;
constexpr uid_t kNobody = 65534;

class FileOwner : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
    std::string templ = (fs::temp_directory_path() / "cordon-owner-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  // A 0600 file with `text`, owned by nobody.
  std::string foreign_file(const std::string& name, std::string_view text) {
    const std::string path = (fs::path(dir_) / name).string();
    EXPECT_TRUE(os::write_file_atomic(path, text, 0600).ok());
    EXPECT_EQ(::chown(path.c_str(), kNobody, kNobody), 0);
    return path;
  }
  static void expect_names_owner(const std::string& message, const std::string& path) {
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("uid 65534"), std::string::npos) << message;
    EXPECT_NE(message.find("uid 0"), std::string::npos) << message;
    EXPECT_NE(message.find("chown"), std::string::npos) << message;
  }

  std::string dir_;
};

TEST_F(FileOwner, CheckPrivateAndReadPrivateFileRefuseAnotherOwner) {
  const std::string path = foreign_file("secret", "k");
  auto st = os::check_private(path);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().err, EPERM);
  expect_names_owner(st.error().message(), path);
  auto read = os::read_private_file(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().err, EPERM);
}

TEST_F(FileOwner, KeyFileOfAnotherOwnerIsRefused) {
  const std::string path = foreign_file("a-b.key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
  const daemon::KeyFileResult r = daemon::load_key_file(path);
  ASSERT_FALSE(r.ok());
  expect_names_owner(r.error(), path);
  // The same file, once it is ours, loads.
  ASSERT_EQ(::chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(daemon::load_key_file(path).ok());
}

TEST_F(FileOwner, PasswordFileOfAnotherOwnerIsRefused) {
  const std::string path = foreign_file("password", "correct horse battery\n");
  const daemon::PasswordResult r = daemon::read_password_file(path);
  ASSERT_FALSE(r.ok());
  expect_names_owner(r.error(), path);
}

TEST_F(FileOwner, InstalledKeySetOfAnotherOwnerIsRefused) {
  const std::string path = foreign_file("keyset", "CRDNKSET");
  const daemon::KeysetStore store(path);
  auto header = store.header();
  ASSERT_FALSE(header.ok());
  expect_names_owner(header.error().message, path);
}

}  // namespace
}  // namespace cordon
