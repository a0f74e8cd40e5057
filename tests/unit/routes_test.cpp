// The coordinators' distance-vector table (core/coord/routes.hpp), checked
// table-driven and against a naive twin (docs/design.md, practice 11).
#include "core/coord/registry.hpp"
#include "core/coord/routes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace cordon::coord {
namespace {

wire::HostRecord record(uint32_t host, uint8_t metric, uint32_t coordinator = 0x00010001) {
  return wire::HostRecord{HostId{host}, wire::HostState::kReachable, metric, HostId{coordinator}, 0, std::nullopt, {}};
}

Now at(int64_t s) { return Now{s * kNsPerSecond, 1'800'000'000 * kNsPerSecond + s * kNsPerSecond}; }

TEST(RouteTable, LowestMetricWinsAndTiesGoToTheLowerNeighbour) {
  RouteTable t;
  EXPECT_TRUE(t.learn(record(0x00010050, 2), HostId{0x00010003}, at(0)));
  ASSERT_NE(t.best(HostId{0x00010050}), nullptr);
  EXPECT_EQ(t.best(HostId{0x00010050})->record.metric, 3);  // one more hop through the neighbour
  EXPECT_TRUE(t.learn(record(0x00010050, 0), HostId{0x00010004}, at(1)));
  EXPECT_EQ(t.best(HostId{0x00010050})->via, HostId{0x00010004});
  EXPECT_TRUE(t.learn(record(0x00010050, 0), HostId{0x00010002}, at(2)));  // same metric, lower ID
  EXPECT_EQ(t.best(HostId{0x00010050})->via, HostId{0x00010002});
  EXPECT_FALSE(t.learn(record(0x00010050, 0), HostId{0x00010002}, at(3)));  // a refresh changes nothing
}

TEST(RouteTable, WithdrawalExpiryAndLostNeighbours) {
  RouteTable t;
  t.learn(record(0x00010050, 0), HostId{0x00010002}, at(0));
  t.learn(record(0x00010050, 1), HostId{0x00010003}, at(0));
  t.learn(record(0x00010060, 0), HostId{0x00010003}, at(0));
  // 14 + 1 reaches the infinity: a withdrawal.
  EXPECT_TRUE(t.learn(record(0x00010050, wire::kMetricUnreachable - 1), HostId{0x00010002}, at(1)));
  EXPECT_EQ(t.best(HostId{0x00010050})->via, HostId{0x00010003});
  const auto lost = t.expire(at(2).mono_ns, kRouteLifetimeNs, {HostId{0x00010003}});
  EXPECT_EQ(lost.size(), 2u);
  EXPECT_EQ(t.size(), 0u);
  t.learn(record(0x00010070, 0), HostId{0x00010002}, at(0));
  EXPECT_TRUE(t.expire(at(10).mono_ns, kRouteLifetimeNs).empty());
  EXPECT_EQ(t.expire(at(0).mono_ns + kRouteLifetimeNs + 1, kRouteLifetimeNs).size(), 1u);
}

// Random learn/withdraw/expire against a map of every (host, via) route.
TEST(RouteTable, MatchesNaiveTwin) {
  RouteTable t;
  std::map<std::pair<uint32_t, uint32_t>, std::pair<uint8_t, int64_t>> twin;  // (host, via) -> (metric, learned)
  std::mt19937 rng(5);
  for (int step = 0; step < 20000; ++step) {
    const int64_t now_s = step / 10;
    const uint32_t host = 0x00010100 + rng() % 20, via = 0x00010002 + rng() % 5;
    if (rng() % 50 == 0) {
      const int64_t lifetime = 100 * kNsPerSecond;
      t.expire(at(now_s).mono_ns, lifetime);
      for (auto it = twin.begin(); it != twin.end();) {
        it = at(now_s).mono_ns - it->second.second > lifetime ? twin.erase(it) : std::next(it);
      }
    } else {
      const uint8_t metric = static_cast<uint8_t>(rng() % 16);
      t.learn(record(host, metric), HostId{via}, at(now_s));
      if (metric + 1 >= wire::kMetricUnreachable) {
        twin.erase({host, via});
      } else {
        twin[{host, via}] = {static_cast<uint8_t>(metric + 1), at(now_s).mono_ns};
      }
    }
    // Best per host from the twin.
    for (uint32_t h = 0x00010100; h < 0x00010100 + 20; ++h) {
      std::optional<std::pair<uint8_t, uint32_t>> best;
      for (const auto& [key, value] : twin) {
        if (key.first != h) continue;
        const std::pair<uint8_t, uint32_t> cand{value.first, key.second};
        if (!best || cand < *best) best = cand;
      }
      const Route* r = t.best(HostId{h});
      ASSERT_EQ(r != nullptr, best.has_value()) << step;
      if (r) {
        ASSERT_EQ(r->record.metric, best->first) << step;
        ASSERT_EQ(r->via.value, best->second) << step;
      }
    }
  }
}

}  // namespace
}  // namespace cordon::coord
