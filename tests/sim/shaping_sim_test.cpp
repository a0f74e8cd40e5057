// Size classes (docs/protocol.md, "Size classes"), simulated: two hosts
// rekeying every second send packets of every size, and every datagram on
// the wire, data or control, has one of the classes' sizes; what arrives
// is each packet intact, padding removed. With classes off, the sizes vary
// (the check can fail).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/node.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/sim/traffic.hpp"

namespace cordon::testing {
namespace {

struct Observed {
  std::map<size_t, uint64_t> sizes;  // datagram size -> count
  uint64_t delivered = 0, corrupt = 0, sent = 0;
};

Observed run_link(const std::vector<uint16_t>& classes) {
  ManualClock clock;
  SimNetwork network(clock, 0x5a9e);
  network.set_default_conditions(LinkConditions{.latency_ns = kNsPerMs});
  SimLink link = make_sim_link();
  for (NodeConfig* c : {&link.a_config, &link.b_config}) {
    c->size_classes = classes;
    c->peers[0].rekey_period_ns = kNsPerSecond;
  }
  SimHostOptions options;
  options.rekey = true;
  SimHost a(network, clock, link.a_config, link.a.underlay, nullptr, options);
  options.seed = 2;
  SimHost b(network, clock, link.b_config, link.b.underlay, nullptr, options);
  Observed o;
  network.set_tap([&](const CapturedDatagram& d) { ++o.sizes[d.data.size()]; });
  Stream a_to_b(a, link.a, link.b, 1);
  Ledger at_b(a_to_b);
  std::mt19937 rng(7);
  for (int second = 0; second < 20; ++second) {
    for (int i = 0; i < 50; ++i) a_to_b.send(std::uniform_int_distribution<size_t>(28, 1420)(rng), i % 5 == 0);
    EXPECT_TRUE(run_for(clock, network, {&a, &b}, kNsPerSecond));
    at_b.collect(b);
  }
  o.sent = a_to_b.sent();
  o.delivered = at_b.delivered();
  o.corrupt = at_b.corrupt() + at_b.misfiled();
  EXPECT_GE(b.counters().rekey_events.size(), 10u);
  return o;
}

TEST(ShapingSim, EveryDatagramDataOrControlHasAClassSizeAndArrivesIntact) {
  const std::vector<uint16_t> classes{128, 256, 512, 1024, 1444};
  const Observed o = run_link(classes);
  EXPECT_EQ(o.delivered, o.sent);
  EXPECT_EQ(o.corrupt, 0u);
  uint64_t total = 0;
  for (const auto& [size, count] : o.sizes) {
    EXPECT_TRUE(std::count(classes.begin(), classes.end(), size)) << count << " datagrams of " << size << " bytes";
    total += count;
  }
  EXPECT_GT(total, o.sent);  // control messages and keepalives too
  EXPECT_GT(o.sizes.at(128), 0u);
}

TEST(ShapingSim, WithClassesOffSizesVary) {
  const Observed o = run_link({});
  EXPECT_EQ(o.delivered, o.sent);
  EXPECT_GT(o.sizes.size(), 100u);
}

}  // namespace
}  // namespace cordon::testing
