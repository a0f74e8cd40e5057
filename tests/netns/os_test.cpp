// The Linux OS layer against a real kernel, inside a network namespace this
// file creates: a multi-queue TUN device configured through rtnetlink, packets
// through its queues, batched UDP on loopback, and the small primitives
// (poller, eventfd, signalfd, clock).
//
// Each test makes its own namespace `cordon-ostest-<pid>-<random>` with the
// netns harness, enters it on the test thread with setns(2), and a guard
// leaves and deletes it even when an assertion fails. Traffic stays on loopback and on the TUN device
// inside that namespace. Waits poll with a deadline; there are no sleeps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/types.hpp"
#include "os/linux/clock.hpp"
#include "os/linux/netlink.hpp"
#include "os/linux/poller.hpp"
#include "os/linux/signals.hpp"
#include "os/linux/tun.hpp"
#include "os/linux/udp.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::os {
namespace {

using SteadyClock = std::chrono::steady_clock;
using netns::Namespace;
using netns::run;
using netns::RunResult;
using namespace std::chrono_literals;

constexpr auto kWait = 5s;  // generous: only reached when something is broken

// ---------------------------------------------------------------------------
// What the kernel reports, through iproute2 (tests may shell out; the product
// uses rtnetlink). Runs in the test thread's current namespace.
nlohmann::json ip_json(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = run(nullptr, argv, kWait);
  if (!r.ok()) return nlohmann::json::array();
  return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

// A namespace of the harness (`cordon-ostest-<pid>-<random>`, deleted on
// destruction) that the test thread enters for the test's length, so the OS
// layer under test runs inside it. The namespace lives on while objects made
// inside it (sockets, TUN fds) still hold it, so declare this first.
class EnteredNamespace {
 public:
  EnteredNamespace() : ns_("ostest"), origin_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
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
  Namespace ns_;
  int origin_ = -1;
  bool entered_ = false;
};

// The base of these tests: root and `ip` are needed; otherwise skip.
class OsNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, TUN)";
    ASSERT_TRUE(ns_.ok()) << "could not create and enter namespace " << ns_.name();
    auto nl = Netlink::open();
    ASSERT_TRUE(nl.ok()) << nl.error().message();
    nl_.emplace(std::move(nl.value()));
    // A fresh namespace has its loopback down.
    auto lo = nl_->ifindex("lo");
    ASSERT_TRUE(lo.ok()) << lo.error().message();
    auto up = nl_->set_up(lo.value(), true);
    ASSERT_TRUE(up.ok()) << up.error().message();
  }

  Netlink& nl() { return *nl_; }
  const std::string& ns() const { return ns_.name(); }

 private:
  EnteredNamespace ns_;
  std::optional<Netlink> nl_;
};

IpAddress addr(const char* text) {
  std::array<uint8_t, 16> b{};
  if (::inet_pton(AF_INET, text, b.data()) == 1) {
    IpAddress a;
    a.family = IpAddress::Family::kV4;
    a.bytes = b;
    return a;
  }
  EXPECT_EQ(::inet_pton(AF_INET6, text, b.data()), 1) << text;
  IpAddress a;
  a.family = IpAddress::Family::kV6;
  a.bytes = b;
  return a;
}

Prefix prefix(const char* text, uint8_t len) { return Prefix{.address = addr(text), .length = len}; }

int ms_until(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

const nlohmann::json* find_by(const nlohmann::json& list, const char* key, const std::string& value) {
  if (!list.is_array()) return nullptr;
  for (const auto& item : list) {
    if (item.is_object() && item.contains(key) && item[key] == value) return &item;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// TUN + rtnetlink

constexpr const char* kTun = "cordost0";

TEST_F(OsNetns, TunWithTwoQueuesConfiguredThroughNetlink) {
  auto tun = TunDevice::open(kTun, 2);
  ASSERT_TRUE(tun.ok()) << tun.error().message();
  TunDevice& dev = tun.value();
  EXPECT_EQ(dev.name(), kTun);
  EXPECT_EQ(dev.queue_count(), 2u);
  EXPECT_NE(dev.queue_fd(0), dev.queue_fd(1));
  auto index = nl().ifindex(kTun);
  ASSERT_TRUE(index.ok()) << index.error().message();
  EXPECT_EQ(index.value(), dev.ifindex());

  const int ifi = dev.ifindex();
  auto addresses = [&] {
    return std::vector<Status>{nl().add_address(ifi, prefix("10.77.0.1", 24)),
                               nl().add_address(ifi, prefix("fd77::1", 64))};
  };
  auto routes = [&] {
    return std::vector<Status>{nl().add_route(ifi, prefix("10.78.0.0", 16)), nl().add_route(ifi, prefix("fd78::", 48))};
  };
  auto mtu = nl().set_mtu(ifi, 1400);
  ASSERT_TRUE(mtu.ok()) << mtu.error().message();
  auto up = nl().set_up(ifi, true);
  ASSERT_TRUE(up.ok()) << up.error().message();
  for (const auto& st : addresses()) ASSERT_TRUE(st.ok()) << st.error().message();
  for (const auto& st : routes()) ASSERT_TRUE(st.ok()) << st.error().message();
  // Adding an address again is fine; a route that already exists is
  // reported, because one through another interface would win over ours.
  for (const auto& st : addresses()) EXPECT_TRUE(st.ok()) << st.error().message();
  for (const auto& st : routes()) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().err, EEXIST) << st.error().message();
  }

  // What the kernel reports, through iproute2.
  auto links = ip_json({"-n", ns(), "-j", "addr", "show", "dev", kTun});
  const auto* link = find_by(links, "ifname", kTun);
  ASSERT_NE(link, nullptr) << links.dump();
  EXPECT_EQ((*link)["mtu"], 1400);
  const auto& flags = (*link)["flags"];
  EXPECT_NE(std::find(flags.begin(), flags.end(), "UP"), flags.end()) << flags.dump();
  const auto* v4 = find_by((*link)["addr_info"], "local", "10.77.0.1");
  ASSERT_NE(v4, nullptr) << link->dump();
  EXPECT_EQ((*v4)["prefixlen"], 24);
  const auto* v6 = find_by((*link)["addr_info"], "local", "fd77::1");
  ASSERT_NE(v6, nullptr) << link->dump();
  EXPECT_EQ((*v6)["prefixlen"], 64);

  auto routes4 = ip_json({"-n", ns(), "-j", "route", "show", "dev", kTun});
  const auto* r4 = find_by(routes4, "dst", "10.78.0.0/16");
  ASSERT_NE(r4, nullptr) << routes4.dump();
  EXPECT_EQ((*r4)["protocol"], "static");
  EXPECT_EQ((*r4)["scope"], "link");
  auto routes6 = ip_json({"-n", ns(), "-j", "-6", "route", "show", "dev", kTun});
  const auto* r6 = find_by(routes6, "dst", "fd78::/48");
  ASSERT_NE(r6, nullptr) << routes6.dump();
  EXPECT_EQ((*r6)["protocol"], "static");

  // Deleting removes exactly our route; deleting it again says so.
  auto del = nl().delete_route(ifi, prefix("10.78.0.0", 16));
  ASSERT_TRUE(del.ok()) << del.error().message();
  routes4 = ip_json({"-n", ns(), "-j", "route", "show", "dev", kTun});
  EXPECT_EQ(find_by(routes4, "dst", "10.78.0.0/16"), nullptr) << routes4.dump();
  EXPECT_NE(find_by(routes4, "dst", "10.77.0.0/24"), nullptr) << routes4.dump();
  EXPECT_FALSE(nl().delete_route(ifi, prefix("10.78.0.0", 16)).ok());
  del = nl().delete_route(ifi, prefix("fd78::", 48));
  ASSERT_TRUE(del.ok()) << del.error().message();

  // Taking the link down and deleting it.
  auto down = nl().set_up(ifi, false);
  EXPECT_TRUE(down.ok()) << down.error().message();
  auto gone = nl().delete_link(ifi);
  ASSERT_TRUE(gone.ok()) << gone.error().message();
  auto missing = nl().ifindex(kTun);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().err, ENODEV);
}

TEST_F(OsNetns, NetlinkErrorsCarryErrnoAndName) {
  auto st = nl().set_mtu(999999, 1400);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().err, ENODEV);
  EXPECT_NE(st.error().message().find("999999"), std::string::npos) << st.error().message();

  auto tun = TunDevice::open(kTun, 1);
  ASSERT_TRUE(tun.ok()) << tun.error().message();
  // An MTU below the IPv4 minimum is refused by the kernel.
  st = nl().set_mtu(tun.value().ifindex(), 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().err, EINVAL) << st.error().message();
}

TEST_F(OsNetns, TunOpenRefusesBadArguments) {
  auto none = TunDevice::open(kTun, 0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().err, EINVAL);
  auto long_name = TunDevice::open("cordon-name-too-long", 1);
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(long_name.error().err, EINVAL);
  // "lo" exists and is not a TUN device: the message says how to get out.
  auto clash = TunDevice::open("lo", 1);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().message().find("lo"), std::string::npos) << clash.error().message();
}

// Drops CAP_NET_ADMIN from the effective set of the calling process
// (capget/capset(2); no libcap in the dependency list).
bool drop_net_admin() {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  std::array<__user_cap_data_struct, 2> data{};
  if (::syscall(SYS_capget, &header, data.data()) != 0) return false;
  data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
  return ::syscall(SYS_capset, &header, data.data()) == 0;
}

TEST_F(OsNetns, TunOpenWithoutCapNetAdminSaysSo) {
  // In a child, so that the test process keeps its capabilities.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!drop_net_admin()) ::_exit(2);
    auto tun = TunDevice::open(kTun, 1);
    const bool clear = !tun.ok() && tun.error().err == EPERM &&
                       tun.error().message().find("needs root (CAP_NET_ADMIN)") != std::string::npos &&
                       tun.error().message().find(kTun) != std::string::npos;
    ::_exit(clear ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 2) << "could not drop CAP_NET_ADMIN";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "TunDevice::open without CAP_NET_ADMIN gave no clear EPERM";
}

// An IPv4/UDP packet as the kernel would see it coming out of a tunnel
// (RFC 791 header with checksum, RFC 768 UDP with checksum 0 = none).
std::vector<std::byte> ipv4_udp(const IpAddress& src, const IpAddress& dst, uint16_t sport, uint16_t dport,
                                const std::string& payload) {
  const size_t total = 20 + 8 + payload.size();
  std::vector<uint8_t> p(total, 0);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[6] = 0x40;  // DF
  p[8] = 64;    // TTL
  p[9] = 17;    // UDP
  std::memcpy(&p[12], src.bytes.data(), 4);
  std::memcpy(&p[16], dst.bytes.data(), 4);
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  p[10] = static_cast<uint8_t>(~sum >> 8);
  p[11] = static_cast<uint8_t>(~sum);
  p[20] = static_cast<uint8_t>(sport >> 8);
  p[21] = static_cast<uint8_t>(sport);
  p[22] = static_cast<uint8_t>(dport >> 8);
  p[23] = static_cast<uint8_t>(dport);
  const size_t udp_len = 8 + payload.size();
  p[24] = static_cast<uint8_t>(udp_len >> 8);
  p[25] = static_cast<uint8_t>(udp_len);
  std::memcpy(&p[28], payload.data(), payload.size());
  std::vector<std::byte> out(total);
  std::memcpy(out.data(), p.data(), total);
  return out;
}

// A received datagram, copied out of the reused receive buffers.
struct Received {
  std::string bytes;
  Endpoint peer;
  bool truncated = false;
};

// Waits until `sock` has received `count` datagrams or the deadline passes.
std::vector<Received> receive_all(UdpSocket& sock, size_t count) {
  std::vector<Received> got;
  auto poller = Poller::create();
  if (!poller.ok() || !poller.value().add_readable(sock.fd()).ok()) return got;
  std::vector<std::vector<std::byte>> buffers(UdpSocket::kMaxBatch, std::vector<std::byte>(2048));
  std::vector<Datagram> batch(UdpSocket::kMaxBatch);
  const auto deadline = SteadyClock::now() + kWait;
  while (got.size() < count && SteadyClock::now() < deadline) {
    for (size_t i = 0; i < batch.size(); ++i) batch[i] = Datagram{.data = buffers[i]};
    auto r = sock.receive(batch);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().message();
      return got;
    }
    for (size_t i = 0; i < r.value(); ++i) {
      const auto* bytes = reinterpret_cast<const char*>(batch[i].data.data());
      got.push_back(Received{.bytes = std::string(bytes, batch[i].length),
                             .peer = batch[i].peer,
                             .truncated = batch[i].truncated});
    }
    if (r.value() == 0) {
      std::array<int, 4> ready{};
      (void)poller.value().wait(ms_until(deadline), ready);
    }
  }
  return got;
}

TEST_F(OsNetns, TunQueuesCarryPacketsBothWays) {
  auto tun = TunDevice::open(kTun, 2);
  ASSERT_TRUE(tun.ok()) << tun.error().message();
  TunDevice& dev = tun.value();
  const int ifi = dev.ifindex();
  for (auto st : {nl().add_address(ifi, prefix("10.77.0.1", 24)), nl().set_up(ifi, true),
                  nl().add_route(ifi, prefix("10.78.0.0", 16))}) {
    ASSERT_TRUE(st.ok()) << st.error().message();
  }

  // Kernel -> TUN: a datagram routed into the device comes out of a queue.
  auto sender = UdpSocket::bind(addr("10.77.0.1"), 0, false);
  ASSERT_TRUE(sender.ok()) << sender.error().message();
  std::string hello = "to-the-tunnel";
  std::vector<std::byte> out(hello.size());
  std::memcpy(out.data(), hello.data(), hello.size());
  Datagram d{.data = out, .length = out.size(), .peer = Endpoint{.address = addr("10.78.0.5"), .port = 9}};
  auto sent = sender.value().send(std::span<const Datagram>(&d, 1));
  ASSERT_TRUE(sent.ok()) << sent.error().message();
  ASSERT_EQ(sent.value(), 1u);

  auto poller = Poller::create();
  ASSERT_TRUE(poller.ok());
  ASSERT_TRUE(poller.value().add_readable(dev.queue_fd(0)).ok());
  ASSERT_TRUE(poller.value().add_readable(dev.queue_fd(1)).ok());
  bool seen = false;
  std::vector<std::byte> buf(2048);
  const auto deadline = SteadyClock::now() + kWait;
  while (!seen && SteadyClock::now() < deadline) {
    for (unsigned q = 0; q < 2 && !seen; ++q) {
      for (;;) {
        const std::span<std::byte> buffers[] = {buf};
        size_t size = 0;
        auto n = dev.queue(q).read(buffers, std::span(&size, 1), 0);
        ASSERT_TRUE(n.ok()) << n.error().message();
        if (n.value() == 0) break;
        // Skip the kernel's own IPv6 chatter; look for our IPv4 datagram.
        std::string packet(reinterpret_cast<const char*>(buf.data()), size);
        if ((buf[0] >> 4) == std::byte{4} && packet.find(hello) != std::string::npos) seen = true;
      }
    }
    if (!seen) {
      std::array<int, 4> ready{};
      (void)poller.value().wait(ms_until(deadline), ready);
    }
  }
  EXPECT_TRUE(seen) << "the datagram sent to 10.78.0.5 never came out of a TUN queue";

  // TUN -> kernel: a packet written into the device reaches a local socket,
  // from the tunnel-side source address.
  auto listener = UdpSocket::bind(addr("10.77.0.1"), 0, false);
  ASSERT_TRUE(listener.ok()) << listener.error().message();
  const uint16_t port = listener.value().local_port();
  auto packet = ipv4_udp(addr("10.78.0.5"), addr("10.77.0.1"), 4000, port, "from-tun");
  auto w = dev.queue(1).write(packet);
  ASSERT_TRUE(w.ok()) << w.error().message();
  auto got = receive_all(listener.value(), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].bytes, "from-tun");
  EXPECT_EQ(got[0].peer, (Endpoint{.address = addr("10.78.0.5"), .port = 4000}));
}

// ---------------------------------------------------------------------------
// UDP

std::vector<std::vector<std::byte>> numbered_payloads(size_t count) {
  std::vector<std::vector<std::byte>> out;
  for (size_t i = 0; i < count; ++i) {
    std::string s = "datagram-" + std::to_string(i);
    std::vector<std::byte> b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    out.push_back(std::move(b));
  }
  return out;
}

// Sends `count` numbered datagrams from `a` to `b_endpoint` and checks that
// `b` gets every one of them exactly once, from `a_endpoint`.
void exchange_batch(UdpSocket& a, const Endpoint& a_endpoint, UdpSocket& b, const Endpoint& b_endpoint,
                    size_t count) {
  auto payloads = numbered_payloads(count);
  std::vector<Datagram> batch;
  for (auto& p : payloads) batch.push_back(Datagram{.data = p, .length = p.size(), .peer = b_endpoint});
  auto sent = a.send(batch);
  ASSERT_TRUE(sent.ok()) << sent.error().message();
  ASSERT_EQ(sent.value(), count);

  auto got = receive_all(b, count);
  ASSERT_EQ(got.size(), count);
  std::vector<bool> seen(count, false);
  for (const auto& d : got) {
    EXPECT_EQ(d.peer, a_endpoint);
    EXPECT_FALSE(d.truncated);
    const std::string& t = d.bytes;
    ASSERT_EQ(t.rfind("datagram-", 0), 0u) << t;
    size_t i = std::stoul(t.substr(9));
    ASSERT_LT(i, count);
    EXPECT_FALSE(seen[i]) << "duplicate " << t;
    seen[i] = true;
  }
}

TEST_F(OsNetns, UdpBatchOf32OnIpv4Loopback) {
  auto a = UdpSocket::bind(addr("127.0.0.1"), 0, false);
  auto b = UdpSocket::bind(addr("127.0.0.1"), 0, false);
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(b.ok()) << b.error().message();
  ASSERT_NE(a.value().local_port(), 0);
  ASSERT_NE(a.value().local_port(), b.value().local_port());
  exchange_batch(a.value(), Endpoint{addr("127.0.0.1"), a.value().local_port()}, b.value(),
                 Endpoint{addr("127.0.0.1"), b.value().local_port()}, 32);
}

TEST_F(OsNetns, UdpBatchOf32OnIpv6Loopback) {
  auto a = UdpSocket::bind(addr("::1"), 0, false);
  auto b = UdpSocket::bind(addr("::1"), 0, false);
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(b.ok()) << b.error().message();
  exchange_batch(a.value(), Endpoint{addr("::1"), a.value().local_port()}, b.value(),
                 Endpoint{addr("::1"), b.value().local_port()}, 32);
}

TEST_F(OsNetns, DualStackSocketSeesPlainIpv4Peers) {
  // "::" also serves IPv4; its IPv4 peers come out as plain IPv4 endpoints,
  // and it answers them through the v4-mapped form.
  auto dual = UdpSocket::bind(addr("::"), 0, false);
  auto v4 = UdpSocket::bind(addr("127.0.0.1"), 0, false);
  ASSERT_TRUE(dual.ok()) << dual.error().message();
  ASSERT_TRUE(v4.ok()) << v4.error().message();
  const Endpoint dual_at_v4{addr("127.0.0.1"), dual.value().local_port()};
  const Endpoint v4_at{addr("127.0.0.1"), v4.value().local_port()};
  exchange_batch(v4.value(), v4_at, dual.value(), dual_at_v4, 32);
  exchange_batch(dual.value(), dual_at_v4, v4.value(), v4_at, 32);
}

TEST_F(OsNetns, Ipv4SocketRefusesIpv6Peer) {
  auto v4 = UdpSocket::bind(addr("127.0.0.1"), 0, false);
  ASSERT_TRUE(v4.ok()) << v4.error().message();
  std::vector<std::byte> b(4);
  Datagram d{.data = b, .length = b.size(), .peer = Endpoint{addr("::1"), 9}};
  auto r = v4.value().send(std::span<const Datagram>(&d, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, EAFNOSUPPORT);
}

TEST_F(OsNetns, UdpTruncationIsReported) {
  auto a = UdpSocket::bind(addr("127.0.0.1"), 0, false);
  auto b = UdpSocket::bind(addr("127.0.0.1"), 0, false);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::byte> big(100);
  Datagram d{.data = big, .length = big.size(), .peer = Endpoint{addr("127.0.0.1"), b.value().local_port()}};
  ASSERT_TRUE(a.value().send(std::span<const Datagram>(&d, 1)).ok());

  auto poller = Poller::create();
  ASSERT_TRUE(poller.ok() && poller.value().add_readable(b.value().fd()).ok());
  std::array<int, 1> ready{};
  auto w = poller.value().wait(static_cast<int>(std::chrono::milliseconds(kWait).count()), ready);
  ASSERT_TRUE(w.ok() && w.value() == 1u);
  std::vector<std::byte> small(10);
  Datagram in{.data = small};
  auto r = b.value().receive(std::span<Datagram>(&in, 1));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r.value(), 1u);
  EXPECT_TRUE(in.truncated);
}

TEST_F(OsNetns, UdpPortInUseIsEaddrinuse) {
  auto first = UdpSocket::bind(addr("::"), 0, false);
  ASSERT_TRUE(first.ok()) << first.error().message();
  const uint16_t port = first.value().local_port();
  auto second = UdpSocket::bind(addr("::"), port, false);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().err, EADDRINUSE);
  const std::string msg = second.error().message();
  EXPECT_NE(msg.find(std::to_string(port)), std::string::npos) << msg;
  // The dual-stack socket holds the IPv4 port too.
  auto v4 = UdpSocket::bind(addr("127.0.0.1"), port, false);
  ASSERT_FALSE(v4.ok());
  EXPECT_EQ(v4.error().err, EADDRINUSE);

  // Workers share one port through SO_REUSEPORT.
  auto w1 = UdpSocket::bind(addr("::"), 0, true);
  ASSERT_TRUE(w1.ok()) << w1.error().message();
  auto w2 = UdpSocket::bind(addr("::"), w1.value().local_port(), true);
  ASSERT_TRUE(w2.ok()) << w2.error().message();
  EXPECT_EQ(w2.value().local_port(), w1.value().local_port());
}

// The lane program: datagrams from one address and port reach the socket of
// their lane (first byte's low two bits) modulo the group's size, where the
// kernel's hash alone would send them all to one socket.
TEST_F(OsNetns, ReuseportGroupPicksTheSocketByLane) {
  for (unsigned sockets : {2u, 3u}) {
    SCOPED_TRACE(sockets);
    std::vector<UdpSocket> group;
    for (unsigned i = 0; i < sockets; ++i) {
      auto s = UdpSocket::bind(addr("::"), i == 0 ? 0 : group[0].local_port(), true);
      ASSERT_TRUE(s.ok()) << s.error().message();
      group.push_back(std::move(s.value()));
    }
    auto steered = group[0].steer_by_lane(sockets);
    ASSERT_TRUE(steered.ok()) << steered.error().message();
    auto sender = UdpSocket::bind(addr("127.0.0.1"), 0, false);
    ASSERT_TRUE(sender.ok()) << sender.error().message();

    constexpr size_t kCount = 64;
    std::vector<std::vector<std::byte>> payloads;
    std::vector<Datagram> batch;
    for (size_t i = 0; i < kCount; ++i) {
      // The lane's bits under other bits that the program must ignore.
      std::string text = "?lane-" + std::to_string(i % 4);
      text[0] = static_cast<char>(0xf0 | (i % 4));
      payloads.emplace_back(text.size());
      std::memcpy(payloads.back().data(), text.data(), text.size());
    }
    for (auto& p : payloads) {
      batch.push_back(Datagram{.data = p, .length = p.size(), .peer = Endpoint{addr("127.0.0.1"), group[0].local_port()}});
    }
    auto sent = sender.value().send(batch);
    ASSERT_TRUE(sent.ok() && sent.value() == kCount);

    size_t received = 0;
    for (unsigned i = 0; i < sockets; ++i) {
      auto got = receive_all(group[i], kCount / 4 * ((4 + sockets - 1 - i) / sockets));
      for (const auto& d : got) {
        const unsigned lane = static_cast<unsigned char>(d.bytes[0]) & 3u;
        EXPECT_EQ(lane % sockets, i) << "lane " << lane << " reached socket " << i;
      }
      received += got.size();
    }
    EXPECT_EQ(received, kCount);
  }
  // More sockets than lanes is refused.
  auto one = UdpSocket::bind(addr("::"), 0, true);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one.value().steer_by_lane(5).ok());
}

// ---------------------------------------------------------------------------
// Primitives (no namespace needed, but they belong to the same layer).

TEST(OsPrimitives, EventFdWakesPoller) {
  auto poller = Poller::create();
  auto ev = EventFd::create();
  ASSERT_TRUE(poller.ok() && ev.ok());
  ASSERT_TRUE(poller.value().add_readable(ev.value().fd()).ok());
  std::array<int, 4> ready{};
  auto none = poller.value().wait(0, ready);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value(), 0u);

  ev.value().notify();
  ev.value().notify();
  auto one = poller.value().wait(static_cast<int>(std::chrono::milliseconds(kWait).count()), ready);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one.value(), 1u);
  EXPECT_EQ(ready[0], ev.value().fd());

  // Level-triggered until drained.
  ev.value().drain();
  auto after = poller.value().wait(0, ready);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value(), 0u);
  EXPECT_TRUE(poller.value().remove(ev.value().fd()).ok());
}

TEST(OsPrimitives, SignalFdReportsSighup) {
  auto signals = SignalSet::create();
  ASSERT_TRUE(signals.ok()) << signals.error().message();
  auto none = signals.value().read();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value(), 0);
  // raise(3) targets this thread, where SignalSet blocked SIGHUP, so it
  // stays pending for the signalfd instead of killing the test.
  ASSERT_EQ(::raise(SIGHUP), 0);
  auto got = signals.value().read();
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(got.value(), SIGHUP);
}

TEST(OsPrimitives, ClockReadsBothClocks) {
  Now a = now();
  Now b = now();
  EXPECT_GT(a.mono_ns, 0);
  EXPECT_GE(b.mono_ns, a.mono_ns);
  // The wall clock is after 2020-01-01 on any machine these tests run on.
  EXPECT_GT(a.real_ns, int64_t{1'577'836'800} * kNsPerSecond);
}

}  // namespace
}  // namespace cordon::os
