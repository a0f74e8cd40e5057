#include "daemon/password_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/keys/password.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

// A password is at most 32 bytes; a file or line much longer than that is
// not a password file, and reading it whole would only copy more unknown
// data around. Anything between 33 bytes and this limit gets the length
// error, which says what the rule is.
constexpr size_t kMaxPasswordInput = 4096;

PasswordResult fail(std::string message) { return cordon::fail(std::move(message)); }

// One trailing "\n" or "\r\n" ends the line; it is not part of the password.
// Only one: a password may itself end in whitespace.
std::span<const std::byte> strip_newline(std::span<const std::byte> text) {
  if (!text.empty() && text.back() == std::byte{'\n'}) {
    text = text.first(text.size() - 1);
    if (!text.empty() && text.back() == std::byte{'\r'}) text = text.first(text.size() - 1);
  }
  return text;
}

// ---------------------------------------------------------------------------
// Terminal echo. If the user interrupts the prompt, the terminal must not be
// left with echo off: a handler for the interrupting signals restores the
// saved settings and re-raises the signal with its default action.

volatile sig_atomic_t g_tty_fd = -1;
termios g_saved_tty{};

void restore_tty_and_reraise(int sig) {
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_tty);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

class EchoOff {
 public:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};

  explicit EchoOff(int fd) : fd_(fd) {
    if (::tcgetattr(fd, &g_saved_tty) != 0) return;
    termios quiet = g_saved_tty;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    g_tty_fd = fd;
    for (size_t i = 0; i < std::size(kSignals); ++i) {
      struct sigaction action {};
      action.sa_handler = restore_tty_and_reraise;
      ::sigemptyset(&action.sa_mask);
      ::sigaction(kSignals[i], &action, &previous_[i]);
    }
    active_ = ::tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (g_tty_fd >= 0) {
      if (active_) ::tcsetattr(fd_, TCSAFLUSH, &g_saved_tty);
      for (size_t i = 0; i < std::size(kSignals); ++i) ::sigaction(kSignals[i], &previous_[i], nullptr);
      g_tty_fd = -1;
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  bool active_ = false;
  struct sigaction previous_[std::size(kSignals)] {};
};

void write_stderr(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// One line from the terminal, without its newline, or what went wrong (EOF
// before any newline counts as the end of the line).
PasswordResult read_tty_line(int fd, std::string_view prompt) {
  write_stderr(prompt);
  crypto::SecretBytes line(kMaxPasswordInput + 1);
  size_t length = 0;
  bool ended = false;
  {
    EchoOff quiet(fd);
    while (length < line.size()) {
      std::byte c{};
      const ssize_t n = ::read(fd, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        write_stderr("\n");
        return fail(fmt::format("cannot read the password from the terminal: {}", std::strerror(err)));
      }
      if (n == 0 || c == std::byte{'\n'}) {
        ended = true;
        break;
      }
      line.mutable_view()[length++] = c;
    }
  }
  write_stderr("\n");  // the user's Enter was not echoed
  if (!ended) {
    return fail(fmt::format("the line typed is longer than {} bytes; a password is 9 to 32 characters",
                            kMaxPasswordInput));
  }
  return crypto::SecretBytes(line.view().first(length));
}

}  // namespace

PasswordResult decode_password_file(std::span<const std::byte> content, const std::string& path) {
  if (content.size() > kMaxPasswordInput) {
    return fail(fmt::format("password file {} is longer than {} bytes, so it is not a password file (a password "
                            "is one line of 9 to 32 characters)",
                            path, kMaxPasswordInput));
  }
  const auto text = strip_newline(content);
  if (text.empty()) {
    return fail(fmt::format("password file {} is empty; write the password on one line (9 to 32 characters)", path));
  }
  return crypto::SecretBytes(text);
}

PasswordResult read_password_file(const std::string& path) {
  // O_NONBLOCK: a FIFO must not hang open(); it is refused below as not a
  // regular file. The mode is checked on the opened descriptor, so the file
  // checked is the file read.
  os::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return fail(fmt::format("password file {} does not exist; check the path", path));
    return fail(fmt::format("cannot open password file {}: {}", path, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(fmt::format("cannot stat password file {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return fail(fmt::format("password file {} is not a regular file", path));
  if ((st.st_mode & 077) != 0) {
    return fail(fmt::format("password file {} has mode {:04o}, so group or others can access it; run `chmod 600 {}`",
                            path, st.st_mode & 07777, path));
  }
  if (auto owner = os::check_owner(path, st); !owner) return fail("password file: " + owner.error().what);
  // One byte more than allowed, so that decode_password_file sees an
  // overlong file.
  crypto::SecretBytes content(kMaxPasswordInput + 1);
  size_t length = 0;
  while (length < content.size()) {
    const ssize_t n = ::read(fd.get(), content.mutable_view().data() + length, content.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot read password file {}: {}", path, std::strerror(errno)));
    if (n == 0) break;
    length += static_cast<size_t>(n);
  }
  return decode_password_file(content.view().first(length), path);
}

std::optional<std::string> credential_password_path() {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::string path = (std::filesystem::path(dir) / kPasswordCredential).string();
  if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
  // The unit's fallback (SetCredential=cordon-password:-) when its
  // LoadCredential= file is missing: no password was given.
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) == 1 && !ec) {
    std::ifstream in(path, std::ios::binary);
    if (in.get() == '-') return std::nullopt;
  }
  return path;
}

PasswordResult read_password_terminal(std::string_view prompt) {
  os::Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty.valid()) {
    // $INVOCATION_ID: started by systemd (systemd.exec(5)), which passed
    // no credential: the unit's LoadCredential= found no file.
    if (std::getenv("INVOCATION_ID") != nullptr) {
      return fail("started by systemd without the credential cordon-password: write the key set's password to "
                  "/etc/cordon/NAME.password (mode 0600), which the unit cordon@NAME.service loads with "
                  "LoadCredential= (docs/operations.md, \"systemd\")");
    }
    return fail("no terminal and no --password-file: give --password-file FILE or a systemd credential "
                "($CREDENTIALS_DIRECTORY/cordon-password)");
  }
  auto line = read_tty_line(tty.get(), prompt);
  if (line && line->empty()) return fail("no password was typed");
  return line;
}

PasswordResult read_password(const PasswordRequest& request) {
  const auto credential = !request.file && request.use_credential ? credential_password_path() : std::nullopt;
  PasswordResult result = request.file ? read_password_file(*request.file)
                          : credential ? read_password_file(*credential)
                                       : read_password_terminal(request.prompt);
  std::string source;
  if (request.file) {
    source = fmt::format("{} file {}", request.what, *request.file);
  } else if (credential) {
    source = fmt::format("systemd credential {}", *credential);
  } else {
    source = fmt::format("the {} typed", request.what);
    if (result && request.confirm) {
      PasswordResult again = read_password_terminal("Repeat: ");
      if (!again) return again;
      if (!(*again == *result)) {
        return fail(fmt::format("the two {}s typed differ; nothing was changed", request.what));
      }
    }
  }
  if (!result) return result;
  if (auto length = keys::check_password_length(keys::as_text(*result)); !length) {
    return fail(fmt::format("{}: {}", source, length.error()));
  }
  return result;
}

}  // namespace cordon::daemon
