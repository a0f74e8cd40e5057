// What a restarted node keeps and refuses (docs/protocol.md, "Replay
// protection"): receive floors tied to the peer and its link key, the
// fingerprint that names the key, and the control inbox's per-peer share.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/keys/traffic_keys.hpp"
#include "core/node.hpp"
#include "core/node_impl.hpp"
#include "core/wire/control.hpp"
#include "core/wire/header.hpp"
#include "testing/forge.hpp"

namespace cordon {
namespace {

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
const HostId kA{0x0001000a}, kB{0x0001000b}, kX{0x0001000c};
const Endpoint kEa = *Endpoint::parse("192.0.2.1:51820");

crypto::SecretBytes key(uint8_t fill) {
  crypto::SecretBytes k(kLinkKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

PeerConfig peer(HostId id, uint8_t fill, const char* prefix, std::optional<Endpoint> e = std::nullopt) {
  PeerConfig p;
  p.id = id;
  p.endpoint = e;
  p.link_key = key(fill);
  p.allowed_prefixes = {*Prefix::parse(prefix)};
  return p;
}

// b, with a link to a (key 7) and to x (key 9).
std::unique_ptr<Node> make_b(const Now& now, std::vector<ReceiveFloor> floors = {}, uint8_t a_key = 7) {
  NodeConfig c;
  c.self = kB;
  c.peers.push_back(peer(kA, a_key, "10.77.0.1/32"));
  c.peers.push_back(peer(kX, 9, "10.77.0.3/32"));
  return std::make_unique<Node>(std::move(c), 1, 0, now, std::move(floors));
}

// An IPv4 packet from 10.77.0.1 to 10.77.0.2, sealed by a with `counter`.
std::vector<std::byte> data_from_a(uint64_t counter) {
  std::vector<std::byte> p(28);
  p[0] = std::byte{0x45};
  p[3] = std::byte{28};
  p[8] = std::byte{64};
  p[9] = std::byte{17};
  const uint8_t src[] = {10, 77, 0, 1}, dst[] = {10, 77, 0, 2};
  for (int i = 0; i < 4; ++i) p[12 + i] = std::byte{src[i]}, p[16 + i] = std::byte{dst[i]};
  return testing::forge_direct(key(7), kA, kB, p, counter);
}

RxSlot receive(Node& n, const Now& now, const Endpoint& from, std::vector<std::byte>& datagram) {
  RxSlot slot;
  slot.from = from;
  slot.data = datagram;
  n.process_wire(0, now, std::span(&slot, 1));
  return slot;
}

uint64_t peer_drops(const Node& n, HostId id, DropReason r) {
  for (const PeerStatus& p : n.status().peers) {
    if (p.id == id) return p.drops[static_cast<size_t>(r)];
  }
  return 0;
}
std::optional<Endpoint> endpoint_of(const Node& n, HostId id) {
  for (const PeerStatus& p : n.status().peers) {
    if (p.id == id) return p.endpoint;
  }
  return std::nullopt;
}

TEST(LinkKeyFingerprint, KnownAnswerStableAndDistinct) {
  // HKDF-SHA256(IKM = 32 x 0x07, salt = "cordon/v1 fingerprint", info = "", L = 16),
  // computed independently (RFC 5869, section 2).
  const auto f7 = keys::link_key_fingerprint(key(7));
  ASSERT_TRUE(f7);
  const keys::KeyFingerprint expected = {
      std::byte{0x7d}, std::byte{0xc4}, std::byte{0xec}, std::byte{0x40}, std::byte{0x4d}, std::byte{0xfc},
      std::byte{0x73}, std::byte{0x18}, std::byte{0xa2}, std::byte{0x57}, std::byte{0x93}, std::byte{0xae},
      std::byte{0x6e}, std::byte{0xe8}, std::byte{0xb1}, std::byte{0xf4}};
  EXPECT_EQ(*f7, expected);
  EXPECT_EQ(keys::link_key_fingerprint(key(7)), f7);
  EXPECT_NE(keys::link_key_fingerprint(key(8)), f7);
}

TEST(ReceiveFloors, RestartedReceiverRefusesWhatItAcceptedBefore) {
  const Now now{1, kT0};
  const uint64_t base = wire::counter_units(kT0);
  auto b = make_b(now);
  std::vector<std::vector<std::byte>> sent;
  for (uint64_t i = 0; i < 5; ++i) {
    sent.push_back(data_from_a(base + i));
    auto copy = sent.back();
    ASSERT_EQ(receive(*b, now, kEa, copy).verdict, Verdict::kDeliver);
  }
  const TickResult t = b->tick(now);
  ASSERT_TRUE(t.persist_receive_floors);
  ASSERT_EQ(t.persist_receive_floors->size(), 1u);  // x sent nothing
  EXPECT_EQ(t.persist_receive_floors->front().peer, kA);
  EXPECT_EQ(t.persist_receive_floors->front().counter, base + 4);

  const Now later{now.mono_ns + 5 * kNsPerSecond, now.real_ns + 5 * kNsPerSecond};
  auto restarted = make_b(later, *t.persist_receive_floors);
  for (auto& d : sent) EXPECT_EQ(receive(*restarted, later, kEa, d).verdict, Verdict::kDrop);
  EXPECT_EQ(peer_drops(*restarted, kA, DropReason::kReplay), 5u);
  auto fresh = data_from_a(base + 5);
  EXPECT_EQ(receive(*restarted, later, kEa, fresh).verdict, Verdict::kDeliver);
}

// What the daemon stores when it stops cleanly: the floors as they are now,
// not as last offered (which may be up to a second old).
TEST(ReceiveFloors, AskedForAtAnyTimeTheyCoverEverythingAccepted) {
  const Now now{1, kT0};
  const uint64_t base = wire::counter_units(kT0);
  auto b = make_b(now);
  EXPECT_TRUE(b->receive_floors().empty());
  auto first = data_from_a(base);
  ASSERT_EQ(receive(*b, now, kEa, first).verdict, Verdict::kDeliver);
  ASSERT_TRUE(b->tick(now).persist_receive_floors);  // offered: the next offer waits a second
  auto second = data_from_a(base + 1);
  ASSERT_EQ(receive(*b, now, kEa, second).verdict, Verdict::kDeliver);
  EXPECT_FALSE(b->tick(now).persist_receive_floors);
  const std::vector<ReceiveFloor> floors = b->receive_floors();
  ASSERT_EQ(floors.size(), 1u);
  EXPECT_EQ(floors.front().peer, kA);
  EXPECT_EQ(floors.front().counter, base + 1);
}

TEST(ReceiveFloors, AppliedOnlyToTheSamePeerAndLinkKey) {
  const Now now{1, kT0};
  const uint64_t base = wire::counter_units(kT0);
  const auto fp7 = *keys::link_key_fingerprint(key(7));
  const auto fp9 = *keys::link_key_fingerprint(key(9));
  auto d = data_from_a(base);
  // Another peer's floor, and a's floor under another key: neither applies.
  auto b = make_b(now, {ReceiveFloor{kX, fp7, base + 100}, ReceiveFloor{kA, fp9, base + 100}});
  EXPECT_EQ(receive(*b, now, kEa, d).verdict, Verdict::kDeliver);
  // a re-keyed since the floor was stored: the old key's floor does not apply.
  d = data_from_a(base);
  auto rekeyed = make_b(now, {ReceiveFloor{kA, fp7, base + 100}}, /*a_key=*/8);
  EXPECT_EQ(receive(*rekeyed, now, kEa, d).reason, DropReason::kAuthFailure);  // a's datagram, other key
  EXPECT_EQ(peer_drops(*rekeyed, kA, DropReason::kReplay), 0u);
  // The matching one does.
  d = data_from_a(base);
  auto matched = make_b(now, {ReceiveFloor{kA, fp7, base + 100}});
  EXPECT_EQ(receive(*matched, now, kEa, d).reason, DropReason::kReplay);
}

TEST(ReceiveFloors, AppliedToAPeerAReloadAdds) {
  const Now now{1, kT0};
  const uint64_t base = wire::counter_units(kT0);
  NodeConfig without_a;
  without_a.self = kB;
  without_a.peers.push_back(peer(kX, 9, "10.77.0.3/32"));
  Node b(std::move(without_a), 1, 0, now, {ReceiveFloor{kA, *keys::link_key_fingerprint(key(7)), base + 100}});
  NodeConfig with_a;
  with_a.self = kB;
  with_a.peers.push_back(peer(kA, 7, "10.77.0.1/32"));
  with_a.peers.push_back(peer(kX, 9, "10.77.0.3/32"));
  b.reconfigure(std::move(with_a), now);
  auto d = data_from_a(base + 50);
  EXPECT_EQ(receive(b, now, kEa, d).reason, DropReason::kReplay);
  d = data_from_a(base + 101);
  EXPECT_EQ(receive(b, now, kEa, d).verdict, Verdict::kDeliver);
}

TEST(ReceiveFloors, OfferedAtMostOnceASecondAndOnlyWhenChanged) {
  Now now{1, kT0};
  const uint64_t base = wire::counter_units(kT0);
  auto b = make_b(now);
  EXPECT_FALSE(b->tick(now).persist_receive_floors);  // nothing received: nothing to offer
  auto d = data_from_a(base);
  ASSERT_EQ(receive(*b, now, kEa, d).verdict, Verdict::kDeliver);
  now.mono_ns += kNsPerSecond / 2;
  EXPECT_FALSE(b->tick(now).persist_receive_floors);  // within the second
  now.mono_ns += kNsPerSecond / 2;
  const auto first = b->tick(now);
  ASSERT_TRUE(first.persist_receive_floors);
  EXPECT_EQ(first.persist_receive_floors->front().counter, base);
  now.mono_ns += 2 * kNsPerSecond;
  EXPECT_FALSE(b->tick(now).persist_receive_floors);  // unchanged
  d = data_from_a(base + 1);
  ASSERT_EQ(receive(*b, now, kEa, d).verdict, Verdict::kDeliver);
  now.mono_ns += kNsPerSecond;
  const auto second = b->tick(now);
  ASSERT_TRUE(second.persist_receive_floors);
  EXPECT_EQ(second.persist_receive_floors->front().counter, base + 1);
}

// An endpoint moves only on a datagram that raises the window's top and is
// dated after this start (docs/protocol.md, "Roaming").
TEST(Roaming, OnlyLiveDatagramsMoveTheEndpoint) {
  const Now now{1, kT0};
  const uint64_t start = wire::counter_units(kT0);
  auto b = make_b(now);
  const Endpoint moved = *Endpoint::parse("198.51.100.7:4000");
  // Captured before b started: authentic and fresh to an empty window, but
  // dated before the start.
  auto before = data_from_a(start - 1);
  EXPECT_EQ(receive(*b, now, moved, before).verdict, Verdict::kDeliver);
  EXPECT_FALSE(endpoint_of(*b, kA));
  auto d10 = data_from_a(start + 10);
  EXPECT_EQ(receive(*b, now, kEa, d10).verdict, Verdict::kDeliver);
  EXPECT_EQ(endpoint_of(*b, kA), kEa);
  // A hole filled inside the window: delivered, but moves nothing.
  auto d5 = data_from_a(start + 5);
  EXPECT_EQ(receive(*b, now, moved, d5).verdict, Verdict::kDeliver);
  EXPECT_EQ(endpoint_of(*b, kA), kEa);
  auto d11 = data_from_a(start + 11);
  EXPECT_EQ(receive(*b, now, moved, d11).verdict, Verdict::kDeliver);
  EXPECT_EQ(endpoint_of(*b, kA), moved);
}

// One peer flooding control messages fills its own share of the inbox, not
// the whole inbox: the other peers' messages still get in.
TEST(ControlInbox, EachPeerGetsAFairShare) {
  const Now now{1, kT0};
  const uint64_t base = wire::counter_units(kT0);
  auto b = make_b(now);
  const TickResult first = b->tick(now);  // the counter floor: until it is persisted, tick handles nothing
  ASSERT_TRUE(first.persist_counter_floor);
  b->counter_floor_persisted(*first.persist_counter_floor);
  const auto request = *wire::encode_control(wire::ReportRequest{});
  std::vector<std::vector<std::byte>> flood;
  for (uint64_t i = 0; i < 2 * kMaxInbox; ++i) flood.push_back(testing::forge_direct(key(9), kX, kB, request, base + i));
  std::vector<RxSlot> slots(flood.size());
  for (size_t i = 0; i < flood.size(); ++i) slots[i].from = kEa, slots[i].data = flood[i];
  b->process_wire(0, now, slots);
  const size_t share = inbox_share(2);
  EXPECT_EQ(peer_drops(*b, kX, DropReason::kControlBacklog), flood.size() - share);
  auto from_a = testing::forge_direct(key(7), kA, kB, request, base);
  EXPECT_EQ(receive(*b, now, kEa, from_a).verdict, Verdict::kControl);
  EXPECT_EQ(peer_drops(*b, kA, DropReason::kControlBacklog), 0u);
  // The queue's length, for metrics: X's share and A's message (and the
  // event of each peer's first authentic datagram, which takes no share).
  const NodeStatus queued = b->status();
  EXPECT_GE(queued.control_queued, share + 1);
  EXPECT_LE(queued.control_queued, share + 3);
  EXPECT_EQ(queued.control_queue_limit, kMaxInbox);
  // Handled: the share is free again.
  b->tick(now);
  EXPECT_EQ(b->status().control_queued, 0u);
  auto again = testing::forge_direct(key(9), kX, kB, request, base + 3 * kMaxInbox);
  EXPECT_EQ(receive(*b, now, kEa, again).verdict, Verdict::kControl);
}

TEST(ControlInbox, ShareIsAtLeastSixteen) {
  EXPECT_EQ(inbox_share(1), kMaxInbox);
  EXPECT_EQ(inbox_share(4), kMaxInbox / 4);
  EXPECT_EQ(inbox_share(1000), kMinInboxShare);
}

}  // namespace
}  // namespace cordon
