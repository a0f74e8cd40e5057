// cordon genkey: a new link key as one base64 line. The key is written
// either to stdout (made 0600 first when stdout is a regular file, so that
// `cordon genkey > FILE` leaves no readable key behind) or with --out,
// atomically with mode 0600.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "daemon/keyfile.hpp"
#include "os/linux/files.hpp"

namespace cordon::cli {
namespace {

bool write_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

int to_stdout(const crypto::SecretBytes& text) {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
    if (::fchmod(STDOUT_FILENO, 0600) != 0) {
      fmt::print(stderr, "cordon genkey: cannot make the output file private (chmod 600): {}; not writing the key\n",
                 std::strerror(errno));
      return kExitError;
    }
  }
  if (!write_all(STDOUT_FILENO, text.view())) {
    fmt::print(stderr, "cordon genkey: cannot write the key: {}\n", std::strerror(errno));
    return kExitError;
  }
  return kExitOk;
}

int to_file(const std::string& path, bool force, const crypto::SecretBytes& text) {
  struct stat st {};
  if (!force && ::lstat(path.c_str(), &st) == 0) {
    fmt::print(stderr, "cordon genkey: {} already exists; pass --force to replace it (both ends of its link then "
                       "need the new key)\n",
               path);
    return kExitError;
  }
  if (auto written = os::write_file_atomic(path, text.view(), 0600); !written) {
    fmt::print(stderr, "cordon genkey: {}\n", written.error().message());
    return kExitError;
  }
  fmt::print(stderr, "cordon genkey: wrote a new link key to {} (mode 0600); copy it to the peer securely\n", path);
  return kExitOk;
}

}  // namespace

int run_genkey(const std::optional<std::string>& out, bool force) {
  auto key = daemon::generate_link_key();
  if (!key) {
    fmt::print(stderr, "cordon genkey: the random number generator failed; no key was made\n");
    return kExitError;
  }
  const crypto::SecretBytes text = daemon::encode_key_file(*key);
  return out ? to_file(*out, force, text) : to_stdout(text);
}

}  // namespace cordon::cli
