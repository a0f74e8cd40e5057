#include "os/linux/udp_offload.hpp"

#include <netinet/udp.h>

#include <algorithm>
#include <cstring>

#include "os/linux/sockaddr.hpp"
#include "os/linux/udp.hpp"

namespace cordon::os {
namespace {

// Consecutive datagrams from chunk[0] that one GSO message can carry:
// same peer, chunk[0]'s length, and at most one shorter one to end it
// (udp(7): every segment but the last has gso_size bytes).
size_t gso_run(std::span<const Datagram> chunk) {
  const size_t size = std::min(chunk[0].length, chunk[0].data.size());
  size_t n = 1;
  size_t bytes = size;
  while (n < chunk.size() && n < kMaxGsoSegments) {
    const Datagram& d = chunk[n];
    const size_t length = std::min(d.length, d.data.size());
    if (d.peer != chunk[0].peer || length > size || length == 0 || bytes + length > kMaxGsoBytes) break;
    bytes += length;
    ++n;
    if (length < size) break;
  }
  return n;
}

void set_segment_size(msghdr& hdr, std::span<std::byte> space, uint16_t size) {
  hdr.msg_control = space.data();
  hdr.msg_controllen = space.size();
  cmsghdr* c = CMSG_FIRSTHDR(&hdr);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  std::memcpy(CMSG_DATA(c), &size, sizeof(size));
}

}  // namespace

size_t SendPlan::datagrams_in(size_t n) const {
  size_t total = 0;
  for (size_t i = 0; i < n && i < count; ++i) total += datagrams[i];
  return total;
}

void SendPlan::count_gso(size_t n, uint64_t* gso_messages, uint64_t* gso_datagrams) const {
  for (size_t i = 0; i < n && i < count; ++i) {
    if (datagrams[i] > 1) {
      ++*gso_messages;
      *gso_datagrams += datagrams[i];
    }
  }
}

void plan_send(std::span<const Datagram> chunk, bool v6_socket, bool gso, SendPlan& plan) {
  plan.count = 0;
  size_t at = 0;
  while (at < chunk.size() && at < SendPlan::kMax) {
    const size_t m = plan.count;
    const socklen_t len = to_sockaddr(chunk[at].peer, v6_socket, &plan.to[m]);
    if (len == 0) break;  // unreachable from this socket's family; the caller reports it
    const size_t run = gso ? gso_run(chunk.subspan(at, std::min(chunk.size(), SendPlan::kMax) - at)) : 1;
    for (size_t k = 0; k < run; ++k) {
      const Datagram& d = chunk[at + k];
      // length is clamped so that a bad length never reads past data.
      plan.iov[at + k] = iovec{.iov_base = d.data.data(), .iov_len = std::min(d.length, d.data.size())};
    }
    plan.messages[m].msg_hdr = msghdr{.msg_name = &plan.to[m],
                                      .msg_namelen = len,
                                      .msg_iov = &plan.iov[at],
                                      .msg_iovlen = run,
                                      .msg_control = nullptr,
                                      .msg_controllen = 0,
                                      .msg_flags = 0};
    plan.messages[m].msg_len = 0;
    if (run > 1) {
      set_segment_size(plan.messages[m].msg_hdr, plan.control[m], static_cast<uint16_t>(plan.iov[at].iov_len));
    }
    plan.datagrams[m] = static_cast<uint8_t>(run);
    ++plan.count;
    at += run;
  }
}

size_t gro_segment_size(const msghdr& message) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof(size));
      return size > 0 ? static_cast<size_t>(size) : 0;
    }
  }
  return 0;
}

void UdpSocket::enable_offloads(size_t max_datagram) {
  offload_ = std::make_unique<Offload>();
  offload_->max_datagram = max_datagram;
  // Setting the per-socket segment size to 0 changes nothing but tells
  // whether this kernel knows UDP_SEGMENT (Linux 4.18 and later).
  int zero = 0;
  offload_->gso.store(::setsockopt(fd_.get(), SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0);
  int on = 1;
  offload_->gro = ::setsockopt(fd_.get(), SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
  if (offload_->gro) offload_->arena.resize(kGroMessages * kGroBuffer);
}

UdpOffloads UdpSocket::offloads() const {
  if (!offload_) return {};
  const auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return UdpOffloads{.gso = offload_->gso.load(std::memory_order_relaxed),
                     .gro = offload_->gro,
                     .gso_messages = get(offload_->gso_messages),
                     .gso_datagrams = get(offload_->gso_datagrams),
                     .gso_fallbacks = get(offload_->gso_fallbacks),
                     .gro_messages = get(offload_->gro_messages),
                     .gro_datagrams = get(offload_->gro_datagrams)};
}

}  // namespace cordon::os
