// The SPD (core/ipsec/spd.hpp): table-driven selector cases, then random
// policies and packets against a naive twin that states RFC 4301 section
// 4.4.1's rule in the plainest form; and the SAD (core/ipsec/sad.hpp).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/ipsec/ip_header.hpp"
#include "core/ipsec/sad.hpp"
#include "core/ipsec/spd.hpp"
#include "ipsec_packets.hpp"

namespace cordon::ipsec {
namespace {

using test::make_cipher;
using test::udp_packet;

TrafficSelector v4(std::array<uint8_t, 4> start, std::array<uint8_t, 4> end, uint8_t protocol = 0,
                   uint16_t start_port = 0, uint16_t end_port = 65535) {
  TrafficSelector ts;
  ts.type = TsType::kIpv4AddrRange;
  ts.ip_protocol = protocol;
  ts.start_port = start_port;
  ts.end_port = end_port;
  std::copy(start.begin(), start.end(), ts.start_address.begin());
  std::copy(end.begin(), end.end(), ts.end_address.begin());
  return ts;
}

TrafficSelector any_v4() { return v4({0, 0, 0, 0}, {255, 255, 255, 255}); }

PacketSelector selector_of(const std::vector<std::byte>& packet, Direction d) {
  auto s = packet_selector(packet, d);
  EXPECT_TRUE(s.has_value());
  return s.value_or(PacketSelector{});
}

TEST(SpdSelector, ReadsAddressesProtocolAndPortsFromEitherSide) {
  const auto packet = udp_packet(4, 10);  // 10.0.0.1:5000 -> 10.0.0.2:53
  const auto out = selector_of(packet, Direction::kOut);
  EXPECT_EQ(out.local[3], 1);
  EXPECT_EQ(out.remote[3], 2);
  EXPECT_EQ(out.protocol, 17);
  EXPECT_EQ(out.local_port, 5000);
  EXPECT_EQ(out.remote_port, 53);
  const auto in = selector_of(packet, Direction::kIn);
  EXPECT_EQ(in.local[3], 2);
  EXPECT_EQ(in.local_port, 53);

  auto fragment = udp_packet(4, 10);
  ip::store16(&fragment[6], 0x0010);  // a non-first fragment: no ports
  EXPECT_FALSE(selector_of(fragment, Direction::kOut).local_port.has_value());

  auto icmp = udp_packet(4, 10);
  icmp[9] = std::byte{1};
  icmp[20] = std::byte{8};  // echo request, code 0
  icmp[21] = std::byte{0};
  EXPECT_EQ(selector_of(icmp, Direction::kOut).local_port, 0x0800);

  // IPv6 with a destination-options header before UDP.
  auto v6 = udp_packet(6, 16);
  std::vector<std::byte> with_ext(v6.begin(), v6.begin() + 40);
  with_ext[6] = std::byte{60};
  std::vector<std::byte> options(8, std::byte{0});
  options[0] = std::byte{17};
  with_ext.insert(with_ext.end(), options.begin(), options.end());
  with_ext.insert(with_ext.end(), v6.begin() + 40, v6.end());
  ip::store16(&with_ext[4], static_cast<uint16_t>(with_ext.size() - 40));
  const auto s6 = selector_of(with_ext, Direction::kOut);
  EXPECT_EQ(s6.version, 6);
  EXPECT_EQ(s6.protocol, 17);
  EXPECT_EQ(s6.local_port, 5000);

  EXPECT_FALSE(packet_selector(test::seeded(30, 0x70), Direction::kOut).has_value());
}

TEST(SpdLookup, TakesTheFirstMatchInOrderPerDirection) {
  Spd spd;
  spd.add({v4({10, 0, 0, 0}, {10, 0, 0, 255}), v4({10, 0, 0, 2}, {10, 0, 0, 2}, 17, 53, 53), Direction::kOut,
           PolicyAction::kBypass, 0});
  spd.add({v4({10, 0, 0, 0}, {10, 0, 0, 255}), any_v4(), Direction::kOut, PolicyAction::kProtect, 7});
  spd.add({any_v4(), any_v4(), Direction::kIn, PolicyAction::kDiscard, 0});
  const auto dns = selector_of(udp_packet(4, 10), Direction::kOut);
  ASSERT_NE(spd.lookup(Direction::kOut, dns), nullptr);
  EXPECT_EQ(spd.lookup(Direction::kOut, dns)->action, PolicyAction::kBypass);

  auto other = udp_packet(4, 10);
  ip::store16(&other[22], 54);  // another port: the bypass no longer matches
  const Policy* p = spd.lookup(Direction::kOut, selector_of(other, Direction::kOut));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->action, PolicyAction::kProtect);
  EXPECT_EQ(p->child_id, 7u);

  EXPECT_EQ(spd.lookup(Direction::kIn, dns)->action, PolicyAction::kDiscard);
  // Nothing for IPv6: no entry matches, which the caller discards.
  EXPECT_EQ(spd.lookup(Direction::kOut, selector_of(udp_packet(6, 10), Direction::kOut)), nullptr);

  // A protocol without ports matches only a full port range.
  auto gre = udp_packet(4, 10);
  gre[9] = std::byte{47};
  const auto g = selector_of(gre, Direction::kOut);
  EXPECT_FALSE(g.local_port.has_value());
  EXPECT_EQ(spd.lookup(Direction::kOut, g)->action, PolicyAction::kProtect);

  ASSERT_TRUE(spd.insert(0, {any_v4(), any_v4(), Direction::kOut, PolicyAction::kDiscard, 0}));
  EXPECT_EQ(spd.lookup(Direction::kOut, dns)->action, PolicyAction::kDiscard);
  ASSERT_TRUE(spd.remove(0));
  EXPECT_FALSE(spd.remove(10));
  EXPECT_FALSE(spd.insert(11, {}));
  EXPECT_EQ(spd.lookup(Direction::kOut, dns)->action, PolicyAction::kBypass);
}

// The twin: RFC 4301 section 4.4.1 read literally, field by field.
const Policy* naive_lookup(const std::vector<Policy>& policies, Direction d, const PacketSelector& p) {
  const auto fits = [&](const TrafficSelector& ts, const std::array<uint8_t, 16>& a, std::optional<uint16_t> port) {
    if (ts.type != (p.version == 4 ? TsType::kIpv4AddrRange : TsType::kIpv6AddrRange)) return false;
    for (size_t i = 0; i < ts.address_size(); ++i) {  // start <= a, big-endian
      if (ts.start_address[i] != a[i]) {
        if (ts.start_address[i] > a[i]) return false;
        break;
      }
    }
    for (size_t i = 0; i < ts.address_size(); ++i) {  // a <= end
      if (ts.end_address[i] != a[i]) {
        if (a[i] > ts.end_address[i]) return false;
        break;
      }
    }
    if (ts.ip_protocol != 0 && ts.ip_protocol != p.protocol) return false;
    if (!port.has_value()) return ts.start_port == 0 && ts.end_port == 65535;
    return ts.start_port <= *port && *port <= ts.end_port;
  };
  for (const Policy& policy : policies) {
    if (policy.direction == d && fits(policy.local, p.local, p.local_port) &&
        fits(policy.remote, p.remote, p.remote_port)) {
      return &policy;
    }
  }
  return nullptr;
}

TEST(SpdLookup, AgreesWithANaiveTwinOnRandomPoliciesAndPackets) {
  std::mt19937 rng(19);
  const auto byte = [&](int span) { return static_cast<uint8_t>(rng() % static_cast<unsigned>(span)); };
  const auto random_ts = [&]() {
    // Small address and port spaces, so that ranges overlap often.
    const uint8_t a = byte(4), b = byte(4);
    const uint16_t p = static_cast<uint16_t>(rng() % 8), q = static_cast<uint16_t>(rng() % 8);
    TrafficSelector ts = v4({10, 0, 0, std::min(a, b)}, {10, 0, 0, std::max(a, b)},
                            rng() % 3 == 0 ? 0 : (rng() % 2 ? 17 : 6), std::min(p, q), std::max(p, q));
    if (rng() % 6 == 0) ts.end_port = 65535, ts.start_port = 0;
    return ts;
  };
  for (int round = 0; round < 20; ++round) {
    Spd spd;
    for (int i = 0; i < 100; ++i) {
      spd.add({random_ts(), random_ts(), rng() % 2 ? Direction::kIn : Direction::kOut,
               static_cast<PolicyAction>(rng() % 3), static_cast<uint64_t>(i)});
    }
    for (int i = 0; i < 2000; ++i) {
      PacketSelector p;
      p.local = {10, 0, 0, byte(5)};
      p.remote = {10, 0, 0, byte(5)};
      p.protocol = rng() % 3 == 0 ? 47 : (rng() % 2 ? 17 : 6);
      if (p.protocol != 47) {
        p.local_port = static_cast<uint16_t>(rng() % 9);
        p.remote_port = static_cast<uint16_t>(rng() % 9);
      }
      const Direction d = rng() % 2 ? Direction::kIn : Direction::kOut;
      ASSERT_EQ(spd.lookup(d, p), naive_lookup(spd.policies(), d, p)) << round << " " << i;
    }
  }
}

// ---------------------------------------------------------------------------
// SAD

TEST(SadDatabase, FindsInboundSasBySpiAndOutboundByChild) {
  const CipherSpec spec{EncrId::kAesGcm16, 256, IntegId::kNone};
  Sad sad;
  EXPECT_TRUE(sad.insert(InboundEspSa(0x1001, make_cipher(spec, 1), true, SaMode::kTunnel), "peer-a", 1));
  EXPECT_FALSE(sad.insert(InboundEspSa(0x1001, make_cipher(spec, 2), true, SaMode::kTunnel), "peer-b", 2));
  EXPECT_TRUE(sad.insert(InboundAhSa(0x1002, *Integrity::create(IntegId::kHmacSha256_128, test::seeded(32, 3)),
                                     false, SaMode::kTransport),
                         "peer-b", 2));
  EXPECT_TRUE(sad.insert(OutboundEspSa(0x2001, make_cipher(spec, 4), true, SaMode::kTunnel), "peer-a", 1));
  EXPECT_FALSE(sad.insert(OutboundEspSa(0x2002, make_cipher(spec, 4), true, SaMode::kTunnel), "peer-a", 1));
  EXPECT_EQ(sad.size(), 3u);
  EXPECT_NE(sad.find_esp(0x1001), nullptr);
  EXPECT_EQ(sad.find_esp(0x1002), nullptr);  // that SPI is AH
  EXPECT_NE(sad.find_ah(0x1002), nullptr);
  EXPECT_NE(sad.outbound_esp(1), nullptr);
  EXPECT_EQ(sad.outbound_ah(1), nullptr);

  const auto list = sad.list();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_TRUE(list[0].inbound);
  EXPECT_EQ(list[0].spi, 0x1001u);
  EXPECT_EQ(list[0].cipher, "aes256gcm16");
  EXPECT_EQ(list[0].peer, "peer-a");
  EXPECT_EQ(list[1].protocol, SecurityProtocol::kAh);
  EXPECT_EQ(list[1].cipher, "sha256");
  EXPECT_EQ(list[1].mode, SaMode::kTransport);
  EXPECT_FALSE(list[2].inbound);
  EXPECT_EQ(list[2].child_id, 1u);

  EXPECT_TRUE(sad.remove_inbound(0x1001));
  EXPECT_FALSE(sad.remove_inbound(0x1001));
  EXPECT_TRUE(sad.remove_outbound(1));
  EXPECT_EQ(sad.size(), 1u);
}

TEST(SadDatabase, OpensByTheSpiAndCountsWhatReachesNoSa) {
  const CipherSpec spec{EncrId::kChaCha20Poly1305, 256, IntegId::kNone};
  Sad sad;
  sad.insert(InboundEspSa(0x3001, make_cipher(spec, 5), false, SaMode::kTunnel), "peer", 9);
  OutboundEspSa out(0x3001, make_cipher(spec, 5), false, SaMode::kTunnel);
  const auto inner = udp_packet(4, 20);
  std::vector<std::byte> buffer(kEspHeadroom + inner.size() + kEspTailroom);
  std::copy(inner.begin(), inner.end(), buffer.begin() + kEspHeadroom);
  auto sealed = out.seal(buffer, kEspHeadroom, inner.size());
  ASSERT_TRUE(sealed.has_value());
  std::vector<std::byte> wire(sealed->begin(), sealed->end());
  auto foreign = wire;
  foreign[0] = std::byte{0x77};

  auto opened = sad.open_esp(wire, 0);
  ASSERT_TRUE(opened.has_value());
  EXPECT_TRUE(std::equal(opened->begin(), opened->end(), inner.begin(), inner.end()));
  EXPECT_EQ(sad.open_esp(foreign, 0).error(), EspDrop::kUnknownSpi);
  std::vector<std::byte> stub(3);
  EXPECT_EQ(sad.open_esp(stub, 0).error(), EspDrop::kTruncated);
  EXPECT_EQ(sad.open_esp(stub, 9).error(), EspDrop::kTruncated);
  EXPECT_EQ(sad.counters().dropped(EspDrop::kUnknownSpi), 1u);
  EXPECT_EQ(sad.list()[0].counters.packets, 1u);
  auto not_ah = udp_packet(4, 20);
  EXPECT_EQ(sad.open_ah(not_ah).error(), EspDrop::kAhMalformed);
}

}  // namespace
}  // namespace cordon::ipsec
