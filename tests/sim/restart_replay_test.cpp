// Replays after a restart (docs/protocol.md, "Replay protection" and
// "Roaming"). A restarted host's replay window is empty, or starts at a
// receive floor up to a second old, so datagrams captured before the restart
// may authenticate once more. Replayed from a spoofed source they must move
// no endpoint, turn no path direct, draw no answer and, when the receive
// floors were persisted, deliver nothing.
#include <gtest/gtest.h>

#include <vector>

#include "core/wire/control.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

const Endpoint kC{IpAddress::v4({203, 0, 113, 1}), 51820};
const Endpoint kA{IpAddress::v4({198, 51, 100, 10}), 51820};
const Endpoint kB{IpAddress::v4({198, 51, 100, 20}), 51820};
const Endpoint kEvil{IpAddress::v4({192, 0, 2, 66}), 40000};

struct Captured {
  Endpoint from, to;
  std::vector<std::byte> data;
};

// c serves a and b, which are linked, all on the public underlay: a and b
// find a direct path, and every datagram is captured by an on-path observer.
struct Fixture {
  explicit Fixture(bool persist_floors) : mesh(0x7e91a) {
    mesh.host_options.persist_receive_floors = persist_floors;
    c = mesh.add_coordinator("c", kC);
    a = mesh.add_client("a", c, kA);
    b = mesh.add_client("b", c, kB);
    mesh.link(a, b);
    mesh.network.set_tap([this](const CapturedDatagram& d) {
      captured.push_back(Captured{d.from, d.to, {d.data.begin(), d.data.end()}});
    });
    mesh.start();
    for (uint64_t i = 0; i < 30; ++i) {
      mesh.send(a, b, 1, i);
      mesh.send(b, a, 1, i);
      EXPECT_TRUE(mesh.run_for(500 * kNsPerMs));
    }
    EXPECT_TRUE(mesh.run_for(3 * kNsPerSecond));  // data stops well before the restart
    EXPECT_EQ(mesh.host(a).peer_status(b)->path, PathKind::kDirect);
    mesh.take_delivered(a);
    mesh.take_delivered(b);
  }

  // Restarts `target`, then replays every datagram captured on its way to
  // `to` from kEvil, and lets the network run.
  void restart_and_replay(HostId target, const Endpoint& to) {
    std::vector<Captured> replays;
    for (const Captured& d : captured) {
      if (d.to == to) replays.push_back(d);
    }
    ASSERT_GT(replays.size(), 10u);
    mesh.host(target).restart();
    replay_from = captured.size();

    for (const Captured& d : replays) mesh.network.inject(kEvil, to, d.data);
    ASSERT_TRUE(mesh.run_for(2 * kNsPerSecond));
  }

  size_t sent_to_evil() const {
    size_t n = 0;
    for (size_t i = replay_from; i < captured.size(); ++i) n += captured[i].to.address == kEvil.address;
    return n;
  }
  uint64_t drops(HostId host, HostId peer, DropReason r) {
    return mesh.host(host).peer_status(peer)->drops[static_cast<size_t>(r)];
  }
  bool moved_to_evil(HostId host) {
    for (const PeerStatus& p : mesh.host(host).node().status().peers) {
      if (p.endpoint && p.endpoint->address == kEvil.address) return true;
    }
    return false;
  }

  SimMesh mesh;
  HostId c, a, b;
  std::vector<Captured> captured;
  size_t replay_from = 0;
};

class RestartReplay : public ::testing::TestWithParam<bool> {};

TEST_P(RestartReplay, CoordinatorMovesNothingAndAnswersNothing) {
  Fixture f(GetParam());
  const uint64_t forwarded = f.mesh.host(f.c).counters().forwarded;
  f.restart_and_replay(f.c, kC);
  EXPECT_FALSE(f.moved_to_evil(f.c));
  EXPECT_EQ(f.sent_to_evil(), 0u);
  if (GetParam()) {
    // The floors refuse what was accepted up to a second before the restart.
    EXPECT_GT(f.drops(f.c, f.a, DropReason::kReplay) + f.drops(f.c, f.a, DropReason::kTooOld), 5u);
    EXPECT_EQ(f.mesh.host(f.c).counters().forwarded, forwarded);
  } else {
    // Without floors the replays authenticate, and the reports and probes
    // among them are counted, unanswered.
    EXPECT_GT(f.drops(f.c, f.a, DropReason::kOldControl), 0u);
  }
  // The genuine clients still get their answers.
  ASSERT_TRUE(f.mesh.run_for(40 * kNsPerSecond));
  EXPECT_EQ(f.mesh.host(f.c).peer_status(f.a)->reachability, Reachability::kReachable);
  EXPECT_EQ(f.mesh.host(f.c).peer_status(f.a)->endpoint, kA);
}

TEST_P(RestartReplay, ClientMovesNothingSwitchesNoPathAndAnswersNothing) {
  Fixture f(GetParam());
  f.restart_and_replay(f.a, kA);
  EXPECT_FALSE(f.moved_to_evil(f.a));
  EXPECT_EQ(f.sent_to_evil(), 0u);
  EXPECT_EQ(f.mesh.host(f.a).peer_status(f.c)->endpoint, kC);
  if (GetParam()) {
    EXPECT_EQ(f.mesh.take_delivered(f.a), 0u);
    EXPECT_GT(f.drops(f.a, f.b, DropReason::kReplay) + f.drops(f.a, f.b, DropReason::kTooOld), 20u);
  } else {
    // Probes and probe acks of the previous start: unanswered, or matching
    // no probe this start sent.
    EXPECT_GT(f.drops(f.a, f.b, DropReason::kOldControl) + f.drops(f.a, f.b, DropReason::kUnmatchedAck), 0u);
  }
  // Traffic resumes, and the path to b turns direct again on b's genuine datagrams.
  for (uint64_t i = 100; i < 140; ++i) {
    f.mesh.send(f.a, f.b, 1, i);
    f.mesh.send(f.b, f.a, 1, i);
    ASSERT_TRUE(f.mesh.run_for(500 * kNsPerMs));
  }
  EXPECT_EQ(f.mesh.host(f.a).peer_status(f.b)->path, PathKind::kDirect);
  EXPECT_EQ(f.mesh.host(f.a).peer_status(f.b)->endpoint, kB);
  EXPECT_EQ(f.sent_to_evil(), 0u);
}

INSTANTIATE_TEST_SUITE_P(ReceiveFloors, RestartReplay, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Persisted" : "NotPersisted"; });

// The receive floor is offered at most once a second, so what a host
// accepted in its last second before a crash can be replayed once after
// it: delivered, but it moves nothing and draws no answer.
TEST(RestartReplayCrash, LastSecondBeforeACrashIsDeliveredOnceAndMovesNothing) {
  Fixture f(/*persist_floors=*/true);
  const size_t from = f.captured.size();
  for (uint64_t i = 200; i < 205; ++i) f.mesh.send(f.b, f.a, 1, i);
  ASSERT_TRUE(f.mesh.run_for(20 * kNsPerMs));
  ASSERT_EQ(f.mesh.take_delivered(f.a), 5u);
  std::vector<std::vector<std::byte>> last;
  for (size_t i = from; i < f.captured.size(); ++i) {
    if (f.captured[i].to == kA) last.push_back(f.captured[i].data);
  }
  f.mesh.host(f.a).kill();
  f.mesh.host(f.a).start();
  f.replay_from = f.captured.size();
  for (const auto& d : last) f.mesh.network.inject(kEvil, kA, d);
  ASSERT_TRUE(f.mesh.run_for(2 * kNsPerSecond));
  EXPECT_LE(f.mesh.take_delivered(f.a), 5u);
  EXPECT_FALSE(f.moved_to_evil(f.a));
  EXPECT_EQ(f.sent_to_evil(), 0u);
}

// A status ack captured before a client restarted does not acknowledge the
// report the restarted client sends: report sequence numbers start from a
// random value at every start.
TEST(RestartReplayAck, OldStatusAckDoesNotAcknowledgeANewReport) {
  Fixture f(/*persist_floors=*/false);
  std::vector<std::vector<std::byte>> from_c;
  for (const Captured& d : f.captured) {
    if (d.to == kA && d.from == kC) from_c.push_back(d.data);
  }
  // a's reports never reach c after the restart.
  f.mesh.network.set_link_conditions(kA, kC.address, LinkConditions{.loss_percent = 100});
  f.mesh.host(f.a).restart();
  ASSERT_TRUE(f.mesh.run_for(100 * kNsPerMs));
  for (const auto& d : from_c) f.mesh.network.inject(kC, kA, d);
  ASSERT_TRUE(f.mesh.run_for(5 * kNsPerSecond));
  EXPECT_FALSE(f.mesh.host(f.a).node().status().public_endpoint.has_value());
  EXPECT_GT(f.drops(f.a, f.c, DropReason::kUnmatchedAck), 0u);
}

}  // namespace
}  // namespace cordon::testing
