// When a client goes to the TCP tunnel (docs/protocol.md, "TCP tunnel"): "no
// UDP datagram from its rendezvous coordinator for the TCP fallback time
// while sending to it". The simulation has no TCP, so these tests watch what
// Node::tick asks for (TickResult::tcp_targets), not the stream.
#include <gtest/gtest.h>

#include <memory>

#include "testing/nat_model.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

const Endpoint kCoordinator{IpAddress::v4({203, 0, 113, 1}), 51820};

// A coordinator and a client behind a port-restricted NAT, with the short
// timers of the netns tests: reports every 10 s, TCP after 3 s.
struct Client {
  Client() : mesh(0x7c9) {
    c = mesh.add_coordinator("c", kCoordinator);
    a = mesh.add_client("a", c, Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820}, nat);
    MeshConfig timers;
    timers.status_interval_ns = 10 * kNsPerSecond;
    timers.tcp_fallback_ns = 3 * kNsPerSecond;
    mesh.start(timers);
  }
  // Whether any tick of a's since `from` (an index into its ticks) wanted TCP.
  bool wanted_tcp_since(size_t from) {
    const auto& ticks = mesh.host(a).ticks();
    for (size_t i = from; i < ticks.size(); ++i)
      if (ticks[i].tcp_targets > 0) return true;
    return false;
  }
  bool wants_tcp_now() {
    const auto& ticks = mesh.host(a).ticks();
    return !ticks.empty() && ticks.back().tcp_targets > 0;
  }

  std::shared_ptr<PortRestrictedNat> nat = std::make_shared<PortRestrictedNat>(IpAddress::v4({198, 51, 100, 10}));
  SimMesh mesh;
  HostId c, a;
};

// Replies come only when asked for (every status interval, or the 25 s UDP
// check), so a fallback shorter than those gaps must not count the quiet in
// between as "no UDP": the client stays on UDP.
TEST(TcpFallbackSim, ShortFallbackKeepsAHealthyClientOnUdp) {
  Client t;
  ASSERT_TRUE(t.mesh.run_for(90 * kNsPerSecond));
  EXPECT_FALSE(t.wanted_tcp_since(0));
}

// UDP blocked: the next report goes unanswered, and 3 s later the client
// asks for the tunnel; once UDP answers again it lets the tunnel go.
TEST(TcpFallbackSim, BlockedUdpWantsTheTunnelUntilUdpAnswers) {
  Client t;
  ASSERT_TRUE(t.mesh.run_for(5 * kNsPerSecond));
  ASSERT_FALSE(t.wanted_tcp_since(0));
  t.nat->set_udp_blocked(true);
  // The next report is at most 10 s away; then 3 s of silence.
  ASSERT_TRUE(t.mesh.run_for(15 * kNsPerSecond));
  EXPECT_TRUE(t.wants_tcp_now());
  t.nat->set_udp_blocked(false);
  ASSERT_TRUE(t.mesh.run_for(30 * kNsPerSecond));
  EXPECT_FALSE(t.wants_tcp_now());
}

}  // namespace
}  // namespace cordon::testing
