// Raw IP sockets for the security protocols that have no port: ESP (IP
// protocol 50, RFC 4303) and AH (51, RFC 4302), which the IPsec gateway
// runs in user space because this kernel has none (docs/ipsec.md, "Data
// path"). ip(7) and raw(7): an IPv4 raw socket hands over each packet of its
// protocol with the IP header, and sends a payload behind a header the
// kernel writes; an IPPROTO_RAW socket (IP_HDRINCL) sends a whole packet the
// caller wrote, as AH needs. A raw socket takes the packet and the kernel
// then sends no "protocol unreachable" for it.
//
// IPv6 (ipv6(7), raw(7)): a raw socket hands over the payload alone, and
// IPPROTO_RAW implies IPV6_HDRINCL. So that the caller sees whole packets
// of both families alike, receive() writes an IPv6 header in front of the
// payload, rebuilt from the source address, the destination, traffic class
// and hop limit (IPV6_PKTINFO, IPV6_TCLASS, IPV6_HOPLIMIT), the protocol
// and the length. The flow label is lost (zero): AH counts it as mutable
// (RFC 4302 section 3.3.3.1.2.1), and ESP does not read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/types.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

struct RawPacket {
  size_t length = 0;
  IpAddress from;
};

class RawIpSocket {
 public:
  // A non-blocking raw socket of `protocol` (50 or 51), or one that only
  // sends whole packets (IPPROTO_RAW) when `protocol` is 255; IPv4, or
  // IPv6 with `v6`.
  static Result<RawIpSocket> open(uint8_t protocol, bool v6 = false);
  static constexpr size_t kIpv6Header = 40;
  int fd() const { return fd_.get(); }

  // One packet into `buffer` with its IP header (IPv6: rebuilt, above);
  // length 0 when none is queued.
  Result<RawPacket> receive(std::span<std::byte> buffer);
  // A payload the kernel puts behind an IP header of this socket's
  // protocol, or (IPPROTO_RAW) a whole IP packet of the socket's family.
  Status send(std::span<const std::byte> packet, const IpAddress& to);

 private:
  RawIpSocket(Fd fd, uint8_t protocol, bool v6) : fd_(std::move(fd)), protocol_(protocol), v6_(v6) {}
  Result<RawPacket> receive_v6(std::span<std::byte> buffer);
  Fd fd_;
  uint8_t protocol_;
  bool v6_;
};

}  // namespace cordon::os
