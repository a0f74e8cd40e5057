// Coordinators in simulation (docs/protocol.md, "Coordinators"): registry,
// rendezvous through the four RFC 4787 NAT behaviours, relay, routing between
// coordinators, restarts, loss and recovery, all on a ManualClock.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "testing/nat_model.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

enum class Nat { kNone, kFullCone, kAddress, kPort, kSymmetric };

const char* nat_name(Nat n) {
  switch (n) {
    case Nat::kNone: return "none";
    case Nat::kFullCone: return "full-cone";
    case Nat::kAddress: return "address-restricted";
    case Nat::kPort: return "port-restricted";
    case Nat::kSymmetric: return "symmetric";
  }
  return "?";
}

std::shared_ptr<NatModel> make_nat(Nat n, IpAddress public_address) {
  switch (n) {
    case Nat::kNone: return nullptr;
    case Nat::kFullCone: return std::make_shared<FullConeNat>(public_address);
    case Nat::kAddress: return std::make_shared<AddressRestrictedNat>(public_address);
    case Nat::kPort: return std::make_shared<PortRestrictedNat>(public_address);
    case Nat::kSymmetric: return std::make_shared<SymmetricNat>(public_address);
  }
  return nullptr;
}

const Endpoint kCoordinator{IpAddress::v4({203, 0, 113, 1}), 51820};
const Endpoint kCoordinator2{IpAddress::v4({203, 0, 113, 2}), 51820};

// One coordinator and two linked clients, each behind its own NAT (or on
// the public underlay when kNone).
struct ThreeHosts {
  ThreeHosts(Nat a_nat, Nat b_nat, uint64_t seed = 0xc0de) : mesh(seed) {
    c = mesh.add_coordinator("c", kCoordinator);
    a = add(a_nat, "a", 10);
    b = add(b_nat, "b", 20);
    mesh.link(a, b);
  }
  HostId add(Nat n, const char* name, uint8_t subnet) {
    const IpAddress pub = IpAddress::v4({198, 51, 100, subnet});
    const Endpoint inside = n == Nat::kNone ? Endpoint{pub, 51820} : Endpoint{IpAddress::v4({10, 0, subnet, 2}), 51820};
    return mesh.add_client(name, c, inside, make_nat(n, pub));
  }
  // Sends one packet each way every 100 ms for `seconds`; returns false if
  // the run failed to settle.
  bool traffic(int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      mesh.send(a, b, 1, seq_a++);
      mesh.send(b, a, 2, seq_b++);
      if (!mesh.run_for(100 * kNsPerMs)) return false;
      at_b += mesh.take_delivered(b);
      at_a += mesh.take_delivered(a);
    }
    return true;
  }
  PeerStatus view(HostId from, HostId of) { return mesh.host(from).peer_status(of).value(); }

  SimMesh mesh;
  HostId c, a, b;
  uint64_t seq_a = 0, seq_b = 0;
  size_t at_a = 0, at_b = 0;
};

TEST(MeshSim, FirstPacketsGoThroughTheCoordinatorAtOnce) {
  ThreeHosts t(Nat::kSymmetric, Nat::kSymmetric);
  t.mesh.start();
  ASSERT_TRUE(t.mesh.run_for(2 * kNsPerSecond));  // registration
  ASSERT_TRUE(t.traffic(1));
  // Nothing waited for a path: every packet of the first second arrived.
  EXPECT_EQ(t.at_b, t.seq_a);
  EXPECT_EQ(t.at_a, t.seq_b);
  EXPECT_EQ(t.view(t.a, t.b).path, PathKind::kRelayed);
  EXPECT_EQ(t.view(t.a, t.b).via, t.c);
  // The coordinator counts what it relayed for each (the administrator's
  // live status, docs/couriers.md "Status reports").
  EXPECT_GT(t.view(t.c, t.a).relayed_packets, 0u);
  EXPECT_GT(t.view(t.c, t.b).relayed_packets, 0u);
}

struct NatCase {
  Nat a, b;
  PathKind expected;
};

class MeshNatPairs : public ::testing::TestWithParam<NatCase> {};

TEST_P(MeshNatPairs, PathMatchesWhatTheNatsAllow) {
  const NatCase& nc = GetParam();
  ThreeHosts t(nc.a, nc.b);
  t.mesh.start();
  ASSERT_TRUE(t.mesh.run_for(2 * kNsPerSecond));
  ASSERT_TRUE(t.traffic(30));
  EXPECT_EQ(t.view(t.a, t.b).path, nc.expected) << path_kind_name(t.view(t.a, t.b).path);
  EXPECT_EQ(t.view(t.b, t.a).path, nc.expected) << path_kind_name(t.view(t.b, t.a).path);
  // The registry knows the path too, from the clients' path reports.
  for (const RegisteredClient& rc : t.mesh.host(t.c).node().status().clients) {
    ASSERT_EQ(rc.peer_paths.size(), 1u) << rc.id.to_string();
    EXPECT_EQ(rc.peer_paths[0].second, nc.expected) << rc.id.to_string();
  }
  // Either way, traffic flowed: at most the packets of the last moment are in flight.
  EXPECT_GE(t.at_b + 2, t.seq_a);
  EXPECT_GE(t.at_a + 2, t.seq_b);
  // Once direct, the coordinator stops relaying.
  if (nc.expected == PathKind::kDirect) {
    const uint64_t relayed = t.mesh.host(t.c).node().status().relay.packets;
    ASSERT_TRUE(t.traffic(10));
    EXPECT_EQ(t.mesh.host(t.c).node().status().relay.packets, relayed);
  }
}

std::vector<NatCase> nat_table() {
  std::vector<NatCase> out;
  const Nat all[] = {Nat::kNone, Nat::kFullCone, Nat::kAddress, Nat::kPort, Nat::kSymmetric};
  for (Nat a : all) {
    for (Nat b : all) {
      // Both sides map per destination, or one does and the other filters by
      // port: the probes never meet (docs/protocol.md, "Rendezvous").
      const bool blocked = (a == Nat::kSymmetric && (b == Nat::kSymmetric || b == Nat::kPort)) ||
                           (b == Nat::kSymmetric && a == Nat::kPort);
      out.push_back(NatCase{a, b, blocked ? PathKind::kRelayed : PathKind::kDirect});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllPairs, MeshNatPairs, ::testing::ValuesIn(nat_table()),
                         [](const ::testing::TestParamInfo<NatCase>& info) {
                           std::string n = std::string(nat_name(info.param.a)) + "_" + nat_name(info.param.b);
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });


// The ViPNet technology description: a registry that hears nothing from a client for the polling
// period marks it unreachable and tells the hosts linked with it.
TEST(MeshSim, SilentClientBecomesUnreachableForItsLinkedHosts) {
  ThreeHosts t(Nat::kPort, Nat::kPort);
  MeshConfig timers;
  timers.poll_period_ns = 60 * kNsPerSecond;
  t.mesh.start(timers);
  ASSERT_TRUE(t.mesh.run_for(5 * kNsPerSecond));
  EXPECT_EQ(t.view(t.a, t.b).reachability, Reachability::kReachable);
  t.mesh.host(t.b).kill();
  ASSERT_TRUE(t.mesh.run_for(90 * kNsPerSecond));
  EXPECT_EQ(t.view(t.a, t.b).reachability, Reachability::kUnreachable);
  const NodeStatus c = t.mesh.host(t.c).node().status();
  ASSERT_EQ(c.clients.size(), 2u);
  for (const RegisteredClient& rc : c.clients) {
    EXPECT_EQ(rc.state, rc.id == t.b ? Reachability::kUnreachable : Reachability::kReachable) << rc.id.to_string();
  }
  // Back again: reachable, and traffic finds its way.
  t.mesh.host(t.b).start();
  ASSERT_TRUE(t.mesh.run_for(5 * kNsPerSecond));
  EXPECT_EQ(t.view(t.a, t.b).reachability, Reachability::kReachable);
  ASSERT_TRUE(t.traffic(5));
  EXPECT_GT(t.at_b, 0u);
}

// A client learns about the hosts it is linked with and no others.
TEST(MeshSim, ClientLearnsOnlyItsLinkedHosts) {
  SimMesh mesh(7);
  const HostId c = mesh.add_coordinator("c", kCoordinator);
  const HostId a = mesh.add_client("a", c, Endpoint{IpAddress::v4({198, 51, 100, 10}), 51820});
  const HostId b = mesh.add_client("b", c, Endpoint{IpAddress::v4({198, 51, 100, 20}), 51820});
  const HostId x = mesh.add_client("x", c, Endpoint{IpAddress::v4({198, 51, 100, 30}), 51820});
  mesh.link(a, b);
  mesh.start();
  ASSERT_TRUE(mesh.run_for(5 * kNsPerSecond));
  EXPECT_TRUE(mesh.host(a).peer_status(b)->public_endpoint.has_value());
  EXPECT_FALSE(mesh.host(a).peer_status(x).has_value());  // not even a peer
  // x is linked only with c: the registry sent it nothing about a or b, so
  // it counted nothing unlinked either.
  const PeerStatus x_c = mesh.host(x).peer_status(c).value();
  EXPECT_EQ(x_c.drops[static_cast<size_t>(DropReason::kUnlinkedRecord)], 0u);
  EXPECT_EQ(mesh.host(c).node().status().clients.size(), 3u);
}

// Two coordinators, linked; a client of each. Records travel between the
// coordinators, and traffic between symmetric-NAT clients goes a -> c1 -> c2 -> b.
TEST(MeshSim, ClientsOfDifferentCoordinatorsReachEachOther) {
  SimMesh mesh(11);
  const HostId c1 = mesh.add_coordinator("c1", kCoordinator);
  const HostId c2 = mesh.add_coordinator("c2", kCoordinator2);
  mesh.link(c1, c2);
  const HostId a = mesh.add_client("a", c1, Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820},
                                   std::make_shared<SymmetricNat>(IpAddress::v4({198, 51, 100, 10})));
  const HostId b = mesh.add_client("b", c2, Endpoint{IpAddress::v4({10, 0, 20, 2}), 51820},
                                   std::make_shared<SymmetricNat>(IpAddress::v4({198, 51, 100, 20})));
  mesh.link(a, b);
  mesh.start();
  ASSERT_TRUE(mesh.run_for(5 * kNsPerSecond));
  EXPECT_EQ(mesh.host(a).peer_status(b)->reachability, Reachability::kReachable);
  const NodeStatus s1 = mesh.host(c1).node().status();
  ASSERT_EQ(s1.routes.size(), 1u);
  EXPECT_EQ(s1.routes[0].host, b);
  EXPECT_EQ(s1.routes[0].via, c2);
  uint64_t seq = 0;
  for (int i = 0; i < 50; ++i) {
    mesh.send(a, b, 1, seq++);
    mesh.send(b, a, 2, seq++);
    ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
  }
  EXPECT_EQ(mesh.take_delivered(b), 50u);
  EXPECT_EQ(mesh.take_delivered(a), 50u);
  EXPECT_GT(mesh.host(c1).node().status().relay.packets, 0u);
  EXPECT_GT(mesh.host(c2).node().status().relay.packets, 0u);

  // c1 restarts: it asks c2 for its table at once instead of waiting for the
  // 15-minute exchange, and its clients re-register when asked.
  mesh.host(c1).restart();
  ASSERT_TRUE(mesh.run_for(30 * kNsPerSecond));
  ASSERT_EQ(mesh.host(c1).node().status().routes.size(), 1u);
  for (int i = 0; i < 20; ++i) {
    mesh.send(a, b, 1, seq++);
    ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
  }
  EXPECT_EQ(mesh.take_delivered(b), 20u);
}

// A coordinator restart: clients re-register (report request), relayed
// traffic resumes, and direct paths never notice.
TEST(MeshSim, CoordinatorRestart) {
  ThreeHosts direct(Nat::kPort, Nat::kPort, 21);
  direct.mesh.start();
  ASSERT_TRUE(direct.mesh.run_for(2 * kNsPerSecond));
  ASSERT_TRUE(direct.traffic(20));
  ASSERT_EQ(direct.view(direct.a, direct.b).path, PathKind::kDirect);
  direct.mesh.host(direct.c).kill();
  const size_t before = direct.at_b;
  ASSERT_TRUE(direct.traffic(20));  // the coordinator is down: the direct path carries on
  EXPECT_GE(direct.at_b - before + 2, 200u);
  direct.mesh.host(direct.c).start();
  ASSERT_TRUE(direct.mesh.run_for(60 * kNsPerSecond));
  EXPECT_EQ(direct.mesh.host(direct.c).node().status().clients[0].state, Reachability::kReachable);

  ThreeHosts relayed(Nat::kSymmetric, Nat::kSymmetric, 22);
  relayed.mesh.start();
  ASSERT_TRUE(relayed.mesh.run_for(2 * kNsPerSecond));
  ASSERT_TRUE(relayed.traffic(5));
  relayed.mesh.host(relayed.c).restart();
  ASSERT_TRUE(relayed.mesh.run_for(30 * kNsPerSecond));
  const size_t mark = relayed.at_b;
  ASSERT_TRUE(relayed.traffic(5));
  EXPECT_GE(relayed.at_b - mark + 2, 50u);
}

// 5% loss on every path: reports are retried, probes repeated, and the
// path still becomes direct; traffic keeps flowing.
TEST(MeshSim, FivePercentLoss) {
  ThreeHosts t(Nat::kPort, Nat::kAddress, 31);
  t.mesh.network.set_default_conditions(LinkConditions{.loss_percent = 5, .latency_ns = 10 * kNsPerMs});
  t.mesh.start();
  ASSERT_TRUE(t.mesh.run_for(5 * kNsPerSecond));
  ASSERT_TRUE(t.traffic(30));
  EXPECT_EQ(t.view(t.a, t.b).path, PathKind::kDirect);
  EXPECT_GT(t.at_b, t.seq_a * 85 / 100);
}

// The ViPNet technology description: "Direct connection ... is possible within 75 seconds since the
// last connection was broken." The direct path is cut for 2 minutes
// (traffic falls back to the relay), then restored: direct again within 75 s.
TEST(MeshSim, DirectPathComesBackWithin75Seconds) {
  auto nat_a = std::make_shared<PortRestrictedNat>(IpAddress::v4({198, 51, 100, 10}));
  SimMesh mesh(41);
  const HostId c = mesh.add_coordinator("c", kCoordinator);
  const HostId a = mesh.add_client("a", c, Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820}, nat_a);
  const HostId b = mesh.add_client("b", c, Endpoint{IpAddress::v4({10, 0, 20, 2}), 51820},
                                   std::make_shared<PortRestrictedNat>(IpAddress::v4({198, 51, 100, 20})));
  mesh.link(a, b);
  mesh.start();
  uint64_t seq = 0;
  size_t delivered = 0;
  auto traffic = [&](int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      mesh.send(a, b, 1, seq++);
      ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
      delivered += mesh.take_delivered(b);
    }
  };
  traffic(20);
  ASSERT_EQ(mesh.host(a).peer_status(b)->path, PathKind::kDirect);
  // Cut the direct path both ways (a firewall rule between the two NATs).
  const LinkConditions cut{.loss_percent = 100};
  mesh.network.set_link_conditions(Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820}, IpAddress::v4({198, 51, 100, 20}), cut);
  mesh.network.set_link_conditions(Endpoint{IpAddress::v4({10, 0, 20, 2}), 51820}, IpAddress::v4({198, 51, 100, 10}), cut);
  traffic(120);
  EXPECT_EQ(mesh.host(a).peer_status(b)->path, PathKind::kRelayed);
  const size_t during = delivered;
  traffic(10);
  EXPECT_GE(delivered - during, 95u);  // relayed traffic flows while the direct path is cut
  mesh.network.set_link_conditions(Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820}, IpAddress::v4({198, 51, 100, 20}), {});
  mesh.network.set_link_conditions(Endpoint{IpAddress::v4({10, 0, 20, 2}), 51820}, IpAddress::v4({198, 51, 100, 10}), {});
  const int64_t restored = mesh.clock.mono_ns();
  int64_t direct_at = 0;
  for (int i = 0; i < 900 && direct_at == 0; ++i) {
    traffic(0);
    mesh.send(a, b, 1, seq++);
    ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
    if (mesh.host(a).peer_status(b)->path == PathKind::kDirect) direct_at = mesh.clock.mono_ns();
  }
  ASSERT_NE(direct_at, 0);
  EXPECT_LE(direct_at - restored, 75 * kNsPerSecond);
}

// A client whose public address changes (roaming): the registry sees the new
// address, tells its linked hosts, and traffic recovers.
TEST(MeshSim, RoamingClientRecovers) {
  auto nat_b = std::make_shared<AddressRewriteNat>(IpAddress::v4({10, 0, 20, 2}), IpAddress::v4({198, 51, 100, 20}));
  SimMesh mesh(51);
  const HostId c = mesh.add_coordinator("c", kCoordinator);
  const HostId a = mesh.add_client("a", c, Endpoint{IpAddress::v4({198, 51, 100, 10}), 51820});
  const HostId b = mesh.add_client("b", c, Endpoint{IpAddress::v4({10, 0, 20, 2}), 51820}, nat_b);
  mesh.link(a, b);
  mesh.start();
  uint64_t seq = 0;
  for (int i = 0; i < 100; ++i) {
    mesh.send(a, b, 1, seq++);
    ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
  }
  mesh.take_delivered(b);
  ASSERT_EQ(mesh.host(a).peer_status(b)->path, PathKind::kDirect);
  nat_b->move_to(IpAddress::v4({198, 51, 100, 99}));
  for (int i = 0; i < 600; ++i) {
    mesh.send(a, b, 1, seq++);
    ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
  }
  EXPECT_EQ(mesh.host(a).peer_status(b)->public_endpoint->address, IpAddress::v4({198, 51, 100, 99}));
  mesh.take_delivered(b);
  size_t late = 0;
  for (int i = 0; i < 50; ++i) {
    mesh.send(a, b, 1, seq++);
    ASSERT_TRUE(mesh.run_for(100 * kNsPerMs));
    late += mesh.take_delivered(b);
  }
  EXPECT_GE(late, 48u);
}

// UDP blocked at a client's NAT: after the TCP fallback time the client
// asks for a TCP tunnel to its rendezvous coordinator; once UDP answers
// again it stops asking (the daemon then closes the stream).
TEST(MeshSim, TcpFallbackWhenUdpIsBlocked) {
  auto nat = std::make_shared<PortRestrictedNat>(IpAddress::v4({198, 51, 100, 10}));
  SimMesh mesh(61);
  const HostId c = mesh.add_coordinator("c", kCoordinator);
  const HostId a = mesh.add_client("a", c, Endpoint{IpAddress::v4({10, 0, 10, 2}), 51820}, nat);
  MeshConfig timers;
  timers.tcp_fallback_ns = 6 * kNsPerSecond;
  mesh.start(timers);
  auto wants_tcp = [&] {
    const auto& ticks = mesh.host(a).ticks();
    return !ticks.empty() && !ticks.back().tcp_targets.empty();
  };
  ASSERT_TRUE(mesh.run_for(60 * kNsPerSecond));
  EXPECT_FALSE(wants_tcp());  // UDP answers: never a TCP wish, even at a short fallback time
  for (const TickRecord& t : mesh.host(a).ticks()) ASSERT_TRUE(t.tcp_targets.empty());
  nat->set_udp_blocked(true);
  ASSERT_TRUE(mesh.run_for(8 * kNsPerSecond));
  ASSERT_TRUE(wants_tcp());
  const TcpTarget target = mesh.host(a).ticks().back().tcp_targets.front();
  EXPECT_EQ(target.coordinator, c);
  EXPECT_EQ(target.endpoint, (Endpoint{kCoordinator.address, kDefaultTcpPort}));
  nat->set_udp_blocked(false);
  ASSERT_TRUE(mesh.run_for(5 * kNsPerSecond));
  EXPECT_FALSE(wants_tcp());
}

}  // namespace
}  // namespace cordon::testing
