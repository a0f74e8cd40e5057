// The simulated underlay: ManualClock, SimNetwork's link conditions and
// determinism, the NAT models, and SimHost's lifecycle. The simulations of
// the core are only as good as these.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "testing/fake_transport.hpp"
#include "testing/manual_clock.hpp"
#include "testing/nat_model.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"

namespace cordon::testing {
namespace {

Endpoint ep(uint8_t last, uint16_t port = 51820) { return Endpoint{IpAddress::v4({192, 0, 2, last}), port}; }

std::vector<std::byte> numbered(uint32_t n) {
  return {std::byte(n >> 24), std::byte(n >> 16), std::byte(n >> 8), std::byte(n)};
}
uint32_t number(const std::vector<std::byte>& d) {
  return (uint32_t(d[0]) << 24) | (uint32_t(d[1]) << 16) | (uint32_t(d[2]) << 8) | uint32_t(d[3]);
}

std::vector<Datagram> drain(FakeTransport& t) {
  std::vector<Datagram> out;
  while (auto d = t.receive()) out.push_back(std::move(*d));
  return out;
}

// Advances in 1 ms steps, delivering as it goes, until nothing is in flight.
void run_network(ManualClock& clock, SimNetwork& net) {
  net.deliver_due();
  while (auto next = net.next_delivery_mono_ns()) {
    clock.advance_to(*next);
    net.deliver_due();
  }
}

TEST(ManualClock, AdvanceMovesBothClocksAndShiftMovesOnlyTheWallClock) {
  ManualClock c(Now{100, 1000});
  c.advance(5);
  EXPECT_EQ(c.now().mono_ns, 105);
  EXPECT_EQ(c.now().real_ns, 1005);
  c.shift_real(-500);
  EXPECT_EQ(c.mono_ns(), 105);
  EXPECT_EQ(c.real_ns(), 505);
  c.set_real(42);
  EXPECT_EQ(c.mono_ns(), 105);
  EXPECT_EQ(c.real_ns(), 42);
  EXPECT_EQ(c.advance_to(100), 0) << "monotonic time never goes back";
  EXPECT_EQ(c.advance_to(205), 100);
  EXPECT_EQ(c.now().real_ns, 142);
  EXPECT_GT(ManualClock().now().real_ns, 0) << "the default wall clock is a realistic date";
}

TEST(SimNetwork, DeliversAfterLatencyWithSourceAndDestination) {
  ManualClock clock;
  SimNetwork net(clock, 1);
  net.set_default_conditions(LinkConditions{.latency_ns = 3 * kNsPerMs});
  auto a = net.bind(ep(1));
  auto b = net.bind(ep(2));
  a->send(ep(2), numbered(7));
  net.deliver_due();
  clock.advance(3 * kNsPerMs - 1);
  net.deliver_due();
  EXPECT_EQ(b->pending(), 0u) << "not before its latency";
  clock.advance(1);
  EXPECT_EQ(net.deliver_due(), 1u);
  const auto got = drain(*b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, ep(1));
  EXPECT_EQ(got[0].to, ep(2));
  EXPECT_EQ(number(got[0].data), 7u);
  EXPECT_EQ(a->sent(), 1u);
  EXPECT_EQ(b->received(), 1u);
}

// The seed alone decides a run: the same seed and the same sends give the
// same arrivals, in the same order; another seed gives others.
TEST(SimNetwork, SameSeedSameRun) {
  auto run = [](uint64_t seed) {
    ManualClock clock;
    SimNetwork net(clock, seed);
    net.set_default_conditions(LinkConditions{.loss_percent = 10,
                                              .duplicate_percent = 10,
                                              .reorder_percent = 20,
                                              .latency_ns = kNsPerMs,
                                              .jitter_ns = kNsPerMs});
    auto a = net.bind(ep(1));
    auto b = net.bind(ep(2));
    std::vector<std::pair<int64_t, uint32_t>> arrivals;
    for (uint32_t i = 0; i < 2000; ++i) {
      a->send(ep(2), numbered(i));
      if (i % 10 == 9) {
        clock.advance(kNsPerMs);
        net.deliver_due();
        for (auto& d : drain(*b)) arrivals.emplace_back(clock.mono_ns(), number(d.data));
      }
    }
    run_network(clock, net);
    for (auto& d : drain(*b)) arrivals.emplace_back(clock.mono_ns(), number(d.data));
    return arrivals;
  };
  const auto first = run(42);
  EXPECT_EQ(first, run(42));
  EXPECT_NE(first, run(43));
}

TEST(SimNetwork, LossDuplicationAndReorderingHappenAtTheirRates) {
  ManualClock clock;
  SimNetwork net(clock, 9);
  net.set_default_conditions(LinkConditions{.loss_percent = 5,
                                            .duplicate_percent = 5,
                                            .reorder_percent = 10,
                                            .latency_ns = kNsPerMs,
                                            .hold_ns = 5 * kNsPerMs});
  auto a = net.bind(ep(1));
  auto b = net.bind(ep(2));
  constexpr uint32_t kCount = 20000;
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < kCount; ++i) {
    a->send(ep(2), numbered(i));
    clock.advance(100'000);  // 10 datagrams per ms
    net.deliver_due();
    for (auto& d : drain(*b)) order.push_back(number(d.data));
  }
  run_network(clock, net);
  for (auto& d : drain(*b)) order.push_back(number(d.data));

  const SimNetworkStats& s = net.stats();
  EXPECT_EQ(s.sent, kCount);
  // The rates are those asked for, give or take 1.5 points over 20000 draws.
  EXPECT_NEAR(double(s.lost) / kCount, 0.05, 0.015);
  EXPECT_NEAR(double(s.duplicated) / (kCount - s.lost), 0.05, 0.015);
  EXPECT_NEAR(double(s.held) / (kCount - s.lost + s.duplicated), 0.10, 0.015);
  EXPECT_EQ(order.size(), kCount - s.lost + s.duplicated);
  EXPECT_EQ(s.delivered, order.size());
  size_t inversions = 0;
  for (size_t i = 1; i < order.size(); ++i) inversions += order[i] < order[i - 1];
  EXPECT_GT(inversions, kCount / 50) << "held datagrams are overtaken";
}

TEST(SimNetwork, LinkConditionsOverrideTheDefaultsForOnePairOnly) {
  ManualClock clock;
  SimNetwork net(clock, 3);
  auto a = net.bind(ep(1));
  auto b = net.bind(ep(2));
  auto c = net.bind(ep(3));
  net.set_link_conditions(ep(1), ep(2).address, LinkConditions{.loss_percent = 100});
  for (uint32_t i = 0; i < 10; ++i) {
    a->send(ep(2), numbered(i));
    a->send(ep(3), numbered(i));
    b->send(ep(1), numbered(i));
  }
  run_network(clock, net);
  EXPECT_EQ(b->pending(), 0u);
  EXPECT_EQ(c->pending(), 10u);
  EXPECT_EQ(a->pending(), 10u) << "the reverse direction has its own conditions";
}

TEST(SimNetwork, TapSeesWhatAnObserverSeesAndInjectForgesSources) {
  ManualClock clock;
  SimNetwork net(clock, 4);
  net.set_default_conditions(LinkConditions{.loss_percent = 100});
  auto a = net.bind(ep(1));
  auto b = net.bind(ep(2));
  std::vector<std::pair<Endpoint, uint32_t>> seen;
  net.set_tap([&](const CapturedDatagram& d) {
    seen.emplace_back(d.from, number({d.data.begin(), d.data.end()}));
    EXPECT_EQ(d.sender, a.get());
  });
  a->send(ep(2), numbered(5));
  ASSERT_EQ(seen.size(), 1u) << "the tap sees datagrams the link then loses";
  EXPECT_EQ(seen[0], std::pair(ep(1), 5u));

  net.inject(ep(77), ep(2), numbered(6));
  EXPECT_EQ(seen.size(), 1u) << "injected datagrams are the test's own, not observed";
  net.deliver_due();
  const auto got = drain(*b);
  ASSERT_EQ(got.size(), 1u) << "injection ignores the link's loss";
  EXPECT_EQ(got[0].from, ep(77));
  EXPECT_EQ(net.stats().injected, 1u);
}

TEST(SimNetwork, NobodyThereIsUnroutable) {
  ManualClock clock;
  SimNetwork net(clock, 5);
  net.set_default_conditions(LinkConditions{.latency_ns = kNsPerMs});
  auto a = net.bind(ep(1));
  auto b = net.bind(ep(2));
  a->send(ep(9), numbered(1));
  a->send(ep(2), numbered(2));
  b.reset();  // closed while the datagram is in flight
  run_network(clock, net);
  EXPECT_EQ(net.stats().unroutable, 2u);
  EXPECT_EQ(net.stats().delivered, 0u);
  EXPECT_NO_THROW(b = net.bind(ep(2)));
  EXPECT_THROW(net.bind(ep(2)), std::invalid_argument);
}

TEST(AddressRewriteNat, RewritesBothWaysAndMovesTheHost) {
  ManualClock clock;
  SimNetwork net(clock, 6);
  const IpAddress inside = IpAddress::v4({10, 0, 0, 1});
  auto nat = std::make_shared<AddressRewriteNat>(inside, ep(1).address);
  auto host = net.bind(Endpoint{inside, 4000}, nat);
  auto server = net.bind(ep(2));

  host->send(ep(2), numbered(1));
  run_network(clock, net);
  auto got = drain(*server);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, ep(1, 4000)) << "the world sees the public address, same port";

  server->send(ep(1, 4000), numbered(2));
  server->send(ep(1, 4001), numbered(3));  // no transport behind that port
  run_network(clock, net);
  got = drain(*host);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, ep(2));
  EXPECT_EQ(got[0].to, (Endpoint{inside, 4000}));
  EXPECT_EQ(net.stats().unroutable, 1u);

  // Roaming: the host now appears at .99; its old address leads nowhere.
  nat->move_to(ep(99).address);
  EXPECT_EQ(nat->public_endpoint(4000), ep(99, 4000));
  host->send(ep(2), numbered(4));
  server->send(ep(1, 4000), numbered(5));
  server->send(ep(99, 4000), numbered(6));
  run_network(clock, net);
  got = drain(*server);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, ep(99, 4000));
  got = drain(*host);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(number(got[0].data), 6u);
  EXPECT_EQ(net.stats().unroutable, 2u);

  // A transport behind the NAT on another inside address is not its to route.
  auto stray = net.bind(Endpoint{IpAddress::v4({10, 0, 0, 2}), 4000}, nat);
  stray->send(ep(2), numbered(7));
  EXPECT_EQ(net.stats().nat_dropped, 1u);
}

TEST(PassThroughNat, ServesOnlyWhatIsBoundBehindIt) {
  PassThroughNat nat;
  EXPECT_FALSE(nat.serves(ep(1)));
  nat.attach(ep(1));
  EXPECT_TRUE(nat.serves(ep(1)));
  EXPECT_FALSE(nat.serves(ep(1, 1)));
  EXPECT_EQ(nat.outbound(ep(1), ep(2), 0), ep(1));
  EXPECT_EQ(nat.inbound(ep(1), ep(2), 0), ep(1));
  EXPECT_EQ(nat.inbound(ep(3), ep(2), 0), std::nullopt);
  nat.detach(ep(1));
  EXPECT_FALSE(nat.serves(ep(1)));
}

// SimHost: the first floor is persisted at start; a graceful stop finishes a
// write in progress; a kill loses it and what waits in the socket.
TEST(SimHost, PersistsFloorsAndLosesOnlyWhatACrashLoses) {
  ManualClock clock;
  SimNetwork net(clock, 8);
  const SimLink link = make_sim_link();
  SimHostOptions slow_disk;
  slow_disk.floor_write_delay_ns = 10 * kNsPerMs;
  SimHost a(net, clock, link.a_config, link.a.underlay, nullptr, slow_disk);
  SimHost b(net, clock, link.b_config, link.b.underlay);

  EXPECT_TRUE(b.disk().counter_floor.has_value()) << "an immediate disk: written before start() returns";
  EXPECT_FALSE(a.disk().counter_floor.has_value());
  EXPECT_TRUE(a.floor_write_pending());
  EXPECT_LE(a.next_deadline_mono_ns(), clock.mono_ns() + 10 * kNsPerMs);

  // Killed before the write completes: nothing reached the disk.
  a.kill();
  EXPECT_FALSE(a.running());
  EXPECT_FALSE(a.disk().counter_floor.has_value());
  EXPECT_EQ(a.counters().floors_lost, 1u);

  a.start();
  ASSERT_TRUE(run_for(clock, net, {&a, &b}, 20 * kNsPerMs));
  ASSERT_TRUE(a.disk().counter_floor.has_value());
  EXPECT_EQ(a.node().status().counter_floor, *a.disk().counter_floor);
  EXPECT_EQ(a.counters().starts, 2u);

  // Down hosts drop what reaches them.
  a.stop();
  const auto datagram = std::vector<std::byte>(40, std::byte{1});
  net.inject(link.b.underlay, link.a.underlay, datagram);
  ASSERT_TRUE(run_for(clock, net, {&a, &b}, kNsPerMs));
  EXPECT_EQ(a.counters().received_while_down, 1u);
  EXPECT_FALSE(a.peer_status(link.b.id).has_value());
  a.restart();
  EXPECT_TRUE(a.running());
  EXPECT_EQ(a.counters().contract_violations, 0u);
}

}  // namespace
}  // namespace cordon::testing
