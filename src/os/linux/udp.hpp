// UDP underlay socket with batched I/O: recvmmsg/sendmmsg (docs/design.md,
// "The data path"); the daemon's DatagramSocket (os/datagram_socket.hpp).
// One socket per worker, bound with SO_REUSEPORT to the same port. An IPv6
// socket with IPV6_V6ONLY off serves IPv4 and IPv6 underlays; IPv4 peers appear as plain IPv4 endpoints (not v4-mapped) to the core.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/types.hpp"
#include "os/datagram_socket.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

struct SendPlan;  // udp_offload.hpp

// UDP offloads (udp(7): UDP_SEGMENT, UDP_GRO) and what they did.
struct UdpOffloads {
  bool gso = false;             // sends batch datagrams to one peer in one message
  bool gro = false;             // receives coalesced datagrams
  uint64_t gso_messages = 0;    // messages sent with UDP_SEGMENT
  uint64_t gso_datagrams = 0;   // datagrams they carried
  uint64_t gso_fallbacks = 0;   // messages the kernel refused and that went out one by one
  uint64_t gro_messages = 0;    // received messages that held more than one datagram
  uint64_t gro_datagrams = 0;   // datagrams they held
};

class UdpSocket final : public DatagramSocket {
 public:
  // Binds `address:port` (an unspecified IPv6 address means every address,
  // IPv4 included) with SO_REUSEPORT, non-blocking. EADDRINUSE is reported
  // as such so the daemon can say "port N already in use".
  static Result<UdpSocket> bind(const IpAddress& address, uint16_t port, bool reuse_port);

  int fd() const { return fd_.get(); }
  uint16_t local_port() const { return port_; }

  // Makes the SO_REUSEPORT group this socket belongs to pick a datagram's
  // socket by its lane (wire/header.hpp): the low two bits of its first
  // byte, modulo `sockets`, index the group's sockets in the order they
  // were bound (a classic BPF program, SO_ATTACH_REUSEPORT_CBPF in
  // socket(7)). Without it the kernel picks by a hash of the addresses and
  // ports. Call once every socket of the group is bound; `sockets` from 1
  // to 4.
  Status steer_by_lane(unsigned sockets) const;

  // Turns on UDP GSO and GRO where the kernel has them (detected by the
  // setsockopt calls; nothing fails without them). With GRO, receive()
  // needs a batch of kMaxCoalescedBatch entries to fill it, and points the
  // entries at the socket's own buffers; a datagram longer than
  // `max_datagram` is marked truncated, as one longer than the caller's
  // buffer would be. Call before the socket is shared with other threads.
  void enable_offloads(size_t max_datagram);
  UdpOffloads offloads() const;

  // Receives without blocking; returns how many datagrams (0 when none is
  // queued). Without GRO: up to min(batch.size(), kMaxBatch), into the
  // entries' buffers. With GRO: up to batch.size(), from whole messages of
  // up to kMaxGroSegments datagrams each, in the socket's buffers (valid
  // until the next receive()).
  Result<size_t> receive(std::span<Datagram> batch) override;
  // Sends the batch (any size). Returns k: batch[0, k) went out. k is less
  // than batch.size() when the send buffer stayed full after a bounded wait
  // of a few milliseconds (udp.cpp, kSendWaitMs), or when batch[k] failed;
  // calling again with batch.subspan(k) then reports that failure. An error
  // result means batch[0] failed (EMSGSIZE, ENETUNREACH, an IPv6 peer on an
  // IPv4 socket: EAFNOSUPPORT, ...) and nothing was sent.
  // With GSO, consecutive datagrams to one peer of one length (the last
  // may be shorter) go out as one message; a message the kernel refuses
  // goes out again one datagram per message and is counted.
  Result<size_t> send(std::span<const Datagram> batch) override;

  // The kernel coalesces at most 64 datagrams per message (UDP_GRO_CNT_MAX).
  static constexpr size_t kMaxGroSegments = 64;
  static constexpr size_t kGroMessages = 16;
  static constexpr size_t kMaxCoalescedBatch = kGroMessages * kMaxGroSegments;

 private:
  // Shared by the worker and the control thread (send), hence atomics.
  struct Offload {
    std::atomic<bool> gso{false};
    bool gro = false;
    size_t max_datagram = 0;
    std::vector<std::byte> arena;  // kGroMessages buffers of kGroBuffer bytes
    std::atomic<uint64_t> gso_messages{0}, gso_datagrams{0}, gso_fallbacks{0};
    std::atomic<uint64_t> gro_messages{0}, gro_datagrams{0};
  };
  // The largest UDP payload (IPv6: 65,535 - 8), so a coalesced message is never cut.
  static constexpr size_t kGroBuffer = 65527;
  bool gso_on() const { return offload_ && offload_->gso.load(std::memory_order_relaxed); }
  Result<size_t> send_chunk(std::span<const Datagram> chunk);
  void count_gso(const SendPlan& plan, size_t messages);
  bool refused_gso(int err);
  Result<size_t> receive_plain(std::span<Datagram> batch);
  Result<size_t> receive_coalesced(std::span<Datagram> batch);

  Fd fd_;
  uint16_t port_ = 0;
  bool v6_ = true;
  std::unique_ptr<Offload> offload_;  // set by enable_offloads
};

}  // namespace cordon::os
