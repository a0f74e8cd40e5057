#include "os/linux/files.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "os/linux/fd.hpp"

namespace cordon::os {

namespace {

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Directory part of a path ("." for a bare file name), for the temp file
// and the directory fsync.
std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status write_all(int fd, std::span<const std::byte> bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("write " + path);
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return Ok{};
}

// A rename is durable only once the directory entry is on disk (fsync(2),
// NOTES: "calling fsync() on a file descriptor for the directory is also
// needed").
Status fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open directory " + dir);
  if (::fsync(fd.get()) < 0) return sys_error("fsync directory " + dir);
  return Ok{};
}

// Removes the temp file unless it was renamed into place.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void keep() { path_.clear(); }

 private:
  std::string path_;
};

SysError not_private(const std::string& path, mode_t mode) {
  return sys_error("refusing " + path + " (mode " + octal_mode(mode) +
                       " gives group or others access; run `chmod 600 " + path + "`)",
                   EACCES);
}

// "uid 0 (root)", or "uid 1234" when the passwd database has no entry.
std::string user_text(uid_t uid) {
  std::string text = "uid " + std::to_string(uid);
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(4096);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    text += std::string(" (") + found->pw_name + ")";
  }
  return text;
}

Status check_mode_and_owner(const std::string& path, const struct stat& st) {
  if ((st.st_mode & 077) != 0) return not_private(path, st.st_mode);
  return check_owner(path, st);
}

Result<std::string> read_fd(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  std::vector<char> chunk(64 * 1024);
  for (;;) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read " + path);
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return sys_error("read " + path + ": longer than " + std::to_string(max_bytes) + " bytes", EFBIG);
    }
    out.append(chunk.data(), static_cast<size_t>(n));
  }
}

}  // namespace

Status write_file_atomic(const std::string& path, std::span<const std::byte> bytes, mode_t mode) {
  const std::string dir = parent_dir(path);
  // Same directory, so that rename(2) is atomic (same file system). The
  // name starts with a dot so that directory listings and globs skip it.
  std::string templ = dir + "/." + base_name(path) + ".tmp-XXXXXX";
  // mkostemp(3) creates the file with O_EXCL and mode 0600, so nobody can
  // open it between creation and the fchmod below.
  Fd fd(::mkostemp(templ.data(), O_CLOEXEC));
  if (!fd.valid()) return sys_error("create temporary file in " + dir);
  TempFile temp(templ);

  if (::fchmod(fd.get(), mode) < 0) return sys_error("fchmod " + temp.path());
  if (auto st = write_all(fd.get(), bytes, temp.path()); !st) return st;
  if (::fsync(fd.get()) < 0) return sys_error("fsync " + temp.path());
  // close(2) can report a deferred write error (on NFS, for example).
  if (::close(fd.release()) < 0) return sys_error("close " + temp.path());
  if (::rename(temp.path().c_str(), path.c_str()) < 0) return sys_error("rename to " + path);
  temp.keep();
  return fsync_dir(dir);
}

Status write_file_atomic(const std::string& path, std::string_view text, mode_t mode) {
  return write_file_atomic(path, std::as_bytes(std::span(text.data(), text.size())), mode);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open " + path);
  return read_fd(fd.get(), path, max_bytes);
}

Status check_owner(const std::string& path, const struct stat& st) {
  const uid_t self = ::geteuid();
  if (st.st_uid == self) return Ok{};
  return sys_error("refusing " + path + " (owned by " + user_text(st.st_uid) + ", not by " + user_text(self) +
                       " that runs this command; if the file is meant for this user run `chown " +
                       std::to_string(self) + " " + path + "`, otherwise run as its owner)",
                   EPERM);
}

Status check_private(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) < 0) return sys_error("stat " + path);
  return check_mode_and_owner(path, st);
}

Result<std::string> read_private_file(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open " + path);
  struct stat st{};
  if (::fstat(fd.get(), &st) < 0) return sys_error("fstat " + path);
  if (auto checked = check_mode_and_owner(path, st); !checked) return checked.error();
  return read_fd(fd.get(), path, max_bytes);
}

Status ensure_dir(const std::string& path, mode_t mode) {
  if (path.empty()) return sys_error("create directory \"\"", EINVAL);
  // Walk the components like `mkdir -p`; each mkdir(2) that finds the
  // directory already there (EEXIST) moves on.
  for (size_t pos = path.find('/', 1);; pos = path.find('/', pos + 1)) {
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) < 0 && errno != EEXIST) {
      return sys_error("create directory " + prefix);
    }
    struct stat st{};
    if (::stat(prefix.c_str(), &st) < 0) return sys_error("stat " + prefix);
    if (!S_ISDIR(st.st_mode)) {
      return sys_error("create directory " + path + " (" + prefix + " is not a directory)", ENOTDIR);
    }
    if (pos == std::string::npos) return Ok{};
  }
}

}  // namespace cordon::os
