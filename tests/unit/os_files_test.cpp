// Key-file handling on a real file system: atomic writes with the requested
// mode and no temp file left behind, refusal of files that group or others
// can access (docs/design.md, "What every capability meets").
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "os/linux/files.hpp"

namespace cordon::os {
namespace {

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/cordon-files-test-XXXXXX";
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    for (const auto& name : entries()) ::unlink((path_ + "/" + name).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(path_.c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
    return out;
  }

 private:
  std::string path_;
};

mode_t mode_of(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) < 0) return 0;
  return st.st_mode & 07777;
}

TEST(OsFiles, AtomicWriteSetsModeAndContentAndLeavesNoTempFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("link.key");

  // A permissive umask must not widen the requested mode.
  mode_t old_umask = ::umask(0);
  auto st = write_file_atomic(path, std::string_view("first\n"), 0600);
  ::umask(old_umask);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(mode_of(path), 0600u);

  // Replacing keeps the new content and mode.
  st = write_file_atomic(path, std::string_view("second\n"), 0600);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto content = read_file(path);
  ASSERT_TRUE(content.ok()) << content.error().message();
  EXPECT_EQ(content.value(), "second\n");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"link.key"});
}

TEST(OsFiles, AtomicWriteAppliesOtherModesExactly) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("public.toml");
  auto st = write_file_atomic(path, std::string_view("x"), 0644);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(mode_of(path), 0644u);
}

TEST(OsFiles, AtomicWriteIntoMissingDirectoryFailsAndNamesIt) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto st = write_file_atomic(dir.file("missing/k.key"), std::string_view("x"), 0600);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().err, ENOENT);
  EXPECT_NE(st.error().message().find(dir.file("missing")), std::string::npos) << st.error().message();
}

class CheckPrivateMode : public ::testing::TestWithParam<mode_t> {};

TEST_P(CheckPrivateMode, RefusesGroupOrOtherAccess) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("a-b.key");
  ASSERT_TRUE(write_file_atomic(path, std::string_view("k"), GetParam()).ok());

  auto st = check_private(path);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().err, EACCES);
  const std::string msg = st.error().message();
  char octal[8];
  std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(GetParam()));
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find(octal), std::string::npos) << msg;
  EXPECT_NE(msg.find("chmod 600 " + path), std::string::npos) << msg;

  // The read-and-check variant refuses the same file.
  auto read = read_private_file(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().err, EACCES);
}

INSTANTIATE_TEST_SUITE_P(OsFiles, CheckPrivateMode, ::testing::Values(0640, 0604, 0660, 0601, 0610));

class CheckPrivateAccepts : public ::testing::TestWithParam<mode_t> {};

TEST_P(CheckPrivateAccepts, OwnerOnlyModes) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("a-b.key");
  ASSERT_TRUE(write_file_atomic(path, std::string_view("key\n"), GetParam()).ok());
  auto st = check_private(path);
  EXPECT_TRUE(st.ok()) << st.error().message();
  auto read = read_private_file(path);
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(read.value(), "key\n");
}

INSTANTIATE_TEST_SUITE_P(OsFiles, CheckPrivateAccepts, ::testing::Values(0600, 0400));

TEST(OsFiles, ReadMissingFileGivesEnoentAndNamesPath) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("nope.key");
  auto r = read_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOENT);
  EXPECT_NE(r.error().message().find(path), std::string::npos);
  EXPECT_EQ(check_private(path).error().err, ENOENT);
}

TEST(OsFiles, ReadRefusesFilesOverTheLimit) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.file("big");
  ASSERT_TRUE(write_file_atomic(path, std::string(100, 'x'), 0600).ok());
  auto r = read_file(path, 99);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EFBIG);
  EXPECT_TRUE(read_file(path, 100).ok());
}

TEST(OsFiles, EnsureDirCreatesParentsAndAcceptsExisting) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string nested = dir.file("state/sub");
  auto st = ensure_dir(nested, 0700);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(mode_of(nested), 0700u);
  EXPECT_TRUE(ensure_dir(nested, 0700).ok());

  // Clean up the nested directories that TempDir does not know about.
  ::rmdir(nested.c_str());
  ::rmdir(dir.file("state").c_str());
}

TEST(OsFiles, EnsureDirRefusesAFileInTheWay) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir.file("plain");
  ASSERT_TRUE(write_file_atomic(file, std::string_view("x"), 0600).ok());
  auto st = ensure_dir(file + "/sub", 0700);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().err, ENOTDIR);
  EXPECT_NE(st.error().message().find(file), std::string::npos) << st.error().message();
}

}  // namespace
}  // namespace cordon::os
