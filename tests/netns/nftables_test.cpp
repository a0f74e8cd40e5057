// Cordon's nftables table (src/os/linux/nftables.hpp) on a real kernel:
// loading, replacing and removing it next to a table it does not own, a
// refused ruleset that leaves the table in place, and real traffic through
// it: spoofed sources dropped and counted, a client's open inbound traffic
// dropped while replies pass, an open rule, a gateway's masquerade and port
// forward.
//
// Every machine is a namespace this file creates (cordon-nft-*), wired with
// veth pairs; addresses are test ranges assigned only inside them. The test
// thread enters the namespace whose table it drives (libnftables talks to
// the namespace its context was opened in) and leaves it at the end, also
// when an assertion fails. Small servers and clients are python3 sockets;
// a connection that must fail gets a one-second timeout, everything else
// polls with a deadline (socket_tools.hpp).
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "os/linux/nftables.hpp"
#include "os/linux/sysctl.hpp"
#include "tests/netns/netns_harness.hpp"
#include "tests/netns/socket_tools.hpp"

namespace cordon::netns {
namespace {

using os::NftTables;
using os::OpenPolicy;
using os::OpenRule;
using os::PortRange;

constexpr auto kWait = 10s;

// The test thread in `ns` for this object's life (setns(2)); back in its
// own namespace afterwards.
class Inside {
 public:
  explicit Inside(const Namespace& ns) : origin_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    entered_ = origin_ >= 0 && ::setns(ns.fd(), CLONE_NEWNET) == 0;
  }
  ~Inside() {
    if (entered_) ::setns(origin_, CLONE_NEWNET);
    if (origin_ >= 0) ::close(origin_);
  }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
  bool ok() const { return entered_; }

 private:
  int origin_ = -1;
  bool entered_ = false;
};

class NftablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nftables)";
  }

  // Opens Cordon's table handle in `ns`, which the caller has entered.
  NftTables open_tables() {
    auto t = NftTables::open();
    if (!t.ok()) throw std::runtime_error(t.error().message());
    return std::move(t.value());
  }

  void serve_tcp(const Namespace& ns, uint16_t port) { sockets_.serve_tcp(ns, port); }
  void serve_udp(const Namespace& ns, uint16_t port) { sockets_.serve_udp(ns, port); }
  std::string tcp_answer(const Namespace& from, const std::string& host, uint16_t port, bool expect_answer = true) {
    return sockets_.tcp_answer(from, host, port, expect_answer);
  }
  bool udp_answered(const Namespace& from, const std::string& host, uint16_t port, bool expect_answer = true) {
    return sockets_.udp_answered(from, host, port, expect_answer);
  }

  TempDir dir_{"nft"};
  SocketTools sockets_{dir_.path()};
};

// ---------------------------------------------------------------------------

Prefix prefix(const char* text) { return Prefix::parse(text).value(); }
IpAddress address(const char* text) { return IpAddress::parse(text).value(); }

OpenPolicy client_policy() {
  OpenPolicy p;
  p.tun_interface = "cordon0";
  p.protected_sources = {prefix("10.77.0.0/16"), prefix("fd77::/64")};
  p.udp_ports = {51820};
  p.tcp_ports = {443};
  return p;
}

// Both families, every kind of item: what the kernel must accept.
OpenPolicy dual_stack_gateway_policy() {
  OpenPolicy p = client_policy();
  p.forwards = true;
  p.protected_sources.push_back(prefix("192.168.72.0/24"));
  p.lans = {os::Lan{.interface = "lan0", .subnets = {prefix("192.168.71.0/24"), prefix("fd71::/64")}}};
  p.rules = {
      OpenRule{.allow = true, .path = OpenRule::Path::kForward, .interface = "lan0"},
      OpenRule{.allow = false, .interface = "ul0", .protocol = os::kProtoTcp, .ports = PortRange{22, 23}},
      OpenRule{.allow = true, .path = OpenRule::Path::kBoth, .from = prefix("2001:db8::/32"),
               .protocol = os::kProtoIcmpv6},
      OpenRule{.allow = true, .to = prefix("10.200.0.1/32"), .protocol = 47},
  };
  p.forwards_in = {
      os::PortForward{.in_interface = "ul0", .protocol = os::kProtoTcp, .port = 8080,
                      .target = address("192.168.71.10"), .target_port = 8000},
      os::PortForward{.protocol = os::kProtoUdp, .port = 53, .target = address("fd71::10"), .target_port = 5353,
                      .from = prefix("2001:db8::/32")},
  };
  p.snat = {os::SourceNat{.out_interface = "ul0", .from = {prefix("192.168.71.0/24"), prefix("fd71::/64")}},
            os::SourceNat{.out_interface = "ul1", .to_address = address("203.0.113.1"),
                          .from = {prefix("192.168.71.0/24")}}};
  return p;
}

std::string nft(const Namespace& ns, const std::string& command) {
  return run_checked(&ns, {"nft", command}, kWait).out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

uint64_t packets(NftTables& tables, const std::string& counter) {
  auto c = tables.counters();
  if (!c.ok()) {
    ADD_FAILURE() << c.error().message();
    return 0;
  }
  auto it = c.value().find(counter);
  if (it == c.value().end()) {
    ADD_FAILURE() << "no counter " << counter;
    return 0;
  }
  return it->second.packets;
}

// Polls until the counter has counted `n` packets or more.
bool counted(NftTables& tables, const std::string& counter, uint64_t n) {
  return poll_until(deadline_in(kWait), [&] { return packets(tables, counter) >= n; });
}

bool ping(const Namespace& from, const std::string& to, const std::string& source = "") {
  std::vector<std::string> argv = {"ping", "-n", "-c", "1", "-W", "1"};
  if (!source.empty()) argv.insert(argv.end(), {"-I", source});
  argv.push_back(to);
  return run(&from, argv, kWait).ok();
}

// ---------------------------------------------------------------------------
// The table itself

TEST_F(NftablesTest, ApplyReplacesAStaleTableAndLeavesOthersAlone) {
  Namespace ns("nft-apply");
  // A table of someone else's, and a table inet cordon left by a crash.
  nft(ns, "add table inet other; add chain inet other keep { type filter hook input priority 10; policy accept; }; "
          "add rule inet other keep counter");
  nft(ns, "add table inet cordon; add chain inet cordon stale");
  Inside inside(ns);
  ASSERT_TRUE(inside.ok());
  NftTables tables = open_tables();

  OpenPolicy first = client_policy();
  auto st = tables.apply(first);
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::string table = nft(ns, "list table inet cordon");
  EXPECT_FALSE(has(table, "chain stale")) << table;
  for (const char* chain : {"antispoof", "nat_prerouting", "input", "forward", "nat_postrouting"}) {
    EXPECT_TRUE(has(table, std::string("chain ") + chain + " {")) << table;
  }
  EXPECT_TRUE(has(table, "udp dport 51820 accept")) << table;

  // Again, with other ports: the table is replaced, not added to.
  OpenPolicy second = client_policy();
  second.udp_ports = {51999};
  st = tables.apply(second);
  ASSERT_TRUE(st.ok()) << st.error().message();
  table = nft(ns, "list table inet cordon");
  EXPECT_TRUE(has(table, "udp dport 51999 accept")) << table;
  EXPECT_FALSE(has(table, "51820")) << table;
  const std::string tables_listed = nft(ns, "list tables");
  EXPECT_EQ(count_of(tables_listed, "table inet cordon\n"), 1u) << tables_listed;
  EXPECT_TRUE(has(nft(ns, "list table inet other"), "chain keep")) << "someone else's table was touched";

  // Every kind of item, in both families, loads.
  const OpenPolicy gateway = dual_stack_gateway_policy();
  st = tables.apply(gateway);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto counters = tables.counters();
  ASSERT_TRUE(counters.ok()) << counters.error().message();
  for (const std::string name : {"spoofed_protected", "spoofed_lan", "input_dropped", "forward_dropped", "open_rule_1",
                                 "open_rule_2", "open_rule_3", "open_rule_4"}) {
    EXPECT_EQ(counters.value().count(name), 1u) << name;
  }
  EXPECT_EQ(counters.value().size(), 8u);
}

// Drops CAP_NET_ADMIN from the effective set of the calling process
// (capget/capset(2)), as tests/netns/os_test.cpp does.
bool drop_net_admin() {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  std::array<__user_cap_data_struct, 2> data{};
  if (::syscall(SYS_capget, &header, data.data()) != 0) return false;
  data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
  return ::syscall(SYS_capset, &header, data.data()) == 0;
}

TEST_F(NftablesTest, ARefusedPolicyLeavesTheTableInPlace) {
  Namespace ns("nft-refuse");
  Inside inside(ns);
  ASSERT_TRUE(inside.ok());
  NftTables tables = open_tables();
  OpenPolicy good = client_policy();
  good.udp_ports = {51999};
  auto st = tables.apply(good);
  ASSERT_TRUE(st.ok()) << st.error().message();
  const std::string before = nft(ns, "list table inet cordon");

  // Refused by the check: nothing reaches the kernel.
  OpenPolicy hostile = client_policy();
  hostile.rules = {OpenRule{.allow = true}, OpenRule{.allow = true, .interface = "eth0\" accept; flush ruleset"}};
  st = tables.apply(hostile);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message().rfind("nftables policy refused: open rule 2: interface ", 0), 0u)
      << st.error().message();
  EXPECT_EQ(nft(ns, "list table inet cordon"), before);

  // Refused by the kernel: without CAP_NET_ADMIN (in a child, so that the
  // test keeps it) the transaction fails whole.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!drop_net_admin()) ::_exit(2);
    auto weak = NftTables::open();
    if (!weak.ok()) ::_exit(3);
    const os::Status refused = weak.value().apply(client_policy());
    const bool clear = !refused.ok() && has(refused.error().message(), "needs root (CAP_NET_ADMIN)") &&
                       has(refused.error().message(), "the table in place is unchanged");
    ::_exit(clear ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 2) << "could not drop CAP_NET_ADMIN";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "apply without CAP_NET_ADMIN gave no clear refusal";
  EXPECT_EQ(nft(ns, "list table inet cordon"), before);
}

TEST_F(NftablesTest, RemoveDeletesOnlyCordonsTable) {
  Namespace ns("nft-remove");
  nft(ns, "add table inet other; add table ip cordon");
  Inside inside(ns);
  ASSERT_TRUE(inside.ok());
  NftTables tables = open_tables();
  auto st = tables.apply(client_policy());
  ASSERT_TRUE(st.ok()) << st.error().message();

  st = tables.remove();
  ASSERT_TRUE(st.ok()) << st.error().message();
  const std::string listed = nft(ns, "list tables");
  EXPECT_FALSE(has(listed, "table inet cordon")) << listed;
  EXPECT_TRUE(has(listed, "table inet other")) << listed;
  EXPECT_TRUE(has(listed, "table ip cordon")) << "same name, other family: not ours";
  // Removing what is not there is fine; reading its counters says why not.
  st = tables.remove();
  EXPECT_TRUE(st.ok()) << st.error().message();
  auto counters = tables.counters();
  ASSERT_FALSE(counters.ok());
  EXPECT_TRUE(has(counters.error().message(), "is Cordon's policy applied?")) << counters.error().message();
}

// ---------------------------------------------------------------------------
// Traffic
//
//   host (ruleset) ul0 10.200.0.1, fd00:200::1 ==== ul0 10.200.0.2, fd00:200::2 peer

TEST_F(NftablesTest, SpoofedSourcesAreDroppedAndCounted) {
  Namespace host("nft-spoof"), peer("nft-spoof-peer");
  connect_veth(host, peer, Underlay{});
  // The peer claims a tunnel address, one of the gateway's LAN addresses,
  // and a tunnel address of IPv6.
  run_checked(&peer, {"ip", "addr", "add", "10.77.0.9/32", "dev", "ul0"});
  run_checked(&peer, {"ip", "addr", "add", "192.168.71.50/32", "dev", "ul0"});
  run_checked(&peer, {"ip", "-6", "addr", "add", "fd77::9/128", "dev", "ul0", "nodad"});
  Inside inside(host);
  ASSERT_TRUE(inside.ok());
  NftTables tables = open_tables();
  OpenPolicy policy = client_policy();
  policy.forwards = true;
  policy.lans = {os::Lan{.interface = "lan0", .subnets = {prefix("192.168.71.0/24")}}};
  auto st = tables.apply(policy);
  ASSERT_TRUE(st.ok()) << st.error().message();

  // Plain sources are not spoofed (the echo request is open traffic,
  // dropped at input).
  EXPECT_FALSE(ping(peer, "10.200.0.1"));
  EXPECT_FALSE(ping(peer, "fd00:200::1"));
  EXPECT_TRUE(counted(tables, "input_dropped", 2));
  EXPECT_EQ(packets(tables, "spoofed_protected"), 0u);
  EXPECT_EQ(packets(tables, "spoofed_lan"), 0u);

  EXPECT_FALSE(ping(peer, "10.200.0.1", "10.77.0.9"));
  EXPECT_TRUE(counted(tables, "spoofed_protected", 1));
  EXPECT_FALSE(ping(peer, "10.200.0.1", "192.168.71.50"));
  EXPECT_TRUE(counted(tables, "spoofed_lan", 1));
  const uint64_t v4_spoofed = packets(tables, "spoofed_protected");
  EXPECT_FALSE(ping(peer, "fd00:200::1", "fd77::9"));
  EXPECT_TRUE(counted(tables, "spoofed_protected", v4_spoofed + 1));
}

TEST_F(NftablesTest, AClientDropsOpenInboundTrafficButNotReplies) {
  Namespace client("nft-client"), peer("nft-client-peer");
  connect_veth(client, peer, Underlay{});
  serve_tcp(client, 8000);
  serve_udp(client, 51820);
  serve_udp(client, 51821);
  serve_tcp(peer, 9000);
  // Without the table the peer gets in: what follows is the table's doing.
  ASSERT_EQ(tcp_answer(peer, "10.200.0.1", 8000), "peer=10.200.0.2");
  ASSERT_TRUE(ping(peer, "10.200.0.1"));

  Inside inside(client);
  ASSERT_TRUE(inside.ok());
  NftTables tables = open_tables();
  auto st = tables.apply(client_policy());
  ASSERT_TRUE(st.ok()) << st.error().message();

  EXPECT_EQ(tcp_answer(peer, "10.200.0.1", 8000, false), "");
  EXPECT_FALSE(ping(peer, "10.200.0.1"));
  EXPECT_FALSE(ping(peer, "fd00:200::1"));
  EXPECT_FALSE(udp_answered(peer, "10.200.0.1", 51821, false));
  EXPECT_TRUE(counted(tables, "input_dropped", 4));
  // The daemon's port stays open.
  EXPECT_TRUE(udp_answered(peer, "10.200.0.1", 51820));
  // Replies to the client's own connections come in, in both families
  // (IPv6 also needs neighbour discovery through the input chain).
  EXPECT_EQ(tcp_answer(client, "10.200.0.2", 9000), "peer=10.200.0.1");
  EXPECT_EQ(tcp_answer(client, "fd00:200::2", 9000), "peer=fd00:200::1");
  EXPECT_TRUE(ping(client, "10.200.0.2"));
  EXPECT_TRUE(ping(client, "fd00:200::2"));
}

TEST_F(NftablesTest, OpenRulesOpenPortsInOrder) {
  Namespace host("nft-rules"), peer("nft-rules-peer");
  connect_veth(host, peer, Underlay{});
  serve_tcp(host, 8000);
  serve_tcp(host, 8001);
  Inside inside(host);
  ASSERT_TRUE(inside.ok());
  NftTables tables = open_tables();
  OpenPolicy policy = client_policy();
  policy.rules = {
      OpenRule{.allow = false, .interface = "ul0", .protocol = os::kProtoTcp, .ports = PortRange{8001, 8001}},
      OpenRule{.allow = true, .interface = "ul0", .from = prefix("10.200.0.2/32"), .protocol = os::kProtoTcp,
               .ports = PortRange{8000, 8001}},
  };
  auto st = tables.apply(policy);
  ASSERT_TRUE(st.ok()) << st.error().message();

  EXPECT_EQ(tcp_answer(peer, "10.200.0.1", 8000), "peer=10.200.0.2");
  EXPECT_TRUE(counted(tables, "open_rule_2", 1));
  // The earlier rule wins.
  EXPECT_EQ(tcp_answer(peer, "10.200.0.1", 8001, false), "");
  EXPECT_TRUE(counted(tables, "open_rule_1", 1));
  // The allowed source only: IPv6 from the same peer is not it.
  EXPECT_EQ(tcp_answer(peer, "fd00:200::1", 8000, false), "");
}

// A gateway between its LAN and the "internet":
//
//   lan-host lan0 192.168.71.10 ==== lan0 192.168.71.1  gw  ul0 203.0.113.1 ==== ul0 203.0.113.2 inet
//
// The internet host has no route to the LAN: only masquerade brings
// replies back.
TEST_F(NftablesTest, AGatewayMasqueradesItsLanAndForwardsAPort) {
  Namespace gw("nft-gw"), lan_host("nft-gw-lan"), inet("nft-gw-inet");
  connect_veth(gw, lan_host, Underlay{.iface = "lan0", .a_v4 = "192.168.71.1", .b_v4 = "192.168.71.10", .v6 = false});
  connect_veth(gw, inet, Underlay{.iface = "ul0", .a_v4 = "203.0.113.1", .b_v4 = "203.0.113.2", .v6 = false});
  run_checked(&lan_host, {"ip", "route", "add", "default", "via", "192.168.71.1"});
  serve_tcp(inet, 9000);
  serve_tcp(lan_host, 8000);

  Inside inside(gw);
  ASSERT_TRUE(inside.ok());
  auto forwarding = os::write_sysctl("net.ipv4.ip_forward", "1");
  ASSERT_TRUE(forwarding.ok()) << forwarding.error().message();
  NftTables tables = open_tables();
  OpenPolicy policy = client_policy();
  policy.forwards = true;
  policy.lans = {os::Lan{.interface = "lan0", .subnets = {prefix("192.168.71.0/24")}}};
  policy.rules = {OpenRule{.allow = true, .path = OpenRule::Path::kForward, .interface = "lan0",
                           .from = prefix("192.168.71.0/24")}};
  policy.forwards_in = {os::PortForward{.in_interface = "ul0", .protocol = os::kProtoTcp, .port = 8080,
                                        .target = address("192.168.71.10"), .target_port = 8000}};
  policy.snat = {os::SourceNat{.out_interface = "ul0", .from = {prefix("192.168.71.0/24")}}};
  auto st = tables.apply(policy);
  ASSERT_TRUE(st.ok()) << st.error().message();

  // Out: the internet host sees the gateway's address.
  EXPECT_EQ(tcp_answer(lan_host, "203.0.113.2", 9000), "peer=203.0.113.1");
  EXPECT_TRUE(counted(tables, "open_rule_1", 1));
  // In through the port forward: the LAN server sees the real client.
  EXPECT_EQ(tcp_answer(inet, "203.0.113.1", 8080), "peer=203.0.113.2");
  // In without one: no rule lets the internet into the LAN.
  run_checked(&inet, {"ip", "route", "add", "192.168.71.0/24", "via", "203.0.113.1"});
  EXPECT_EQ(tcp_answer(inet, "192.168.71.10", 8000, false), "");
  EXPECT_TRUE(counted(tables, "forward_dropped", 1));
}

}  // namespace
}  // namespace cordon::netns
