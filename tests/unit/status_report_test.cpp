// Coordinators' status reports (core/courier/status_report.hpp): the
// encoding, the tag, and the report a node status makes.
#include "core/courier/status_report.hpp"

#include <gtest/gtest.h>

namespace cordon::courier {
namespace {

constexpr HostId kCoord{0x00010001};
constexpr HostId kA{0x00010003};
constexpr HostId kB{0x00010004};
constexpr HostId kOtherCoord{0x00010002};

crypto::SecretBytes key_of(uint8_t fill) {
  crypto::SecretBytes key(32);
  for (std::byte& b : key.mutable_view()) b = std::byte{fill};
  return key;
}

StatusReport sample() {
  StatusReport r;
  r.coordinator = kCoord;
  r.time_s = 1'800'000'000;
  r.relay_packets = 120;
  r.relay_bytes = 99'000;
  r.drops = {{DropReason::kReplay, 3}};
  r.links = {{kOtherCoord, Reachability::kReachable, PathKind::kDirect}};
  ClientState a;
  a.host = kA;
  a.state = Reachability::kReachable;
  a.last_heard_s = 1'799'999'990;
  a.relayed_packets = 7;
  a.public_endpoint = Endpoint::parse("198.51.100.7:40000");
  a.peers = {{kB, PathKind::kRelayed}};
  ClientState b;
  b.host = kB;
  b.state = Reachability::kUnreachable;
  b.tcp = true;
  b.public_endpoint = Endpoint::parse("[2001:db8::9]:443");
  r.clients = {a, b};
  return r;
}

TEST(StatusReport, SealsAndVerifies) {
  const auto sealed = seal_status_report(sample(), key_of(1));
  ASSERT_TRUE(sealed);
  EXPECT_EQ(status_report_host(*sealed), kCoord);
  const auto back = verify_status_report(*sealed, key_of(1));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sample());
}

TEST(StatusReport, RefusesForgedAlteredAndOtherKeys) {
  auto sealed = *seal_status_report(sample(), key_of(1));
  EXPECT_FALSE(verify_status_report(sealed, key_of(2)));  // another host's key
  for (size_t i = 0; i < sealed.size(); ++i) {
    auto altered = sealed;
    altered[i] ^= std::byte{0x01};
    EXPECT_FALSE(verify_status_report(altered, key_of(1))) << "byte " << i;
  }
}

TEST(StatusReport, RefusesEveryTruncationAndTrailingBytes) {
  const auto sealed = *seal_status_report(sample(), key_of(1));
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(verify_status_report(std::span(sealed).first(n), key_of(1))) << n;
  }
  auto longer = sealed;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(verify_status_report(longer, key_of(1)));
  EXPECT_FALSE(status_report_host(longer));
}

TEST(StatusReport, RefusesHostZeroAndBadEnums) {
  StatusReport r = sample();
  r.clients[0].host = HostId{0x00010000};  // host number 0
  EXPECT_FALSE(seal_status_report(r, key_of(1)));
  r = sample();
  r.coordinator = HostId{};
  EXPECT_FALSE(seal_status_report(r, key_of(1)));
  // A state byte out of range, in an otherwise well-formed body: the first
  // link's state is at 4 + 8 + 8 + 8 + 1 + 9 + 2 + 4.
  auto sealed = *seal_status_report(sample(), key_of(1));
  sealed[44] = std::byte{3};
  EXPECT_FALSE(status_report_host(sealed));
}

TEST(StatusReport, ClientCountBeyondTheInputIsRefusedWithoutReserving) {
  StatusReport r = sample();
  r.clients.clear();
  auto sealed = *seal_status_report(r, key_of(1));
  // The client count is the 4 bytes before the tag.
  const size_t at = sealed.size() - 32 - 4;
  for (size_t i = 0; i < 4; ++i) sealed[at + i] = std::byte{0xff};
  EXPECT_FALSE(status_report_host(sealed));
}

NodeStatus coordinator_status() {
  NodeStatus s;
  s.self = kCoord;
  s.role = keys::Role::kCoordinator;
  s.relay = RelayCounters{50, 6000};
  s.drops[static_cast<size_t>(DropReason::kReplay)] = 2;
  RegisteredClient b;
  b.id = kB;
  b.state = Reachability::kReachable;
  b.public_endpoint = Endpoint::parse("203.0.113.5:51820");
  b.last_heard_real_ns = 1'800'000'000 * kNsPerSecond;
  RegisteredClient a = b;
  a.id = kA;
  a.peer_paths = {{kB, PathKind::kDirect}};
  s.clients = {b, a};
  PeerStatus peer_a;
  peer_a.id = kA;
  peer_a.relayed_packets = 9;
  PeerStatus coord;
  coord.id = kOtherCoord;
  coord.role = keys::Role::kCoordinator;
  coord.reachability = Reachability::kReachable;
  coord.path = PathKind::kDirect;
  s.peers = {peer_a, coord};
  return s;
}

TEST(StatusReport, MadeFromTheNodeStatus) {
  const StatusReport r = report_of(coordinator_status(), 1'800'000'005 * kNsPerSecond + 7);
  EXPECT_EQ(r.coordinator, kCoord);
  EXPECT_EQ(r.time_s, 1'800'000'005);
  EXPECT_EQ(r.relay_packets, 50u);
  ASSERT_EQ(r.drops.size(), 1u);
  EXPECT_EQ(r.drops[0], std::make_pair(DropReason::kReplay, uint64_t{2}));
  ASSERT_EQ(r.links.size(), 1u);
  EXPECT_EQ(r.links[0].host, kOtherCoord);
  ASSERT_EQ(r.clients.size(), 2u);
  EXPECT_EQ(r.clients[0].host, kA);  // host ID order
  EXPECT_EQ(r.clients[0].relayed_packets, 9u);
  ASSERT_EQ(r.clients[0].peers.size(), 1u);
  EXPECT_EQ(r.clients[0].peers[0].path, PathKind::kDirect);
  EXPECT_EQ(r.clients[1].last_heard_s, 1'800'000'000);
  EXPECT_TRUE(seal_status_report(r, key_of(1)));
}

TEST(StatusReport, SameStateIgnoresTimesAndCountersOnly) {
  const StatusReport before = report_of(coordinator_status(), 1 * kNsPerSecond);
  NodeStatus later = coordinator_status();
  later.relay.packets += 100;
  later.clients[0].last_heard_real_ns += 60 * kNsPerSecond;
  EXPECT_TRUE(same_state(before, report_of(later, 61 * kNsPerSecond)));
  later.clients[0].state = Reachability::kUnreachable;
  EXPECT_FALSE(same_state(before, report_of(later, 61 * kNsPerSecond)));
  later = coordinator_status();
  later.clients[1].peer_paths[0].second = PathKind::kRelayed;
  EXPECT_FALSE(same_state(before, report_of(later, 1 * kNsPerSecond)));
}

}  // namespace
}  // namespace cordon::courier
