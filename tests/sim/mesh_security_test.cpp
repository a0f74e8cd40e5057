// Bad input at coordinators and clients (issue: "forged or unauthenticated
// registry, probe or relay messages, status for hosts that are not linked,
// and oversized or truncated control messages are all dropped and counted. A
// coordinator under a flood of such packets keeps serving its clients").
// Datagrams are forged here with the real keys or with wrong ones, and put on
// the simulated wire by an on-path attacker (SimNetwork::inject).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/wire/control.hpp"
#include "core/wire/header.hpp"
#include "core/wire/relay.hpp"
#include "testing/forge.hpp"
#include "testing/sim_mesh.hpp"

namespace cordon::testing {
namespace {

const Endpoint kC{IpAddress::v4({203, 0, 113, 1}), 51820};
const Endpoint kA{IpAddress::v4({198, 51, 100, 10}), 51820};
const Endpoint kB{IpAddress::v4({198, 51, 100, 20}), 51820};

std::vector<std::byte> bytes(std::initializer_list<uint8_t> v) {
  std::vector<std::byte> out;
  for (uint8_t b : v) out.push_back(std::byte{b});
  return out;
}

struct Fixture {
  Fixture() : mesh(0x5ec) {
    c = mesh.add_coordinator("c", kC);
    a = mesh.add_client("a", c, kA);
    b = mesh.add_client("b", c, kB);
    x = mesh.add_client("x", c, Endpoint{IpAddress::v4({198, 51, 100, 30}), 51820});
    mesh.link(a, b);
    mesh.start();
    EXPECT_TRUE(mesh.run_for(3 * kNsPerSecond));
  }
  // A counter fresh for every forged datagram: the clock, far ahead of what
  // the real hosts used within this second.
  uint64_t counter() { return wire::counter_units(mesh.clock.now().real_ns) + (uint64_t{1} << 20) + next_++; }
  uint64_t drops_at(HostId host, HostId peer, DropReason r) {
    return mesh.host(host).peer_status(peer)->drops[static_cast<size_t>(r)];
  }
  uint64_t node_drops(HostId host, DropReason r) {
    return mesh.host(host).node().status().drops[static_cast<size_t>(r)];
  }
  void inject(const Endpoint& from, const Endpoint& to, const std::vector<std::byte>& d) {
    mesh.network.inject(from, to, d);
    EXPECT_TRUE(mesh.run_for(10 * kNsPerMs));
  }

  SimMesh mesh;
  HostId c, a, b, x;
  uint64_t next_ = 0;
};

TEST(MeshSecurity, ClientCannotSendCoordinatorMessages) {
  Fixture f;
  const auto key = SimMesh::link_key(f.a, f.c);
  wire::HostRecords records;
  records.records.push_back(wire::HostRecord{f.b, wire::HostState::kUnreachable, 0, f.c, 0, std::nullopt, {}});
  f.inject(kA, kC, forge_direct(key, f.a, f.c, *wire::encode_control(records), f.counter()));
  f.inject(kA, kC, forge_direct(key, f.a, f.c, *wire::encode_control(wire::StatusAck{1, std::nullopt}), f.counter()));
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kNotCoordinator), 2u);
  // Nothing changed: b is still reachable for a.
  EXPECT_TRUE(f.mesh.run_for(kNsPerSecond));
  EXPECT_EQ(f.mesh.host(f.a).peer_status(f.b)->reachability, Reachability::kReachable);
}

TEST(MeshSecurity, RecordsAboutUnlinkedHostsAreCounted) {
  Fixture f;
  wire::HostRecords records;
  records.records.push_back(wire::HostRecord{HostId{0x000100ee}, wire::HostState::kReachable, 0, f.c, 0, kB, {}});
  f.inject(kC, kA, forge_direct(SimMesh::link_key(f.c, f.a), f.c, f.a, *wire::encode_control(records), f.counter()));
  EXPECT_EQ(f.drops_at(f.a, f.c, DropReason::kUnlinkedRecord), 1u);
  // x reports to c, but c's key set does not say it serves a client 0x...ee:
  // a report from x is fine; one from a peer c does not serve is refused.
  EXPECT_EQ(f.drops_at(f.c, f.x, DropReason::kUnlinkedRecord), 0u);
}

TEST(MeshSecurity, MalformedControlMessagesAreCounted) {
  Fixture f;
  const auto key = SimMesh::link_key(f.a, f.c);
  f.inject(kA, kC, forge_direct(key, f.a, f.c, bytes({0x01, 0x00, 0x00}), f.counter()));          // truncated report
  f.inject(kA, kC, forge_direct(key, f.a, f.c, bytes({0x0b, 0x00}), f.counter()));                // unknown type
  f.inject(kA, kC, forge_direct(key, f.a, f.c, std::vector<std::byte>(1300, std::byte{0x06}), f.counter()));  // oversized
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kBadControl), 2u);
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kUnknownControl), 1u);
}

TEST(MeshSecurity, StrangersCannotUseTheRelay) {
  Fixture f;
  // A stranger who knows host numbers but holds no link with c.
  crypto::SecretBytes wrong(std::vector<std::byte>(32, std::byte{0x42}));
  const auto inner = forge_direct(wrong, f.a, f.b, bytes({0x00}), f.counter());
  const uint64_t before = f.mesh.host(f.c).node().status().relay.packets;
  f.inject(kA, kC, forge_relayed(wrong, f.a, f.c, inner, {f.b, f.a, 4}, f.counter()));
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kAuthFailure), 1u);
  // A host number c has no link with at all.
  f.inject(kA, kC, forge_relayed(wrong, HostId{0x000100ee}, f.c, inner, {f.b, f.a, 4}, f.counter()));
  EXPECT_EQ(f.node_drops(f.c, DropReason::kUnknownPeer), 1u);
  // A genuine hop from a, but claiming to relay for b: clients relay only their own.
  f.inject(kA, kC, forge_relayed(SimMesh::link_key(f.a, f.c), f.a, f.c, inner, {f.x, f.b, 4}, f.counter()));
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kRelaySource), 1u);
  // Out of hops, and to nobody c knows.
  f.inject(kA, kC, forge_relayed(SimMesh::link_key(f.a, f.c), f.a, f.c, inner, {f.b, f.a, 0}, f.counter()));
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kHopLimit), 1u);
  // To a host a has no link with: c serves a, so its served links decide.
  f.inject(kA, kC, forge_relayed(SimMesh::link_key(f.a, f.c), f.a, f.c, inner, {HostId{0x000100ee}, f.a, 4}, f.counter()));
  EXPECT_EQ(f.drops_at(f.c, f.a, DropReason::kUnlinkedRelay), 1u);
  EXPECT_EQ(f.mesh.host(f.c).node().status().relay.packets, before);
  // A relayed datagram for someone else that reaches a client.
  f.inject(kC, kA, forge_relayed(SimMesh::link_key(f.c, f.a), f.c, f.a, inner, {f.b, f.x, 4}, f.counter()));
  EXPECT_EQ(f.drops_at(f.a, f.c, DropReason::kMisrouted), 1u);
}

TEST(MeshSecurity, CoordinatorUnderFloodKeepsServing) {
  Fixture f;
  std::mt19937_64 rng(99);
  uint64_t seq = 0;
  size_t delivered = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 400; ++i) {  // 20,000 forged datagrams in all
      std::vector<std::byte> junk(40 + rng() % 200);
      for (auto& byte : junk) byte = std::byte(static_cast<uint8_t>(rng()));
      junk[0] = std::byte{static_cast<uint8_t>((rng() & 1) ? 0x40 : 0x00)};  // direct or relayed format
      junk[1] = std::byte{0x00};
      junk[2] = std::byte{static_cast<uint8_t>(f.a.host())};  // a's host number: the expensive path
      f.mesh.network.inject(kA, kC, junk);
    }
    f.mesh.send(f.a, f.b, 1, seq++);
    ASSERT_TRUE(f.mesh.run_for(100 * kNsPerMs));
    delivered += f.mesh.take_delivered(f.b);
  }
  EXPECT_GE(delivered + 1, seq);
  EXPECT_GE(f.drops_at(f.c, f.a, DropReason::kAuthFailure) + f.drops_at(f.c, f.a, DropReason::kStale) +
                f.drops_at(f.c, f.a, DropReason::kFuture) + f.node_drops(f.c, DropReason::kTooShort),
            19000u);
  // The registry still answers: a's next report is acknowledged.
  f.mesh.host(f.a).node().set_local_endpoints({kA, Endpoint{IpAddress::v4({10, 9, 9, 9}), 51820}},
                                                f.mesh.host(f.a).now());
  ASSERT_TRUE(f.mesh.run_for(3 * kNsPerSecond));
  EXPECT_EQ(f.mesh.host(f.b).peer_status(f.a)->local_endpoints.size(), 2u);
}

// A client c serves reaches through c only the hosts its served links name:
// x is linked with c alone, so c refuses to relay x's datagrams to b.
TEST(MeshSecurity, CoordinatorRelaysOnlyAlongServedLinks) {
  Fixture f;
  const auto inner = forge_direct(SimMesh::link_key(f.x, f.b), f.x, f.b, bytes({0x00}), f.counter());
  const uint64_t before = f.mesh.host(f.c).node().status().relay.packets;
  f.inject(Endpoint{IpAddress::v4({198, 51, 100, 30}), 51820}, kC,
           forge_relayed(SimMesh::link_key(f.x, f.c), f.x, f.c, inner, {f.b, f.x, 4}, f.counter()));
  EXPECT_EQ(f.drops_at(f.c, f.x, DropReason::kUnlinkedRelay), 1u);
  EXPECT_EQ(f.mesh.host(f.c).node().status().relay.packets, before);
  // a and b are linked: c relays between them.
  const auto ab = forge_direct(SimMesh::link_key(f.a, f.b), f.a, f.b, bytes({0x00}), f.counter());
  f.inject(kA, kC, forge_relayed(SimMesh::link_key(f.a, f.c), f.a, f.c, ab, {f.b, f.a, 4}, f.counter()));
  EXPECT_EQ(f.mesh.host(f.c).node().status().relay.packets, before + 1);
}

// Host records count only from the client's registry: another coordinator
// a is linked with cannot tell a where b is.
TEST(MeshSecurity, HostRecordsOnlyFromTheRegistry) {
  SimMesh mesh(0x5ed);
  const HostId c = mesh.add_coordinator("c", kC);
  const HostId d = mesh.add_coordinator("d", Endpoint{IpAddress::v4({203, 0, 113, 2}), 51820});
  const HostId a = mesh.add_client("a", c, kA);
  const HostId b = mesh.add_client("b", c, kB);
  mesh.link(a, b);
  mesh.link(a, d);
  mesh.link(c, d);
  mesh.start();
  ASSERT_TRUE(mesh.run_for(3 * kNsPerSecond));
  const auto where = mesh.host(a).peer_status(b)->public_endpoint;
  ASSERT_EQ(where, kB);
  wire::HostRecords records;
  const Endpoint elsewhere{IpAddress::v4({192, 0, 2, 99}), 1234};
  records.records.push_back(wire::HostRecord{b, wire::HostState::kReachable, 0, c, 0, elsewhere, {}});
  const uint64_t counter = wire::counter_units(mesh.clock.now().real_ns) + (uint64_t{1} << 20);
  mesh.network.inject(Endpoint{IpAddress::v4({203, 0, 113, 2}), 51820}, kA,
                      forge_direct(SimMesh::link_key(d, a), d, a, *wire::encode_control(records), counter));
  ASSERT_TRUE(mesh.run_for(10 * kNsPerMs));
  EXPECT_EQ(mesh.host(a).peer_status(d)->drops[static_cast<size_t>(DropReason::kNotRegistry)], 1u);
  EXPECT_EQ(mesh.host(a).peer_status(b)->public_endpoint, kB);
}

}  // namespace
}  // namespace cordon::testing
