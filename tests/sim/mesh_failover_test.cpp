// Paths that never strand traffic (docs/coordinators.md, "When a direct path
// breaks"): a direct path that stops answering while data flows moves to
// the relay within seconds, fixed endpoint or not; it comes back when it
// answers again; a one-way flow keeps its direct path; and every peer's
// reachability comes from its registry.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "testing/nat_model.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

const Endpoint kCoordinator{IpAddress::v4({203, 0, 113, 1}), 51820};
const IpAddress kPublicA = IpAddress::v4({198, 51, 100, 10});
const IpAddress kPublicB = IpAddress::v4({198, 51, 100, 20});

// Coordinator c and linked clients a and b. b is behind a port-restricted
// NAT; a is too, or (fixed) sits on the public underlay with its endpoint
// in b's address book, as a client with an endpoint in the database.
struct Pair {
  explicit Pair(bool fixed, const MeshConfig& timers = {}, uint64_t seed = 61) : mesh(seed) {
    c = mesh.add_coordinator("c", kCoordinator);
    if (fixed) {
      a_inside = Endpoint{kPublicA, 51820};
      a = mesh.add_client("a", c, a_inside);
      mesh.fix_endpoint(a);
    } else {
      a_inside = Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820};
      a = mesh.add_client("a", c, a_inside, std::make_shared<PortRestrictedNat>(kPublicA));
    }
    b = mesh.add_client("b", c, b_inside, std::make_shared<PortRestrictedNat>(kPublicB));
    mesh.link(a, b);
    mesh.network.set_default_conditions(LinkConditions{.latency_ns = 10 * kNsPerMs});
    mesh.start(timers);
  }
  // Blocks (or unblocks) UDP between a and b both ways: a firewall between
  // them that leaves the coordinator reachable.
  void cut(bool blocked) {
    const LinkConditions c = blocked ? LinkConditions{.loss_percent = 100} : LinkConditions{};
    mesh.network.set_link_conditions(a_inside, kPublicB, c);
    mesh.network.set_link_conditions(b_inside, kPublicA, c);
  }
  // One packet every `gap_ms` from `from` to `to` for `ms`; adds what
  // arrived to `delivered`.
  void flow(HostId from, HostId to, int ms, int gap_ms = 10) {
    for (int t = 0; t < ms; t += gap_ms) {
      mesh.send(from, to, 1, seq++);
      ASSERT_TRUE(mesh.run_for(gap_ms * kNsPerMs));
      delivered += mesh.take_delivered(to);
    }
  }
  PeerStatus view(HostId from, HostId of) { return mesh.host(from).peer_status(of).value(); }

  SimMesh mesh;
  HostId c, a, b;
  Endpoint a_inside;
  const Endpoint b_inside{IpAddress::v4({10, 0, 20, 2}), 51820};
  uint64_t seq = 0;
  size_t delivered = 0;
};

class Failover : public ::testing::TestWithParam<bool> {};

// The direct path is cut under a 100 packets/s flow from b to a: at most
// 5 s of packets are lost before the relay carries them, on b (the side
// whose peer may have a fixed endpoint) as on a.
TEST_P(Failover, DirectPathCutUnderFlowLosesAtMostFiveSeconds) {
  Pair p(GetParam());
  p.flow(p.b, p.a, 10'000);
  ASSERT_EQ(p.view(p.b, p.a).path, PathKind::kDirect);
  ASSERT_EQ(p.view(p.a, p.b).path, PathKind::kDirect);
  p.cut(true);
  const size_t sent_before = p.seq, delivered_before = p.delivered;
  p.flow(p.b, p.a, 30'000);
  const size_t lost = (p.seq - sent_before) - (p.delivered - delivered_before);
  const double loss_s = static_cast<double>(lost) / 100.0;
  RecordProperty("path_failover_loss_s", std::to_string(loss_s));
  EXPECT_LE(loss_s, 5.0);
  EXPECT_EQ(p.view(p.b, p.a).path, PathKind::kRelayed);
  EXPECT_EQ(p.view(p.b, p.a).via, p.c);
  EXPECT_GE(p.view(p.b, p.a).failovers, 1u);
  // Back the other way too: a's replies reach b through the relay.
  const size_t before = p.delivered;
  p.flow(p.a, p.b, 5'000);
  EXPECT_GE(p.delivered - before, 490u);
}

// Every peer falls back to the relay while UDP between the two is blocked,
// and comes back to the direct path when it answers again, within the
// reference design's 75 s.
TEST_P(Failover, BlockedPeerIsRelayedAndComesBack) {
  Pair p(GetParam());
  p.flow(p.a, p.b, 5'000, 100);
  p.flow(p.b, p.a, 5'000, 100);
  p.cut(true);
  for (int i = 0; i < 20; ++i) {
    p.flow(p.a, p.b, 500, 100);
    p.flow(p.b, p.a, 500, 100);
  }
  EXPECT_EQ(p.view(p.a, p.b).path, PathKind::kRelayed);
  EXPECT_EQ(p.view(p.b, p.a).path, PathKind::kRelayed);
  const size_t before = p.delivered;
  p.flow(p.a, p.b, 5'000, 100);
  p.flow(p.b, p.a, 5'000, 100);
  EXPECT_GE(p.delivered - before, 98u);
  p.cut(false);
  const int64_t restored = p.mesh.clock.mono_ns();
  int64_t direct_at = 0;
  while (direct_at == 0 && p.mesh.clock.mono_ns() - restored < 90 * kNsPerSecond) {
    p.flow(p.a, p.b, 100, 100);
    p.flow(p.b, p.a, 100, 100);
    if (p.view(p.a, p.b).path == PathKind::kDirect && p.view(p.b, p.a).path == PathKind::kDirect) {
      direct_at = p.mesh.clock.mono_ns();
    }
  }
  ASSERT_NE(direct_at, 0);
  EXPECT_LE(direct_at - restored, 75 * kNsPerSecond);
}

// A one-way flow on a healthy direct path: the receiver's passive keepalive
// answers it, so the sender never takes it for a broken path.
TEST_P(Failover, OneWayFlowKeepsItsDirectPath) {
  Pair p(GetParam());
  p.flow(p.b, p.a, 60'000);
  EXPECT_EQ(p.view(p.b, p.a).path, PathKind::kDirect);
  EXPECT_EQ(p.view(p.b, p.a).failovers, 0u);
  EXPECT_GE(p.delivered, p.seq - 5);
}

INSTANTIATE_TEST_SUITE_P(Peers, Failover, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "FixedEndpoint" : "BehindNat");
                         });

// A peer with a fixed endpoint: its reachability and last status come from
// the registry, as every peer's do.
TEST(MeshSim, FixedEndpointPeerReachabilityComesFromTheRegistry) {
  MeshConfig timers;
  timers.poll_period_ns = 60 * kNsPerSecond;
  Pair p(/*fixed=*/true, timers);
  ASSERT_TRUE(p.mesh.run_for(5 * kNsPerSecond));
  EXPECT_EQ(p.view(p.b, p.a).reachability, Reachability::kReachable);
  EXPECT_NE(p.view(p.b, p.a).last_status_real_ns, 0);
  EXPECT_EQ(p.view(p.b, p.a).public_endpoint, (Endpoint{kPublicA, 51820}));
  p.mesh.host(p.a).kill();
  ASSERT_TRUE(p.mesh.run_for(90 * kNsPerSecond));
  EXPECT_EQ(p.view(p.b, p.a).reachability, Reachability::kUnreachable);
}

// The registry's own row: reachable once it acknowledges the client's
// report, unreachable when unheard for the poll period, and reachable again
// when it answers.
TEST(MeshSim, RegistryReachabilityComesFromItsAcks) {
  MeshConfig timers;
  timers.poll_period_ns = 60 * kNsPerSecond;
  Pair p(/*fixed=*/false, timers);
  ASSERT_TRUE(p.mesh.run_for(5 * kNsPerSecond));
  EXPECT_EQ(p.view(p.a, p.c).reachability, Reachability::kReachable);
  const int64_t first_ack = p.view(p.a, p.c).last_status_real_ns;
  EXPECT_NE(first_ack, 0);
  p.mesh.host(p.c).kill();
  ASSERT_TRUE(p.mesh.run_for(30 * kNsPerSecond));
  EXPECT_EQ(p.view(p.a, p.c).reachability, Reachability::kReachable);  // not yet the poll period
  ASSERT_TRUE(p.mesh.run_for(40 * kNsPerSecond));
  EXPECT_EQ(p.view(p.a, p.c).reachability, Reachability::kUnreachable);
  EXPECT_EQ(p.view(p.a, p.c).last_status_real_ns, first_ack);
  p.mesh.host(p.c).start();
  ASSERT_TRUE(p.mesh.run_for(60 * kNsPerSecond));
  EXPECT_EQ(p.view(p.a, p.c).reachability, Reachability::kReachable);
  EXPECT_GT(p.view(p.a, p.c).last_status_real_ns, first_ack);
}

}  // namespace
}  // namespace cordon::testing
