// Gateways on the real kernel (docs/design.md, "Gateways"): a coordinator
// with a tunneled subnet forwards between its LAN and the tunnel, with no
// sysctl or route set by hand on it, and puts IP forwarding back as it
// found it when it stops, also after a crash and a restart; for an IPv6
// LAN (fd71::/64) too.
//
//   road 203.0.113.3 ==== "internet" 203.0.113.0/24 ==== gw 203.0.113.1
//                                                         gw lan0 192.168.71.1
//                                                              |
//                                        lan-host 192.168.71.10 (no Cordon)
//
// and, site to site, two such offices whose gateways are linked:
//
//   lan1-host 192.168.71.10 -- gw1 ==== internet ==== gw2 -- lan2-host 192.168.72.10
//
// Every machine is a namespace this test creates (cordon-...-gw-*); the
// LAN host's only configuration is its address and its default route via
// the gateway, as on an office LAN.
#include <csignal>
#include <string>

#include "tests/netns/nat_topology.hpp"

namespace cordon::netns {
namespace {

using GatewayTest = NetnsTest;

std::string ip_forward(const Namespace& ns, const char* file = "/proc/sys/net/ipv4/ip_forward") {
  RunResult r = run(&ns, {"cat", file}, 10s);
  if (!r.ok()) return "?";
  return r.out.substr(0, r.out.find_first_of(" \n"));
}

// Pings until one reply comes back or the deadline passes: the client's
// first datagrams may go before the gateway's daemon answers.
bool first_reply(const ManagedHost& from, const std::string& to, Deadline deadline) {
  while (Clock::now() < deadline) {
    if (ping_replies(from, to, 1) > 0) return true;
  }
  return false;
}

TEST_F(GatewayTest, ClientReachesAPlainLanHostAndForwardingIsRestored) {
  TempDir dir("netns-gw");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("gw", dir.path()), road("gw-road", dir.path());
  Namespace lan_host("gw-lanhost");
  Switch internet("gw-inet"), lan("gw-lan");
  internet.attach(gw.ns(), "ul0", "203.0.113.1/24");
  internet.attach(road.ns(), "ul0", "203.0.113.3/24");
  lan.attach(gw.ns(), "lan0", "192.168.71.1/24");
  lan.attach(lan_host, "eth0", "192.168.71.10/24");
  run_checked(&lan_host, {"ip", "route", "add", "default", "via", "192.168.71.1"}, 10s);

  admin.checked({"network", "init", "--number", "1", "--name", "gw", "--ipv4", "10.77.0.0/16"});
  gw.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.1:51820", "--subnet", "192.168.71.0/24"});
  road.add_to(admin, {"--role", "client", "--coordinator", "gw", "--endpoint", "203.0.113.3:51820"});
  for (ManagedHost* h : {&gw, &road}) {
    h->install_keyset(admin);
    h->write_config(short_mesh_timers());
  }
  ASSERT_EQ(ip_forward(gw.ns()), "0");
  gw.start();
  road.start();
  EXPECT_EQ(ip_forward(gw.ns()), "1") << "the gateway turns IPv4 forwarding on";

  // The road warrior reaches the LAN host, and its replies come back,
  // through the gateway: the route to 192.168.71.0/24 came with the key set.
  ASSERT_TRUE(first_reply(road, "192.168.71.10", deadline_in(30s))) << gw.log().string();
  EXPECT_EQ(ping_replies(road, "192.168.71.10", 5), 5);

  // kill -9 leaves forwarding on, and the record of what it was.
  gw.kill();
  const fs::path record = gw.state_dir() / "forwarding";
  EXPECT_EQ(ip_forward(gw.ns()), "1");
  EXPECT_TRUE(fs::exists(record));
  gw.start();
  EXPECT_TRUE(first_reply(road, "192.168.71.10", deadline_in(30s)));

  // A clean stop restores the value found before the first start.
  EXPECT_EQ(gw.stop(), 0);
  EXPECT_EQ(ip_forward(gw.ns()), "0");
  EXPECT_FALSE(fs::exists(record));
}

// An IPv6 LAN: the gateway tunnels fd71::/64, the road warrior reaches a
// LAN host by its IPv6 address over the tunnel's IPv6 addresses, and the
// gateway turns IPv6 forwarding on and puts it back.
TEST_F(GatewayTest, AnIpv6LanIsReachedThroughTheGateway) {
  constexpr const char* kV6Forwarding = "/proc/sys/net/ipv6/conf/all/forwarding";
  TempDir dir("netns-gw6");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("gw6", dir.path()), road("gw6-road", dir.path());
  Namespace lan_host("gw6-lanhost");
  Switch internet("gw6-inet"), lan("gw6-lan");
  internet.attach(gw.ns(), "ul0", "203.0.113.1/24");
  internet.attach(road.ns(), "ul0", "203.0.113.3/24");
  lan.attach(gw.ns(), "lan0", "192.168.71.1/24");
  lan.attach(lan_host, "eth0", "192.168.71.10/24");
  // nodad: usable at once (RFC 4862, section 5.4).
  run_checked(&gw.ns(), {"ip", "-6", "addr", "add", "fd71::1/64", "dev", "lan0", "nodad"}, 10s);
  run_checked(&lan_host, {"ip", "-6", "addr", "add", "fd71::10/64", "dev", "eth0", "nodad"}, 10s);
  run_checked(&lan_host, {"ip", "-6", "route", "add", "default", "via", "fd71::1"}, 10s);

  admin.checked(
      {"network", "init", "--number", "1", "--name", "gw6", "--ipv4", "10.77.0.0/16", "--ipv6", "fd77::/64"});
  gw.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.1:51820", "--subnet", "fd71::/64"});
  road.add_to(admin, {"--role", "client", "--coordinator", "gw6", "--endpoint", "203.0.113.3:51820"});
  for (ManagedHost* h : {&gw, &road}) {
    h->install_keyset(admin);
    h->write_config(short_mesh_timers());
  }
  ASSERT_EQ(ip_forward(gw.ns(), kV6Forwarding), "0");
  gw.start();
  road.start();
  EXPECT_EQ(ip_forward(gw.ns(), kV6Forwarding), "1") << "the gateway turns IPv6 forwarding on";

  ASSERT_TRUE(first_reply(road, "fd71::10", deadline_in(30s))) << gw.log().string();
  EXPECT_EQ(ping_replies(road, "fd71::10", 5), 5);

  EXPECT_EQ(gw.stop(), 0);
  EXPECT_EQ(ip_forward(gw.ns(), kV6Forwarding), "0");
}

// Two LANs behind two linked gateways reach each other; neither LAN host
// runs Cordon, and neither gateway got a route or sysctl by hand.
TEST_F(GatewayTest, TwoLansReachEachOtherThroughTheirGateways) {
  TempDir dir("netns-s2s");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw1("s2s-gw1", dir.path()), gw2("s2s-gw2", dir.path());
  Namespace host1("s2s-lan1"), host2("s2s-lan2");
  Switch internet("s2s-inet"), lan1("s2s-lan1"), lan2("s2s-lan2");
  internet.attach(gw1.ns(), "ul0", "203.0.113.1/24");
  internet.attach(gw2.ns(), "ul0", "203.0.113.2/24");
  lan1.attach(gw1.ns(), "lan0", "192.168.71.1/24");
  lan1.attach(host1, "eth0", "192.168.71.10/24");
  lan2.attach(gw2.ns(), "lan0", "192.168.72.1/24");
  lan2.attach(host2, "eth0", "192.168.72.10/24");
  run_checked(&host1, {"ip", "route", "add", "default", "via", "192.168.71.1"}, 10s);
  run_checked(&host2, {"ip", "route", "add", "default", "via", "192.168.72.1"}, 10s);

  admin.checked({"network", "init", "--number", "1", "--name", "s2s", "--ipv4", "10.77.0.0/16"});
  gw1.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.1:51820", "--subnet", "192.168.71.0/24"});
  gw2.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.2:51820", "--subnet", "192.168.72.0/24"});
  admin.checked({"link", "add", "s2s-gw1", "s2s-gw2"});
  for (ManagedHost* h : {&gw1, &gw2}) {
    h->install_keyset(admin);
    h->write_config(short_mesh_timers());
    h->start();
  }

  bool answered = false;
  for (const Deadline deadline = deadline_in(30s); !answered && Clock::now() < deadline;) {
    RunResult r = run(&host1, {"ping", "-n", "-q", "-c", "1", "-W", "1", "192.168.72.10"}, 10s);
    answered = r.ok();
  }
  ASSERT_TRUE(answered) << "LAN 1 never reached LAN 2";
  RunResult five = run(&host1, {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", "192.168.72.10"}, 30s);
  EXPECT_TRUE(five.ok()) << five.describe();
  EXPECT_NE(five.out.find("5 received"), std::string::npos) << five.out;
  RunResult back = run(&host2, {"ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "192.168.71.10"}, 30s);
  EXPECT_TRUE(back.ok()) << back.describe();
}

}  // namespace
}  // namespace cordon::netns
