// A NAT rebinding under a direct path (docs/protocol.md, "Rendezvous"): a's
// NAT reboots and maps a to a new public port. b's port-restricted NAT lets
// a's datagrams from the new port in only once b has sent there, so b must
// probe a's new location as soon as the registry tells it, instead of
// waiting for the 40 s direct-silence fallback. The netns twin is
// CoordinatorTest.NewPublicAddressRecovers (tests/netns/coordinator_test.cpp).
#include <gtest/gtest.h>

#include <memory>

#include "testing/nat_model.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

TEST(MeshRebindingSim, DirectPathRecoversBeforeTheSilenceFallback) {
  NatOptions new_ports;
  new_ports.preserve_port = false;  // a rebooted NAT hands out another port
  auto nat_a = std::make_shared<PortRestrictedNat>(IpAddress::v4({198, 51, 100, 10}), new_ports);
  auto nat_b = std::make_shared<PortRestrictedNat>(IpAddress::v4({198, 51, 100, 20}), new_ports);
  SimMesh mesh(71);
  const HostId c = mesh.add_coordinator("c", Endpoint{IpAddress::v4({203, 0, 113, 1}), 51820});
  const HostId a = mesh.add_client("a", c, Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820}, nat_a);
  const HostId b = mesh.add_client("b", c, Endpoint{IpAddress::v4({10, 0, 20, 2}), 51820}, nat_b);
  mesh.link(a, b);
  MeshConfig timers;
  timers.status_interval_ns = 10 * kNsPerSecond;
  mesh.start(timers);

  uint64_t seq_a = 0, seq_b = 0;
  // One packet each way every 100 ms for `seconds`; what b got from a.
  auto traffic = [&](int seconds) {
    size_t delivered = 0;
    for (int i = 0; i < seconds * 10; ++i) {
      mesh.send(a, b, 1, seq_a++);
      mesh.send(b, a, 2, seq_b++);
      EXPECT_TRUE(mesh.run_for(100 * kNsPerMs));
      delivered += mesh.take_delivered(b);
      mesh.take_delivered(a);
    }
    return delivered;
  };
  traffic(10);
  ASSERT_EQ(mesh.host(a).peer_status(b)->path, PathKind::kDirect);
  ASSERT_EQ(mesh.host(b).peer_status(a)->path, PathKind::kDirect);

  nat_a->flush();
  // The registry hears from a at its next report (10 s) and tells b; well
  // before the 40 s fallback the direct path carries the traffic again.
  traffic(20);
  EXPECT_GE(traffic(5), 48u);
  EXPECT_EQ(mesh.host(a).peer_status(b)->path, PathKind::kDirect);
  EXPECT_EQ(mesh.host(b).peer_status(a)->path, PathKind::kDirect);
}

}  // namespace
}  // namespace cordon::testing
