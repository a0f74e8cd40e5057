// The pieces of os::UdpSocket that UDP GSO and GRO add (udp(7): UDP_SEGMENT
// and UDP_GRO; the kernel's udp_send_skb and udp_gro_receive): how a chunk
// of datagrams becomes sendmmsg(2) messages, and how a coalesced message
// becomes datagrams again. Internal to os/linux/udp.cpp.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "os/datagram_socket.hpp"

namespace cordon::os {

// At most this many bytes of datagrams in one GSO message: below the
// largest UDP payload over IPv4 (65,507), so no family refuses it.
constexpr size_t kMaxGsoBytes = 65000;
// The kernel sends at most 64 segments per message (UDP_MAX_SEGMENTS on
// older kernels).
constexpr size_t kMaxGsoSegments = 64;

// A chunk of at most DatagramSocket::kMaxBatch datagrams as messages.
struct SendPlan {
  static constexpr size_t kMax = DatagramSocket::kMaxBatch;
  std::array<mmsghdr, kMax> messages;
  std::array<iovec, kMax> iov;  // one per datagram, in order
  std::array<sockaddr_storage, kMax> to;
  std::array<std::array<std::byte, CMSG_SPACE(sizeof(uint16_t))>, kMax> control;
  std::array<uint8_t, kMax> datagrams;  // how many datagrams each message carries
  size_t count = 0;                     // messages

  // How many datagrams the first `messages` messages carry.
  size_t datagrams_in(size_t messages) const;
  // Of them, how many went as GSO messages, and in how many messages.
  void count_gso(size_t messages, uint64_t* gso_messages, uint64_t* gso_datagrams) const;
};

// Fills `plan` from `chunk` (at most SendPlan::kMax datagrams). With `gso`,
// a run of datagrams to one peer with one length (the last may be shorter)
// becomes one message with UDP_SEGMENT. Stops before a datagram whose
// peer this socket's family cannot reach (count 0 when it is the first).
void plan_send(std::span<const Datagram> chunk, bool v6_socket, bool gso, SendPlan& plan);

// The segment size a received message carries in its UDP_GRO control
// message, or 0 when it holds one datagram.
size_t gro_segment_size(const msghdr& message);

}  // namespace cordon::os
