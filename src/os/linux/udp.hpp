// UDP underlay socket with batched I/O: recvmmsg/sendmmsg (docs/design.md,
// "The data path"); the daemon's DatagramSocket (os/datagram_socket.hpp).
// One socket per worker, bound with SO_REUSEPORT to the same port. An IPv6
// socket with IPV6_V6ONLY off serves IPv4 and IPv6 underlays; IPv4 peers appear as plain IPv4 endpoints (not v4-mapped) to the core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/types.hpp"
#include "os/datagram_socket.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

class UdpSocket final : public DatagramSocket {
 public:
  // Binds `address:port` (an unspecified IPv6 address means every address,
  // IPv4 included) with SO_REUSEPORT, non-blocking. EADDRINUSE is reported
  // as such so the daemon can say "port N already in use".
  static Result<UdpSocket> bind(const IpAddress& address, uint16_t port, bool reuse_port);

  int fd() const { return fd_.get(); }
  uint16_t local_port() const { return port_; }

  // Receives up to min(batch.size(), kMaxBatch) datagrams without blocking;
  // returns how many (0 when none is queued).
  Result<size_t> receive(std::span<Datagram> batch) override;
  // Sends the batch (any size). Returns k: batch[0, k) went out. k is less
  // than batch.size() when the send buffer stayed full after a bounded wait
  // of a few milliseconds (udp.cpp, kSendWaitMs), or when batch[k] failed;
  // calling again with batch.subspan(k) then reports that failure. An error
  // result means batch[0] failed (EMSGSIZE, ENETUNREACH, an IPv6 peer on an
  // IPv4 socket: EAFNOSUPPORT, ...) and nothing was sent.
  Result<size_t> send(std::span<const Datagram> batch) override;

 private:
  Result<size_t> send_chunk(std::span<const Datagram> chunk);

  Fd fd_;
  uint16_t port_ = 0;
  bool v6_ = true;
};

}  // namespace cordon::os
