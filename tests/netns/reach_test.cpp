// Reach limits on the real kernel (docs/gateways.md, "Reach"): a gateway
// with two LAN subnets, a road warrior limited to one of them and a desk
// host with no limit. The road warrior reaches only its subnet, the other
// subnet cannot reach it (the gateway drops that as out_of_reach), the desk
// host reaches both, and an update that clears the limit lets the road
// warrior in.
//
//   road 203.0.113.3 ===                           === desk 203.0.113.4
//                       "internet" 203.0.113.0/24
//                                  gw 203.0.113.1
//                                  gw lan0 192.168.74.1, 192.168.75.1
//                                       |
//              sales-host 192.168.74.10 + lab-host 192.168.75.10 (no Cordon)
#include <string>

#include "tests/netns/nat_topology.hpp"

namespace cordon::netns {
namespace {

using ReachTest = NetnsTest;

constexpr const char* kSalesHost = "192.168.74.10";
constexpr const char* kLabHost = "192.168.75.10";

bool answers(const ManagedHost& from, const std::string& to, Deadline deadline) {
  while (Clock::now() < deadline) {
    if (ping_replies(from, to, 1) > 0) return true;
  }
  return false;
}

// The gateway's `reach` for `peer` in its status ("missing" if no such peer).
nlohmann::json peer_reach(const ManagedHost& gw, const ManagedHost& peer) {
  const nlohmann::json status = gw.status();
  const nlohmann::json* p = find_peer(status, peer.id());
  return p ? p->value("reach", nlohmann::json("missing")) : nlohmann::json("missing");
}

TEST_F(ReachTest, ALimitedClientReachesOnlyItsSubnetAndTheGatewayDropsTheRest) {
  TempDir dir("netns-reach");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("rch-gw", dir.path()), road("rch-road", dir.path()), desk("rch-desk", dir.path());
  Namespace sales_host("rch-sales"), lab_host("rch-lab");
  Switch internet("rch-inet"), lan("rch-lan");
  internet.attach(gw.ns(), "ul0", "203.0.113.1/24");
  internet.attach(road.ns(), "ul0", "203.0.113.3/24");
  internet.attach(desk.ns(), "ul0", "203.0.113.4/24");
  lan.attach(gw.ns(), "lan0", "192.168.74.1/24");
  run_checked(&gw.ns(), {"ip", "addr", "add", "192.168.75.1/24", "dev", "lan0"}, 10s);
  lan.attach(sales_host, "eth0", std::string(kSalesHost) + "/24");
  lan.attach(lab_host, "eth0", std::string(kLabHost) + "/24");
  run_checked(&sales_host, {"ip", "route", "add", "default", "via", "192.168.74.1"}, 10s);
  run_checked(&lab_host, {"ip", "route", "add", "default", "via", "192.168.75.1"}, 10s);

  admin.checked({"network", "init", "--number", "1", "--name", "rch", "--ipv4", "10.77.0.0/16"});
  gw.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.1:51820", "--subnet", "192.168.74.0/24",
                    "--subnet", "192.168.75.0/24"});
  road.add_to(admin, {"--role", "client", "--coordinator", "rch-gw", "--endpoint", "203.0.113.3:51820"});
  desk.add_to(admin, {"--role", "client", "--coordinator", "rch-gw", "--endpoint", "203.0.113.4:51820"});
  admin.checked({"reach", "set", "--gateway", "rch-gw", "--host", "rch-road", "--subnet", "192.168.74.0/24"});
  for (ManagedHost* h : {&gw, &road, &desk}) {
    h->install_keyset(admin);
    h->write_config(short_mesh_timers());
    h->start();
  }

  // The road warrior reaches the sales subnet; the lab subnet is not even
  // routed to the gateway on its side.
  ASSERT_TRUE(answers(road, kSalesHost, deadline_in(30s))) << gw.log().string();
  EXPECT_LE(ping_replies(road, kLabHost, 2), 0);  // -1: no route at all
  const nlohmann::json seen = gw.status();
  const nlohmann::json* limited = find_peer(seen, road.id());
  ASSERT_NE(limited, nullptr);
  EXPECT_EQ((*limited)["reach"], nlohmann::json::array({"192.168.74.0/24"}));
  // The desk host has no limit: both subnets.
  EXPECT_TRUE(answers(desk, kLabHost, deadline_in(30s)));
  EXPECT_TRUE(answers(desk, kSalesHost, deadline_in(10s)));
  EXPECT_TRUE(peer_reach(gw, desk).is_null());

  // The lab subnet cannot reach the road warrior: the gateway, which the
  // limit binds whatever the road warrior's host routes, drops it.
  const RunResult from_lab = run(&lab_host, {"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", road.tun4()}, 20s);
  EXPECT_FALSE(from_lab.ok()) << from_lab.out;
  EXPECT_GE(drop_count(gw.status(), "out_of_reach"), 3u) << gw.status().dump(2);
  const RunResult from_sales = run(&sales_host, {"ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", road.tun4()}, 20s);
  EXPECT_TRUE(from_sales.ok()) << from_sales.describe();

  // Clearing the limit is an address-book update for both ends.
  admin.checked({"reach", "clear", "--gateway", "rch-gw", "--host", "rch-road"});
  fs::create_directories(dir / "updates");
  gw.apply_update(admin, dir / "updates");
  road.apply_update(admin, dir / "updates");
  EXPECT_TRUE(answers(road, kLabHost, deadline_in(30s))) << road.log().string();
  EXPECT_TRUE(peer_reach(gw, road).is_null());
}

}  // namespace
}  // namespace cordon::netns
