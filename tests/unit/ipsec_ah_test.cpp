// AH (core/ipsec/ah.hpp): build a packet, seal, open, and tamper with each
// byte: an immutable byte fails the ICV, a mutable one (RFC 4302 section
// 3.3.3.1) does not matter.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "core/ipsec/ah.hpp"
#include "core/ipsec/ip_header.hpp"
#include "ipsec_packets.hpp"

namespace cordon::ipsec {
namespace {

using test::seeded;
using test::udp_packet;

constexpr uint32_t kSpi = 0xa4000001;

Integrity integrity(IntegId id = IntegId::kHmacSha256_128) {
  return *Integrity::create(id, seeded(integrity_key_size(id), 9));
}

TunnelEndpoints endpoints(uint8_t version) {
  TunnelEndpoints t;
  t.version = version;
  t.local[0] = version == 4 ? 192 : 0x20;
  t.local[3] = 1;
  t.remote[0] = version == 4 ? 198 : 0x20;
  t.remote[3] = 2;
  return t;
}

std::vector<std::byte> seal(OutboundAhSa& sa, const std::vector<std::byte>& inner) {
  std::vector<std::byte> buffer(kAhHeadroom + inner.size());
  std::copy(inner.begin(), inner.end(), buffer.begin() + kAhHeadroom);
  auto sealed = sa.seal(buffer, kAhHeadroom, inner.size());
  if (!sealed) {
    ADD_FAILURE() << esp_drop_name(sealed.error());
    return {};
  }
  return {sealed->begin(), sealed->end()};
}

Result<std::vector<std::byte>, EspDrop> open(InboundAhSa& sa, std::vector<std::byte> wire) {
  auto opened = sa.open(wire);
  if (!opened) return opened.error();
  return std::vector<std::byte>(opened->begin(), opened->end());
}

// The bytes of an IP header that AH does not protect.
std::set<size_t> mutable_bytes(uint8_t version) {
  if (version == 4) return {1, 6, 7, 8, 10, 11};
  // Traffic class and flow label in bytes 1-3 (byte 0's low nibble is
  // mutable too, but the test flips its top bit, which is the version).
  return {1, 2, 3, 7};
}

TEST(AhRoundTrip, EveryModeFamilyAndIntegrity) {
  for (IntegId id : {IntegId::kHmacSha256_128, IntegId::kHmacSha384_192, IntegId::kHmacSha512_256}) {
    for (SaMode mode : {SaMode::kTunnel, SaMode::kTransport}) {
      for (uint8_t version : {4, 6}) {
        for (bool esn : {false, true}) {
          SCOPED_TRACE(std::to_string(static_cast<int>(id)) + " " + std::string(sa_mode_name(mode)) + " v" +
                       std::to_string(version) + (esn ? " esn" : ""));
          OutboundAhSa out(kSpi, integrity(id), esn, mode, endpoints(version));
          InboundAhSa in(kSpi, integrity(id), esn, mode);
          if (esn) out.skip_sequence_to(0xfffffffe);  // the second packet crosses into the high half
          for (size_t payload : {0u, 7u, 500u}) {
            const auto inner = udp_packet(version, payload);
            const auto wire = seal(out, inner);
            ASSERT_FALSE(wire.empty());
            const auto h = ip::parse_header(wire);
            ASSERT_TRUE(h.has_value());
            EXPECT_EQ(h->protocol, kIpProtoAh);
            EXPECT_EQ(h->total_length, wire.size());
            const size_t ah_len = ah_length(integrity(id).icv_size(), version);
            EXPECT_EQ(ah_len % (version == 6 ? 8 : 4), 0u);  // RFC 4302 section 2.6
            EXPECT_EQ(std::to_integer<size_t>(wire[h->length + 1]), ah_len / 4 - 2);
            EXPECT_EQ(ah_spi(wire), kSpi);
            auto opened = open(in, wire);
            ASSERT_TRUE(opened.has_value()) << esp_drop_name(opened.error());
            EXPECT_EQ(*opened, inner);
          }
          EXPECT_EQ(in.counters().packets, 3u);
        }
      }
    }
  }
}

TEST(AhInbound, RefusesEveryTamperedImmutableByteAndIgnoresMutableOnes) {
  for (SaMode mode : {SaMode::kTunnel, SaMode::kTransport}) {
    for (uint8_t version : {4, 6}) {
      SCOPED_TRACE(std::string(sa_mode_name(mode)) + " v" + std::to_string(version));
      OutboundAhSa out(kSpi, integrity(), false, mode, endpoints(version));
      InboundAhSa in(kSpi, integrity(), false, mode);
      const auto inner = udp_packet(version, 24);
      const auto wire = seal(out, inner);
      const size_t header = version == 4 ? 20 : 40;
      for (size_t i = 0; i < wire.size(); ++i) {
        auto tampered = wire;
        tampered[i] ^= std::byte{0x80};
        const bool is_mutable = i < header && mutable_bytes(version).contains(i);
        if (is_mutable) {
          // Still authentic. It would spend its number, so a fresh SA opens it.
          InboundAhSa fresh(kSpi, integrity(), false, mode);
          EXPECT_TRUE(open(fresh, tampered).has_value()) << "mutable byte " << i;
          continue;
        }
        auto opened = open(in, tampered);
        ASSERT_FALSE(opened.has_value()) << "byte " << i;
      }
      EXPECT_EQ(in.counters().packets, 0u);
      EXPECT_GT(in.counters().dropped(EspDrop::kAhIcv), wire.size() / 2);
      auto opened = open(in, wire);
      EXPECT_TRUE(opened.has_value());
    }
  }
}

TEST(AhInbound, NamesItsDrops) {
  OutboundAhSa out(kSpi, integrity(), false, SaMode::kTransport);
  InboundAhSa in(kSpi, integrity(), false, SaMode::kTransport);
  const auto wire = seal(out, udp_packet(4, 10));
  EXPECT_TRUE(open(in, wire).has_value());
  EXPECT_EQ(open(in, wire).error(), EspDrop::kAhReplay);

  auto foreign = seal(out, udp_packet(4, 10));
  ip::store32(&foreign[24], 0x55555555);
  EXPECT_EQ(open(in, foreign).error(), EspDrop::kAhUnknownSpi);

  auto short_packet = seal(out, udp_packet(4, 10));
  short_packet.resize(30);
  ip::store16(&short_packet[2], 30);
  EXPECT_EQ(open(in, short_packet).error(), EspDrop::kAhTruncated);

  auto bad_length = seal(out, udp_packet(4, 10));
  bad_length[21] = std::byte{9};
  EXPECT_EQ(open(in, bad_length).error(), EspDrop::kAhMalformed);

  auto not_ah = udp_packet(4, 40);
  EXPECT_EQ(open(in, not_ah).error(), EspDrop::kAhMalformed);

  auto options = udp_packet(4, 40);
  options[0] = std::byte{0x46};
  options[9] = std::byte{kIpProtoAh};
  EXPECT_EQ(open(in, options).error(), EspDrop::kAhIpOptions);

  auto extension = udp_packet(6, 40);
  extension[6] = std::byte{0};  // hop-by-hop options first
  InboundAhSa in6(kSpi, integrity(), false, SaMode::kTransport);
  EXPECT_EQ(open(in6, extension).error(), EspDrop::kAhIpv6Extension);

  EXPECT_EQ(in.counters().dropped(EspDrop::kAhReplay), 1u);
}

TEST(AhOutbound, RefusesOptionsExtensionsFragmentsAndTightBuffers) {
  OutboundAhSa out(kSpi, integrity(), false, SaMode::kTransport);
  auto options = udp_packet(4, 40);
  options[0] = std::byte{0x46};
  auto fragment = udp_packet(4, 40);
  ip::store16(&fragment[6], 0x2000);
  auto extension = udp_packet(6, 40);
  extension[6] = std::byte{60};
  for (const auto& [packet, drop] : {std::pair{options, EspDrop::kAhIpOptions},
                                     std::pair{fragment, EspDrop::kAhInnerMalformed},
                                     std::pair{extension, EspDrop::kAhIpv6Extension}}) {
    std::vector<std::byte> buffer(kAhHeadroom + packet.size());
    std::copy(packet.begin(), packet.end(), buffer.begin() + kAhHeadroom);
    auto sealed = out.seal(buffer, kAhHeadroom, packet.size());
    ASSERT_FALSE(sealed.has_value());
    EXPECT_EQ(sealed.error(), drop);
  }
  auto tight = udp_packet(4, 10);
  EXPECT_EQ(out.seal(tight, 0, tight.size()).error(), EspDrop::kAhNoRoom);
  EXPECT_EQ(out.sequence(), 0u);
}

TEST(AhOutbound, StopsAtTheLastSequenceNumber) {
  OutboundAhSa out(kSpi, integrity(), false, SaMode::kTunnel, endpoints(4));
  out.skip_sequence_to(0xfffffffe);
  EXPECT_FALSE(seal(out, udp_packet(4, 1)).empty());
  EXPECT_EQ(out.state(), SaState::kExpired);
  auto packet = udp_packet(4, 1);
  std::vector<std::byte> buffer(kAhHeadroom + packet.size());
  std::copy(packet.begin(), packet.end(), buffer.begin() + kAhHeadroom);
  EXPECT_EQ(out.seal(buffer, kAhHeadroom, packet.size()).error(), EspDrop::kAhSequenceExhausted);
}

}  // namespace
}  // namespace cordon::ipsec
