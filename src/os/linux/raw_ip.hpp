// Raw IP sockets for the security protocols that have no port: ESP (IP
// protocol 50, RFC 4303) and AH (51, RFC 4302), which the IPsec gateway
// runs in user space because this kernel has none (docs/ipsec.md, "Data
// path"). ip(7) and raw(7): an IPv4 raw socket hands over each packet of its
// protocol with the IP header, and sends a payload behind a header the
// kernel writes; an IPPROTO_RAW socket (IP_HDRINCL) sends a whole packet the
// caller wrote, as AH needs. A raw socket takes the packet and the kernel
// then sends no "protocol unreachable" for it.
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
  // A non-blocking IPv4 raw socket of `protocol` (50 or 51), or one that
  // only sends whole packets (IPPROTO_RAW) when `protocol` is 255.
  static Result<RawIpSocket> open(uint8_t protocol);
  int fd() const { return fd_.get(); }

  // One packet into `buffer` (with its IPv4 header); length 0 when none is
  // queued.
  Result<RawPacket> receive(std::span<std::byte> buffer);
  // A payload the kernel puts behind an IPv4 header of this socket's
  // protocol, or (IPPROTO_RAW) a whole IPv4 packet.
  Status send(std::span<const std::byte> packet, const IpAddress& to);

 private:
  RawIpSocket(Fd fd, uint8_t protocol) : fd_(std::move(fd)), protocol_(protocol) {}
  Fd fd_;
  uint8_t protocol_;
};

}  // namespace cordon::os
