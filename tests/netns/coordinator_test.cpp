// Coordinators on real kernels (docs/protocol.md, "Coordinators"): a managed
// network built with `cordon admin`, whose clients sit behind nftables NAT
// routers, all in network namespaces (CoordinatorNetwork in nat_topology.hpp
// draws it). Each scenario builds its own network, with short mesh timers so
// that the whole suite takes a couple of minutes.
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/netns/nat_topology.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;

class CoordinatorTest : public NetnsTest {
 protected:
  void build(NatKind nat) {
    net_ = std::make_unique<CoordinatorNetwork>(CoordinatorOptions{nat});
    net_->wait_until_registered();
  }
  void TearDown() override { net_.reset(); }

  std::unique_ptr<CoordinatorNetwork> net_;
};

// 1. Both NATs keep a client's port whatever the destination: the probes
// meet, a and b talk directly, and c1 stops relaying while the ping goes on.
TEST_F(CoordinatorTest, ConeNatsFindADirectPath) {
  build(NatKind::kCone);
  auto& n = *net_;
  const uint64_t relayed_before = relayed_packets(n.c1().status());
  const auto started = Clock::now();
  auto ping = n.ping(n.a(), n.b());

  json sa, sb;
  ASSERT_TRUE(wait_status(n.a(), 30s, sa, [&](const json& s) { return peer_path(s, n.b().id()) == "direct"; }))
      << "a never went direct to b\n" << sa.dump(2);
  ASSERT_TRUE(wait_status(n.b(), 15s, sb, [&](const json& s) { return peer_path(s, n.a().id()) == "direct"; }))
      << "b never went direct to a\n" << sb.dump(2);
  std::cout << "direct both ways after " << seconds_since(started) << " s\n";
  // The endpoint a uses is b's router, not b's LAN address.
  EXPECT_EQ(peer_endpoint(sa, n.b().id()).value_or("").rfind(std::string(CoordinatorNetwork::kRb) + ":", 0), 0u)
      << sa.dump(2);

  // The first packets went through c1 (nothing waited for the path)...
  const uint64_t relayed_direct = relayed_packets(n.c1().status());
  EXPECT_GT(relayed_direct, relayed_before);
  // ...and now it relays nothing while the ping goes on.
  const uint64_t rx = peer_counter(sa, n.b().id(), "rx_packets");
  ASSERT_TRUE(wait_status(n.a(), 15s, sa, [&](const json& s) {
    return peer_counter(s, n.b().id(), "rx_packets") >= rx + 15;
  })) << "the ping stopped getting answers on the direct path\n" << sa.dump(2);
  json s1 = n.c1().status();
  EXPECT_EQ(relayed_packets(s1), relayed_direct) << "c1 still relays a-b traffic\n" << s1.dump(2);
  EXPECT_EQ(peer_path(sa, n.b().id()), "direct") << sa.dump(2);
  EXPECT_GE(ping_replies(n.b(), n.a().tun4(), 10), 9);
}

// 2. Both NATs pick a new random port per destination: the probes never
// meet, and the traffic stays with c1.
TEST_F(CoordinatorTest, SymmetricNatsStayRelayed) {
  build(NatKind::kSymmetric);
  auto& n = *net_;
  auto ping = n.ping(n.a(), n.b());
  json sa;
  ASSERT_TRUE(wait_status(n.a(), 20s, sa, [&](const json& s) {
    return peer_counter(s, n.b().id(), "rx_packets") >= 5;
  })) << "a gets no answers from b through c1\n" << sa.dump(2);
  // Probes go out at once and every 2 s for 10 s (docs/protocol.md,
  // "Timers"); give them that and more to (wrongly) find a direct path.
  const bool went_direct =
      wait_status(n.a(), 14s, sa, [&](const json& s) { return peer_path(s, n.b().id()) != "relayed"; });
  EXPECT_FALSE(went_direct) << "the path left the relay behind symmetric NATs\n" << sa.dump(2);
  EXPECT_EQ(peer_path(sa, n.b().id()), "relayed") << sa.dump(2);
  EXPECT_EQ(peer_via(sa, n.b().id()), n.c1().id()) << sa.dump(2);
  const json sb = n.b().status();
  EXPECT_EQ(peer_path(sb, n.a().id()), "relayed") << sb.dump(2);

  // c1 carries it: its counter rises with the ping.
  const uint64_t relayed = relayed_packets(n.c1().status());
  EXPECT_GE(ping_replies(n.a(), n.b().tun4(), 10), 9);
  EXPECT_GE(relayed_packets(n.c1().status()), relayed + 20);  // 10 echoes and 10 replies at least

  // Full-size packets cross the relay too: an inner packet of exactly the
  // managed-mode MTU (1380 = 1352 + 28 bytes of IPv4 and ICMP headers)
  // becomes a relayed datagram of 1440 bytes, which every hop must take.
  EXPECT_GE(ping_replies(n.a(), n.b().tun4(), 5, 1352), 4) << "full-size packets do not cross the relay";
}

// 3. a's network lets no UDP through: a reaches c1 over the TCP tunnel and
// its traffic goes on; once UDP works again, a goes back to it.
TEST_F(CoordinatorTest, BlockedUdpFallsBackToTcpAndBack) {
  build(NatKind::kCone);
  auto& n = *net_;
  const auto blocked_at = Clock::now();
  n.ra().block_udp(true);
  // TCP once nothing came over UDP for the 3 s fallback (docs/protocol.md,
  // "TCP tunnel"); a asks c1 for a UDP reply every third of it meanwhile.
  json sa;
  ASSERT_TRUE(wait_status(n.a(), 20s, sa, [&](const json& s) {
    return s.value("tcp", false) && peer_path(s, n.c1().id()) == "tcp";
  })) << "a did not move to the TCP tunnel\n" << sa.dump(2);
  std::cout << "on TCP " << seconds_since(blocked_at) << " s after UDP was blocked\n";

  EXPECT_TRUE(wait_for_ping(n.a().ns(), n.c1().tun4(), deadline_in(15s))) << "a -> c1 over TCP";
  EXPECT_TRUE(wait_for_ping(n.a().ns(), n.b().tun4(), deadline_in(15s))) << "a -> b over TCP and c1";
  EXPECT_TRUE(wait_for_ping(n.b().ns(), n.a().tun4(), deadline_in(15s))) << "b -> a through c1 and TCP";
  EXPECT_GE(ping_replies(n.a(), n.b().tun4(), 10), 9);
  sa = n.a().status();
  EXPECT_EQ(peer_path(sa, n.b().id()), "tcp") << sa.dump(2);
  const json s1 = n.c1().status();
  const json* client = find_client(s1, n.a().id());
  ASSERT_NE(client, nullptr) << s1.dump(2);
  EXPECT_TRUE(client->value("tcp", false)) << s1.dump(2);

  const auto unblocked_at = Clock::now();
  n.ra().block_udp(false);
  // While on TCP, a keeps probing c1 over UDP; the first answer brings it
  // back.
  ASSERT_TRUE(wait_status(n.a(), 30s, sa, [&](const json& s) {
    return !s.value("tcp", true) && peer_path(s, n.c1().id()) == "direct";
  })) << "a stayed on TCP after UDP came back\n" << sa.dump(2);
  std::cout << "back on UDP " << seconds_since(unblocked_at) << " s after UDP was unblocked\n";
  EXPECT_TRUE(wait_for_ping(n.a().ns(), n.c1().tun4(), deadline_in(15s))) << "a -> c1 over UDP";
  EXPECT_TRUE(wait_for_ping(n.a().ns(), n.b().tun4(), deadline_in(15s))) << "a -> b over UDP";
}

// 4. a's router gets a new public address in the middle of a ping: c1 sees
// a at the new address, and the a-b traffic recovers.
TEST_F(CoordinatorTest, NewPublicAddressRecovers) {
  build(NatKind::kCone);
  auto& n = *net_;
  auto ping = n.ping(n.a(), n.b());
  json sa;
  ASSERT_TRUE(wait_status(n.a(), 30s, sa, [&](const json& s) { return peer_path(s, n.b().id()) == "direct"; }))
      << sa.dump(2);

  const std::string moved_to = "203.0.113.21";
  const auto moved_at = Clock::now();
  n.ra().move_wan(moved_to);
  json s1;
  EXPECT_TRUE(wait_status(n.c1(), 30s, s1, [&](const json& s) {
    const json* c = find_client(s, n.a().id());
    return c && c->value("public_endpoint", json()).is_string() &&
           c->value("public_endpoint", "").rfind(moved_to + ":", 0) == 0;
  })) << "c1 did not see a's new public address\n" << s1.dump(2);
  std::cout << "c1 saw a's new address after " << seconds_since(moved_at) << " s\n";

  // The ping answers again. b hears of a's new place from c1 and probes it
  // at once (docs/protocol.md, "Rendezvous"), which opens b's NAT for a's
  // new mapping: well before the 40 s direct-silence fallback to the relay
  // would have brought the traffic back.
  const uint64_t rx = peer_counter(n.a().status(), n.b().id(), "rx_packets");
  ASSERT_TRUE(wait_status(n.a(), 30s, sa, [&](const json& s) {
    return peer_counter(s, n.b().id(), "rx_packets") >= rx + 10;
  })) << "a-b traffic did not recover after a's address changed\n" << sa.dump(2) << "\n" << n.b().status().dump(2);
  std::cout << "a-b traffic recovered " << seconds_since(moved_at) << " s after the move (path "
            << peer_path(sa, n.b().id()) << ")\n";
  EXPECT_GE(ping_replies(n.b(), n.a().tun4(), 10), 9);
}

// 5. c1 dies: the direct a-b path does not need it.
TEST_F(CoordinatorTest, DirectPathSurvivesItsCoordinator) {
  build(NatKind::kCone);
  auto& n = *net_;
  auto ping = n.ping(n.a(), n.b());
  json sa, sb;
  ASSERT_TRUE(wait_status(n.a(), 30s, sa, [&](const json& s) { return peer_path(s, n.b().id()) == "direct"; }))
      << sa.dump(2);
  ASSERT_TRUE(wait_status(n.b(), 15s, sb, [&](const json& s) { return peer_path(s, n.a().id()) == "direct"; }))
      << sb.dump(2);

  n.c1().kill();
  // 50 echoes over 10 s: past the 3 s TCP fallback, when a and b, without
  // UDP answers from c1, try its TCP tunnel instead (and fail).
  EXPECT_GE(ping_replies(n.a(), n.b().tun4(), 50), 49);
  EXPECT_GE(ping_replies(n.b(), n.a().tun4(), 10), 9);
  sa = n.a().status();
  EXPECT_EQ(peer_path(sa, n.b().id()), "direct") << sa.dump(2);
  EXPECT_FALSE(ping_once(n.a().ns(), n.c1().tun4())) << "c1 answers although its daemon was killed";
}

// 6. a (client of c1) and d (client of c2) reach each other: c1 learnt d's
// record from c2, and the first packets go a -> c1 -> c2 -> d.
TEST_F(CoordinatorTest, ClientsOfDifferentCoordinatorsReachEachOther) {
  build(NatKind::kCone);
  auto& n = *net_;
  const json s1 = n.c1().status();
  const json* route = find_route(s1, n.d().id());
  ASSERT_NE(route, nullptr) << s1.dump(2);
  EXPECT_EQ(route->value("via", ""), n.c2().id()) << s1.dump(2);
  EXPECT_EQ(route->value("coordinator", ""), n.c2().id()) << s1.dump(2);

  EXPECT_TRUE(wait_for_ping(n.a().ns(), n.d().tun4(), deadline_in(20s))) << "a -> d";
  EXPECT_TRUE(wait_for_ping(n.d().ns(), n.a().tun4(), deadline_in(20s))) << "d -> a";
  EXPECT_GT(relayed_packets(n.c1().status()), 0u) << "a's first packets to d did not go through c1";
  EXPECT_GT(relayed_packets(n.c2().status()), 0u) << "a's first packets to d did not go through c2";
  // d is on the internet itself, a behind a cone NAT: they find a direct path.
  auto ping = n.ping(n.a(), n.d());
  json sa;
  EXPECT_TRUE(wait_status(n.a(), 30s, sa, [&](const json& s) { return peer_path(s, n.d().id()) == "direct"; }))
      << sa.dump(2);
  EXPECT_GE(ping_replies(n.d(), n.a().tun4(), 10), 9);
}

}  // namespace
}  // namespace cordon::netns
