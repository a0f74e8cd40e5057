#include "os/linux/raw_ip.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "os/linux/sockaddr.hpp"

namespace cordon::os {

Result<RawIpSocket> RawIpSocket::open(uint8_t protocol, bool v6) {
  Fd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  const char* family = v6 ? "IPv6" : "IPv4";
  if (!fd.valid()) return sys_error_of(errno, "open a raw ", family, " socket for protocol ", int{protocol});
  if (v6 && protocol != IPPROTO_RAW) {
    const int on = 1;
    for (int option : {IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS}) {
      if (::setsockopt(fd.get(), IPPROTO_IPV6, option, &on, sizeof(on)) < 0) {
        return sys_error_of(errno, "ask the raw IPv6 socket of protocol ", int{protocol}, " for its packets' headers");
      }
    }
  }
  return RawIpSocket(std::move(fd), protocol, v6);
}

Result<RawPacket> RawIpSocket::receive(std::span<std::byte> buffer) {
  if (v6_) return receive_v6(buffer);
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

namespace {

// The fields of an IPv6 header (RFC 8200 section 3) that receive_v6 learns
// from the control messages.
struct Ipv6Ancillary {
  in6_addr destination{};
  int hop_limit = 64;
  int traffic_class = 0;
};

Ipv6Ancillary read_ancillary(msghdr& msg) {
  Ipv6Ancillary a;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      a.destination = info.ipi6_addr;
    } else if (c->cmsg_type == IPV6_HOPLIMIT) {
      std::memcpy(&a.hop_limit, CMSG_DATA(c), sizeof(int));
    } else if (c->cmsg_type == IPV6_TCLASS) {
      std::memcpy(&a.traffic_class, CMSG_DATA(c), sizeof(int));
    }
  }
  return a;
}

void write_ipv6_header(std::span<std::byte> out, const Ipv6Ancillary& a, const in6_addr& source, uint8_t protocol,
                       size_t payload) {
  const auto b = [](unsigned v) { return static_cast<std::byte>(v & 0xff); };
  out[0] = b(0x60 | (static_cast<unsigned>(a.traffic_class) >> 4));
  out[1] = b((static_cast<unsigned>(a.traffic_class) & 0x0f) << 4);
  out[2] = out[3] = std::byte{0};  // flow label: not given by the kernel
  out[4] = b(static_cast<unsigned>(payload) >> 8);
  out[5] = b(static_cast<unsigned>(payload));
  out[6] = b(protocol);
  out[7] = b(static_cast<unsigned>(a.hop_limit));
  std::memcpy(out.data() + 8, &source, 16);
  std::memcpy(out.data() + 24, &a.destination, 16);
}

}  // namespace

Result<RawPacket> RawIpSocket::receive_v6(std::span<std::byte> buffer) {
  if (buffer.size() <= kIpv6Header) return RawPacket{};
  const auto payload = buffer.subspan(kIpv6Header);
  for (;;) {
    sockaddr_in6 from{};
    alignas(cmsghdr) std::array<std::byte, 128> control{};
    iovec iov{payload.data(), payload.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return RawPacket{};
      return sys_error_of(errno, "receive on the raw IPv6 socket of protocol ", int{protocol_});
    }
    const size_t length = static_cast<size_t>(n);
    // A payload longer than the buffer, or than an IPv6 payload length can
    // say (jumbograms are not taken): reported at full length, dropped.
    if (length <= payload.size() && length <= 0xffff) {
      write_ipv6_header(buffer, read_ancillary(msg), from.sin6_addr, protocol_, length);
    }
    sockaddr_storage ss{};
    std::memcpy(&ss, &from, sizeof(from));
    return RawPacket{kIpv6Header + length, to_endpoint(ss).address};
  }
}

Status RawIpSocket::send(std::span<const std::byte> packet, const IpAddress& to) {
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(Endpoint{to, 0, 0}, v6_, &ss);
  for (;;) {
    const ssize_t n = ::sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
    if (n >= 0) return Ok{};
    if (errno == EINTR) continue;
    return sys_error_of(errno, "send on the raw socket of protocol ", int{protocol_}, " to ", to.to_string());
  }
}

}  // namespace cordon::os
