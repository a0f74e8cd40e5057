#include "os/linux/raw_ip.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "os/linux/sockaddr.hpp"

namespace cordon::os {

Result<RawIpSocket> RawIpSocket::open(uint8_t protocol) {
  Fd fd(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!fd.valid()) return sys_error_of(errno, "open a raw IP socket for protocol ", int{protocol});
  return RawIpSocket(std::move(fd), protocol);
}

Result<RawPacket> RawIpSocket::receive(std::span<std::byte> buffer) {
  for (;;) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = ::recvfrom(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return RawPacket{};
      return sys_error_of(errno, "receive on the raw socket of protocol ", int{protocol_});
    }
    // A packet longer than the buffer is reported with its full length
    // (MSG_TRUNC); the caller drops it.
    return RawPacket{static_cast<size_t>(n), to_endpoint(from).address};
  }
}

Status RawIpSocket::send(std::span<const std::byte> packet, const IpAddress& to) {
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(Endpoint{to, 0, 0}, false, &ss);
  for (;;) {
    const ssize_t n = ::sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
    if (n >= 0) return Ok{};
    if (errno == EINTR) continue;
    return sys_error_of(errno, "send on the raw socket of protocol ", int{protocol_}, " to ", to.to_string());
  }
}

}  // namespace cordon::os
