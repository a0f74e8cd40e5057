// The protected-traffic filter on the real kernel (docs/gateways.md): the
// administrator's rules for a gateway decide what a road warrior reaches on
// its LAN, replies of allowed connections pass, and an update that forbids
// a running connection cuts it while another one flows on without loss.
// The gateway's own config adds a local rule, applied after the central ones.
//
//   road 203.0.113.3 ==== "internet" 203.0.113.0/24 ==== gw 203.0.113.1
//                                                         gw lan0 192.168.73.1
//                                                              |
//                                        lan-host 192.168.73.10 (no Cordon)
//
// The LAN host runs iperf3 servers on ports 22, 443 and 8443.
#include <map>
#include <string>
#include <vector>

#include "tests/netns/nat_topology.hpp"

namespace cordon::netns {
namespace {

using FilterTest = NetnsTest;

constexpr const char* kLanHost = "192.168.73.10";

// The gateway's central rules: the road warrior may open 443 and 8443 and
// ping; nothing else in from it, and nothing out to it but replies.
const std::vector<std::string> kCentralRules = {
    "drop in peer flt-road proto tcp dport 22",
    "allow in peer flt-road proto tcp dport 443",
    "allow in peer flt-road proto tcp dport 8443",
    "allow in peer flt-road proto icmp",
    "drop in peer flt-road",
    "drop out peer flt-road",
};
const char* kLocalRules = "[filter]\nrules = [\"allow in proto udp dport 53\"]\n";

// A central rule as the gateway shows it: peers by host ID.
std::string shown(std::string rule, const ManagedHost& road) {
  const std::string name = "peer flt-road";
  if (const size_t at = rule.find(name); at != std::string::npos) rule.replace(at, name.size(), "peer " + road.id());
  return rule;
}

const nlohmann::json* rule_with(const nlohmann::json& status, const std::string& text) {
  for (const auto& r : status["filter"]["rules"]) {
    if (r.value("text", "") == text) return &r;
  }
  return nullptr;
}

uint64_t hits(const ManagedHost& h, const std::string& text) {
  const nlohmann::json status = h.status();
  const nlohmann::json* r = rule_with(status, text);
  return r ? r->value("hits", uint64_t{0}) : 0;
}

bool first_reply(const ManagedHost& from, const std::string& to, Deadline deadline) {
  while (Clock::now() < deadline) {
    if (ping_replies(from, to, 1) > 0) return true;
  }
  return false;
}

RunResult iperf(const ManagedHost& from, const char* port, const char* seconds) {
  return run(&from.ns(), {"iperf3", "-c", kLanHost, "-p", port, "-t", seconds, "--connect-timeout", "2000"}, 30s);
}

TEST_F(FilterTest, CentralRulesDecideWhatARoadWarriorReachesAndAnUpdateCutsAForbiddenFlow) {
  TempDir dir("netns-flt");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost gw("flt-gw", dir.path()), road("flt-road", dir.path());
  Namespace lan_host("flt-lanhost");
  Switch internet("flt-inet"), lan("flt-lan");
  internet.attach(gw.ns(), "ul0", "203.0.113.1/24");
  internet.attach(road.ns(), "ul0", "203.0.113.3/24");
  lan.attach(gw.ns(), "lan0", "192.168.73.1/24");
  lan.attach(lan_host, "eth0", std::string(kLanHost) + "/24");
  run_checked(&lan_host, {"ip", "route", "add", "default", "via", "192.168.73.1"}, 10s);
  std::vector<std::unique_ptr<Process>> servers;
  for (const char* port : {"22", "443", "8443"}) {
    servers.push_back(std::make_unique<Process>(&lan_host, std::vector<std::string>{"iperf3", "-s", "-B", kLanHost, "-p", port},
                                                dir / ("iperf3-" + std::string(port) + ".log"), "iperf3 server"));
  }

  admin.checked({"network", "init", "--number", "1", "--name", "flt", "--ipv4", "10.77.0.0/16"});
  gw.add_to(admin, {"--role", "coordinator", "--endpoint", "203.0.113.1:51820", "--subnet", "192.168.73.0/24"});
  road.add_to(admin, {"--role", "client", "--coordinator", "flt-gw", "--endpoint", "203.0.113.3:51820"});
  std::map<std::string, std::string> numbers;  // central rule text -> its number
  for (const std::string& rule : kCentralRules) {
    std::vector<std::string> args = {"filter", "add", "--host", "flt-gw", "--json"};
    for (size_t at = 0; at < rule.size();) {
      const size_t space = std::min(rule.find(' ', at), rule.size());
      args.push_back(rule.substr(at, space - at));
      at = space + 1;
    }
    numbers[rule] = std::to_string(admin.json(args)["number"].get<int64_t>());
  }
  gw.install_keyset(admin);
  gw.write_config(short_mesh_timers(), kLocalRules);
  road.install_keyset(admin);
  road.write_config(short_mesh_timers());
  gw.start();
  road.start();
  ASSERT_TRUE(first_reply(road, kLanHost, deadline_in(30s))) << gw.log().string();
  // Central rules first, in the administrator's order, then the local one.
  const nlohmann::json first = gw.status();
  ASSERT_EQ(first["filter"]["rules"].size(), 7u) << first["filter"].dump(2);
  EXPECT_EQ(first["filter"]["rules"][0]["text"], shown(kCentralRules[0], road));
  EXPECT_EQ(first["filter"]["rules"][0]["origin"], "central " + numbers[kCentralRules[0]]);
  EXPECT_EQ(first["filter"]["rules"][6]["origin"], "local");

  // 443 is allowed, and its replies pass although nothing else goes out to
  // the road warrior; 22 is dropped, and the rule's counter shows it.
  RunResult https = iperf(road, "443", "1");
  EXPECT_TRUE(https.ok()) << https.describe();
  RunResult ssh = iperf(road, "22", "1");
  EXPECT_FALSE(ssh.ok()) << "port 22 must be dropped: " << ssh.out;
  EXPECT_GE(hits(gw, shown(kCentralRules[0], road)), 1u);
  EXPECT_GE(hits(gw, shown(kCentralRules[1], road)), 2u) << "iperf3's control and data connections";
  EXPECT_GE(gw.status()["filter"]["connections"].get<uint64_t>(), 2u);

  // An update that forbids 8443 cuts a running 8443 flow; a ping running
  // across the reload loses nothing.
  Process bulk(&road.ns(), {"iperf3", "-c", kLanHost, "-p", "8443", "-t", "8", "--connect-timeout", "2000"},
               dir / "iperf3-8443.log", "iperf3 8443");
  Process ping(&road.ns(), {"ping", "-n", "-q", "-c", "60", "-i", "0.05", "-W", "1", kLanHost}, dir / "ping.log", "ping");
  const std::string cut_rule = shown("drop in peer flt-road proto tcp dport 8443", road);
  const uint64_t version = gw.status()["filter"]["version"].get<uint64_t>();
  bool flowing = false;
  for (const Deadline d = deadline_in(10s); !flowing && Clock::now() < d;) {
    flowing = hits(gw, shown(kCentralRules[2], road)) >= 2;
  }
  ASSERT_TRUE(flowing) << "the 8443 flow never started";
  admin.checked({"filter", "add", "--host", "flt-gw", "--before", numbers[kCentralRules[2]], "drop", "in", "peer",
                 "flt-road", "proto", "tcp", "dport", "8443"});
  fs::create_directories(dir / "updates");
  gw.apply_update(admin, dir / "updates");
  bool reloaded = false;
  for (const Deadline d = deadline_in(10s); !reloaded && Clock::now() < d;) {
    reloaded = gw.status()["filter"]["version"].get<uint64_t>() > version;
  }
  ASSERT_TRUE(reloaded) << gw.log().string();
  bool cut = false;
  for (const Deadline d = deadline_in(10s); !cut && Clock::now() < d;) cut = hits(gw, cut_rule) > 0;
  EXPECT_TRUE(cut) << "the running 8443 flow's packets must meet the new rule";
  bool listed_cut = false;
  const nlohmann::json after = gw.status();
  for (const auto& c : after["filter"]["tracked"]) {
    if (c.value("destination_port", 0) == 8443 && c.value("cut", false)) listed_cut = true;
  }
  EXPECT_TRUE(listed_cut) << after["filter"].dump(2);

  ASSERT_TRUE(ping.wait_exit(deadline_in(30s)).has_value());
  EXPECT_EQ(ping.exit_code(), 0);
  EXPECT_TRUE(file_contains(ping.log_path(), "60 received")) << ping.log_text();
  // The cut 8443 client waits on a connection that no longer passes; it is
  // stopped with the test (Process stops it by PID), not waited for.
}

}  // namespace
}  // namespace cordon::netns
