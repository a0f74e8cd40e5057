// The open-traffic firewall of a running gateway (docs/firewall.md): the
// daemon loads table inet cordon from its [open] table, and on the real
// kernel spoofed sources are dropped and counted, the LAN reaches the
// internet through source NAT, a port forward reaches a LAN server,
// protected traffic still flows, and the table goes with SIGTERM and is
// replaced after kill -9 (or deleted, when [open] is gone); the
// administrator's open rules turn it on and come before the local ones.
//
//   road 203.0.113.3 ==== "internet" 203.0.113.0/24 ==== gw ul0 203.0.113.1
//   inet 203.0.113.2 ====/                               gw lan0 192.168.71.1
//                                                              |
//                                        lan-host 192.168.71.10 (no Cordon)
//
// gw is a managed coordinator with the LAN as tunneled subnet, road a
// client; inet is a plain internet host with no route to the LAN. Every
// machine is a namespace this test creates (cordon-ot-*); nothing waits
// with a fixed sleep.
#include <iostream>
#include <string>
#include <vector>

#include "tests/netns/nat_topology.hpp"
#include "tests/netns/socket_tools.hpp"

namespace cordon::netns {
namespace {

using OpenTrafficTest = NetnsTest;

constexpr const char* kGwOutside = "203.0.113.1";
constexpr const char* kInet = "203.0.113.2";
constexpr const char* kLanHost = "192.168.71.10";
constexpr uint16_t kInetPort = 9000, kLanPort = 8000, kForwardedPort = 8080;

constexpr const char* kOpen = R"(
[open]
rules = ["allow forward iif lan0 from 192.168.71.0/24"]
lans = ["lan0 192.168.71.0/24"]
snat = ["oif ul0 from 192.168.71.0/24"]
forward_ports = ["iif ul0 proto tcp dport 8080 to 192.168.71.10:8000"]
)";

// One echo from `source` (an address the test put in `from`); true when
// it was answered.
bool ping_from(const Namespace& from, const std::string& source, const std::string& to) {
  return run(&from, {"ping", "-n", "-c", "1", "-W", "1", "-I", source, to}, 10s).ok();
}

// A named counter's packets: a drop counter, or an open rule's
// ("open_rule_1").
uint64_t open_counter(const nlohmann::json& status, const std::string& name) {
  const auto& open = status["open"];
  if (!open.is_object()) return 0;
  if (open["counters"].contains(name)) return open["counters"][name].value("packets", uint64_t{0});
  for (const auto& rule : open["rules"]) {
    if (rule.value("counter", "") == name) return rule.value("packets", uint64_t{0});
  }
  return 0;
}

// Polls the gateway's status until the counter reaches `n`.
bool counted(const ManagedHost& gw, const char* name, uint64_t n) {
  nlohmann::json last;
  return wait_status(gw, 10s, last, [&](const nlohmann::json& s) { return open_counter(s, name) >= n; });
}

size_t cordon_tables(const ManagedHost& host) {
  const std::string listed = run_checked(&host.ns(), {"nft", "list", "tables"}, 10s).out;
  size_t n = 0;
  for (size_t at = listed.find("table inet cordon\n"); at != std::string::npos;
       at = listed.find("table inet cordon\n", at + 1)) {
    ++n;
  }
  return n;
}

// A network of one coordinator, `host`, with `subnet` tunneled if given,
// and `open` appended to its config.
void lone_coordinator(const AdminDb& admin, ManagedHost& host, const std::string& subnet, const std::string& open) {
  admin.checked({"network", "init", "--number", "1", "--name", "ot", "--ipv4", "10.77.0.0/16"});
  std::vector<std::string> args = {"--role", "coordinator", "--endpoint", "203.0.113.1:51820"};
  if (!subnet.empty()) args.insert(args.end(), {"--subnet", subnet});
  host.add_to(admin, args);
  host.install_keyset(admin);
  host.write_config(short_mesh_timers(), open);
}

bool reaches_lan_host(const ManagedHost& road) {
  return poll_until(deadline_in(30s), [&] { return ping_replies(road, kLanHost, 1) > 0; }, 0ms);
}

TEST_F(OpenTrafficTest, AGatewayFiltersSpoofsTranslatesAndCleansUp) {
  TempDir dir("netns-ot");
  SocketTools sockets(dir.path());
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("ot-gw", dir.path()), road("ot-road", dir.path());
  Namespace inet("ot-inet"), lan_host("ot-lanhost");
  Switch internet("ot-net"), lan("ot-lan");
  internet.attach(gw.ns(), "ul0", std::string(kGwOutside) + "/24");
  internet.attach(inet, "ul0", std::string(kInet) + "/24");
  internet.attach(road.ns(), "ul0", "203.0.113.3/24");
  lan.attach(gw.ns(), "lan0", "192.168.71.1/24");
  lan.attach(lan_host, "eth0", std::string(kLanHost) + "/24");
  run_checked(&lan_host, {"ip", "route", "add", "default", "via", "192.168.71.1"}, 10s);

  admin.checked({"network", "init", "--number", "1", "--name", "ot", "--ipv4", "10.77.0.0/16"});
  gw.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.1:51820", "--subnet", "192.168.71.0/24"});
  road.add_to(admin, {"--role", "client", "--coordinator", "ot-gw", "--endpoint", "203.0.113.3:51820"});
  gw.install_keyset(admin);
  gw.write_config(short_mesh_timers(), kOpen);
  road.install_keyset(admin);
  road.write_config(short_mesh_timers());
  gw.start();
  road.start();
  ASSERT_EQ(cordon_tables(gw), 1u);
  nlohmann::json status = gw.status();
  ASSERT_TRUE(status["open"].is_object()) << status.dump(2);
  EXPECT_EQ(status["open"]["table"], true) << status.dump(2);
  EXPECT_EQ(status["open"]["rules"][0]["text"], "allow forward iif lan0 from 192.168.71.0/24");
  EXPECT_TRUE(road.status()["open"].is_null()) << "no [open] table: no firewall";

  // Protected traffic through the tunnel still flows.
  ASSERT_TRUE(reaches_lan_host(road)) << gw.log().string();

  // Source NAT: the internet host sees the gateway's outside address; it
  // has no route to the LAN, so only translated replies come back.
  sockets.serve_tcp(inet, kInetPort);
  EXPECT_EQ(sockets.tcp_answer(lan_host, kInet, kInetPort), "peer=" + std::string(kGwOutside));
  EXPECT_TRUE(counted(gw, "open_rule_1", 1));

  // The port forward: the LAN server sees the real client.
  sockets.serve_tcp(lan_host, kLanPort);
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kForwardedPort), "peer=" + std::string(kInet));
  // Without one, no rule lets the internet into the LAN.
  run_checked(&inet, {"ip", "route", "add", "192.168.71.0/24", "via", kGwOutside}, 10s);
  EXPECT_EQ(sockets.tcp_answer(inet, kLanHost, kLanPort, false), "");
  EXPECT_TRUE(counted(gw, "forward_dropped", 1));

  // Anti-spoofing: the client's tunnel address from the internet, and from
  // the LAN; a LAN address from the internet.
  // (The addresses go again afterwards: the LAN host must answer the road.)
  const auto spoof = [&](const Namespace& from, const char* dev, const std::string& address, bool on) {
    run_checked(&from, {"ip", "addr", on ? "add" : "del", address + "/32", "dev", dev}, 10s);
  };
  spoof(inet, "ul0", road.tun4(), true);
  spoof(lan_host, "eth0", road.tun4(), true);
  spoof(inet, "ul0", "192.168.71.50", true);
  EXPECT_FALSE(ping_from(inet, road.tun4(), kGwOutside));
  EXPECT_TRUE(counted(gw, "spoofed_protected", 1));
  const uint64_t from_outside = open_counter(gw.status(), "spoofed_protected");
  EXPECT_FALSE(ping_from(lan_host, road.tun4(), "192.168.71.1"));
  EXPECT_TRUE(counted(gw, "spoofed_protected", from_outside + 1));
  EXPECT_FALSE(ping_from(inet, "192.168.71.50", kGwOutside));
  EXPECT_TRUE(counted(gw, "spoofed_lan", 1));
  spoof(lan_host, "eth0", road.tun4(), false);
  const std::string text = gw.cordon({"status", "-s", (dir.path() / "ot-gw.sock").string()}).out;
  EXPECT_NE(text.find("open traffic: table inet cordon in place, 1 rule"), std::string::npos) << text;
  std::cout << "cordon status of the gateway:\n" << text;

  // kill -9 leaves the table; the next start replaces it: one table, new
  // counters, and the tunnel works through it.
  gw.kill();
  EXPECT_EQ(cordon_tables(gw), 1u);
  gw.start();
  EXPECT_EQ(cordon_tables(gw), 1u);
  EXPECT_EQ(open_counter(gw.status(), "spoofed_protected"), 0u);
  EXPECT_TRUE(reaches_lan_host(road));

  // SIGTERM deletes it.
  EXPECT_EQ(gw.stop(), 0);
  EXPECT_EQ(cordon_tables(gw), 0u);

  // A table a crash left goes when the next start has no [open] table.
  gw.start();
  gw.kill();
  ASSERT_EQ(cordon_tables(gw), 1u);
  gw.write_config(short_mesh_timers());
  gw.start();
  EXPECT_EQ(cordon_tables(gw), 0u);
  EXPECT_TRUE(gw.status()["open"].is_null());
}

// A reload replaces the table with the new config's and the new peers',
// keeps it when the new policy is refused (the log names the entry), and
// deletes it when [open] goes.
TEST_F(OpenTrafficTest, AReloadReplacesKeepsOrDeletesTheTable) {
  TempDir dir("netns-ot-reload");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("ot-reload", dir.path());
  lone_coordinator(admin, gw, "192.168.71.0/24", kOpen);
  gw.start();
  const auto rules = [&] { return gw.status()["open"]["rules"].size(); };
  ASSERT_EQ(rules(), 1u);

  // Refused: a LAN this gateway does not tunnel. The old table stays.
  gw.write_config(short_mesh_timers(),
                  "[open]\nrules = [\"allow proto icmp\", \"allow proto tcp dport 22\"]\n"
                  "lans = [\"lan0 192.168.99.0/24\"]\n");
  gw.reload();
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] { return file_contains(gw.log(), "reload failed"); }));
  EXPECT_TRUE(file_contains(gw.log(), "open.lans[0]: subnet 192.168.99.0/24 is not one this host tunnels"))
      << read_file(gw.log());
  EXPECT_EQ(rules(), 1u);
  EXPECT_EQ(cordon_tables(gw), 1u);

  // Accepted: the new rules are in place.
  gw.write_config(short_mesh_timers(), "[open]\nrules = [\"allow proto icmp\", \"allow proto tcp dport 22\"]\n");
  gw.reload();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return rules() == 2; }));
  EXPECT_EQ(cordon_tables(gw), 1u);

  // An update that links another gateway: its LAN becomes a protected
  // source, in the table the reload loads.
  const auto table = [&] { return run_checked(&gw.ns(), {"nft", "list", "table", "inet", "cordon"}, 10s).out; };
  ASSERT_EQ(table().find("192.168.72.0/24"), std::string::npos) << table();
  ManagedHost other("ot-reload-b", dir.path());
  other.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.2:51820", "--subnet", "192.168.72.0/24"});
  admin.checked({"link", "add", "ot-reload", "ot-reload-b"});
  fs::create_directories(dir.path() / "updates");
  gw.apply_update(admin, dir.path() / "updates");
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return table().find("192.168.72.0/24") != std::string::npos; }))
      << table();
  EXPECT_EQ(rules(), 2u);

  // [open] gone: so is the table.
  gw.write_config(short_mesh_timers());
  gw.reload();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return cordon_tables(gw) == 0; }));
  EXPECT_TRUE(gw.status()["open"].is_null());
}

// The administrator's open rules (docs/firewall.md, "Central open rules"):
// an update that brings one turns the firewall on without an [open] table;
// central rules come before local ones; the last one gone turns it off.
TEST_F(OpenTrafficTest, CentralOpenRulesTurnTheFirewallOnAndComeFirst) {
  TempDir dir("netns-ot-central");
  SocketTools sockets(dir.path());
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("ot-central", dir.path());
  Namespace inet("ot-central-inet");
  Switch internet("ot-central-net");
  internet.attach(gw.ns(), "ul0", std::string(kGwOutside) + "/24");
  internet.attach(inet, "ul0", std::string(kInet) + "/24");
  lone_coordinator(admin, gw, "", "");
  gw.start();
  ASSERT_EQ(cordon_tables(gw), 0u);
  constexpr uint16_t kAllowed = 7000, kLocal = 7001, kOther = 7002;
  for (uint16_t port : {kAllowed, kLocal, kOther}) sockets.serve_tcp(gw.ns(), port);
  ASSERT_EQ(sockets.tcp_answer(inet, kGwOutside, kOther), "peer=" + std::string(kInet));

  // An update with one central open rule: the firewall is on, the rule
  // lets its port in, and the rest is dropped.
  admin.checked({"filter", "add", "--host", "ot-central", "--open", "allow", "input", "proto", "tcp", "dport",
                 std::to_string(kAllowed)});
  fs::create_directories(dir.path() / "updates1");
  gw.apply_update(admin, dir.path() / "updates1");
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] { return cordon_tables(gw) == 1; })) << read_file(gw.log());
  nlohmann::json status = gw.status();
  ASSERT_EQ(status["open"]["rules"].size(), 1u) << status.dump(2);
  EXPECT_EQ(status["open"]["rules"][0]["origin"], "central 1");
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kAllowed), "peer=" + std::string(kInet));
  EXPECT_TRUE(counted(gw, "open_rule_1", 1));
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kOther, false), "");
  EXPECT_TRUE(counted(gw, "input_dropped", 1));

  // Local rules come after: a local drop of the central rule's port does
  // not override it; a local allow of another port adds to it.
  gw.write_config(short_mesh_timers(), "[open]\nrules = [\"drop input proto tcp dport 7000\", "
                                       "\"allow input proto tcp dport 7001\"]\n");
  gw.reload();
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] { return gw.status()["open"]["rules"].size() == 3; }))
      << read_file(gw.log());
  status = gw.status();
  EXPECT_EQ(status["open"]["rules"][1]["origin"], "local");
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kAllowed), "peer=" + std::string(kInet));
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kLocal), "peer=" + std::string(kInet));
  EXPECT_TRUE(counted(gw, "open_rule_3", 1));
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kOther, false), "");
  const std::string text = gw.cordon({"status", "-s", (dir.path() / "ot-central.sock").string()}).out;
  EXPECT_NE(text.find("central 1"), std::string::npos) << text;
  std::cout << "cordon status with a central and two local open rules:\n" << text;

  // The central rule removed and no [open] table: the firewall goes.
  admin.checked({"filter", "remove", "1"});
  gw.write_config(short_mesh_timers());
  fs::create_directories(dir.path() / "updates2");
  gw.apply_update(admin, dir.path() / "updates2");
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return cordon_tables(gw) == 0; })) << read_file(gw.log());
  EXPECT_EQ(sockets.tcp_answer(inet, kGwOutside, kOther), "peer=" + std::string(kInet));
}

// A policy the daemon refuses stops the start with the entry at fault,
// and leaves no table, not even a stale one.
TEST_F(OpenTrafficTest, ARefusedPolicyStopsTheStart) {
  TempDir dir("netns-ot-refuse");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost host("ot-refuse", dir.path());
  lone_coordinator(admin, host, "", "[open]\nlans = [\"lan0 192.168.71.0/24\"]\n");
  // As a crashed run would leave it.
  run_checked(&host.ns(), {"nft", "add", "table", "inet", "cordon"}, 10s);
  try {
    host.start();
    ADD_FAILURE() << "the daemon started with a LAN it does not tunnel";
  } catch (const std::exception& e) {
    const std::string why = e.what();
    EXPECT_NE(why.find("open.lans[0]: this host forwards no traffic"), std::string::npos) << why;
  }
  EXPECT_EQ(cordon_tables(host), 0u);
}

}  // namespace
}  // namespace cordon::netns
