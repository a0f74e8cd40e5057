#include "daemon/control.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

// A request is one short line; anything longer is not a Cordon client.
constexpr size_t kMaxRequest = 4096;
// A status document grows with the peer count; 64 MiB is far beyond any
// real network and only bounds a misbehaving server.
constexpr size_t kMaxReply = 64 * 1024 * 1024;

bool make_address(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

void set_timeout(int fd, int ms) {
  timeval tv{.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Is a daemon answering on `path`? A refused connection means the file is a
// leftover from a daemon that is gone.
bool someone_listens(const sockaddr_un& addr) {
  os::Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
}

ControlReply refusal(std::string message, bool no_daemon = false) {
  return cordon::fail(ControlError{std::move(message), no_daemon});
}

}  // namespace

os::Result<ControlServer> ControlServer::open(const std::string& path) {
  sockaddr_un addr;
  if (!make_address(path, &addr)) {
    return os::sys_error(fmt::format("control socket path {} is too long for a Unix socket", path), ENAMETOOLONG);
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  if (!dir.empty()) {
    auto made = os::ensure_dir(dir, 0700);
    if (!made) return made.error();
  }

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return os::sys_error(fmt::format("{} exists and is not a socket; remove it or choose another control_socket",
                                       path),
                           EEXIST);
    }
    if (someone_listens(addr)) {
      return os::sys_error(fmt::format("another cordon daemon answers on {}; stop it first (or give this one "
                                       "another interface and control_socket)",
                                       path),
                           EADDRINUSE);
    }
    ::unlink(path.c_str());
  }

  ControlServer server;
  server.listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!server.listener_.valid()) return os::sys_error("create control socket");
  if (::bind(server.listener_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return os::sys_error(fmt::format("bind control socket {}", path));
  }
  server.path_ = path;
  // The directory is already 0700, so nobody else could reach the socket
  // in the moment before this chmod.
  if (::chmod(path.c_str(), 0600) != 0) return os::sys_error(fmt::format("chmod 600 {}", path));
  if (::listen(server.listener_.get(), 16) != 0) return os::sys_error(fmt::format("listen on {}", path));
  return server;
}

ControlServer::ControlServer(ControlServer&& other) noexcept
    : listener_(std::move(other.listener_)), path_(std::exchange(other.path_, {})) {}

ControlServer& ControlServer::operator=(ControlServer&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) ::unlink(path_.c_str());
    listener_ = std::move(other.listener_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

ControlServer::~ControlServer() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

void ControlServer::serve_pending(const Handler& handler) {
  for (;;) {
    os::Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client.valid()) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::warn("control socket {}: accept: {}", path_, std::strerror(errno));
      }
      return;
    }
    serve_client(client.get(), handler);
  }
}

void ControlServer::serve_client(int client, const Handler& handler) {
  // The accepted socket is blocking with a timeout: requests are one short
  // line from a local root process, and the bound keeps ticks on time.
  set_timeout(client, kClientTimeoutMs);
  std::string request;
  char buf[512];
  while (request.size() < kMaxRequest && request.find('\n') == std::string::npos) {
    const ssize_t n = ::recv(client, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  write_all(client, answer_request(request, handler).dump() + "\n");
}

nlohmann::json answer_request(std::string_view received, const ControlServer::Handler& handler) {
  const size_t newline = received.find('\n');
  if (newline != std::string_view::npos) received = received.substr(0, newline);
  nlohmann::json parsed = nlohmann::json::parse(received, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return {{"error", "the request is not a JSON object; send {\"command\":\"status\"} and a newline"}};
  }
  return handler(parsed);
}

ControlReply control_request(const std::string& socket_path, const nlohmann::json& request) {
  sockaddr_un addr;
  if (!make_address(socket_path, &addr)) {
    return refusal(fmt::format("{} is not a usable socket path (1 to {} characters)", socket_path,
                               sizeof(addr.sun_path) - 1));
  }
  os::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return refusal(fmt::format("cannot create a Unix socket: {}", std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
      return refusal(
          fmt::format("no cordon daemon on {} (is `cordon up` or `cordon sitelink` running?)", socket_path), true);
    }
    if (err == EACCES || err == EPERM) return refusal("cordon status needs root");
    return refusal(fmt::format("cannot connect to {}: {}", socket_path, std::strerror(err)));
  }
  // The daemon answers within one control-loop turn; 10 s only guards
  // against a daemon that hangs.
  set_timeout(fd.get(), 10'000);
  if (!write_all(fd.get(), request.dump() + "\n")) {
    return refusal(fmt::format("cannot send the request to {}: {}", socket_path, std::strerror(errno)));
  }
  std::string reply;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return refusal(fmt::format("no reply from the daemon on {}: {}", socket_path, std::strerror(errno)));
    }
    if (n == 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > kMaxReply) return refusal("the daemon's reply is too large");
  }
  return parse_control_reply(reply, socket_path);
}

ControlReply parse_control_reply(std::string_view reply, const std::string& socket_path) {
  nlohmann::json document = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return refusal(fmt::format("the daemon on {} sent a reply that is not JSON", socket_path));
  }
  if (document.is_object() && document.contains("error") && document["error"].is_string()) {
    return refusal(fmt::format("the daemon refused: {}", document["error"].get<std::string>()));
  }
  return document;
}

nlohmann::json dispatch_command(const nlohmann::json& request, const ControlCommands& commands) {
  const auto command = request.find("command");
  if (command == request.end() || !command->is_string()) {
    return {{"error", "the request has no \"command\"; send {\"command\":\"status\"}"}};
  }
  if (*command == "status" && commands.status) return commands.status();
  if (*command == "reload" && commands.reload) return commands.reload();
  if (*command == "rekey" && commands.rekey) return commands.rekey(request);
  if (*command == "sitelink" && commands.sitelink) return commands.sitelink(request);
  if (*command == "courier" && commands.courier) return commands.courier(request);
  if (*command == "ipsec" && commands.ipsec) return commands.ipsec(request);
  std::string known = "status";
  if (commands.reload) known += ", reload";
  if (commands.rekey) known += ", rekey";
  if (commands.sitelink) known += ", sitelink";
  if (commands.courier) known += ", courier";
  if (commands.ipsec) known += ", ipsec";
  if (*command == "courier") known += " (courier only on a daemon in managed mode: host.keyset)";
  if (*command == "sitelink") known += " (sitelink only on a daemon started by `cordon sitelink`)";
  if (*command == "ipsec") known += " (ipsec only on a daemon whose config has an [ipsec] table)";
  return {{"error", fmt::format("unknown command {}; the daemon knows: {}", command->dump(), known)}};
}

nlohmann::json dispatch_command(const nlohmann::json& request, const std::function<nlohmann::json()>& status) {
  return dispatch_command(request, ControlCommands{status, nullptr, nullptr, nullptr, nullptr, nullptr});
}

}  // namespace cordon::daemon
