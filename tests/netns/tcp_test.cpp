// TCP tunnel sockets (src/os/linux/tcp.hpp) against a real kernel: a
// listener and streams on loopback, inside a namespace this file creates
// (`cordon-tcptest-<pid>-<random>`, through the netns harness), entered on
// the test thread with setns(2) and left and deleted even when an assertion
// fails. Nothing leaves that namespace's loopback. Waits poll with a
// deadline; there are no sleeps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/types.hpp"
#include "core/wire/stream_frame.hpp"
#include "os/linux/netlink.hpp"
#include "os/linux/tcp.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::os {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Bytes = std::vector<std::byte>;
using Kind = wire::StreamFrame::Kind;
using ReadResult = TcpStream::ReadResult;
using SendResult = TcpStream::SendResult;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // generous: only reached when something is broken

// A harness namespace the test thread enters for the test's length. Declare
// it first: sockets made inside keep the namespace alive, and they must be
// closed before it is left.
class EnteredNamespace {
 public:
  EnteredNamespace() : ns_("tcptest"), origin_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    entered_ = origin_ >= 0 && ::setns(ns_.fd(), CLONE_NEWNET) == 0;
  }
  ~EnteredNamespace() {
    if (entered_) ::setns(origin_, CLONE_NEWNET);
    if (origin_ >= 0) ::close(origin_);
  }
  EnteredNamespace(const EnteredNamespace&) = delete;
  EnteredNamespace& operator=(const EnteredNamespace&) = delete;
  bool ok() const { return entered_; }
  const std::string& name() const { return ns_.name(); }

 private:
  netns::Namespace ns_;
  int origin_ = -1;
  bool entered_ = false;
};

class TcpNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    ns_.emplace();
    ASSERT_TRUE(ns_->ok()) << "could not create and enter namespace " << ns_->name();
    // A fresh namespace has its loopback down.
    auto nl = Netlink::open();
    ASSERT_TRUE(nl.ok()) << nl.error().message();
    auto lo = nl.value().ifindex("lo");
    ASSERT_TRUE(lo.ok()) << lo.error().message();
    auto up = nl.value().set_up(lo.value(), true);
    ASSERT_TRUE(up.ok()) << up.error().message();
  }
  // Tests close their sockets as locals before this runs.
  void TearDown() override { ns_.reset(); }

 private:
  std::optional<EnteredNamespace> ns_;
};

IpAddress addr(const char* text) { return IpAddress::parse(text).value(); }

int ms_until(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 100));
}

// Waits for `events` on fd, or the deadline.
bool wait_for(int fd, short events, SteadyClock::time_point deadline) {
  while (SteadyClock::now() < deadline) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    if (::poll(&p, 1, ms_until(deadline)) > 0) return true;
  }
  return false;
}

// Waits until the stream's connect completes; fails the test if it does not.
void finish_connect(TcpStream& s) {
  const auto deadline = SteadyClock::now() + kWait;
  for (;;) {
    auto done = s.finish_connect();
    ASSERT_TRUE(done.ok()) << done.error().message();
    if (done.value()) return;
    ASSERT_TRUE(wait_for(s.fd(), POLLOUT, deadline)) << "connect did not complete";
  }
}

std::optional<TcpAccepted> accept_one(TcpListener& l) {
  const auto deadline = SteadyClock::now() + kWait;
  while (SteadyClock::now() < deadline) {
    auto a = l.accept();
    if (!a.ok()) {
      ADD_FAILURE() << a.error().message();
      return std::nullopt;
    }
    if (a.value()) return std::move(a.value());
    wait_for(l.fd(), POLLIN, deadline);
  }
  ADD_FAILURE() << "no connection to accept";
  return std::nullopt;
}

// A connected client and the server side of the same connection.
struct Pair {
  TcpListener listener;
  TcpStream client;
  TcpAccepted server;
};

std::optional<Pair> connect_pair(const char* listen_at, const char* connect_to) {
  auto l = TcpListener::open(addr(listen_at), 0);
  if (!l.ok()) {
    ADD_FAILURE() << l.error().message();
    return std::nullopt;
  }
  auto c = TcpStream::connect(Endpoint{.address = addr(connect_to), .port = l.value().local_port()});
  if (!c.ok()) {
    ADD_FAILURE() << c.error().message();
    return std::nullopt;
  }
  auto s = accept_one(l.value());
  if (!s) return std::nullopt;
  finish_connect(c.value());
  if (::testing::Test::HasFatalFailure()) return std::nullopt;
  return Pair{std::move(l.value()), std::move(c.value()), std::move(*s)};
}

Endpoint local_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  char text[INET6_ADDRSTRLEN] = {};
  Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
    e.port = ntohs(sin.sin_port);
  } else {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof(text));
    e.port = ntohs(sin6.sin6_port);
  }
  e.address = addr(text);
  return e;
}

bool nodelay(int fd) {
  int v = 0;
  socklen_t len = sizeof(v);
  return ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0;
}

// Datagram `seq` of direction `dir`: its sequence number in the first bytes
// (as far as they go), then a pattern that depends on both.
Bytes datagram(uint32_t dir, uint32_t seq, size_t size) {
  Bytes d(size);
  for (size_t i = 0; i < size; ++i) d[i] = std::byte((seq * 31 + dir * 101 + i * 7 + (i >> 9)) & 0xff);
  for (size_t i = 0; i < std::min<size_t>(size, 4); ++i) d[i] = std::byte(seq >> (24 - 8 * i));
  return d;
}

// Mixed sizes: single bytes, control-sized, full tunnel packets, large, and
// the maximum.
std::vector<size_t> mixed_sizes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<size_t> sizes;
  for (size_t i = 0; i < n; ++i) {
    switch (rng() % 6) {
      case 0: sizes.push_back(1); break;
      case 1: sizes.push_back(2 + rng() % 200); break;
      case 2:
      case 3: sizes.push_back(1200 + rng() % 300); break;
      case 4: sizes.push_back(1 + rng() % 65535); break;
      default: sizes.push_back(wire::kMaxStreamDatagram); break;
    }
  }
  return sizes;
}

// One end of a connection under test: the stream, its decoder, what it has
// received, and how it ended.
struct End {
  TcpStream* stream = nullptr;
  wire::StreamDecoder decoder;
  std::vector<Bytes> got;
  bool close_marker = false;
  bool end_of_stream = false;
  std::optional<SysError> error;

  explicit End(TcpStream& s) : stream(&s) {}

  // Reads until the socket has nothing more, pulling every datagram.
  void read_all() {
    for (;;) {
      auto r = stream->read_into(decoder);
      if (!r.ok()) {
        error = r.error();
        return;
      }
      for (auto f = decoder.next(); f.kind != Kind::kNeedMore; f = decoder.next()) {
        if (f.kind == Kind::kClose) {
          close_marker = true;
          break;
        }
        got.emplace_back(f.datagram.begin(), f.datagram.end());
      }
      if (r.value() == ReadResult::kEndOfStream) end_of_stream = true;
      if (r.value() != ReadResult::kRead) return;
    }
  }
};

// Drives both ends with poll(2) until `done` or the deadline: reads what
// arrives, flushes when writable, and calls `feed` each round so that the
// test can send more. Returns done().
bool pump(End& a, End& b, const std::function<bool()>& done, const std::function<void()>& feed = [] {}) {
  const auto deadline = SteadyClock::now() + kWait;
  while (!done()) {
    if (SteadyClock::now() >= deadline || a.error || b.error) return false;
    feed();
    if (::testing::Test::HasFatalFailure()) return false;
    End* ends[2] = {&a, &b};
    pollfd fds[2];
    for (int i = 0; i < 2; ++i) {
      const bool in = !ends[i]->end_of_stream && !ends[i]->close_marker;
      fds[i] = pollfd{.fd = ends[i]->stream->fd(),
                      .events = static_cast<short>((in ? POLLIN : 0) | (ends[i]->stream->wants_write() ? POLLOUT : 0)),
                      .revents = 0};
    }
    if (::poll(fds, 2, ms_until(deadline)) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ends[i]->read_all();
      if (fds[i].revents & POLLOUT) {
        auto f = ends[i]->stream->flush();
        if (!f.ok()) ends[i]->error = f.error();
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------

TEST_F(TcpNetns, ConnectAndAcceptOnIpv4Loopback) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->client.connected());
  EXPECT_TRUE(p->server.stream.connected());
  EXPECT_FALSE(p->client.wants_write());
  // The server sees the client's own address and port, as an IPv4 endpoint.
  const Endpoint client_local = local_endpoint(p->client.fd());
  EXPECT_EQ(p->server.peer, client_local);
  EXPECT_EQ(p->server.stream.peer(), client_local);
  EXPECT_TRUE(p->server.peer.address.is_v4());
  EXPECT_EQ(p->client.peer().port, p->listener.local_port());
  EXPECT_TRUE(nodelay(p->client.fd()));
  EXPECT_TRUE(nodelay(p->server.stream.fd()));
  // Nothing else is waiting.
  auto again = p->listener.accept();
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_FALSE(again.value().has_value());
}

TEST_F(TcpNetns, ConnectAndAcceptOnIpv6Loopback) {
  auto p = connect_pair("::1", "::1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->server.peer, local_endpoint(p->client.fd()));
  EXPECT_FALSE(p->server.peer.address.is_v4());
}

TEST_F(TcpNetns, DualStackListenerSeesPlainIpv4Peers) {
  auto p = connect_pair("::", "127.0.0.1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->server.peer.address, addr("127.0.0.1"));  // not ::ffff:127.0.0.1
  EXPECT_EQ(p->server.peer, local_endpoint(p->client.fd()));
}

void exchange_thousand_datagrams(const char* address) {
  auto p = connect_pair(address, address);
  ASSERT_TRUE(p);
  End a(p->client), b(p->server.stream);
  constexpr size_t kCount = 1000;
  const std::vector<size_t> sizes[2] = {mixed_sizes(kCount, 1), mixed_sizes(kCount, 2)};
  End* ends[2] = {&a, &b};
  size_t sent[2] = {0, 0};
  // Each side keeps up to 1 MiB queued: back-pressure, not drops.
  auto feed = [&] {
    for (int i = 0; i < 2; ++i) {
      while (sent[i] < kCount && ends[i]->stream->queued_bytes() < (1u << 20)) {
        const Bytes d = datagram(i, static_cast<uint32_t>(sent[i]), sizes[i][sent[i]]);
        auto r = ends[i]->stream->send(d);
        ASSERT_TRUE(r.ok()) << r.error().message();
        ASSERT_NE(r.value(), SendResult::kDropped);
        ++sent[i];
      }
    }
  };
  const bool done = pump(a, b, [&] { return a.got.size() >= kCount && b.got.size() >= kCount; }, feed);
  ASSERT_FALSE(a.error) << a.error->message();
  ASSERT_FALSE(b.error) << b.error->message();
  ASSERT_TRUE(done) << "a got " << a.got.size() << ", b got " << b.got.size();
  ASSERT_EQ(b.got.size(), kCount);
  ASSERT_EQ(a.got.size(), kCount);
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(b.got[i], datagram(0, i, sizes[0][i])) << "client -> server datagram " << i;
    ASSERT_EQ(a.got[i], datagram(1, i, sizes[1][i])) << "server -> client datagram " << i;
  }
  EXPECT_EQ(a.stream->dropped(), 0u);
  EXPECT_EQ(b.stream->dropped(), 0u);
  EXPECT_FALSE(a.close_marker || b.close_marker || a.end_of_stream || b.end_of_stream);
}

TEST_F(TcpNetns, ThousandMixedDatagramsBothWaysOnIpv4) { exchange_thousand_datagrams("127.0.0.1"); }
TEST_F(TcpNetns, ThousandMixedDatagramsBothWaysOnIpv6) { exchange_thousand_datagrams("::1"); }

TEST_F(TcpNetns, CloseMarkerEndsTheStreamAfterItsDatagrams) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  End a(p->client), b(p->server.stream);
  for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(a.stream->send(datagram(0, i, 100 + i)).ok());
  auto st = a.stream->send_close();
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_TRUE(pump(a, b, [&] { return b.close_marker && !a.stream->wants_write(); }));
  ASSERT_EQ(b.got.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(b.got[i], datagram(0, i, 100 + i));
  // Nothing more is read once the marker came...
  auto r = b.stream->read_into(b.decoder);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), ReadResult::kNoRoom);
  // ...and the sender shut its side down, so the socket reads end of stream.
  std::byte byte{};
  ASSERT_TRUE(wait_for(b.stream->fd(), POLLIN, SteadyClock::now() + kWait));
  EXPECT_EQ(::recv(b.stream->fd(), &byte, 1, MSG_DONTWAIT), 0);
  // No more datagrams after the close.
  auto late = a.stream->send(datagram(0, 9, 10));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().err, EPIPE);
  EXPECT_TRUE(a.stream->send_close().ok());  // once is enough; again is harmless
}

TEST_F(TcpNetns, PeerEndOfStreamWithoutMarker) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  End b(p->server.stream);
  ASSERT_TRUE(p->client.send(datagram(0, 0, 50)).ok());
  {
    TcpStream gone = std::move(p->client);  // closed at the end of the block: FIN
  }
  const auto deadline = SteadyClock::now() + kWait;
  while (!b.end_of_stream && !b.error && SteadyClock::now() < deadline) {
    wait_for(b.stream->fd(), POLLIN, deadline);
    b.read_all();
  }
  ASSERT_FALSE(b.error) << b.error->message();
  EXPECT_TRUE(b.end_of_stream);
  EXPECT_FALSE(b.close_marker);
  ASSERT_EQ(b.got.size(), 1u);
  EXPECT_FALSE(b.decoder.mid_frame());
}

TEST_F(TcpNetns, EndOfStreamInsideAFrameIsVisible) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  End b(p->server.stream);
  // A prefix promising 100 bytes, then only 40 of them, then FIN.
  Bytes cut = {std::byte{0}, std::byte{100}};
  cut.resize(2 + 40, std::byte{7});
  ASSERT_EQ(::send(p->client.fd(), cut.data(), cut.size(), MSG_NOSIGNAL), static_cast<ssize_t>(cut.size()));
  ASSERT_EQ(::shutdown(p->client.fd(), SHUT_WR), 0);
  const auto deadline = SteadyClock::now() + kWait;
  while (!b.end_of_stream && !b.error && SteadyClock::now() < deadline) {
    wait_for(b.stream->fd(), POLLIN, deadline);
    b.read_all();
  }
  EXPECT_TRUE(b.end_of_stream);
  EXPECT_TRUE(b.got.empty());
  EXPECT_TRUE(b.decoder.mid_frame());
  EXPECT_EQ(b.decoder.buffered(), cut.size());
}

TEST_F(TcpNetns, PeerResetIsAnError) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  // SO_LINGER with a zero timeout makes close(2) send RST (socket(7)).
  const linger abort{.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(p->client.fd(), SOL_SOCKET, SO_LINGER, &abort, sizeof(abort)), 0);
  { TcpStream gone = std::move(p->client); }
  End b(p->server.stream);
  const auto deadline = SteadyClock::now() + kWait;
  while (!b.end_of_stream && !b.error && SteadyClock::now() < deadline) {
    wait_for(b.stream->fd(), POLLIN, deadline);
    b.read_all();
  }
  ASSERT_TRUE(b.error.has_value());
  EXPECT_EQ(b.error->err, ECONNRESET) << b.error->message();
  // Sending on the dead connection reports an error too, without SIGPIPE.
  auto s = b.stream->send(datagram(1, 0, 10));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().err == EPIPE || s.error().err == ECONNRESET) << s.error().message();
}

TEST_F(TcpNetns, ConnectToAClosedPortFailsCleanly) {
  uint16_t port = 0;
  {
    // A port that was free a moment ago and has no listener now.
    auto l = TcpListener::open(addr("127.0.0.1"), 0);
    ASSERT_TRUE(l.ok()) << l.error().message();
    port = l.value().local_port();
  }
  auto c = TcpStream::connect(Endpoint{.address = addr("127.0.0.1"), .port = port});
  if (!c.ok()) {
    EXPECT_EQ(c.error().err, ECONNREFUSED) << c.error().message();
    return;
  }
  // Datagrams queued while connecting are not lost track of.
  auto q = c.value().send(datagram(0, 0, 10));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.value(), SendResult::kQueued);
  EXPECT_TRUE(c.value().wants_write());
  auto f = c.value().flush();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value());  // not connected: nothing to write yet

  const auto deadline = SteadyClock::now() + kWait;
  std::optional<SysError> failed;
  while (!failed && SteadyClock::now() < deadline) {
    ASSERT_TRUE(wait_for(c.value().fd(), POLLOUT, deadline));
    auto done = c.value().finish_connect();
    if (!done.ok()) failed = done.error();
    else ASSERT_FALSE(done.value()) << "connected to a port nobody listens on";
  }
  ASSERT_TRUE(failed.has_value()) << "connect neither failed nor succeeded";
  EXPECT_EQ(failed->err, ECONNREFUSED) << failed->message();
  EXPECT_NE(failed->message().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << failed->message();
  EXPECT_FALSE(c.value().connected());
  // Asking again tells the same failure, not "still connecting".
  auto again = c.value().finish_connect();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().err, ECONNREFUSED);
}

TEST_F(TcpNetns, FullSendQueueDropsWholeDatagramsWithoutBlocking) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  TcpStream& a = p->client;
  EXPECT_EQ(a.send_queue_limit(), TcpStream::kDefaultSendQueueLimit);
  // The server does not read: the kernel's buffers fill, then the queue.
  // Every send returns at once (the socket is non-blocking and send()
  // never waits); bounded at 1 GiB of attempts in case drops never come.
  std::vector<uint32_t> accepted;
  uint32_t seq = 0;
  SendResult last = SendResult::kSent;
  for (; seq < 16384 && a.dropped() < 10; ++seq) {
    auto r = a.send(datagram(0, seq, wire::kMaxStreamDatagram));
    ASSERT_TRUE(r.ok()) << r.error().message();
    last = r.value();
    if (r.value() != SendResult::kDropped) accepted.push_back(seq);
    ASSERT_LE(a.queued_bytes(), TcpStream::kDefaultSendQueueLimit);
  }
  EXPECT_EQ(a.dropped(), 10u);
  EXPECT_EQ(last, SendResult::kDropped);
  EXPECT_TRUE(a.wants_write());
  // The queue holds as many whole frames as fit the limit.
  EXPECT_GT(a.queued_bytes(), TcpStream::kDefaultSendQueueLimit - wire::kMaxStreamFrame);
  // A small datagram is still taken behind the queue when it fits (it
  // nearly always does: the room left is under one maximum frame, and a
  // kernel's partial write decides how much under).
  const bool small_fits = a.queued_bytes() + wire::kStreamPrefixSize + 1 <= a.send_queue_limit();
  auto small = a.send(datagram(0, seq, 1));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small.value(), small_fits ? SendResult::kQueued : SendResult::kDropped);
  if (small_fits) accepted.push_back(seq);
  const uint64_t drops = a.dropped();

  // Once the server reads, every datagram that was not dropped arrives,
  // whole and in order: the stream never lost its framing.
  End ea(a), eb(p->server.stream);
  ASSERT_TRUE(pump(ea, eb, [&] { return eb.got.size() >= accepted.size() && !a.wants_write(); }))
      << "got " << eb.got.size() << " of " << accepted.size();
  ASSERT_EQ(eb.got.size(), accepted.size());
  for (size_t i = 0; i < accepted.size(); ++i) {
    const size_t size = accepted[i] == seq ? 1 : wire::kMaxStreamDatagram;
    ASSERT_EQ(eb.got[i], datagram(0, accepted[i], size)) << "datagram " << i << " (seq " << accepted[i] << ")";
  }
  EXPECT_EQ(a.dropped(), drops);
  EXPECT_EQ(a.queued_bytes(), 0u);
}

TEST_F(TcpNetns, SendRefusesDatagramsThatDoNotFitAFrame) {
  auto p = connect_pair("127.0.0.1", "127.0.0.1");
  ASSERT_TRUE(p);
  auto empty = p->client.send({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().err, EMSGSIZE);
  const Bytes big(wire::kMaxStreamDatagram + 1);
  auto too_big = p->client.send(big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().err, EMSGSIZE) << too_big.error().message();
  EXPECT_EQ(p->client.dropped(), 0u);
  EXPECT_EQ(p->client.queued_bytes(), 0u);
}

TEST_F(TcpNetns, ListenerPortInUseIsEaddrinuse) {
  auto first = TcpListener::open(addr("::"), 0);
  ASSERT_TRUE(first.ok()) << first.error().message();
  const uint16_t port = first.value().local_port();
  EXPECT_NE(port, 0);
  auto second = TcpListener::open(addr("::"), port);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().err, EADDRINUSE);
  EXPECT_NE(second.error().message().find("already in use"), std::string::npos) << second.error().message();
  // The dual-stack listener holds the IPv4 port too.
  auto v4 = TcpListener::open(addr("127.0.0.1"), port);
  ASSERT_FALSE(v4.ok());
  EXPECT_EQ(v4.error().err, EADDRINUSE);
}

// A coordinator's accept loop needs a descriptor per stream slot: the soft
// open-file limit goes up to what it asks, never past the hard limit. (The
// real process limit, restored after; no namespace needed.)
TEST(OpenFileLimit, RaisedToWhatTheTunnelWantsUpToTheHardLimit) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 2048) GTEST_SKIP() << "hard limit below 2048";
  rlimit low = saved;
  low.rlim_cur = 512;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  auto raised = raise_open_file_limit(1536);
  rlimit now{};
  ::getrlimit(RLIMIT_NOFILE, &now);
  auto beyond = raise_open_file_limit(UINT64_MAX - 1);  // capped at the hard limit, not an error
  rlimit after{};
  ::getrlimit(RLIMIT_NOFILE, &after);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(raised.ok()) << raised.error().message();
  EXPECT_EQ(raised.value(), 1536u);
  EXPECT_EQ(now.rlim_cur, 1536u);
  ASSERT_TRUE(beyond.ok()) << beyond.error().message();
  EXPECT_EQ(after.rlim_cur, saved.rlim_max);
  EXPECT_EQ(beyond.value(), static_cast<uint64_t>(saved.rlim_max));
}

}  // namespace
}  // namespace cordon::os
