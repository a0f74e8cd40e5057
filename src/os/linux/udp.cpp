#include "os/linux/udp.hpp"

#include "core/wire/header.hpp"
#include "os/linux/sockaddr.hpp"
#include "os/linux/udp_offload.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace cordon::os {

namespace {

// 4 MiB per direction absorbs a burst of several thousand full-size
// datagrams while a worker is busy encrypting. The *FORCE variants bypass
// net.core.{r,w}mem_max but need CAP_NET_ADMIN (socket(7)); without it the
// plain option is capped by the sysctl, which is fine.
constexpr int kSocketBuffer = 4 * 1024 * 1024;

// When the send buffer is full, send() polls for room (POLLOUT) for up to
// kSendWaitMs, at most kSendWaits times per chunk of kMaxBatch datagrams,
// before it gives up on the rest. Dropping at the first EAGAIN would lose
// packets the kernel can take a moment later (a burst after a long encrypt
// batch); waiting without bound would stall the worker's receive side. So a
// send() call blocks for at most a few milliseconds, and only when the
// socket is full.
constexpr int kSendWaitMs = 1;
constexpr int kSendWaits = 4;


void set_buffer(int fd, int force_opt, int opt) {
  // Best effort, silently: a smaller buffer costs throughput, not function.
  if (::setsockopt(fd, SOL_SOCKET, force_opt, &kSocketBuffer, sizeof(kSocketBuffer)) == 0) return;
  ::setsockopt(fd, SOL_SOCKET, opt, &kSocketBuffer, sizeof(kSocketBuffer));
}

Status set_int(int fd, int level, int opt, int value, const char* what) {
  if (::setsockopt(fd, level, opt, &value, sizeof(value)) < 0) return sys_error(what);
  return Ok{};
}

SysError bind_error(const IpAddress& address, uint16_t port, int err) {
  if (err == EADDRINUSE) {
    return sys_error("UDP " + endpoint_text(Endpoint{.address = address, .port = port}) +
                         " is already in use; pick another listen_port or stop the program using it",
                     err);
  }
  if (err == EADDRNOTAVAIL) {
    return sys_error("bind UDP " + endpoint_text(Endpoint{.address = address, .port = port}) +
                         ": no interface has this address",
                     err);
  }
  return sys_error("bind UDP " + endpoint_text(Endpoint{.address = address, .port = port}), err);
}

// Waits up to kSendWaitMs for room in the send buffer.
bool wait_writable(int fd) {
  pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
  return ::poll(&p, 1, kSendWaitMs) > 0 && (p.revents & POLLOUT) != 0;
}

}  // namespace

Result<UdpSocket> UdpSocket::bind(const IpAddress& address, uint16_t port, bool reuse_port) {
  UdpSocket s;
  s.v6_ = !address.is_v4();
  const int family = s.v6_ ? AF_INET6 : AF_INET;
  s.fd_.reset(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!s.fd_.valid()) return sys_error(s.v6_ ? "create UDP/IPv6 socket" : "create UDP/IPv4 socket");
  const int fd = s.fd_.get();

  if (s.v6_) {
    // Dual stack regardless of net.ipv6.bindv6only (ipv6(7)), so that "::"
    // serves IPv4 underlays too.
    auto st = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "clear IPV6_V6ONLY");
    if (!st) return st.error();
  }
  if (reuse_port) {
    // One socket per worker on the same port; the kernel spreads flows
    // across them by hash (socket(7), SO_REUSEPORT).
    auto st = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1, "set SO_REUSEPORT");
    if (!st) return st.error();
  }
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);

  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(Endpoint{.address = address, .port = port}, s.v6_, &ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) return bind_error(address, port, errno);

  // Port 0 asks the kernel for a free port; learn which one.
  len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return sys_error("getsockname UDP");
  s.port_ = to_endpoint(ss).port;
  return s;
}

Status UdpSocket::steer_by_lane(unsigned sockets) const {
  if (sockets == 0 || sockets > wire::kLanes) return sys_error("steer UDP sockets by lane: 1 to 4 sockets", EINVAL);
  // The program sees the UDP payload (socket(7), SO_ATTACH_REUSEPORT_CBPF);
  // it returns the index of the socket in the group. A datagram too short
  // to have a first byte ends the program with 0: socket 0.
  std::array<sock_filter, 4> code = {{
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, wire::kLanes - 1),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, sockets),
      BPF_STMT(BPF_RET | BPF_A, 0),
  }};
  const sock_fprog program{.len = static_cast<unsigned short>(code.size()), .filter = code.data()};
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program)) < 0) {
    return sys_error("attach the lane program to the UDP sockets (SO_ATTACH_REUSEPORT_CBPF)");
  }
  return Ok{};
}

Result<size_t> UdpSocket::receive(std::span<Datagram> batch) {
  if (offload_ && offload_->gro) return receive_coalesced(batch);
  return receive_plain(batch);
}

Result<size_t> UdpSocket::receive_plain(std::span<Datagram> batch) {
  const size_t n = std::min(batch.size(), kMaxBatch);
  if (n == 0) return size_t{0};
  // Not value-initialised: 64 sockaddr_storage are 8 KiB to clear on every
  // call; every field the kernel reads is set below.
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<iovec, kMaxBatch> iov;
  std::array<sockaddr_storage, kMaxBatch> from;
  for (size_t i = 0; i < n; ++i) {
    iov[i] = iovec{.iov_base = batch[i].data.data(), .iov_len = batch[i].data.size()};
    msgs[i].msg_hdr = msghdr{.msg_name = &from[i],
                             .msg_namelen = sizeof(sockaddr_storage),
                             .msg_iov = &iov[i],
                             .msg_iovlen = 1,
                             .msg_control = nullptr,
                             .msg_controllen = 0,
                             .msg_flags = 0};
    msgs[i].msg_len = 0;
  }
  for (;;) {
    // MSG_DONTWAIT: return what is queued now; with a timeout argument
    // recvmmsg(2) would only check it after each datagram (see BUGS).
    int r = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
      return sys_error_of(errno, "receive UDP on port ", port_);
    }
    for (int i = 0; i < r; ++i) {
      batch[i].length = msgs[i].msg_len;
      batch[i].peer = to_endpoint(from[i]);
      batch[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    }
    return static_cast<size_t>(r);
  }
}

Result<size_t> UdpSocket::send(std::span<const Datagram> batch) {
  size_t sent = 0;
  while (sent < batch.size()) {
    auto chunk = batch.subspan(sent, std::min(batch.size() - sent, kMaxBatch));
    auto r = send_chunk(chunk);
    if (!r) {
      // An error on the very first datagram is the caller's to see; after
      // that, the partial count says where the next call should resume.
      if (sent == 0) return r.error();
      break;
    }
    sent += r.value();
    if (r.value() < chunk.size()) break;
  }
  return sent;
}

}  // namespace cordon::os

namespace cordon::os {

Result<size_t> UdpSocket::receive_coalesced(std::span<Datagram> batch) {
  // Every message may hold kMaxGroSegments datagrams, so only as many
  // messages as the batch has room for whole ones (at least one).
  const size_t n = std::clamp<size_t>(batch.size() / kMaxGroSegments, 1, kGroMessages);
  std::array<mmsghdr, kGroMessages> msgs;
  std::array<iovec, kGroMessages> iov;
  std::array<sockaddr_storage, kGroMessages> from;
  std::array<std::array<std::byte, CMSG_SPACE(sizeof(int))>, kGroMessages> control;
  const auto arena = std::span(offload_->arena);
  for (size_t i = 0; i < n; ++i) {
    iov[i] = iovec{.iov_base = arena.data() + i * kGroBuffer, .iov_len = kGroBuffer};
    msgs[i].msg_hdr = msghdr{.msg_name = &from[i],
                             .msg_namelen = sizeof(sockaddr_storage),
                             .msg_iov = &iov[i],
                             .msg_iovlen = 1,
                             .msg_control = control[i].data(),
                             .msg_controllen = control[i].size(),
                             .msg_flags = 0};
    msgs[i].msg_len = 0;
  }
  int r;
  do {
    r = ::recvmmsg(fd_.get(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return sys_error_of(errno, "receive UDP on port ", port_);
  }
  size_t out = 0;
  for (int i = 0; i < r && out < batch.size(); ++i) {
    const size_t length = msgs[i].msg_len;
    const size_t segment = gro_segment_size(msgs[i].msg_hdr);
    const size_t step = segment == 0 ? std::max<size_t>(length, 1) : segment;
    const bool cut = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    const Endpoint peer = to_endpoint(from[i]);
    const auto message = arena.subspan(static_cast<size_t>(i) * kGroBuffer, length);
    size_t pieces = 0;
    for (size_t at = 0; (at < length || at == 0) && out < batch.size(); at += step, ++pieces) {
      const size_t size = std::min(step, length - at);
      batch[out++] = Datagram{.data = message.subspan(at, size),
                              .length = size,
                              .peer = peer,
                              .truncated = cut || size > offload_->max_datagram};
    }
    if (pieces > 1) {
      offload_->gro_messages.fetch_add(1, std::memory_order_relaxed);
      offload_->gro_datagrams.fetch_add(pieces, std::memory_order_relaxed);
    }
  }
  return out;
}

Result<size_t> UdpSocket::send_chunk(std::span<const Datagram> chunk) {
  SendPlan plan;
  bool gso = gso_on();
  size_t done = 0;
  int waits = 0;
  while (done < chunk.size()) {
    plan_send(chunk.subspan(done), v6_, gso, plan);
    if (plan.count == 0) {
      if (done == 0) {
        return sys_error_of(EAFNOSUPPORT, "send UDP to ", endpoint_chars(chunk[0].peer).view(),
                            " from an IPv4-only socket");
      }
      break;
    }
    // sendmmsg(2) returns how many messages went out; on a failure after
    // the first it returns the partial count and the next call reports it.
    int r = ::sendmmsg(fd_.get(), plan.messages.data(), static_cast<unsigned>(plan.count), MSG_DONTWAIT);
    if (r > 0) {
      done += plan.datagrams_in(static_cast<size_t>(r));
      if (gso) count_gso(plan, static_cast<size_t>(r));
      continue;
    }
    if (r == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (waits++ < kSendWaits && wait_writable(fd_.get())) continue;
      break;  // still full: the caller drops the rest
    }
    if (plan.datagrams[0] > 1 && refused_gso(errno)) {
      gso = false;  // this chunk goes out one datagram per message
      continue;
    }
    if (done == 0) return sys_error_of(errno, "send UDP to ", endpoint_chars(chunk[done].peer).view());
    break;
  }
  return done;
}

void UdpSocket::count_gso(const SendPlan& plan, size_t messages) {
  uint64_t m = 0;
  uint64_t d = 0;
  plan.count_gso(messages, &m, &d);
  if (m == 0) return;
  offload_->gso_messages.fetch_add(m, std::memory_order_relaxed);
  offload_->gso_datagrams.fetch_add(d, std::memory_order_relaxed);
}

// A GSO message the kernel refused. EIO: the route's device cannot
// checksum for us (udp_send_skb), which will not change, so GSO is off for
// good on this socket. EINVAL: a segment is larger than the path MTU
// allows a GSO segment to be, which depends on the peer; that message
// alone goes out without GSO. Both are counted.
bool UdpSocket::refused_gso(int err) {
  if (err != EIO && err != EINVAL) return false;
  offload_->gso_fallbacks.fetch_add(1, std::memory_order_relaxed);
  if (err == EIO) offload_->gso.store(false, std::memory_order_relaxed);
  return true;
}

}  // namespace cordon::os
