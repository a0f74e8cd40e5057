// Hitless rekeying (docs/protocol.md, "Rekey exchange"), simulated: two
// hosts rekey every simulated second for an hour over a link that loses,
// duplicates and reorders, with kill -9 restarts now and then. Checked:
//  - every delivered packet is authentic and delivered once;
//  - no datagram is refused for its generation (`retired_generation`,
//    `unknown_generation`) except those in flight to a host that has just
//    restarted and lost its generations, until its peer hears of it;
//  - no sender ever repeats a counter, whatever the generation: since a
//    counter never repeats, no (key, nonce) pair does;
//  - the rounds complete: about one a second;
//  - with key arrays of 16 entries (spent every 16 rounds, and on timers of
//    60 s and 45 s), the rounds name array entries and the arrays come
//    back after every restart.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/sim/traffic.hpp"

namespace cordon::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

size_t count_events(const SimHost& h, std::string_view name) {
  size_t n = 0;
  for (const RekeyLogEvent& e : h.counters().rekey_events) n += e.event == name;
  return n;
}

TEST(RekeySim, EverySecondForAnHourUnderLossWithRestartsLosesAndRepeatsNothing) {
  // An hour in the plain build; the sanitizer builds run ten minutes of it.
  const int64_t kSeconds = kSanitized ? 600 : 3600;
  ManualClock clock;
  SimNetwork network(clock, 0x7e4e7001);
  network.set_default_conditions(LinkConditions{.loss_percent = 5,
                                                .duplicate_percent = 5,
                                                .reorder_percent = 10,
                                                .latency_ns = 2 * kNsPerMs,
                                                .jitter_ns = kNsPerMs,
                                                .hold_ns = 8 * kNsPerMs});
  SimLink link = make_sim_link();
  for (NodeConfig* c : {&link.a_config, &link.b_config}) {
    c->peers[0].rekey_period_ns = kNsPerSecond;
    c->peers[0].key_arrays = link::KeyArrayParams{16, 60 * kNsPerSecond, 45 * kNsPerSecond};
  }
  SimHostOptions options;
  options.rekey = true;
  SimHost a(network, clock, link.a_config, link.a.underlay, nullptr, options);
  options.seed = 2;
  SimHost b(network, clock, link.b_config, link.b.underlay, nullptr, options);
  Stream a_to_b(a, link.a, link.b, 1), b_to_a(b, link.b, link.a, 2);
  Ledger at_b(a_to_b), at_a(b_to_a);

  // Every datagram on the wire: per sender, its 40 counter bits never repeat
  // (the counters of an hour span far less than 2^40 units).
  std::map<const FakeTransport*, std::set<uint64_t>> counters;
  uint64_t repeats = 0;
  network.set_tap([&](const CapturedDatagram& d) {
    const auto parsed = wire::parse_header(d.data);
    if (!parsed.header) return;
    if (!counters[d.sender].insert(parsed.header->wire_counter).second) ++repeats;
  });

  auto run = [&](int64_t ns) {
    ASSERT_TRUE(run_for(clock, network, {&a, &b}, ns));
    at_b.collect(b);
    at_a.collect(a);
  };
  run(100 * kNsPerMs);

  std::mt19937_64 rng(11);
  std::map<SimHost*, int> restarts;
  for (int64_t s = 0; s < kSeconds; ++s) {
    // A kill -9 about every ten minutes, of either host, down for 2 s.
    if (s > 0 && rng() % 600 == 0) {
      SimHost& h = rng() % 2 ? a : b;
      h.kill();
      run(2 * kNsPerSecond);
      h.start();
      ++restarts[&h];
    }
    for (int i = 0; i < 10; ++i) {
      a_to_b.send();
      b_to_a.send();
      run(100 * kNsPerMs);
    }
  }
  run(2 * kNsPerSecond);

  EXPECT_EQ(repeats, 0u);
  for (const Ledger* l : {&at_b, &at_a}) {
    EXPECT_EQ(l->corrupt(), 0u) << l->summary();
    EXPECT_EQ(l->misfiled(), 0u) << l->summary();
    EXPECT_EQ(l->duplicates(), 0u) << l->summary();
    EXPECT_GE(l->delivered(), static_cast<size_t>(kSeconds * 10 * 90 / 100)) << l->summary();
  }
  for (SimHost* h : {&a, &b}) {
    const SimHostCounters& c = h->counters();
    EXPECT_EQ(c.rx_drop(DropReason::kAuthFailure), 0u);
    EXPECT_EQ(c.rx_drop(DropReason::kRetiredGeneration), 0u);
    EXPECT_EQ(c.rx_drop(DropReason::kChannelAuth), 0u);
    // Only what was in flight to a freshly restarted host: its peer learns
    // of the restart from its first datagram, a few milliseconds later.
    EXPECT_LE(c.rx_drop(DropReason::kUnknownGeneration), 5u * static_cast<uint64_t>(restarts[h]))
        << restarts[h] << " restarts";
    EXPECT_EQ(c.contract_violations, 0u);
  }
  // A (the lower host ID) is the key master: about one round a second.
  const size_t done = count_events(a, "rekey_done");
  EXPECT_GE(done, static_cast<size_t>(kSeconds * 8 / 10)) << "rounds completed";
  EXPECT_LE(count_events(a, "rekey_failed"), 2u);
  EXPECT_GE(count_events(b, "rekey_done"), done * 9 / 10);
  const auto view = a.peer_status(link.b.id);
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->rekey.key_master);
  EXPECT_GT(view->rekey.generation, 0u);
  // Both sides hold the same arrays, and rounds have taken entries from them.
  const auto other = b.peer_status(link.a.id);
  ASSERT_TRUE(view->rekey.arrays && other->rekey.arrays);
  for (size_t k = 0; k < 2; ++k) {
    const link::KeyArrayView& mine = (*view->rekey.arrays)[k];
    EXPECT_NE(mine.id, 0u);
    EXPECT_EQ(mine.id, (*other->rekey.arrays)[k].id);
    EXPECT_EQ(mine.left, (*other->rekey.arrays)[k].left);
  }
}

// Two hosts rekeying once a minute over a clean 5 ms link, after the first
// round (which the key master starts once it hears from B).
struct RekeyedPair {
  explicit RekeyedPair(uint64_t seed, SimLinkOptions link_options = {})
      : network(clock, seed), link(configure(make_sim_link(link_options))) {
    network.set_default_conditions(LinkConditions{.latency_ns = 5 * kNsPerMs});
    SimHostOptions options;
    options.rekey = true;
    a = std::make_unique<SimHost>(network, clock, link.a_config, link.a.underlay, nullptr, options);
    b = std::make_unique<SimHost>(network, clock, link.b_config, link.b.underlay, nullptr, options);
  }
  static SimLink configure(SimLink l) {
    for (NodeConfig* c : {&l.a_config, &l.b_config}) c->peers[0].rekey_period_ns = 60 * kNsPerSecond;
    return l;
  }
  bool run_for(int64_t ns) { return testing::run_for(clock, network, {a.get(), b.get()}, ns); }
  uint32_t generation_at_a() const { return a->peer_status(link.b.id)->rekey.generation; }
  uint32_t generation_at_b() const { return b->peer_status(link.a.id)->rekey.generation; }

  ManualClock clock;
  SimNetwork network;
  SimLink link;
  std::unique_ptr<SimHost> a, b;
};

TEST(RekeySim, ARestartedHostIsBackOnTrafficAtOnceAndRekeyedWithinARoundTrip) {
  RekeyedPair p(0x7e4e7002);
  SimHost &a = *p.a, &b = *p.b;
  Stream b_to_a(b, p.link.b, p.link.a, 2);
  Ledger at_a(b_to_a);
  ASSERT_TRUE(p.run_for(2 * kNsPerSecond));
  ASSERT_EQ(p.generation_at_a(), 1u);
  ASSERT_EQ(p.generation_at_b(), 1u);

  // The other side (B) dies and comes back: it holds only generation 0.
  b.kill();
  ASSERT_TRUE(p.run_for(kNsPerSecond));
  b.start();
  // B's first datagrams are generation 0: A goes back to 0 and rekeys at once.
  for (int i = 0; i < 20; ++i) {
    b_to_a.send();
    ASSERT_TRUE(p.run_for(5 * kNsPerMs));
  }
  ASSERT_TRUE(p.run_for(100 * kNsPerMs));
  at_a.collect(a);
  EXPECT_EQ(at_a.delivered(), 20u) << at_a.summary();
  EXPECT_EQ(count_events(a, "rekey_reset"), 1u);
  EXPECT_EQ(p.generation_at_a(), 1u);
  EXPECT_EQ(p.generation_at_b(), 1u);
  EXPECT_EQ(a.counters().rx_drop(DropReason::kUnknownGeneration), 0u);
}

// A responder (configured without its peer's endpoint) restarts: it cannot
// open what the peer sends under a later generation, so it cannot learn
// where the peer is, and it sends nothing to the datagrams' unauthenticated
// source. The peer's generation probe, after 1 s of silence, reaches it
// under generation 0; the answer comes under generation 0, and the peer
// goes back to 0 and rekeys. Traffic flows again within seconds.
TEST(RekeySim, ARestartedResponderIsFoundByTheKeyMastersGenerationProbe) {
  RekeyedPair p(0x7e4e7003, SimLinkOptions{.b_knows_a = false});
  SimHost &a = *p.a, &b = *p.b;
  const SimLink& link = p.link;
  Stream a_to_b(a, link.a, link.b, 1);
  Ledger at_b(a_to_b);
  ASSERT_TRUE(p.run_for(2 * kNsPerSecond));
  ASSERT_EQ(p.generation_at_a(), 1u);

  b.kill();
  ASSERT_TRUE(p.run_for(kNsPerSecond));
  b.start();
  ASSERT_FALSE(b.peer_status(link.a.id)->endpoint) << "the restarted responder does not know A's endpoint";
  // A sends a packet every 100 ms; the first ones are lost to B.
  size_t sent = 0;
  for (int i = 0; i < 100; ++i, ++sent) {
    a_to_b.send();
    ASSERT_TRUE(p.run_for(100 * kNsPerMs));
  }
  at_b.collect(b);
  EXPECT_EQ(count_events(a, "rekey_reset"), 1u);
  EXPECT_EQ(p.generation_at_a(), 1u) << "rekeyed again after the reset";
  EXPECT_TRUE(b.peer_status(link.a.id)->endpoint);
  // Lost: what A sent before its probe was answered (1 s of silence and at
  // most one walk): at most 20 of the 100.
  EXPECT_GE(at_b.delivered(), 80u) << at_b.summary();
  EXPECT_TRUE(at_b.has(sent - 1)) << at_b.summary();
  EXPECT_EQ(at_b.duplicates(), 0u);
}

}  // namespace
}  // namespace cordon::testing
