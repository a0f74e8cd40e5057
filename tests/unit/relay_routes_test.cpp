// The relay routes workers forward by (core/coord/relay_routes.hpp) and the
// registry's incremental publication of them, checked against naive twins
// (docs/design.md, practice 11): a std::map for the table, and a full
// rebuild from the registry's routes for what it publishes.
#include "core/coord/relay_routes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "core/coord/registry.hpp"
#include "core/node_impl.hpp"

namespace cordon::coord {
namespace {

// Every destination in `universe` maps as in `twin` (0 when absent).
void expect_same(const RelayRoutes& t, const std::map<uint32_t, uint32_t>& twin, uint32_t first, uint32_t count) {
  EXPECT_EQ(t.size(), twin.size());
  for (uint32_t d = first; d < first + count; ++d) {
    const auto it = twin.find(d);
    ASSERT_EQ(t.find(d), it == twin.end() ? 0u : it->second) << "destination " << std::hex << d;
  }
}

TEST(RelayRoutes, EmptyAndOneChange) {
  const RelayRoutes empty;
  EXPECT_EQ(empty.find(0x00020001), 0u);
  const RelayRoutes::Change add[] = {{0x00020001, 0x00010002}};
  const auto one = empty.with(add);
  EXPECT_EQ(one->find(0x00020001), 0x00010002u);
  EXPECT_EQ(one->size(), 1u);
  EXPECT_EQ(empty.find(0x00020001), 0u);  // the old table is untouched
  const RelayRoutes::Change remove_twice_then_set[] = {
      {0x00020001, 0}, {0x00020001, 0x00010003}, {0x00020002, 0}};  // the last change to a destination wins
  const auto two = one->with(remove_twice_then_set);
  EXPECT_EQ(two->find(0x00020001), 0x00010003u);
  EXPECT_EQ(two->find(0x00020002), 0u);
  EXPECT_EQ(two->size(), 1u);
  EXPECT_EQ(one->find(0x00020001), 0x00010002u);
}

// Random batches of changes (repeated destinations included) against a map;
// every earlier table must still read as it did when it was made, since a
// worker may hold it while the next is built.
TEST(RelayRoutes, MatchesNaiveTwinAndKeepsOlderTables) {
  constexpr uint32_t kFirst = 0x0002fff0, kCount = 5000;  // crosses a network boundary
  std::mt19937 rng(7);
  std::vector<std::pair<std::shared_ptr<const RelayRoutes>, std::map<uint32_t, uint32_t>>> versions;
  versions.emplace_back(std::make_shared<const RelayRoutes>(), std::map<uint32_t, uint32_t>{});
  for (int step = 0; step < 300; ++step) {
    auto twin = versions.back().second;
    std::vector<RelayRoutes::Change> changes(rng() % (step % 10 == 0 ? 3000 : 40));
    for (auto& c : changes) {
      c.destination = kFirst + rng() % kCount;
      c.via = rng() % 3 == 0 ? 0 : 0x00010002 + rng() % 9;
      if (c.via == 0) {
        twin.erase(c.destination);
      } else {
        twin[c.destination] = c.via;
      }
    }
    versions.emplace_back(versions.back().first->with(changes), std::move(twin));
    expect_same(*versions.back().first, versions.back().second, kFirst, kCount);
  }
  for (size_t v = 0; v < versions.size(); v += 37) {
    expect_same(*versions[v].first, versions[v].second, kFirst, kCount);
  }
}

// The registry publishes only the hosts whose best route changed; applied
// one after the other, its publications must equal a table rebuilt from all
// of its routes, through learning, withdrawals, expiry and lost neighbours.
class RecordingLink final : public NodeLink {
 public:
  void send_control(const Snapshot&, const Now&, HostId, const wire::ControlMessage&, const Via&) override {}
  link::Hop path_to(const Snapshot&, link::Peer&) const override { return {}; }
  void update_relay_routes(std::span<const RelayRoutes::Change> changes, bool replace) override {
    table = replace ? RelayRoutes().with(changes) : table->with(changes);
    ++publications;
    replaced += replace;
  }
  RelayCounters relay_counters() const override { return {}; }

  std::unique_ptr<const RelayRoutes> table = std::make_unique<const RelayRoutes>();
  int publications = 0, replaced = 0;
};

size_t registry_route_count(const Registry& r, const Snapshot& s) {
  NodeStatus st;
  r.fill_status(s, st);
  return st.routes.size();
}

TEST(RelayRoutes, RegistryPublishesChangesEqualToAFullRebuild) {
  const HostId self{0x00010001};
  constexpr uint32_t kNeighbours = 4, kHosts = 300, kFirstHost = 0x00030001;
  Snapshot s;
  s.self = self;
  s.role = keys::Role::kCoordinator;
  s.mesh.poll_period_ns = 330 * kNsPerSecond;
  crypto::SecretBytes key(kLinkKeySize);
  for (uint32_t n = 0; n < kNeighbours; ++n) {
    PeerEntry e;
    e.peer = link::Peer::create(self, HostId{0x00010002 + n}, key, crypto::Suite::kAes256Gcm, 1, 1);
    ASSERT_NE(e.peer, nullptr);
    e.role = keys::Role::kCoordinator;
    s.by_id[e.peer->id().value] = n;
    s.peers.push_back(std::move(e));
  }
  RecordingLink link;
  Registry registry(link);
  auto at = [](int64_t ms) { return Now{ms * kNsPerMs, 1'800'000'000 * kNsPerSecond + ms * kNsPerMs}; };
  registry.configure(s, at(1));
  EXPECT_EQ(link.replaced, 1);

  std::mt19937 rng(3);
  auto draw = [&rng](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  int64_t ms = 1;
  size_t withdrawn = 0, expired_or_lost = 0;
  for (int step = 0; step < 3000; ++step) {
    ms += rng() % 4 == 0 ? 1 + rng() % 200'000 : 100;  // now and then a long silence: routes expire
    const Now now = at(ms);
    // Neighbour 3 goes silent for good after a while: its routes are lost.
    for (uint32_t n = 0; n < kNeighbours; ++n) {
      if (n != 3 || step < 2000) s.peers[n].peer->timers().last_rx_mono_ns.store(now.mono_ns);
    }
    InboxItem item;
    item.peer = HostId{0x00010002 + draw(kNeighbours)};
    item.live = true;
    wire::HostRecords m;
    for (uint32_t k = draw(12); k > 0; --k) {
      wire::HostRecord r;
      r.host = HostId{kFirstHost + draw(kHosts)};
      r.state = rng() % 4 == 0 ? wire::HostState::kUnreachable : wire::HostState::kReachable;
      r.metric = static_cast<uint8_t>(rng() % 8 == 0 ? wire::kMetricUnreachable - 1 : rng() % 3);
      withdrawn += r.metric == wire::kMetricUnreachable - 1;
      r.coordinator = HostId{0x00010010};
      m.records.push_back(r);
    }
    item.message = m;
    registry.handle(s, item, now);
    if (rng() % 3 == 0) {  // several records messages between ticks, as in a batch
      const size_t before = registry_route_count(registry, s);
      TickResult out;
      registry.tick(s, now, out);
      expired_or_lost += before > registry_route_count(registry, s);

      NodeStatus st;
      registry.fill_status(s, st);
      std::map<uint32_t, uint32_t> rebuilt;
      for (const RouteStatus& r : st.routes) {
        if (r.state == Reachability::kReachable) rebuilt[r.host.value] = r.via.value;
      }
      expect_same(*link.table, rebuilt, kFirstHost, kHosts);
    }
  }
  EXPECT_GT(withdrawn, 100u);
  EXPECT_GT(expired_or_lost, 10u);
  EXPECT_EQ(link.replaced, 1);  // every later publication was incremental
  EXPECT_GT(link.publications, 500);
}

}  // namespace
}  // namespace cordon::coord
