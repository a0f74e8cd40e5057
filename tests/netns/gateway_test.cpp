// Gateways on the real kernel (docs/design.md, "Gateways"): a coordinator
// with a tunneled subnet forwards between its LAN and the tunnel, with no
// sysctl or route set by hand on it, and puts IP forwarding back as it
// found it when it stops, also after a crash and a restart.
//
//   road 203.0.113.3 ==== "internet" 203.0.113.0/24 ==== gw 203.0.113.1
//                                                         gw lan0 192.168.71.1
//                                                              |
//                                        lan-host 192.168.71.10 (no Cordon)
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

std::string ip_forward(const Namespace& ns) {
  RunResult r = run(&ns, {"cat", "/proc/sys/net/ipv4/ip_forward"}, 10s);
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

}  // namespace
}  // namespace cordon::netns
