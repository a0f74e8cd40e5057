// Courier messages through the node (core/node.hpp, Node::send_courier and
// TickResult::courier; docs/couriers.md): they arrive from an authenticated
// peer only, and one captured before the receiver restarted and replayed
// after it never reaches the courier (old_control).
#include <gtest/gtest.h>

#include <vector>

#include "core/wire/control.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

const Endpoint kC{IpAddress::v4({203, 0, 113, 1}), 51820};
const Endpoint kA{IpAddress::v4({198, 51, 100, 10}), 51820};
const Endpoint kEvil{IpAddress::v4({192, 0, 2, 66}), 40000};

std::vector<std::byte> body(uint8_t fill, size_t size) { return std::vector<std::byte>(size, std::byte{fill}); }

TEST(CourierNode, MessagesArriveFromThePeerAndReplaysAfterARestartDoNot) {
  SimMesh mesh(0xc0417);
  mesh.host_options.persist_receive_floors = false;  // the worst case: every capture authenticates again
  const HostId c = mesh.add_coordinator("c", kC);
  const HostId a = mesh.add_client("a", c, kA);
  std::vector<std::vector<std::byte>> captured;
  mesh.network.set_tap([&](const CapturedDatagram& d) {
    if (d.to == kC) captured.emplace_back(d.data.begin(), d.data.end());
  });
  mesh.start();
  ASSERT_TRUE(mesh.run_for(3 * kNsPerSecond));

  // Refused before anything is sealed.
  EXPECT_FALSE(mesh.host(a).node().send_courier(HostId{0x000100ee}, body(1, 10), mesh.host(a).now()));
  EXPECT_FALSE(mesh.host(a).node().send_courier(c, {}, mesh.host(a).now()));
  EXPECT_FALSE(mesh.host(a).node().send_courier(c, body(1, wire::kMaxCourierBody + 1), mesh.host(a).now()));

  const size_t before = captured.size();
  for (uint8_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(mesh.host(a).node().send_courier(c, body(i, 1000), mesh.host(a).now()));
  }
  mesh.host(a).tick();
  ASSERT_TRUE(mesh.run_for(kNsPerSecond));
  const auto& got = mesh.host(c).counters().courier;
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].peer, a);
    EXPECT_EQ(got[i].body.size(), 1000u);
  }
  const std::vector<std::vector<std::byte>> replays(captured.begin() + static_cast<ptrdiff_t>(before), captured.end());
  ASSERT_GE(replays.size(), 5u);

  // c restarts; the captured courier messages come back from elsewhere.
  mesh.host(c).restart();
  ASSERT_TRUE(mesh.run_for(kNsPerSecond));
  const size_t after_restart = mesh.host(c).counters().courier.size();
  for (const auto& d : replays) mesh.network.inject(kEvil, kC, d);
  ASSERT_TRUE(mesh.run_for(2 * kNsPerSecond));
  EXPECT_EQ(mesh.host(c).counters().courier.size(), after_restart);
  EXPECT_GE(mesh.host(c).peer_status(a)->drops[static_cast<size_t>(DropReason::kOldControl)], 5u);

  // A fresh one after the restart still arrives.
  ASSERT_TRUE(mesh.host(a).node().send_courier(c, body(9, 20), mesh.host(a).now()));
  mesh.host(a).tick();
  ASSERT_TRUE(mesh.run_for(kNsPerSecond));
  ASSERT_EQ(mesh.host(c).counters().courier.size(), after_restart + 1);
  EXPECT_EQ(mesh.host(c).counters().courier.back().body, body(9, 20));
}

}  // namespace
}  // namespace cordon::testing
