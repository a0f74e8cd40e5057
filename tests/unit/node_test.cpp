// Node verdicts, one drop reason at a time, with two nodes wired by hand.
#include "core/node.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "core/wire/header.hpp"

namespace cordon {
namespace {

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;  // a 2027 wall clock

HostId id(uint32_t v) { return HostId{v}; }
Endpoint ep(const char* s) { return *Endpoint::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

crypto::SecretBytes key(uint8_t fill) {
  crypto::SecretBytes k(kLinkKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

PeerConfig peer(uint32_t host, uint8_t key_fill, const char* prefix, std::optional<Endpoint> e,
                crypto::Suite suite = crypto::Suite::kAes256Gcm) {
  PeerConfig p;
  p.id = id(host);
  p.endpoint = e;
  p.link_key = key(key_fill);
  p.allowed_prefixes = {pfx(prefix)};
  p.suite = suite;
  return p;
}

// An IPv4/UDP packet with a payload, from src to dst.
std::vector<std::byte> ip_packet(const char* src, const char* dst, const std::string& payload) {
  const size_t total = 28 + payload.size();
  std::vector<std::byte> p(total);
  p[0] = std::byte{0x45};
  p[2] = std::byte{static_cast<uint8_t>(total >> 8)};
  p[3] = std::byte{static_cast<uint8_t>(total)};
  p[8] = std::byte{64};
  p[9] = std::byte{17};
  const auto s = *IpAddress::parse(src), d = *IpAddress::parse(dst);
  for (int i = 0; i < 4; ++i) p[12 + i] = std::byte{s.bytes[i]}, p[16 + i] = std::byte{d.bytes[i]};
  std::memcpy(p.data() + 28, payload.data(), payload.size());
  return p;
}

struct Sealed {
  Verdict verdict;
  DropReason reason;
  Endpoint to;
  std::vector<std::byte> datagram;
};

Sealed send(Node& n, const Now& now, const std::vector<std::byte>& packet) {
  std::vector<std::byte> buf(wire::kHeadroom + packet.size() + wire::kTailroom);
  std::memcpy(buf.data() + wire::kHeadroom, packet.data(), packet.size());
  TxSlot slot;
  slot.buffer = buf;
  slot.headroom = wire::kHeadroom;
  slot.length = packet.size();
  n.process_tun(0, now, std::span(&slot, 1));
  return {slot.verdict, slot.reason, slot.to, {slot.wire.begin(), slot.wire.end()}};
}

struct Received {
  Verdict verdict;
  DropReason reason;
  std::vector<std::byte> inner;
};

Received receive(Node& n, const Now& now, const Endpoint& from, std::vector<std::byte> datagram) {
  RxSlot slot;
  slot.from = from;
  slot.data = datagram;
  n.process_wire(0, now, std::span(&slot, 1));
  return {slot.verdict, slot.reason, {slot.inner.begin(), slot.inner.end()}};
}

// Ticks and persists whatever floor the node asks for, as the daemon does.
TickResult tick(Node& n, const Now& now) {
  auto t = n.tick(now);
  if (t.persist_counter_floor) n.counter_floor_persisted(*t.persist_counter_floor);
  return t;
}
void persist_floor(Node& n, const Now& now) { tick(n, now); }

const PeerStatus& peer_of(const NodeStatus& s, uint32_t host) {
  for (const auto& p : s.peers)
    if (p.id.value == host) return p;
  ADD_FAILURE() << "no peer " << host;
  static PeerStatus none;
  return none;
}

class NodeTest : public ::testing::Test {
 protected:
  const Endpoint ea = ep("192.0.2.1:51820"), eb = ep("192.0.2.2:51820");
  Now now{1, kT0};

  std::unique_ptr<Node> make_a(crypto::Suite suite = crypto::Suite::kAes256Gcm, uint64_t floor = 0) {
    NodeConfig c;
    c.self = id(0x0001000a);
    c.peers.push_back(peer(0x0001000b, 7, "10.77.0.2/32", eb, suite));
    return std::make_unique<Node>(std::move(c), 1, floor, now);
  }
  std::unique_ptr<Node> make_b(crypto::Suite suite = crypto::Suite::kAes256Gcm) {
    NodeConfig c;
    c.self = id(0x0001000b);
    c.peers.push_back(peer(0x0001000a, 7, "10.77.0.1/32", std::nullopt, suite));
    return std::make_unique<Node>(std::move(c), 1, 0, now);
  }
  std::vector<std::byte> a_to_b(const std::string& payload = "hello") {
    return ip_packet("10.77.0.1", "10.77.0.2", payload);
  }
};

TEST_F(NodeTest, RefusesToSendUntilTheFloorIsPersisted) {
  auto a = make_a();
  EXPECT_EQ(send(*a, now, a_to_b()).reason, DropReason::kNonceReservation);
  persist_floor(*a, now);
  EXPECT_EQ(send(*a, now, a_to_b()).verdict, Verdict::kDeliver);
}

TEST_F(NodeTest, DeliversTheInnerPacketWith24BytesOverhead) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  const auto pkt = a_to_b("payload");
  const auto s = send(*a, now, pkt);
  ASSERT_EQ(s.verdict, Verdict::kDeliver);
  EXPECT_EQ(s.to, eb);
  EXPECT_EQ(s.datagram.size(), pkt.size() + 24);
  const auto r = receive(*b, now, ea, s.datagram);
  ASSERT_EQ(r.verdict, Verdict::kDeliver);
  EXPECT_EQ(r.inner, pkt);
  const auto st = peer_of(b->status(), 0x0001000a);
  EXPECT_EQ(st.rx_packets, 1u);
  EXPECT_EQ(st.endpoint, ea);  // learnt from the first authentic packet
  EXPECT_EQ(st.roams, 0u);
}

TEST_F(NodeTest, EverySuiteRoundTrips) {
  for (auto suite : {crypto::Suite::kAes256Gcm, crypto::Suite::kChaCha20Poly1305, crypto::Suite::kAes256Siv,
                     crypto::Suite::kAes128Gcm}) {
    auto a = make_a(suite), b = make_b(suite);
    persist_floor(*a, now);
    const auto r = receive(*b, now, ea, send(*a, now, a_to_b()).datagram);
    EXPECT_EQ(r.verdict, Verdict::kDeliver) << crypto::suite_name(suite);
  }
}

TEST_F(NodeTest, DropsWithNamedReasons) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  auto good = send(*a, now, a_to_b()).datagram;

  auto tampered = good;
  tampered[10] ^= std::byte{1};
  EXPECT_EQ(receive(*b, now, ea, tampered).reason, DropReason::kAuthFailure);
  auto header_tampered = good;
  header_tampered[7] ^= std::byte{1};  // the counter is associated data
  EXPECT_EQ(receive(*b, now, ea, header_tampered).reason, DropReason::kAuthFailure);

  EXPECT_EQ(receive(*b, now, ea, std::vector<std::byte>(23)).reason, DropReason::kTooShort);
  auto lane_moved = good;
  lane_moved[0] ^= std::byte{1};  // the lane is associated data too
  EXPECT_EQ(receive(*b, now, ea, lane_moved).reason, DropReason::kAuthFailure);
  auto reserved = good;
  reserved[0] |= std::byte{0xc0};  // format 3 is reserved
  EXPECT_EQ(receive(*b, now, ea, reserved).reason, DropReason::kBadHeader);
  auto stranger = good;
  stranger[2] = std::byte{0x99};
  EXPECT_EQ(receive(*b, now, ea, stranger).reason, DropReason::kUnknownPeer);

  EXPECT_EQ(receive(*b, now, ea, good).verdict, Verdict::kDeliver);
  EXPECT_EQ(receive(*b, now, ea, good).reason, DropReason::kReplay);

  const auto st = b->status();
  const auto& pa = peer_of(st, 0x0001000a);
  EXPECT_EQ(pa.drops[size_t(DropReason::kAuthFailure)], 3u);
  EXPECT_EQ(pa.drops[size_t(DropReason::kReplay)], 1u);
  EXPECT_EQ(st.drops[size_t(DropReason::kTooShort)], 1u);
  EXPECT_EQ(st.drops[size_t(DropReason::kBadHeader)], 1u);
  EXPECT_EQ(st.drops[size_t(DropReason::kUnknownPeer)], 1u);
}

TEST_F(NodeTest, SuiteMismatchIsNamed) {
  auto a = make_a(crypto::Suite::kChaCha20Poly1305), b = make_b(crypto::Suite::kAes256Gcm);
  persist_floor(*a, now);
  EXPECT_EQ(receive(*b, now, ea, send(*a, now, a_to_b()).datagram).reason, DropReason::kSuiteMismatch);
}

TEST_F(NodeTest, TimeWindowRejectsStaleAndFuture) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  const auto d1 = send(*a, now, a_to_b()).datagram;
  const auto d2 = send(*a, now, a_to_b()).datagram;
  const Now later{now.mono_ns, now.real_ns + 200 * kNsPerSecond};
  const Now earlier{now.mono_ns, now.real_ns - 200 * kNsPerSecond};
  EXPECT_EQ(receive(*b, later, ea, d1).reason, DropReason::kStale);
  EXPECT_EQ(receive(*b, earlier, ea, d2).reason, DropReason::kFuture);
  const Now inside{now.mono_ns, now.real_ns + 100 * kNsPerSecond};
  EXPECT_EQ(receive(*b, inside, ea, d1).verdict, Verdict::kDeliver);
}

TEST_F(NodeTest, InnerSourceMustBelongToThePeer) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  const auto spoofed = ip_packet("10.77.0.9", "10.77.0.2", "x");
  EXPECT_EQ(receive(*b, now, ea, send(*a, now, spoofed).datagram).reason, DropReason::kDisallowedSource);
}

TEST_F(NodeTest, SendSideDrops) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  persist_floor(*b, now);
  EXPECT_EQ(send(*a, now, ip_packet("10.77.0.1", "10.99.0.1", "x")).reason, DropReason::kNoRoute);
  EXPECT_EQ(send(*b, now, ip_packet("10.77.0.2", "10.77.0.1", "x")).reason, DropReason::kNoEndpoint);
  EXPECT_EQ(send(*a, now, std::vector<std::byte>(10)).reason, DropReason::kBadInner);
}

TEST_F(NodeTest, RoamingMovesTheEndpointOnlyForFreshAuthenticPackets) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  const auto d1 = send(*a, now, a_to_b()).datagram;
  const auto d2 = send(*a, now, a_to_b()).datagram;
  ASSERT_EQ(receive(*b, now, ea, d1).verdict, Verdict::kDeliver);
  const Endpoint moved = ep("198.51.100.7:4000");
  EXPECT_EQ(receive(*b, now, moved, d1).reason, DropReason::kReplay);  // a replay from elsewhere moves nothing
  EXPECT_EQ(peer_of(b->status(), 0x0001000a).endpoint, ea);
  auto forged = d2;
  forged[12] ^= std::byte{4};
  EXPECT_EQ(receive(*b, now, moved, forged).reason, DropReason::kAuthFailure);
  EXPECT_EQ(peer_of(b->status(), 0x0001000a).endpoint, ea);
  ASSERT_EQ(receive(*b, now, moved, d2).verdict, Verdict::kDeliver);
  const auto st = peer_of(b->status(), 0x0001000a);
  EXPECT_EQ(st.endpoint, moved);
  EXPECT_EQ(st.roams, 1u);
}

TEST_F(NodeTest, KeepaliveTellsTheResponderWhereWeAre) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  auto t = tick(*a, now);
  ASSERT_EQ(t.datagrams.size(), 1u);
  EXPECT_EQ(t.datagrams[0].datagram.size(), 25u);
  EXPECT_EQ(receive(*b, now, ea, t.datagrams[0].datagram).verdict, Verdict::kConsumed);
  EXPECT_EQ(peer_of(b->status(), 0x0001000a).endpoint, ea);
  // Idle: the next one is due 25 s later, not before.
  now.mono_ns += 24 * kNsPerSecond;
  now.real_ns += 24 * kNsPerSecond;
  EXPECT_TRUE(tick(*a, now).datagrams.empty());
  now.mono_ns += 1 * kNsPerSecond;
  now.real_ns += 1 * kNsPerSecond;
  EXPECT_EQ(tick(*a, now).datagrams.size(), 1u);
  // Traffic makes keepalives unnecessary.
  for (int i = 0; i < 30; ++i) {
    now.mono_ns += kNsPerSecond;
    now.real_ns += kNsPerSecond;
    ASSERT_EQ(send(*a, now, a_to_b()).verdict, Verdict::kDeliver);
    EXPECT_TRUE(tick(*a, now).datagrams.empty()) << i;
  }
}

TEST_F(NodeTest, RestartAndClockSetBackStillAccepted) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(receive(*b, now, ea, send(*a, now, a_to_b()).datagram).verdict, Verdict::kDeliver);
  const uint64_t floor = a->status().counter_floor;
  // kill -9: only the floor survives; the sender's clock is also set back an hour.
  a.reset();
  const Now back{now.mono_ns + kNsPerSecond, now.real_ns - 3600 * kNsPerSecond};
  NodeConfig c;
  c.self = id(0x0001000a);
  c.peers.push_back(peer(0x0001000b, 7, "10.77.0.2/32", eb));
  a = std::make_unique<Node>(std::move(c), 1, floor, back);
  persist_floor(*a, back);
  const auto d = send(*a, back, a_to_b()).datagram;
  // B's clock is right; A's counter continued from the floor, which is recent.
  EXPECT_EQ(receive(*b, now, ea, d).verdict, Verdict::kDeliver);
}

TEST_F(NodeTest, ReconfigureKeepsUnchangedPeersAndResetsChangedOnes) {
  auto a = make_a(), b = make_b();
  persist_floor(*a, now);
  ASSERT_EQ(receive(*b, now, ea, send(*a, now, a_to_b()).datagram).verdict, Verdict::kDeliver);
  const auto before = send(*a, now, a_to_b()).datagram;

  NodeConfig same;
  same.self = id(0x0001000b);
  same.peers.push_back(peer(0x0001000a, 7, "10.77.0.1/32", std::nullopt));
  same.peers.push_back(peer(0x0001000c, 9, "10.77.0.3/32", std::nullopt));
  b->reconfigure(std::move(same), now);
  const auto st = peer_of(b->status(), 0x0001000a);
  EXPECT_EQ(st.rx_packets, 1u);    // statistics survived
  EXPECT_EQ(st.endpoint, ea);      // the learnt endpoint survived
  EXPECT_EQ(receive(*b, now, ea, before).verdict, Verdict::kDeliver);
  EXPECT_EQ(b->status().peers.size(), 2u);

  NodeConfig rekeyed;
  rekeyed.self = id(0x0001000b);
  rekeyed.peers.push_back(peer(0x0001000a, 8, "10.77.0.1/32", std::nullopt));
  b->reconfigure(std::move(rekeyed), now);
  EXPECT_EQ(peer_of(b->status(), 0x0001000a).rx_packets, 0u);
  EXPECT_EQ(receive(*b, now, ea, send(*a, now, a_to_b()).datagram).reason, DropReason::kAuthFailure);
}

TEST_F(NodeTest, SharedHostNumbersAcrossNetworksStillWork) {
  // Two peers with host number 0x000b in different networks: the header hint
  // finds both, and authentication picks the right one.
  NodeConfig cb;
  cb.self = id(0x0001000b);
  cb.peers.push_back(peer(0x0001000a, 7, "10.77.0.1/32", std::nullopt));
  auto b = std::make_unique<Node>(std::move(cb), 1, 0, now);
  NodeConfig cx;
  cx.self = id(0x0002000a);
  cx.peers.push_back(peer(0x0001000b, 9, "10.77.0.2/32", eb));
  auto x = std::make_unique<Node>(std::move(cx), 1, 0, now);
  NodeConfig cb2;
  cb2.self = id(0x0001000b);
  cb2.peers.push_back(peer(0x0001000a, 7, "10.77.0.1/32", std::nullopt));
  cb2.peers.push_back(peer(0x0002000a, 9, "10.88.0.1/32", std::nullopt));
  b->reconfigure(std::move(cb2), now);
  persist_floor(*x, now);
  const auto r = receive(*b, now, ep("203.0.113.5:9"), send(*x, now, ip_packet("10.88.0.1", "10.77.0.2", "x")).datagram);
  EXPECT_EQ(r.verdict, Verdict::kDeliver);
  EXPECT_EQ(peer_of(b->status(), 0x0002000a).rx_packets, 1u);
}

}  // namespace
}  // namespace cordon
