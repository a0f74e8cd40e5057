// Site-link sessions (docs/site-links.md, "Sessions"), simulated: a primary
// and its secondaries with heartbeats, loss, the secondary's recovery
// back-off, connections ended with a reset or an ICMP error, administration
// shutdown, and a primary serving a thousand secondaries that rekey.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "core/node.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/common/filter_packets.hpp"
#include "tests/sim/traffic.hpp"

namespace cordon::testing {
namespace {

constexpr int64_t kS = kNsPerSecond;

link::SessionTimers timers(bool secondary) { return link::SessionTimers{15 * kS, 120 * kS, secondary, false}; }

// A is the primary: it learns B's endpoint and is the key master; B, the
// secondary, connects to A. Heartbeats replace keepalives.
SimLink site_link() {
  SimLink l = make_sim_link(SimLinkOptions{.keepalive_ns = 0, .a_knows_b = false});
  l.a_config.peers[0].session = timers(false);
  l.a_config.peers[0].key_master = true;
  l.b_config.peers[0].session = timers(true);
  l.b_config.peers[0].key_master = false;
  l.b_config.tunnel_addresses = {l.b.tunnel_v4, l.b.tunnel_v6};
  return l;
}

std::vector<std::string_view> events(const SimHost& h, std::string_view name) {
  std::vector<std::string_view> out;
  for (const SessionLogEvent& e : h.counters().session_events) {
    if (e.event == name) out.push_back(e.reason);
  }
  return out;
}

std::vector<int64_t> retry_waits(const SimHost& h) {
  std::vector<int64_t> out;
  for (const SessionLogEvent& e : h.counters().session_events) {
    if (e.event == "session_retry") out.push_back(e.wait_ns / kS);
  }
  return out;
}

std::string session_state(const SimHost& h, HostId peer) {
  const auto st = h.peer_status(peer);
  return st && st->session ? st->session->state : "none";
}

struct SitePair {
  ManualClock clock;
  SimNetwork network{clock, 0x517e};
  SimLink link = site_link();
  std::unique_ptr<SimHost> a, b;
  SitePair() {
    SimHostOptions options;
    options.rekey = true;
    a = std::make_unique<SimHost>(network, clock, link.a_config, link.a.underlay, nullptr, options);
    options.seed = 2;
    b = std::make_unique<SimHost>(network, clock, link.b_config, link.b.underlay, nullptr, options);
  }
  bool run(int64_t ns) { return run_for(clock, network, {a.get(), b.get()}, ns); }
  void cut(bool off) { network.set_default_conditions(LinkConditions{.loss_percent = off ? 100.0 : 0.0}); }
};

TEST(SiteLinkSim, ALostSessionEndsConnectionsAndTheSecondaryBacksOffThenRecovers) {
  SitePair p;
  ASSERT_TRUE(p.run(2 * kS));
  EXPECT_EQ(session_state(*p.a, p.link.b.id), "up");
  EXPECT_EQ(session_state(*p.b, p.link.a.id), "up");
  Stream b_to_a(*p.b, p.link.b, p.link.a, 1);
  Ledger at_a(b_to_a);
  for (int i = 0; i < 10; ++i) b_to_a.send();
  ASSERT_TRUE(p.run(kS));
  at_a.collect(*p.a);
  EXPECT_EQ(at_a.delivered(), 10u);

  // The underlay goes: 15 s of quiet, heartbeats every 15 s, lost 120 s
  // after the first unanswered one.
  p.cut(true);
  ASSERT_TRUE(p.run(130 * kS));
  EXPECT_EQ(session_state(*p.b, p.link.a.id), "up");
  ASSERT_TRUE(p.run(20 * kS));
  EXPECT_EQ(session_state(*p.a, p.link.b.id), "lost");
  EXPECT_EQ(session_state(*p.b, p.link.a.id), "lost");
  EXPECT_EQ(events(*p.a, "session_lost"), std::vector<std::string_view>{"heartbeat_timeout"});
  EXPECT_EQ(events(*p.b, "session_lost"), std::vector<std::string_view>{"heartbeat_timeout"});

  // Connections through the lost link are ended: a TCP segment gets a
  // reset, a UDP datagram an ICMP destination unreachable, in the tunnel.
  (void)p.b->tun().take_delivered();
  PacketSpec tcp;
  tcp.source = p.link.b.tunnel_v4;
  tcp.destination = p.link.a.tunnel_v4;
  p.b->tun().inject(make_packet(tcp));
  b_to_a.send();
  ASSERT_TRUE(p.run(kNsPerMs));
  const auto replies = p.b->tun().take_delivered();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0][9], std::byte{6});                    // TCP
  EXPECT_NE(std::to_integer<uint8_t>(replies[0][33]) & 0x04, 0);  // RST
  EXPECT_EQ(replies[1][9], std::byte{1});                    // ICMP
  EXPECT_EQ(replies[1][20], std::byte{3});                   // destination unreachable
  // The reset comes from the peer's address, the ICMP error from this
  // gateway's tunnel address.
  EXPECT_EQ(std::to_integer<uint8_t>(replies[0][15]), p.link.a.tunnel_v4.bytes[3]);
  EXPECT_EQ(std::to_integer<uint8_t>(replies[1][15]), p.link.b.tunnel_v4.bytes[3]);
  EXPECT_EQ(p.b->counters().tx_drop(DropReason::kSessionDown), 2u);

  // The secondary retries after 5 s, 10 s more, 15 s more, ... (section
  // 2.1.7); its first try at start waited 0.
  ASSERT_TRUE(p.run(200 * kS));
  const std::vector<int64_t> waits = retry_waits(*p.b);
  ASSERT_GE(waits.size(), 7u);
  EXPECT_EQ(std::vector<int64_t>(waits.begin(), waits.begin() + 7), (std::vector<int64_t>{0, 5, 10, 15, 20, 25, 30}));
  EXPECT_TRUE(retry_waits(*p.a).empty());  // a primary never connects

  // The underlay comes back: the next try brings the session up.
  p.cut(false);
  ASSERT_TRUE(p.run(65 * kS));
  EXPECT_EQ(session_state(*p.a, p.link.b.id), "up");
  EXPECT_EQ(session_state(*p.b, p.link.a.id), "up");
  for (int i = 0; i < 10; ++i) b_to_a.send();
  ASSERT_TRUE(p.run(kS));
  at_a.collect(*p.a);
  EXPECT_EQ(at_a.delivered(), 20u);
}

TEST(SiteLinkSim, ASessionShutDownByThePrimaryStaysDownUntilStarted) {
  SitePair p;
  ASSERT_TRUE(p.run(2 * kS));
  ASSERT_TRUE(p.a->node().session_command(p.link.b.id, Node::SessionCommand::kShutdown, p.a->now()));
  ASSERT_TRUE(p.run(kS));
  EXPECT_EQ(session_state(*p.a, p.link.b.id), "shutdown");
  EXPECT_EQ(session_state(*p.b, p.link.a.id), "lost");
  EXPECT_EQ(events(*p.b, "session_lost"), std::vector<std::string_view>{"peer_shutdown"});

  // The secondary keeps trying; the primary hears none of it.
  Stream b_to_a(*p.b, p.link.b, p.link.a, 1);
  ASSERT_TRUE(p.run(120 * kS));
  EXPECT_EQ(session_state(*p.a, p.link.b.id), "shutdown");
  EXPECT_GT(p.a->counters().rx_drop(DropReason::kSessionDown), 0u);
  EXPECT_FALSE(p.a->node().session_command(HostId{0x00ff00ff}, Node::SessionCommand::kStart, p.a->now()));

  ASSERT_TRUE(p.a->node().session_command(p.link.b.id, Node::SessionCommand::kStart, p.a->now()));
  ASSERT_TRUE(p.run(65 * kS));
  EXPECT_EQ(session_state(*p.a, p.link.b.id), "up");
  EXPECT_EQ(session_state(*p.b, p.link.a.id), "up");
  Ledger at_a(b_to_a);
  b_to_a.send();
  ASSERT_TRUE(p.run(kS));
  at_a.collect(*p.a);
  EXPECT_EQ(at_a.delivered(), 1u);
}

// Secondary i of `count`: host 0x0001xxxx with xxxx = i + 2, tunnel address
// 10.(64 + i / 256).(i % 256).2, underlay 198.18.(i / 256).(i % 256):5653
// (RFC 2544's benchmark range); its own link key.
struct Fleet {
  SimLinkHost primary;
  std::vector<SimLinkHost> secondaries;
  NodeConfig primary_config;
  std::vector<NodeConfig> configs;
};

crypto::SecretBytes fleet_key(size_t i) {
  std::array<std::byte, kLinkKeySize> k{};
  for (size_t j = 0; j < k.size(); ++j) k[j] = std::byte(static_cast<uint8_t>(i * 7 + j * 13 + (i >> 8)));
  return crypto::SecretBytes(k);
}

Fleet make_fleet(size_t count, int64_t rekey_period_ns) {
  Fleet f;
  f.primary = SimLinkHost{HostId{0x00010001}, IpAddress::v4({10, 63, 0, 1}), IpAddress::v6({0xfd, 0x63}),
                          Endpoint{IpAddress::v4({192, 0, 2, 1}), 5653}};
  f.primary_config.self = f.primary.id;
  for (size_t i = 0; i < count; ++i) {
    const auto hi = static_cast<uint8_t>(i / 256), lo = static_cast<uint8_t>(i % 256);
    SimLinkHost s{HostId{static_cast<uint32_t>(0x00010002 + i)}, IpAddress::v4({10, uint8_t(64 + hi), lo, 2}),
                  IpAddress::v6({0xfd, 0x64, hi, lo}), Endpoint{IpAddress::v4({198, 18, hi, lo}), 5653}};
    PeerConfig to_secondary;
    to_secondary.id = s.id;
    to_secondary.name = "secondary";
    to_secondary.link_key = fleet_key(i);
    to_secondary.allowed_prefixes = {Prefix{s.tunnel_v4, 32}};
    to_secondary.suite = crypto::Suite::kAes128Gcm;
    to_secondary.keepalive_ns = 0;
    to_secondary.key_master = true;
    to_secondary.rekey_period_ns = rekey_period_ns;
    to_secondary.session = timers(false);
    // Key arrays at the P³ specification's defaults (Appendix A).
    to_secondary.key_arrays = link::KeyArrayParams{256, 86400 * kS, 82800 * kS};
    f.primary_config.peers.push_back(to_secondary);
    NodeConfig c;
    c.self = s.id;
    PeerConfig to_primary = to_secondary;
    to_primary.id = f.primary.id;
    to_primary.name = "primary";
    to_primary.link_key = fleet_key(i);
    to_primary.allowed_prefixes = {Prefix{f.primary.tunnel_v4, 32}};
    to_primary.endpoint = f.primary.underlay;
    to_primary.key_master = false;
    to_primary.session = timers(true);
    c.peers.push_back(std::move(to_primary));
    f.configs.push_back(std::move(c));
    f.secondaries.push_back(s);
  }
  return f;
}

// Thousands of secondaries per primary is the plan (the P³ functional
// specification, 2.1.1): a thousand connect, stay up, get their key arrays
// (256 entries of each kind), rekey every minute for three minutes naming
// array entries after the first round, and each one's traffic arrives once.
TEST(SiteLinkSim, APrimaryServesAThousandSecondariesThatAllRekey) {
  constexpr size_t kSecondaries = 1000;
  ManualClock clock;
  SimNetwork network(clock, 0x1000);
  network.set_default_conditions(LinkConditions{.latency_ns = 5 * kNsPerMs});
  Fleet f = make_fleet(kSecondaries, 60 * kS);
  SimHostOptions options;
  options.rekey = true;
  SimHost primary(network, clock, f.primary_config, f.primary.underlay, nullptr, options);
  std::vector<std::unique_ptr<SimHost>> secondaries;
  std::vector<SimHost*> all{&primary};
  for (size_t i = 0; i < kSecondaries; ++i) {
    options.seed = i + 2;
    secondaries.push_back(std::make_unique<SimHost>(network, clock, f.configs[i], f.secondaries[i].underlay, nullptr,
                                                    options));
    all.push_back(secondaries.back().get());
  }
  ASSERT_TRUE(run_for(clock, network, all, 185 * kS));

  size_t up = 0, done = 0, failed = 0;
  for (const SessionLogEvent& e : primary.counters().session_events) up += e.event == "session_up";
  for (const RekeyLogEvent& e : primary.counters().rekey_events) {
    done += e.event == "rekey_done";
    failed += e.event == "rekey_failed";
  }
  EXPECT_EQ(up, kSecondaries);
  EXPECT_GE(done, 3 * kSecondaries);  // rounds at start, +60 s, +120 s, +180 s
  EXPECT_EQ(failed, 0u);
  const NodeStatus status = primary.node().status();
  size_t rekeyed = 0;
  size_t with_arrays = 0;
  for (const PeerStatus& p : status.peers) {
    rekeyed += p.rekey.generation >= 3;
    EXPECT_EQ(p.session->state, "up") << p.id.to_string();
    // Delivered, and three rounds (+60, +120, +180 s) took an entry of each.
    with_arrays += p.rekey.arrays && (*p.rekey.arrays)[0].id != 0 && (*p.rekey.arrays)[0].left == 253 &&
                   (*p.rekey.arrays)[1].left == 253;
  }
  EXPECT_EQ(with_arrays, kSecondaries);
  EXPECT_EQ(rekeyed, kSecondaries);

  // One packet from each secondary reaches the primary's tunnel once.
  for (size_t i = 0; i < kSecondaries; ++i) {
    secondaries[i]->tun().inject(make_test_packet(TestPacketSpec{
        .src = f.secondaries[i].tunnel_v4, .dst = f.primary.tunnel_v4, .stream = static_cast<uint32_t>(i)}));
  }
  ASSERT_TRUE(run_for(clock, network, all, kS));
  EXPECT_EQ(primary.tun().take_delivered().size(), kSecondaries);
}

}  // namespace
}  // namespace cordon::testing
