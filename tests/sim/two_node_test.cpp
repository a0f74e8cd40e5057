// Two Cordon nodes on a simulated underlay: loss, reordering, duplication,
// roaming, restarts, keepalives and replays, all in one process on a
// ManualClock (docs/design.md, practice 3). Every run is deterministic: the seeds are
// fixed, so a failure reproduces exactly.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "core/node.hpp"
#include "testing/manual_clock.hpp"
#include "testing/nat_model.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/sim/traffic.hpp"

namespace cordon::testing {
namespace {

constexpr uint32_t kStreamAtoB = 1;
constexpr uint32_t kStreamBtoA = 2;

// Two hosts, A and B, with the link of make_sim_link; A may sit behind a NAT.
struct TwoNodes {
  explicit TwoNodes(uint64_t seed, SimLinkOptions options = {}, std::shared_ptr<NatModel> a_nat = nullptr,
                    std::optional<Endpoint> a_inside = std::nullopt, SimHostOptions host_options = {})
      : network(clock, seed), link(make_sim_link(options)) {
    a = std::make_unique<SimHost>(network, clock, link.a_config, a_inside.value_or(link.a.underlay), a_nat,
                                  host_options);
    b = std::make_unique<SimHost>(network, clock, link.b_config, link.b.underlay, nullptr, host_options);
    a_to_b = std::make_unique<Stream>(*a, link.a, link.b, kStreamAtoB);
    b_to_a = std::make_unique<Stream>(*b, link.b, link.a, kStreamBtoA);
    at_b = std::make_unique<Ledger>(*a_to_b);
    at_a = std::make_unique<Ledger>(*b_to_a);
  }

  bool run_for(int64_t ns) {
    const bool ok = testing::run_for(clock, network, {a.get(), b.get()}, ns);
    at_b->collect(*b);
    at_a->collect(*a);
    return ok;
  }

  // `count` packets each way, `per_ms` of them per simulated millisecond.
  void exchange(size_t count, size_t per_ms = 1, size_t size = 0) {
    for (size_t i = 0; i < count; ++i) {
      a_to_b->send(size);
      b_to_a->send(size);
      if ((i + 1) % per_ms == 0) ASSERT_TRUE(run_for(kNsPerMs));
    }
  }

  PeerStatus b_view_of_a() const { return b->peer_status(link.a.id).value(); }
  PeerStatus a_view_of_b() const { return a->peer_status(link.b.id).value(); }

  ManualClock clock;
  SimNetwork network;
  SimLink link;
  std::unique_ptr<SimHost> a, b;
  std::unique_ptr<Stream> a_to_b, b_to_a;
  std::unique_ptr<Ledger> at_b, at_a;
};

void expect_clean(const Ledger& l) {
  EXPECT_EQ(l.corrupt(), 0u) << l.summary();
  EXPECT_EQ(l.misfiled(), 0u) << l.summary();
  EXPECT_EQ(l.duplicates(), 0u) << l.summary();
}

// (1) Thousands of packets each way through 5% loss, 5% duplication and 10%
// reordering: what arrives is authentic and arrives once; most arrives.
TEST(TwoNodeSim, LossyReorderingDuplicatingLinkDeliversAuthenticPacketsAtMostOnce) {
  SimHostOptions host;
  host.workers = 2;  // the hosts alternate worker slots, as two data-path threads would
  TwoNodes s(0x5eed0001, {}, nullptr, std::nullopt, host);
  s.network.set_default_conditions(LinkConditions{.loss_percent = 5,
                                                  .duplicate_percent = 5,
                                                  .reorder_percent = 10,
                                                  .latency_ns = 2 * kNsPerMs,
                                                  .jitter_ns = kNsPerMs,
                                                  .hold_ns = 8 * kNsPerMs});
  ASSERT_TRUE(s.run_for(100 * kNsPerMs));  // first floors persisted

  constexpr size_t kPackets = 4000;
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < kPackets; ++i) {
    // Sizes from the smallest test packet to the tunnel MTU, one in three IPv6.
    const bool v6 = i % 3 == 0;
    const size_t size = (v6 ? kMinTestPacketV6 : kMinTestPacketV4) + rng() % (1420 - kMinTestPacketV6 + 1);
    s.a_to_b->send(size, v6);
    s.b_to_a->send(size, !v6);
    if (i % 8 == 7) ASSERT_TRUE(s.run_for(kNsPerMs));
  }
  ASSERT_TRUE(s.run_for(kNsPerSecond));  // drain: every held datagram is delivered

  for (const Ledger* l : {s.at_b.get(), s.at_a.get()}) {
    expect_clean(*l);
    EXPECT_GE(l->delivered(), kPackets * 90 / 100) << l->summary();  // 5% loss: about 95% arrive
  }
  EXPECT_GT(s.network.stats().lost, 0u);
  EXPECT_GT(s.network.stats().duplicated, 0u);
  EXPECT_GT(s.network.stats().held, 0u);

  for (SimHost* h : {s.a.get(), s.b.get()}) {
    const SimHostCounters& c = h->counters();
    EXPECT_EQ(c.contract_violations, 0u);
    EXPECT_EQ(c.sent, kPackets) << "every packet should have been sealed and sent";
    EXPECT_EQ(c.rx_drop(DropReason::kAuthFailure), 0u);
    // The network's copies are the only replays; each is dropped by name.
    EXPECT_GT(c.rx_drop(DropReason::kReplay), 0u);
  }
  // The core's own counters agree with what the host saw.
  EXPECT_EQ(drops(s.b_view_of_a(), DropReason::kReplay), s.b->counters().rx_drop(DropReason::kReplay));
  EXPECT_EQ(s.b_view_of_a().rx_packets, s.at_b->delivered());
  EXPECT_EQ(s.a_view_of_b().rx_packets, s.at_a->delivered());
  EXPECT_EQ(s.b_view_of_a().roams, 0u);
}

// (2) A moves to a new underlay address mid-stream. Its next authentic
// packet moves B's idea of its endpoint, and traffic continues both ways.
TEST(TwoNodeSim, RoamingHostKeepsTrafficFlowingBothWays) {
  const IpAddress inside = IpAddress::v4({10, 0, 0, 1});
  const IpAddress first = IpAddress::v4({192, 0, 2, 1});
  const IpAddress second = IpAddress::v4({192, 0, 2, 99});
  auto nat = std::make_shared<AddressRewriteNat>(inside, first);
  TwoNodes s(0x5eed0002, SimLinkOptions{.a_public = Endpoint{first, 51820}}, nat, Endpoint{inside, 51820});
  s.network.set_default_conditions(LinkConditions{.latency_ns = 5 * kNsPerMs});
  ASSERT_TRUE(s.run_for(100 * kNsPerMs));

  s.exchange(200);
  ASSERT_TRUE(s.run_for(50 * kNsPerMs));
  EXPECT_EQ(s.at_b->delivered(), 200u);
  EXPECT_EQ(s.at_a->delivered(), 200u);
  EXPECT_EQ(s.b_view_of_a().endpoint, (Endpoint{first, 51820}));

  nat->move_to(second);
  const uint64_t moved_at = s.b_to_a->sent();
  s.exchange(500);
  ASSERT_TRUE(s.run_for(50 * kNsPerMs));

  const PeerStatus view = s.b_view_of_a();
  EXPECT_EQ(view.endpoint, (Endpoint{second, 51820}));
  EXPECT_EQ(view.roams, 1u);
  // A -> B never stopped: A's packets only changed their source.
  EXPECT_EQ(s.at_b->delivered(), 700u) << s.at_b->summary();
  // B -> A: what B sent to the old address before it heard from the new
  // one is lost (one latency's worth); everything after arrives.
  EXPECT_GE(s.at_a->delivered_in(moved_at, moved_at + 500), 480u) << s.at_a->summary();
  EXPECT_EQ(s.at_a->delivered_in(moved_at + 20, moved_at + 500), 480u) << s.at_a->summary();
  EXPECT_GT(s.network.stats().unroutable, 0u) << "datagrams in flight to the old address";
  expect_clean(*s.at_a);
  expect_clean(*s.at_b);
}

// (2b) The same move on a reordering link: datagrams A sent from its old
// address can reach B after ones from the new address. Each is authentic and
// fresh, so the endpoint may swing back for a moment (as WireGuard's does),
// but A's next datagram moves it forward again: it ends at the new address
// and B's traffic to A recovers without help.
TEST(TwoNodeSim, RoamingOnAReorderingLinkSettlesOnTheNewAddress) {
  const IpAddress inside = IpAddress::v4({10, 0, 0, 1});
  const IpAddress first = IpAddress::v4({192, 0, 2, 1});
  const IpAddress second = IpAddress::v4({192, 0, 2, 99});
  auto nat = std::make_shared<AddressRewriteNat>(inside, first);
  TwoNodes s(0x5eed0022, SimLinkOptions{.a_public = Endpoint{first, 51820}}, nat, Endpoint{inside, 51820});
  s.network.set_default_conditions(
      LinkConditions{.reorder_percent = 20, .latency_ns = 5 * kNsPerMs, .hold_ns = 10 * kNsPerMs});
  ASSERT_TRUE(s.run_for(100 * kNsPerMs));
  s.exchange(200, 4);
  nat->move_to(second);
  const uint64_t moved_at = s.b_to_a->sent();
  s.exchange(800, 4);
  ASSERT_TRUE(s.run_for(50 * kNsPerMs));

  const PeerStatus view = s.b_view_of_a();
  EXPECT_EQ(view.endpoint, (Endpoint{second, 51820}));
  EXPECT_GE(view.roams, 1u);
  RecordProperty("roams", static_cast<int>(view.roams));
  EXPECT_EQ(s.at_b->delivered(), 1000u) << s.at_b->summary();
  // Within 50 ms of simulated time (200 packets at 4 per ms) B sends to the
  // right place again, for good.
  EXPECT_EQ(s.at_a->delivered_in(moved_at + 200, moved_at + 800), 600u) << s.at_a->summary();
  expect_clean(*s.at_a);
  expect_clean(*s.at_b);
}

// (3) A restarts mid-stream, gracefully and then by crash, each time from
// its persisted counter floor. B is not touched and notices nothing: every
// packet arrives, nothing is dropped as a replay or out of its window.
TEST(TwoNodeSim, RestartFromPersistedFloorNeedsNothingFromThePeer) {
  TwoNodes s(0x5eed0003);
  s.network.set_default_conditions(LinkConditions{.latency_ns = 2 * kNsPerMs});
  ASSERT_TRUE(s.run_for(100 * kNsPerMs));

  s.exchange(300);
  const uint64_t floor_before = s.a->disk().counter_floor.value_or(0);
  EXPECT_GT(floor_before, 0u);

  s.a->restart();
  s.exchange(300);
  s.a->kill();
  s.a->start();
  s.exchange(300);
  ASSERT_TRUE(s.run_for(50 * kNsPerMs));

  EXPECT_EQ(s.a->counters().starts, 3u);
  EXPECT_EQ(s.at_b->delivered(), 900u) << s.at_b->summary();
  EXPECT_EQ(s.at_a->delivered(), 900u) << s.at_a->summary();
  expect_clean(*s.at_a);
  expect_clean(*s.at_b);
  const PeerStatus view = s.b_view_of_a();
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    EXPECT_EQ(view.drops[r], 0u) << "B dropped A's packets as " << drop_reason_name(static_cast<DropReason>(r));
  }
  EXPECT_EQ(view.roams, 0u);
  EXPECT_GE(s.a->disk().counter_floor.value_or(0), floor_before);
}

// (4) B's configuration names no endpoint for A: B learns it from A's first
// authentic packet, forgets it when it restarts, and learns it again, from
// A's data dated after the restart or, when A is idle, from A's keepalive.
TEST(TwoNodeSim, ResponderWithoutEndpointLearnsItAgainAfterRestart) {
  TwoNodes s(0x5eed0004, SimLinkOptions{.b_knows_a = false});
  s.network.set_default_conditions(LinkConditions{.latency_ns = 2 * kNsPerMs});

  // Nothing from A yet: B has nowhere to send.
  s.b_to_a->send();
  ASSERT_TRUE(settle(s.network, {s.a.get(), s.b.get()}));
  EXPECT_EQ(s.b->counters().tx_drop(DropReason::kNoEndpoint), 1u);
  EXPECT_FALSE(s.b_view_of_a().endpoint.has_value());

  ASSERT_TRUE(s.run_for(100 * kNsPerMs));
  for (int i = 0; i < 50; ++i) s.a_to_b->send();
  ASSERT_TRUE(s.run_for(20 * kNsPerMs));
  EXPECT_EQ(s.at_b->delivered(), 50u);
  EXPECT_EQ(s.b_view_of_a().endpoint, s.link.a.underlay);
  EXPECT_EQ(s.b_view_of_a().roams, 0u) << "learning an endpoint is not roaming";
  uint64_t first = s.b_to_a->sent();
  for (int i = 0; i < 50; ++i) s.b_to_a->send();
  ASSERT_TRUE(s.run_for(20 * kNsPerMs));
  EXPECT_EQ(s.at_a->delivered_in(first, first + 50), 50u);

  // Restart B: the learnt endpoint is gone until A is heard from again on
  // a datagram dated after B's start (docs/protocol.md, "Roaming"): A's
  // counter lags its clock by up to the 1 s anchor slack, so its data is
  // delivered at once but tells B where A is only once the counter has
  // re-anchored past B's start.
  s.b->restart();
  const int64_t restarted = s.clock.mono_ns();
  s.b_to_a->send();
  ASSERT_TRUE(settle(s.network, {s.a.get(), s.b.get()}));
  EXPECT_EQ(s.b->counters().tx_drop(DropReason::kNoEndpoint), 2u);
  for (int i = 0; i < 10; ++i) s.a_to_b->send();
  ASSERT_TRUE(s.run_for(20 * kNsPerMs));
  EXPECT_EQ(s.at_b->delivered(), 60u);
  EXPECT_FALSE(s.b_view_of_a().endpoint.has_value());
  while (!s.b_view_of_a().endpoint && s.clock.mono_ns() - restarted < 2 * kNsPerSecond) {
    s.a_to_b->send();
    ASSERT_TRUE(s.run_for(100 * kNsPerMs));
  }
  EXPECT_EQ(s.b_view_of_a().endpoint, s.link.a.underlay);
  first = s.b_to_a->sent();
  for (int i = 0; i < 10; ++i) s.b_to_a->send();
  ASSERT_TRUE(s.run_for(20 * kNsPerMs));
  EXPECT_EQ(s.at_a->delivered_in(first, first + 10), 10u);

  // Restart B while A is idle: A's keepalive, due 25 s after A last sent,
  // is what tells B where A is.
  ASSERT_TRUE(s.run_for(kNsPerSecond));
  s.b->restart();
  EXPECT_FALSE(s.b_view_of_a().endpoint.has_value());
  ASSERT_TRUE(s.run_for(26 * kNsPerSecond));
  EXPECT_EQ(s.b_view_of_a().endpoint, s.link.a.underlay);
  EXPECT_GE(s.b_view_of_a().keepalives_received, 1u);
  first = s.b_to_a->sent();
  for (int i = 0; i < 10; ++i) s.b_to_a->send();
  ASSERT_TRUE(s.run_for(20 * kNsPerMs));
  EXPECT_EQ(s.at_a->delivered_in(first, first + 10), 10u);
  expect_clean(*s.at_a);
  expect_clean(*s.at_b);
}

// The instants at which `h` sent control datagrams (keepalives), from its
// tick records, within [from, to).
std::vector<int64_t> keepalive_times(const SimHost& h, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (const TickRecord& t : h.ticks()) {
    if (t.datagrams > 0 && t.now.mono_ns >= from && t.now.mono_ns < to) out.push_back(t.now.mono_ns);
  }
  return out;
}

// (5) An idle link carries a keepalive every 25 s each way; a busy one none.
TEST(TwoNodeSim, KeepalivesEvery25SecondsOnlyWhileIdle) {
  TwoNodes s(0x5eed0005);
  s.network.set_default_conditions(LinkConditions{.latency_ns = 2 * kNsPerMs});
  const int64_t kKeepalive = kDefaultKeepaliveNs;
  const int64_t kSlack = kNsPerSecond;  // a keepalive may wait for a floor check; never a whole second

  // Idle for 200 s.
  const int64_t idle_start = s.clock.mono_ns();
  ASSERT_TRUE(s.run_for(200 * kNsPerSecond));
  const int64_t idle_end = s.clock.mono_ns();
  for (SimHost* h : {s.a.get(), s.b.get()}) {
    const auto times = keepalive_times(*h, idle_start, idle_end);
    ASSERT_GE(times.size(), 8u) << "200 s idle: one at start, then one every 25 s";
    EXPECT_LT(times.front() - idle_start, kSlack) << "the first keepalive goes out at start";
    for (size_t i = 1; i < times.size(); ++i) {
      EXPECT_GE(times[i] - times[i - 1], kKeepalive);
      EXPECT_LT(times[i] - times[i - 1], kKeepalive + kSlack);
    }
  }
  EXPECT_EQ(s.b_view_of_a().keepalives_received, s.a_view_of_b().keepalives_sent);
  EXPECT_EQ(s.a_view_of_b().keepalives_received, s.b_view_of_a().keepalives_sent);
  EXPECT_EQ(s.a->counters().consumed, s.b_view_of_a().keepalives_sent);
  EXPECT_EQ(s.at_a->delivered() + s.at_b->delivered(), 0u) << "keepalives are never delivered to the tunnel";

  // Traffic both ways every 500 ms for 120 s: no keepalives.
  const int64_t busy_start = s.clock.mono_ns();
  for (int i = 0; i < 240; ++i) {
    s.a_to_b->send();
    s.b_to_a->send();
    ASSERT_TRUE(s.run_for(500 * kNsPerMs));
  }
  const int64_t busy_end = s.clock.mono_ns();
  EXPECT_TRUE(keepalive_times(*s.a, busy_start, busy_end).empty());
  EXPECT_TRUE(keepalive_times(*s.b, busy_start, busy_end).empty());
  EXPECT_EQ(s.at_b->delivered(), 240u);
  EXPECT_EQ(s.at_a->delivered(), 240u);

  // Idle again: the first keepalive 25 s after the last packet.
  const int64_t last_data = busy_end - 500 * kNsPerMs;
  ASSERT_TRUE(s.run_for(60 * kNsPerSecond));
  for (SimHost* h : {s.a.get(), s.b.get()}) {
    const auto times = keepalive_times(*h, busy_end, s.clock.mono_ns());
    ASSERT_GE(times.size(), 2u);
    EXPECT_GE(times.front() - last_data, kKeepalive);
    EXPECT_LT(times.front() - last_data, kKeepalive + kSlack);
  }
}

// (6) A datagram captured on the underlay and sent again is dropped as
// `replay` and counted, whatever address it comes from; the copy from a new
// address does not move the endpoint.
TEST(TwoNodeSim, ReplayedDatagramIsDroppedAndCounted) {
  TwoNodes s(0x5eed0006);
  s.network.set_default_conditions(LinkConditions{.latency_ns = 2 * kNsPerMs});
  std::vector<CapturedDatagram> captured;
  std::vector<std::vector<std::byte>> bytes;
  const FakeTransport* a_transport = &s.a->transport();
  s.network.set_tap([&](const CapturedDatagram& d) {
    if (d.sender != a_transport) return;
    captured.push_back(d);
    bytes.emplace_back(d.data.begin(), d.data.end());
  });
  ASSERT_TRUE(s.run_for(100 * kNsPerMs));
  for (int i = 0; i < 100; ++i) s.a_to_b->send(200);
  ASSERT_TRUE(s.run_for(20 * kNsPerMs));
  ASSERT_EQ(s.at_b->delivered(), 100u);
  ASSERT_GE(bytes.size(), 100u);

  const PeerStatus before = s.b_view_of_a();
  const Endpoint attacker{IpAddress::v4({203, 0, 113, 66}), 4444};
  s.network.inject(captured.back().from, captured.back().to, bytes.back());      // same source
  s.network.inject(attacker, captured.back().to, bytes.back());                  // another source
  s.network.inject(attacker, captured.back().to, bytes[bytes.size() / 2]);       // an older one
  ASSERT_TRUE(s.run_for(10 * kNsPerMs));

  const PeerStatus after = s.b_view_of_a();
  EXPECT_EQ(s.at_b->delivered(), 100u) << "nothing replayed reaches the tunnel";
  expect_clean(*s.at_b);
  EXPECT_EQ(drops(after, DropReason::kReplay) - drops(before, DropReason::kReplay), 3u);
  EXPECT_EQ(s.b->counters().rx_drop(DropReason::kReplay), 3u);
  EXPECT_EQ(after.rx_packets, before.rx_packets);
  EXPECT_EQ(after.endpoint, s.link.a.underlay) << "a replay must not move the endpoint";
  EXPECT_EQ(after.roams, 0u);
}

}  // namespace
}  // namespace cordon::testing
