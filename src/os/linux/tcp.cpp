#include "os/linux/tcp.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <string>

#include "os/linux/sockaddr.hpp"

namespace cordon::os {

namespace {

// MSG_NOSIGNAL: a peer that went away must come back as EPIPE, not kill the
// daemon with SIGPIPE (send(2)). MSG_DONTWAIT is belt and braces: the socket
// is non-blocking already.
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;

// After a burst the queue's buffer is given back rather than kept at up to
// 4 MiB for every idle stream of a coordinator.
constexpr size_t kKeptQueueCapacity = 64 * 1024;

Status set_int(int fd, int level, int opt, int value, const char* what) {
  if (::setsockopt(fd, level, opt, &value, sizeof(value)) < 0) return sys_error(what);
  return Ok{};
}

// Tunnel datagrams are latency-sensitive and already sized by their sender;
// Nagle's algorithm would hold a small one back for up to a round trip
// (RFC 896; tcp(7), TCP_NODELAY).
Status set_nodelay(int fd) { return set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "set TCP_NODELAY"); }

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Errors accept(2) passes on from a connection that failed before it was
// taken; the listener itself is fine, so they count as "try the next one"
// (accept(2), "Error handling").
bool pending_connection_error(int err) {
  switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM:  // a firewall refused it
      return true;
    default:
      return false;
  }
}

SysError listen_error(const IpAddress& address, uint16_t port, int err) {
  const std::string where = endpoint_text(Endpoint{.address = address, .port = port});
  if (err == EADDRINUSE) {
    return sys_error("TCP " + where + " is already in use; pick another TCP tunnel port or stop the program using it",
                     err);
  }
  if (err == EADDRNOTAVAIL) return sys_error("bind TCP " + where + ": no interface has this address", err);
  return sys_error("listen on TCP " + where, err);
}

}  // namespace

// ---------------------------------------------------------------------------
// TcpStream

TcpStream::TcpStream(Fd fd, const Endpoint& peer, bool connected)
    : fd_(std::move(fd)), peer_(peer), connected_(connected) {}

SysError TcpStream::error(std::string_view what, int err) const {
  return sys_error_of(err, what, " TCP ", endpoint_chars(peer_).view());
}

Result<TcpStream> TcpStream::connect(const Endpoint& remote) {
  const bool v6 = !remote.address.is_v4();
  Fd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd.valid()) return sys_error(v6 ? "create TCP/IPv6 socket" : "create TCP/IPv4 socket");
  if (auto st = set_nodelay(fd.get()); !st) return st.error();

  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(remote, v6, &ss);
  TcpStream s(std::move(fd), remote, false);
  if (::connect(s.fd(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    s.connected_ = true;  // allowed by connect(2), though Linux says EINPROGRESS even on loopback
    return s;
  }
  // EINTR: the connect goes on in the background, as with EINPROGRESS
  // (connect(2)); finish_connect() tells the outcome either way.
  if (errno == EINPROGRESS || errno == EINTR) return s;
  return s.error("connect");
}

Result<bool> TcpStream::finish_connect() {
  if (connected_) return true;
  // Reading SO_ERROR clears it, so a failure is kept for later calls.
  if (connect_error_ != 0) return error("connect", connect_error_);
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) return error("connect");
  if (err != 0) {
    connect_error_ = err;
    return error("connect", err);
  }
  // No error yet: connected if the kernel has a peer, else still handshaking.
  sockaddr_storage ss{};
  socklen_t ss_len = sizeof(ss);
  if (::getpeername(fd(), reinterpret_cast<sockaddr*>(&ss), &ss_len) < 0) {
    if (errno == ENOTCONN) return false;
    return error("connect");
  }
  connected_ = true;
  return true;
}

Result<TcpStream::ReadResult> TcpStream::read_into(wire::StreamDecoder& decoder) {
  const std::span<std::byte> room = decoder.writable();
  if (room.empty()) return ReadResult::kNoRoom;
  for (;;) {
    const ssize_t r = ::recv(fd(), room.data(), room.size(), MSG_DONTWAIT);
    if (r > 0) {
      decoder.commit(static_cast<size_t>(r));
      return ReadResult::kRead;
    }
    if (r == 0) return ReadResult::kEndOfStream;
    if (errno == EINTR) continue;
    if (would_block(errno)) return ReadResult::kWouldBlock;
    return error("receive from");
  }
}

Result<size_t> TcpStream::write_now(std::span<const std::byte> a, std::span<const std::byte> b) {
  iovec iov[2] = {{.iov_base = const_cast<std::byte*>(a.data()), .iov_len = a.size()},
                  {.iov_base = const_cast<std::byte*>(b.data()), .iov_len = b.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = b.empty() ? 1 : 2;
  for (;;) {
    const ssize_t r = ::sendmsg(fd(), &msg, kSendFlags);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    if (would_block(errno)) return size_t{0};
    return error("send to");
  }
}

void TcpStream::enqueue(std::span<const std::byte> bytes) {
  // Drop the written front once it is at least half of the buffer, so that
  // each queued byte is moved at most once on average.
  if (queue_head_ > 0 && queue_head_ >= queue_.size() / 2) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
  queue_.insert(queue_.end(), bytes.begin(), bytes.end());
}

void TcpStream::release_queue() {
  queue_head_ = 0;
  if (queue_.capacity() > kKeptQueueCapacity) {
    std::vector<std::byte>().swap(queue_);
  } else {
    queue_.clear();
  }
}

Result<TcpStream::SendResult> TcpStream::send(std::span<const std::byte> datagram) {
  const auto prefix = wire::stream_prefix(datagram.size());
  if (!prefix) {
    return sys_error_of(EMSGSIZE, "send a ", datagram.size(), "-byte datagram (1..65535 fit a frame) to TCP ",
                        endpoint_chars(peer_).view());
  }
  if (closing_) return error("send after the close marker to", EPIPE);
  const size_t frame = prefix->size() + datagram.size();

  if (connected_ && queued_bytes() == 0) {
    auto written = write_now(*prefix, datagram);
    if (!written) return written.error();
    const size_t n = written.value();
    if (n == frame) return SendResult::kSent;
    // The kernel took part of the frame: the rest must follow whatever the
    // limit says, or the peer would read the next frame out of step. It is
    // under one frame, and the queue was empty.
    if (n < prefix->size()) enqueue(std::span(*prefix).subspan(n));
    enqueue(datagram.subspan(n > prefix->size() ? n - prefix->size() : 0));
    return SendResult::kQueued;
  }
  // An empty queue always takes one frame, whatever the limit.
  if (queued_bytes() > 0 && queued_bytes() + frame > queue_limit_) {
    ++dropped_;
    return SendResult::kDropped;
  }
  enqueue(*prefix);
  enqueue(datagram);
  return SendResult::kQueued;
}

Status TcpStream::send_close() {
  if (closing_) return Ok{};
  closing_ = true;
  enqueue(wire::kStreamClose);
  if (!connected_) return Ok{};
  auto flushed = flush();
  if (!flushed) return flushed.error();
  return Ok{};
}

Result<bool> TcpStream::flush() {
  if (!connected_) return false;
  while (queued_bytes() > 0) {
    auto written = write_now(std::span(queue_).subspan(queue_head_), {});
    if (!written) return written.error();
    if (written.value() == 0) return false;  // the kernel's buffer is full
    queue_head_ += written.value();
  }
  release_queue();
  if (auto st = shutdown_if_closed(); !st) return st.error();
  return true;
}

Status TcpStream::shutdown_if_closed() {
  if (!closing_ || shut_down_) return Ok{};
  // The close marker is out: send FIN too, so a peer that does not read
  // markers still sees the end (docs/protocol.md, "TCP tunnel").
  shut_down_ = true;
  if (::shutdown(fd(), SHUT_WR) < 0 && errno != ENOTCONN) return error("shut down");
  return Ok{};
}

// ---------------------------------------------------------------------------
// TcpListener

Result<TcpListener> TcpListener::open(const IpAddress& address, uint16_t port) {
  const bool v6 = !address.is_v4();
  TcpListener l;
  l.fd_.reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!l.fd_.valid()) return sys_error(v6 ? "create TCP/IPv6 socket" : "create TCP/IPv4 socket");
  const int fd = l.fd_.get();
  if (v6) {
    // Dual stack regardless of net.ipv6.bindv6only (ipv6(7)), as for UDP.
    if (auto st = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, "clear IPV6_V6ONLY"); !st) return st.error();
  }
  if (auto st = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "set SO_REUSEADDR"); !st) return st.error();
  // Accepted sockets inherit TCP_NODELAY on Linux; accept() sets it again
  // anyway so that nothing depends on that.
  if (auto st = set_nodelay(fd); !st) return st.error();

  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(Endpoint{.address = address, .port = port}, v6, &ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) return listen_error(address, port, errno);
  if (::listen(fd, SOMAXCONN) < 0) return listen_error(address, port, errno);
  len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return sys_error("getsockname TCP");
  l.port_ = to_endpoint(ss).port;
  return l;
}

Result<std::optional<TcpAccepted>> TcpListener::accept() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    Fd fd(::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || pending_connection_error(errno)) continue;
      if (would_block(errno)) return std::optional<TcpAccepted>{};
      return sys_error_of(errno, "accept TCP on port ", port_);
    }
    const Endpoint peer = to_endpoint(ss);
    // A connection without TCP_NODELAY would still work, only slower: not
    // a reason to refuse the client.
    (void)set_nodelay(fd.get());
    return std::optional<TcpAccepted>(TcpAccepted{.stream = TcpStream(std::move(fd), peer, true), .peer = peer});
  }
}

// ---------------------------------------------------------------------------

Result<uint64_t> raise_open_file_limit(uint64_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) return sys_error("read the open file limit (RLIMIT_NOFILE)");
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &limit) < 0) return sys_error("raise the open file limit (RLIMIT_NOFILE)");
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace cordon::os
