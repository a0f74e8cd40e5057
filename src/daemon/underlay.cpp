#include "daemon/underlay.hpp"

#include <cerrno>

#include <fmt/format.h>

#include "core/wire/header.hpp"

namespace cordon::daemon {
namespace {

std::string bind_failure(const os::SysError& e, uint16_t port, const std::string& config_path) {
  if (e.err == EADDRINUSE) {
    return fmt::format("port {} already in use (another cordon or program is listening); choose another "
                       "listen_port in {}",
                       port, config_path);
  }
  return e.message();
}

}  // namespace

UnderlayResult open_underlay(const IpAddress& address, uint16_t port, unsigned count,
                             const std::string& config_path) {
  Underlay out;
  if (port != 0) {
    // SO_REUSEPORT lets every socket of the same user join the port's group,
    // so a second root daemon would silently take half of our traffic. A
    // probe without SO_REUSEPORT fails with EADDRINUSE if anyone holds the
    // port, another cordon included.
    auto probe = os::UdpSocket::bind(address, port, /*reuse_port=*/false);
    if (!probe) return bind_failure(probe.error(), port, config_path);
  }
  for (unsigned i = 0; i < count; ++i) {
    // Port 0 asks the kernel for a free port on the first socket; the others
    // join that one.
    auto socket = os::UdpSocket::bind(address, i == 0 ? port : out.port, /*reuse_port=*/true);
    if (!socket) return bind_failure(socket.error(), i == 0 ? port : out.port, config_path);
    if (i == 0) out.port = socket.value().local_port();
    out.sockets.push_back(std::move(socket.value()));
  }
  if (count > wire::kLanes) {
    out.lanes_off = fmt::format("{} workers: the header has {} lanes", count, wire::kLanes);
  } else if (count > 1) {
    if (auto steered = out.sockets[0].steer_by_lane(count)) {
      out.lanes = true;
    } else {
      out.lanes_off = steered.error().message();
    }
  }
  return out;
}

}  // namespace cordon::daemon
