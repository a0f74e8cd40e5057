// The point-to-point tunnel on real kernels: two `cordon up` daemons in
// their own network namespaces, joined by a veth underlay (CordonPair).
// What only the kernel can show lives here: TUN devices, real UDP sockets,
// address changes, process crashes. Protocol logic is covered by the unit
// and simulation tiers.
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;

// "CORDONMARK": a payload pattern we can look for in captures.
constexpr const char* kMarkerHex = "434f52444f4e4d41524b";
constexpr std::string_view kMarker = "CORDONMARK";

using HarnessTest = NetnsTest;
using TunnelTest = NetnsTest;

// The harness itself: the veth underlay carries traffic, tcpdump captures
// it, and the pcap reader and the in-namespace UDP sender work. Without this
// the capture-based tests below could pass on an empty capture.
TEST_F(HarnessTest, UnderlayCarriesAndCapturesUdp) {
  TempDir dir("netns-harness");
  Namespace a("harness-a"), b("harness-b");
  Underlay u;
  connect_veth(a, b, u);
  ASSERT_TRUE(wait_for_ping(a, u.b_v4, deadline_in(10s)));
  ASSERT_TRUE(wait_for_ping(a, u.b_v6, deadline_in(10s)));

  Capture cap(b, u.iface, dir / "udp.pcap", dir / "tcpdump.log", "udp");
  std::vector<std::vector<uint8_t>> payloads = {{'C', 'O', 'R', 'D', 'O', 'N', 'M', 'A', 'R', 'K'},
                                                {1, 2, 3}};
  EXPECT_EQ(send_udp_from(a, u.b_v4, 40000, payloads), 2u);
  EXPECT_EQ(send_udp_from(a, u.b_v6, 40001, payloads), 2u);
  // Poll the pcap (tcpdump -U writes each packet at once) rather than sleep.
  poll_until(deadline_in(10s), [&] { return read_pcap_udp(cap.pcap()).size() >= 4; });
  cap.stop();

  std::vector<UdpPacket> got = read_pcap_udp(cap.pcap());
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got[0].src, u.a_v4);
  EXPECT_EQ(got[0].dst, u.b_v4);
  EXPECT_EQ(got[0].dport, 40000);
  EXPECT_EQ(got[0].payload, payloads[0]);
  EXPECT_EQ(got[2].dst, u.b_v6);
  EXPECT_EQ(got[2].dport, 40001);
  EXPECT_TRUE(file_contains(cap.pcap(), kMarker));
}

// (a) Both tunnel address families cross an IPv4 underlay, in both
// directions. B had no endpoint for A and learnt it from A's first packet.
TEST_F(TunnelTest, PingV4AndV6OverIpv4Underlay) {
  CordonPair pair({.tag = "ping4"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s))) << "A cannot ping B's tunnel address";
  EXPECT_TRUE(wait_for_ping(pair.a(), CordonPair::kTunB6, deadline_in(10s)));
  EXPECT_TRUE(wait_for_ping(pair.b(), CordonPair::kTunA4, deadline_in(10s)));
  EXPECT_TRUE(wait_for_ping(pair.b(), CordonPair::kTunA6, deadline_in(10s)));

  json b = pair.status_b();
  EXPECT_EQ(peer_endpoint(b, CordonPair::kIdA),
            endpoint_text(pair.a_underlay(), CordonPair::kPort))
      << b.dump(2);
  EXPECT_GT(peer_counter(b, CordonPair::kIdA, "rx_packets"), 0u) << b.dump(2);
}

// (a) The same over an underlay that has only IPv6 addresses.
TEST_F(TunnelTest, PingV4AndV6OverIpv6Underlay) {
  CordonPair pair({.tag = "ping6", .underlay = Family::kV6});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s))) << "A cannot ping B's tunnel address";
  EXPECT_TRUE(wait_for_ping(pair.a(), CordonPair::kTunB6, deadline_in(10s)));
  EXPECT_TRUE(wait_for_ping(pair.b(), CordonPair::kTunA4, deadline_in(10s)));
  EXPECT_TRUE(wait_for_ping(pair.b(), CordonPair::kTunA6, deadline_in(10s)));

  json b = pair.status_b();
  EXPECT_EQ(peer_endpoint(b, CordonPair::kIdA), "[fd00:200::1]:51820") << b.dump(2);
}

// (b) A bulk TCP transfer completes through the tunnel. No speed threshold:
// speed is measured by bench/run.sh, not asserted.
TEST_F(TunnelTest, Iperf3TcpTransferCompletes) {
  CordonPair pair({.tag = "iperf"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));

  Process server(&pair.b(), {"iperf3", "-s", "--one-off", "-B", CordonPair::kTunB4, "-p", "5201"},
                 pair.file("iperf3-server.log"), "iperf3 server");
  ASSERT_TRUE(wait_for_tcp_listener(pair.b(), 5201, deadline_in(10s))) << server.log_text();

  RunResult r = run(&pair.a(), {"iperf3", "-c", CordonPair::kTunB4, "-p", "5201", "-t", "10", "-J"},
                    90s);
  ASSERT_TRUE(r.ok()) << r.describe();
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_TRUE(j.contains("end") && j["end"].contains("sum_received")) << r.out;
  double bps = j["end"]["sum_received"].value("bits_per_second", 0.0);
  EXPECT_GT(bps, 0.0);
  EXPECT_GT(j["end"]["sum_received"].value("bytes", 0.0), 0.0);

  auto st = server.wait_exit(deadline_in(20s));
  ASSERT_TRUE(st.has_value()) << "iperf3 --one-off server did not exit";
  EXPECT_EQ(server.exit_code(), 0) << server.log_text();
}

// Lanes (docs/design.md, "Lanes"): sixteen TCP flows to one peer spread
// over both workers of each daemon, in both directions. Without lanes the
// peer's datagrams all reach one socket, so one worker of each daemon
// would receive nothing.
TEST_F(TunnelTest, SixteenFlowsToOnePeerSpreadOverBothWorkers) {
  CordonPair pair({.tag = "lanes", .workers = 2});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));

  Process server(&pair.b(), {"iperf3", "-s", "--one-off", "-B", CordonPair::kTunB4, "-p", "5201"},
                 pair.file("iperf3-server.log"), "iperf3 server");
  ASSERT_TRUE(wait_for_tcp_listener(pair.b(), 5201, deadline_in(10s))) << server.log_text();
  RunResult r = run(&pair.a(), {"iperf3", "-c", CordonPair::kTunB4, "-p", "5201", "-P", "16", "-t", "3"}, 90s);
  ASSERT_TRUE(r.ok()) << r.describe();
  ASSERT_TRUE(server.wait_exit(deadline_in(20s)).has_value()) << "iperf3 --one-off server did not exit";

  for (const auto& [side, status] : {std::pair{"A", pair.status_a()}, std::pair{"B", pair.status_b()}}) {
    const json& w = status["workers"];
    SCOPED_TRACE(std::string(side) + ": " + w.dump());
    EXPECT_EQ(w.value("lanes", false), true);
    for (const char* key : {"datagrams_in", "packets_in"}) {
      ASSERT_TRUE(w.contains(key) && w[key].is_array() && w[key].size() == 2u) << key;
      const uint64_t first = w[key][0].get<uint64_t>(), second = w[key][1].get<uint64_t>();
      // Each worker carries at least one flow's share of sixteen, give or
      // take: a fiftieth of the total is far above what control traffic
      // alone would give an idle worker.
      EXPECT_GT(first * 50, first + second) << key;
      EXPECT_GT(second * 50, first + second) << key;
    }
  }
}

// (c) Inner payloads never cross the underlay in the clear. The control
// capture on the tunnel device proves the marker was really sent.
TEST_F(TunnelTest, PayloadIsNotVisibleOnTheUnderlay) {
  CordonPair pair({.tag = "marker"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));

  Capture underlay(pair.a(), pair.underlay().iface, pair.file("underlay.pcap"),
                   pair.file("tcpdump-underlay.log"));
  Capture tunnel(pair.a(), "cordon0", pair.file("tunnel.pcap"), pair.file("tcpdump-tunnel.log"));
  RunResult ping = run(&pair.a(), {"ping", "-n", "-c", "5", "-i", "0.2", "-W", "2", "-p", kMarkerHex,
                                   "-s", "100", CordonPair::kTunB4});
  underlay.stop();
  tunnel.stop();
  ASSERT_TRUE(ping.ok()) << ping.describe();

  ASSERT_TRUE(file_contains(tunnel.pcap(), kMarker))
      << "the marker is not in the tunnel capture, so the underlay check proves nothing";

  size_t to_b = 0;
  for (const auto& p : read_pcap_udp(underlay.pcap()))
    if (p.dst == pair.b_underlay() && p.dport == CordonPair::kPort) ++to_b;
  EXPECT_GE(to_b, 5u) << "the underlay capture lacks the tunnel's datagrams";
  EXPECT_FALSE(file_contains(underlay.pcap(), kMarker)) << "plaintext marker seen on the underlay";
}

// (d) A peer holding another link key gets nothing through; B counts the
// failed tags and does not learn the sender's address.
TEST_F(TunnelTest, WrongKeyGetsNoTrafficThrough) {
  CordonPair pair({.tag = "wrongkey", .mismatched_keys = true});
  RunResult ping = run(&pair.a(), {"ping", "-n", "-c", "5", "-i", "0.2", "-W", "1",
                                   CordonPair::kTunB4});
  EXPECT_FALSE(ping.ok()) << ping.describe();
  auto stats = parse_ping_stats(ping.out);
  ASSERT_TRUE(stats.has_value()) << ping.describe();
  EXPECT_EQ(stats->received, 0);

  json b;
  bool counted = poll_until(deadline_in(10s), [&] {
    b = pair.status_b();
    return drop_count(b, "auth_failure") > 0;
  });
  EXPECT_TRUE(counted) << "B shows no auth_failure drops:\n" << b.dump(2);
  EXPECT_EQ(peer_endpoint(b, CordonPair::kIdA), std::nullopt)
      << "B learnt an endpoint from unauthenticated packets:\n" << b.dump(2);
  EXPECT_EQ(peer_counter(b, CordonPair::kIdA, "rx_packets"), 0u) << b.dump(2);
}

// A typo in an `id` on the sender: the receiver's drop log names the
// sender's address and host number and the likely cause
// (docs/configuration.md, "Troubleshooting"), once per report interval.
TEST_F(TunnelTest, AnIdTypoOnTheSenderIsNamedInTheReceiversLog) {
  CordonPair pair({.tag = "idtypo"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  const std::string from = endpoint_text(pair.a_underlay(), CordonPair::kPort);
  auto restart_a = [&] {
    pair.daemon_a().signal(SIGTERM);
    ASSERT_TRUE(pair.daemon_a().wait_exit(deadline_in(10s)).has_value());
    pair.rewrite_config_a();
    pair.start_a();
  };
  auto b_logs = [&](const std::string& needle) {
    return poll_until(deadline_in(30s), [&] {
      run(&pair.a(), {"ping", "-n", "-c", "1", "-W", "1", CordonPair::kTunB4});
      return pair.daemon_b().log_text().find(needle) != std::string::npos;
    });
  };

  // A has B's ID wrong: B finds A by its host number, and A's datagrams
  // fail there, because both IDs are in the key derivation.
  pair.spec_a().peers[0].id = "0x0001000c";
  restart_a();
  EXPECT_TRUE(b_logs("auth_failure from " + from + " with host number 0x000a: the two ends hold different link "
                     "keys, or the sender has another ID for this host or for itself"))
      << pair.daemon_b().log_text();

  // A's own host number is wrong: no peer of B has it.
  pair.spec_a().peers[0].id = CordonPair::kIdB;
  pair.spec_a().id = "0x0001000d";
  restart_a();
  EXPECT_TRUE(b_logs("unknown_peer from " + from + " with host number 0x000d: no peer here has that host number"))
      << pair.daemon_b().log_text();
}

// (e) Authentic datagrams captured on the underlay and sent again are
// dropped as replays (docs/design.md, decision 6), do not move B's idea of A's
// endpoint, and do not disturb the live traffic.
TEST_F(TunnelTest, ReplayedDatagramsAreDropped) {
  CordonPair pair({.tag = "replay"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));

  Capture cap(pair.a(), pair.underlay().iface, pair.file("replay.pcap"),
              pair.file("tcpdump-replay.log"), "udp");
  RunResult ping = run(&pair.a(), {"ping", "-n", "-c", "5", "-i", "0.2", CordonPair::kTunB4});
  cap.stop();
  ASSERT_TRUE(ping.ok()) << ping.describe();

  std::vector<std::vector<uint8_t>> payloads;
  for (const auto& p : read_pcap_udp(cap.pcap()))
    if (p.dst == pair.b_underlay() && p.dport == CordonPair::kPort) payloads.push_back(p.payload);
  ASSERT_GE(payloads.size(), 5u) << "captured too few datagrams to replay";

  json before = pair.status_b();
  uint64_t base = drop_count(before, "replay") + drop_count(before, "too_old");
  ASSERT_EQ(send_udp_from(pair.a(), pair.b_underlay(), CordonPair::kPort, payloads),
            payloads.size());

  json after;
  bool counted = poll_until(deadline_in(10s), [&] {
    after = pair.status_b();
    return drop_count(after, "replay") + drop_count(after, "too_old") >= base + payloads.size();
  });
  EXPECT_TRUE(counted) << "replayed " << payloads.size() << " datagrams; before:\n"
                       << before.dump(2) << "\nafter:\n" << after.dump(2);
  // The replays came from another source port; a replay must not roam.
  EXPECT_EQ(peer_endpoint(after, CordonPair::kIdA),
            endpoint_text(pair.a_underlay(), CordonPair::kPort))
      << after.dump(2);

  RunResult again = run(&pair.a(), {"ping", "-n", "-c", "3", "-i", "0.2", "-W", "2",
                                    CordonPair::kTunB4});
  EXPECT_TRUE(again.ok()) << again.describe();
}

// (f) A's underlay address changes while traffic flows. A's replies come
// from the new address, B moves A's endpoint there (roaming, docs/design.md,
// decision 6; docs/protocol.md, "Roaming") and traffic resumes in both
// directions.
TEST_F(TunnelTest, UnderlayAddressChangeRoams) {
  CordonPair pair({.tag = "roam"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  const std::string iface = pair.underlay().iface;
  const std::string new_address = "10.200.0.3";

  // Without promote_secondaries, deleting the primary address would delete
  // the new (secondary) one with it.
  run_checked(&pair.a(), {"sysctl", "-q", "-w", "net.ipv4.conf." + iface + ".promote_secondaries=1"});
  Process pinger(&pair.a(), {"ping", "-n", "-i", "0.2", CordonPair::kTunB4},
                 pair.file("background-ping.log"), "background ping");
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] {
    return pinger.log_text().find("icmp_seq=") != std::string::npos;
  })) << pinger.log_text();

  run_checked(&pair.a(), {"ip", "addr", "add", new_address + "/24", "dev", iface});
  run_checked(&pair.a(), {"ip", "addr", "del", pair.a_underlay() + "/24", "dev", iface});

  const std::string expected = endpoint_text(new_address, CordonPair::kPort);
  json b;
  bool roamed = poll_until(deadline_in(30s), [&] {
    b = pair.status_b();
    return peer_endpoint(b, CordonPair::kIdA) == expected;
  }, 100ms);
  EXPECT_TRUE(roamed) << "B did not move A's endpoint to " << expected << ":\n" << b.dump(2);
  EXPECT_TRUE(wait_for_ping(pair.a(), CordonPair::kTunB4, deadline_in(20s)));
  EXPECT_TRUE(wait_for_ping(pair.b(), CordonPair::kTunA4, deadline_in(20s)));
  if (const json* peer = find_peer(b, CordonPair::kIdA); peer && peer->contains("roams"))
    EXPECT_GE(peer_counter(b, CordonPair::kIdA, "roams"), 1u) << b.dump(2);
}

// (g) A is killed with SIGKILL and started again with the same config and
// state dir. Its counters restart above the persisted floor, so B (left
// alone) accepts them and traffic resumes.
TEST_F(TunnelTest, RestartAfterKillResumesWithoutTouchingB) {
  CordonPair pair({.tag = "restart"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  RunResult warm = run(&pair.a(), {"ping", "-n", "-c", "20", "-i", "0.01", CordonPair::kTunB4});
  ASSERT_TRUE(warm.ok()) << warm.describe();
  const pid_t b_pid = pair.daemon_b().pid();

  pair.daemon_a().signal(SIGKILL);
  ASSERT_TRUE(pair.daemon_a().wait_exit(deadline_in(10s)).has_value());
  EXPECT_EQ(pair.daemon_a().exit_code(), -SIGKILL);
  // The kernel removes a non-persistent TUN device with its last fd.
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return !run(&pair.a(), {"ip", "link", "show", "dev", "cordon0"}).ok();
  }));

  pair.start_a();
  EXPECT_TRUE(pair.wait_for_tunnel(deadline_in(30s))) << "A cannot reach B after the restart";
  EXPECT_TRUE(wait_for_ping(pair.b(), CordonPair::kTunA4, deadline_in(20s)));
  RunResult after = run(&pair.a(), {"ping", "-n", "-c", "5", "-i", "0.2", "-W", "2",
                                    CordonPair::kTunB4});
  EXPECT_TRUE(after.ok()) << after.describe();

  EXPECT_TRUE(pair.daemon_b().running());
  EXPECT_EQ(pair.daemon_b().pid(), b_pid);
}

}  // namespace
}  // namespace cordon::netns
