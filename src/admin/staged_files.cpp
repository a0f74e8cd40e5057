// Staged output files (staged_files.hpp).
#include "admin/staged_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "admin/database.hpp"
#include "os/linux/files.hpp"

namespace cordon::admin {
namespace {

[[noreturn]] void fail(std::string_view what, const std::string& path) {
  throw AdminError(fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
}

void write_all(int fd, std::span<const std::byte> data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write", path);
    data = data.subspan(static_cast<size_t>(n));
  }
}

void sync_path(const std::string& path, bool whole_fs) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open", path);
  const int rc = whole_fs ? ::syncfs(fd) : ::fsync(fd);
  const int err = errno;
  ::close(fd);
  errno = err;
  if (rc != 0) fail("sync", path);
}

// The output directory of every `--out` (0700, like `mkdir -p`).
void ensure_out_dir(const std::string& dir) {
  if (auto st = os::ensure_dir(dir, 0700); !st) {
    throw AdminError(fmt::format("--out: cannot create the directory: {}", st.error().message()));
  }
}

}  // namespace

StagedFiles::StagedFiles(std::string dir) : dir_(std::move(dir)) {
  ensure_out_dir(dir_);
  std::string templ = dir_ + "/.cordon-staging-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) fail("create a staging directory in", dir_);
  staging_ = templ;
}

StagedFiles::~StagedFiles() {
  std::error_code ec;
  std::filesystem::remove_all(staging_, ec);
}

std::string StagedFiles::add(const std::string& name, std::span<const std::byte> data) {
  const std::string path = staging_ + "/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail("create", path);
  try {
    write_all(fd, data, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  names_.push_back(name);
  return dir_ + "/" + name;
}

void StagedFiles::publish() {
  if (published_) return;
  // One syncfs for the file system instead of one fsync per file: 10,000
  // key sets would otherwise wait for 10,000 journal commits.
  sync_path(staging_, true);
  for (const std::string& name : names_) {
    const std::string from = staging_ + "/" + name;
    const std::string to = dir_ + "/" + name;
    if (::rename(from.c_str(), to.c_str()) != 0) fail("move the new file into place at", to);
  }
  sync_path(dir_, false);
  published_ = true;
}

void write_private_file(const std::string& path, std::span<const std::byte> data) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) ensure_out_dir(parent);
  if (auto st = os::write_file_atomic(path, data, 0600); !st) {
    throw AdminError(fmt::format("--out: {}", st.error().message()));
  }
}

}  // namespace cordon::admin
