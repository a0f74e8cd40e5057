// Two offices and a road warrior behind NAT, on the real kernel
// (docs/design.md, "Gateways"): a managed network built with `cordon admin`
// whose two coordinators are gateways for their LANs, and a client behind
// an nftables NAT router.
//
//       g1 203.0.113.1            g2 203.0.113.2          rc wan 203.0.113.11
//            |                         |                        |
//   ============ "internet" 203.0.113.0/24 (a bridge) ======================
//            |                         |                  rc lan 10.201.1.1
//   g1 lan0 192.168.81.1      g2 lan0 192.168.82.1              |
//        |                         |                      c  10.201.1.2
//   lan1-a 192.168.81.10      lan2-a 192.168.82.10
//   lan1-b 192.168.81.11
//
// g1 and g2 are coordinators with tunneled subnets 192.168.81.0/24 and
// 192.168.82.0/24, linked with each other; c is a client of g1 (no endpoint
// in the database: g1 learns where it is) and is also linked with g2, so
// that LAN 2 reaches it through g2. The LAN hosts run no Cordon: their only
// configuration is an address and a default route via their gateway.
//
// Checked: c reaches LAN 1 (ping, a short iperf3); LAN 1 reaches LAN 2 and
// back through g1 and g2; LAN 2 reaches c's tunnel address through g2; and a
// capture on g1's internet side while LAN 1 sends marked pings and a marked
// UDP datagram to LAN 2 holds the tunnel's datagrams but neither the marker
// nor any inner address. Every machine is a namespace this test creates
// (cordon-...-st-*). It takes about 10 s.
#include <array>
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/netns/nat_topology.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using SiteTopologyTest = NetnsTest;

constexpr const char* kG1 = "203.0.113.1";
constexpr const char* kG2 = "203.0.113.2";
constexpr const char* kRc = "203.0.113.11";
constexpr const char* kLan1A = "192.168.81.10";
constexpr const char* kLan1B = "192.168.81.11";
constexpr const char* kLan2A = "192.168.82.10";
constexpr uint16_t kIperfPort = 5201;
constexpr uint16_t kMarkerPort = 40999;
// "SITEMARKER" for ping -p, and the UDP datagram's payload.
constexpr const char* kPingMarkerHex = "534954454d41524b4552";
constexpr std::string_view kPingMarker = "SITEMARKER";
constexpr std::string_view kUdpMarker = "CORDON-SITE-UDP-MARKER";

// Pings until one reply comes back or the deadline passes: the first
// datagrams may go before the mesh knows every path.
bool first_reply(const Namespace& from, const std::string& to, Deadline deadline) {
  while (Clock::now() < deadline) {
    if (ping_once(from, to)) return true;
  }
  return false;
}

// `ping -c COUNT` from a plain namespace; the replies that came back.
int replies(const Namespace& from, const std::string& to, int count) {
  RunResult r = run(&from, {"ping", "-n", "-q", "-c", std::to_string(count), "-i", "0.2", "-W", "1", to}, 30s);
  auto stats = parse_ping_stats(r.out);
  return stats ? stats->received : -1;
}

// The four bytes of a dotted IPv4 address, as they appear in a packet.
std::string address_bytes(const std::string& dotted) {
  std::array<int, 4> b{};
  char dot = 0;
  std::istringstream in(dotted);
  in >> b[0] >> dot >> b[1] >> dot >> b[2] >> dot >> b[3];
  std::string out;
  for (int v : b) out += static_cast<char>(static_cast<uint8_t>(v));
  return out;
}

TEST_F(SiteTopologyTest, OfficesAndANattedRoadWarriorReachEachOtherAndNothingInnerCrossesTheInternet) {
  const auto started = Clock::now();
  TempDir dir("netns-site");
  AdminDb admin(dir.path() / "admin.db");
  ManagedHost g1("st-g1", dir.path()), g2("st-g2", dir.path()), c("st-c", dir.path());
  Namespace lan1_a("st-lan1a"), lan1_b("st-lan1b"), lan2_a("st-lan2a");
  Switch internet("st-inet"), lan1("st-lan1"), lan2("st-lan2");
  internet.attach(g1.ns(), "ul0", std::string(kG1) + "/24");
  internet.attach(g2.ns(), "ul0", std::string(kG2) + "/24");
  NatRouter rc("st-rc", internet, kRc, c.ns(), "10.201.1", NatKind::kCone, dir.path());
  lan1.attach(g1.ns(), "lan0", "192.168.81.1/24");
  lan1.attach(lan1_a, "eth0", std::string(kLan1A) + "/24");
  lan1.attach(lan1_b, "eth0", std::string(kLan1B) + "/24");
  lan2.attach(g2.ns(), "lan0", "192.168.82.1/24");
  lan2.attach(lan2_a, "eth0", std::string(kLan2A) + "/24");
  for (const Namespace* h : {&lan1_a, &lan1_b})
    run_checked(h, {"ip", "route", "add", "default", "via", "192.168.81.1"}, 10s);
  run_checked(&lan2_a, {"ip", "route", "add", "default", "via", "192.168.82.1"}, 10s);

  admin.checked({"network", "init", "--number", "1", "--name", "site", "--ipv4", "10.77.0.0/16"});
  g1.add_to(admin, {"--role", "coordinator", "--endpoint", endpoint_text(kG1, ManagedHost::kPort), "--subnet",
                    "192.168.81.0/24"});
  g2.add_to(admin, {"--role", "coordinator", "--endpoint", endpoint_text(kG2, ManagedHost::kPort), "--subnet",
                    "192.168.82.0/24"});
  c.add_to(admin, {"--role", "client", "--coordinator", "st-g1"});
  admin.checked({"link", "add", "st-g1", "st-g2"});  // site to site, and the coordinators' route exchange
  admin.checked({"link", "add", "st-c", "st-g2"});   // LAN 2 reaches c through g2
  for (ManagedHost* h : {&g1, &g2, &c}) {
    h->install_keyset(admin);
    h->write_config(short_mesh_timers());
  }
  for (ManagedHost* h : {&g1, &g2, &c}) h->start();  // coordinators first
  std::cout << "network up after " << seconds_since(started) << " s\n";

  // 1. The road warrior reaches both LAN 1 hosts, and moves data to one.
  ASSERT_TRUE(first_reply(c.ns(), kLan1A, deadline_in(30s))) << "c never reached " << kLan1A;
  EXPECT_EQ(replies(c.ns(), kLan1A, 5), 5);
  EXPECT_EQ(replies(c.ns(), kLan1B, 3), 3);
  {
    Process server(&lan1_a, {"iperf3", "-s", "-B", kLan1A, "-p", std::to_string(kIperfPort)}, dir / "iperf3-server.log",
                   "iperf3 server on lan1-a");
    ASSERT_TRUE(wait_for_tcp_listener(lan1_a, kIperfPort, deadline_in(10s))) << server.log_text();
    RunResult iperf = run(&c.ns(),
                          {"iperf3", "-c", kLan1A, "-p", std::to_string(kIperfPort), "-t", "1", "--connect-timeout",
                           "2000", "--json"},
                          30s);
    ASSERT_TRUE(iperf.ok()) << iperf.describe();
    const json result = json::parse(iperf.out, nullptr, false);
    ASSERT_FALSE(result.is_discarded()) << iperf.out;
    const uint64_t received = result["end"]["sum_received"].value("bytes", uint64_t{0});
    EXPECT_GT(received, 0u) << iperf.out;
    std::cout << "iperf3 c -> lan1-a: " << received << " bytes in 1 s\n";
  }
  std::cout << "check 1 done after " << seconds_since(started) << " s\n";

  // 2. Site to site: both LAN 1 hosts reach the LAN 2 host, and back.
  ASSERT_TRUE(first_reply(lan1_a, kLan2A, deadline_in(30s))) << "LAN 1 never reached LAN 2";
  EXPECT_EQ(replies(lan1_a, kLan2A, 5), 5);
  EXPECT_EQ(replies(lan1_b, kLan2A, 3), 3);
  EXPECT_EQ(replies(lan2_a, kLan1B, 3), 3);
  std::cout << "check 2 done after " << seconds_since(started) << " s\n";

  // 3. LAN 2 reaches the road warrior's tunnel address through g2, c being
  // behind its NAT: directly or relayed by g1, whatever the mesh found.
  ASSERT_TRUE(first_reply(lan2_a, c.tun4(), deadline_in(30s))) << "LAN 2 never reached c at " << c.tun4();
  EXPECT_EQ(replies(lan2_a, c.tun4(), 5), 5);
  const json s2 = g2.status();
  std::cout << "g2's path to c: " << peer_path(s2, c.id()) << " (via '" << peer_via(s2, c.id()) << "')\n";
  EXPECT_GE(peer_counter(s2, c.id(), "rx_packets"), 5u) << "the replies did not come back through g2\n"
                                                        << s2.dump(2);
  std::cout << "check 3 done after " << seconds_since(started) << " s\n";

  // 4. Nothing inner in the clear on the internet. g1's internet side
  // carries all of LAN 1's traffic to LAN 2; LAN 2's own interface shows
  // the marker did arrive, so its absence outside means something.
  {
    Capture outside(g1.ns(), "ul0", dir / "outside.pcap", dir / "tcpdump-outside.log");
    Capture inside(lan2_a, "eth0", dir / "inside.pcap", dir / "tcpdump-inside.log");
    RunResult ping = run(&lan1_a, {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", "-s", "100", "-p",
                                   kPingMarkerHex, kLan2A},
                         30s);
    const std::vector<uint8_t> udp_marker(kUdpMarker.begin(), kUdpMarker.end());
    EXPECT_EQ(send_udp_from(lan1_a, kLan2A, kMarkerPort, {udp_marker, udp_marker, udp_marker}), 3u);
    // The datagrams are in flight when send returns: wait until LAN 2 has them.
    const bool arrived = poll_until(deadline_in(10s), [&] { return file_contains(inside.pcap(), kUdpMarker); });
    outside.stop();
    inside.stop();
    ASSERT_TRUE(ping.ok()) << ping.describe();
    ASSERT_TRUE(arrived) << "the UDP marker never reached LAN 2, so the outside check proves nothing";
    ASSERT_TRUE(file_contains(inside.pcap(), kPingMarker))
        << "the ping marker is not in LAN 2's capture, so the outside check proves nothing";

    size_t tunneled = 0;
    for (const auto& p : read_pcap_udp(outside.pcap()))
      if (p.src == kG1 && p.dst == kG2 && p.dport == ManagedHost::kPort) ++tunneled;
    // 5 echoes, and the 3 UDP datagrams in at least one: sent back to back,
    // they may leave g1 as one UDP GSO batch, which tcpdump sees as one.
    EXPECT_GE(tunneled, 6u) << "the capture lacks the tunnel's datagrams g1 -> g2; "
                            << pcap_packet_count(outside.pcap()) << " packets in all";

    const std::string raw = read_file(outside.pcap());
    EXPECT_EQ(raw.find(kPingMarker), std::string::npos) << "the ping marker crossed the internet in the clear";
    EXPECT_EQ(raw.find(kUdpMarker), std::string::npos) << "the UDP marker crossed the internet in the clear";
    const std::vector<std::pair<std::string, std::string>> inner = {
        {"lan1-a", kLan1A},      {"lan1-b", kLan1B},      {"lan2-a", kLan2A},
        {"g1 tunnel", g1.tun4()}, {"g2 tunnel", g2.tun4()}, {"c tunnel", c.tun4()},
    };
    for (const auto& [what, address] : inner) {
      EXPECT_EQ(raw.find(address_bytes(address)), std::string::npos)
          << what << " address " << address << " is in the outside capture in the clear";
    }
  }
  std::cout << "check 4 done after " << seconds_since(started) << " s\n";
}

}  // namespace
}  // namespace cordon::netns
