// ESP (core/ipsec/esp.hpp): a published packet, round trips for every suite
// and mode, each named drop, the sequence and lifetime limits, and the
// RFC 3948 classifier (core/ipsec/udp_encap.hpp).
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/ipsec/esp.hpp"
#include "core/ipsec/udp_encap.hpp"
#include "ipsec_bytes.hpp"
#include "ipsec_packets.hpp"

namespace cordon::ipsec {
namespace {

using test::all_specs;
using test::bytes_of_hex;
using test::hex_of;
using test::make_cipher;
using test::udp_packet;

constexpr uint32_t kSpi = 0xc0ffee01;

// A buffer with room around `inner` as the data path provides it.
struct Buffer {
  std::vector<std::byte> bytes;
  size_t offset = kEspHeadroom;
  size_t length = 0;

  explicit Buffer(const std::vector<std::byte>& inner) : bytes(kEspHeadroom + inner.size() + kEspTailroom) {
    std::copy(inner.begin(), inner.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset));
    length = inner.size();
  }
};

struct Pair {
  OutboundEspSa out;
  InboundEspSa in;
};

Pair sa_pair(const CipherSpec& spec, bool esn, SaMode mode, SaLimits limits = {}, InnerCheck check = {}) {
  return {OutboundEspSa(kSpi, make_cipher(spec, 7), esn, mode, limits),
          InboundEspSa(kSpi, make_cipher(spec, 7), esn, mode, limits, std::move(check))};
}

// Seals `inner`, then copies the result into a buffer of its own (as a
// socket would deliver it).
std::vector<std::byte> seal(OutboundEspSa& sa, const std::vector<std::byte>& inner) {
  Buffer b(inner);
  auto sealed = sa.seal(b.bytes, b.offset, b.length);
  if (!sealed) {
    ADD_FAILURE() << esp_drop_name(sealed.error());
    return {};
  }
  return {sealed->begin(), sealed->end()};
}

// Opens a copy; for transport mode the sealed bytes are an IP packet whose
// header length tells where ESP starts.
Result<std::vector<std::byte>, EspDrop> open(InboundEspSa& sa, std::vector<std::byte> wire) {
  size_t esp_offset = 0;
  if (sa.mode() == SaMode::kTransport) {
    const auto h = ip::parse_header(wire);
    esp_offset = h ? h->length : 0;
  }
  auto opened = sa.open(wire, esp_offset);
  if (!opened) return opened.error();
  return std::vector<std::byte>(opened->begin(), opened->end());
}

// ---------------------------------------------------------------------------
// RFC 7634 appendix A: the ESP example, opened by a tunnel-mode SA.

TEST(EspInbound, OpensTheRfc7634Example) {
  const CipherSpec spec{EncrId::kChaCha20Poly1305, 256, IntegId::kNone};
  auto cipher = Cipher::create(
      spec, bytes_of_hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3"), {});
  ASSERT_TRUE(cipher.has_value());
  InboundEspSa sa(0x01020304, std::move(*cipher), false, SaMode::kTunnel);
  auto wire = bytes_of_hex(
      "01020304 00000005 1011121314151617"
      "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7"
      "2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0"
      "76aaa8266b7fb0f7b11b369907e1ad43");
  const auto again = wire;
  auto inner = sa.open(wire, 0);
  ASSERT_TRUE(inner.has_value()) << esp_drop_name(inner.error());
  EXPECT_EQ(hex_of(*inner),
            "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d0e0f10111213"
            "1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637");
  EXPECT_EQ(sa.counters().packets, 1u);
  EXPECT_EQ(sa.counters().bytes, 84u);
  auto replayed = again;
  auto second = sa.open(replayed, 0);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error(), EspDrop::kReplay);
  EXPECT_EQ(sa.counters().dropped(EspDrop::kReplay), 1u);
}

// draft-mcgrew-gcm-test-01 ("GCM Test Vectors", the ESP packets that
// accompany RFC 4106), the cases with an AES-128 or AES-256 key and a
// sequence number a fresh window can place: SPI, sequence (and with ESN
// the high half, zero here, in the aad), IV, ciphertext, ICV. Their
// plaintext is an IPv4 packet, its padding and next header 1, which a
// tunnel-mode SA refuses by name once the ICV has verified and the
// padding checked out.
struct DraftPacket {
  uint16_t bits;
  std::string key;  // with the salt
  uint32_t spi;
  bool esn;
  std::string wire;   // SPI | sequence (low half) | IV | ciphertext | ICV
  std::string inner;  // the start of the decrypted IPv4 packet
  uint64_t sequence;
};

TEST(EspInbound, VerifiesTheGcmTestDraftPackets) {
  const std::vector<DraftPacket> packets = {
      {128, "feffe9928665731c6d6a8f9467308308cafebabe", 0xa5f8, false,
       "0000a5f8 0000000a facedbaddecaf888"
       "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642"
       "cfbb85a5b47e48a4ec3b9ba95d918bd1"
       "83b70d3aa8bc6ee4c309e9d85a41ad4a",
       "4500003e698f000080114dccc0a80102c0a80101", 10},
      {256, "abbccddef00112233445566778899aababbccddef00112233445566778899aab11223344", 0x4a2cbfe3, false,
       "4a2cbfe3 00000002 0102030405060708"
       "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d"
       "ef842d8e"
       "b335f4eecfdbf831824b4c4915956c96",
       "4500003069a6400080062690c0a801029389155e", 2},
      {128, "abbccddef00112233445566778899aabdecaf888", 0x100, true,
       "00000100 00000001 cafedebacefacE74"
       "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472"
       "b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68"
       "651f57e65f354f75ff17015769623436",
       "4500004933ba00007f119106c3fb1d10c2b1d326", 1},
  };
  for (const DraftPacket& p : packets) {
    SCOPED_TRACE(p.spi);
    const CipherSpec spec{EncrId::kAesGcm16, p.bits, IntegId::kNone};
    // The plaintext, through the Cipher with the aad ESP builds.
    auto cipher = Cipher::create(spec, bytes_of_hex(p.key), {});
    ASSERT_TRUE(cipher.has_value());
    const auto wire = bytes_of_hex(p.wire);
    std::vector<std::byte> aad(wire.begin(), wire.begin() + 8);
    if (p.esn) aad.insert(aad.begin() + 4, 4, std::byte{0});
    const std::vector<std::byte> iv(wire.begin() + 8, wire.begin() + 16);
    std::vector<std::byte> text(wire.begin() + 16, wire.end() - 16);
    const std::vector<std::byte> icv(wire.end() - 16, wire.end());
    ASSERT_TRUE(cipher->open(aad, iv, text, icv));
    EXPECT_EQ(hex_of(std::span(text).first(20)), p.inner);
    EXPECT_EQ(std::to_integer<int>(text.back()), 1);  // next header

    // The whole packet, through an inbound SA.
    InboundEspSa sa(p.spi, *Cipher::create(spec, bytes_of_hex(p.key), {}), p.esn, SaMode::kTunnel);
    auto copy = wire;
    auto opened = sa.open(copy, 0);
    ASSERT_FALSE(opened.has_value());
    EXPECT_EQ(opened.error(), EspDrop::kNextHeader);
    EXPECT_EQ(sa.replay().top(), p.sequence);  // authentic: its number is spent
  }
}

// ---------------------------------------------------------------------------
// Round trips

TEST(EspRoundTrip, EverySuiteModeFamilyAndEsn) {
  for (const CipherSpec& spec : all_specs()) {
    for (SaMode mode : {SaMode::kTunnel, SaMode::kTransport}) {
      for (int version : {4, 6}) {
        for (bool esn : {false, true}) {
          SCOPED_TRACE(spec.name() + " " + std::string(sa_mode_name(mode)) + " v" + std::to_string(version) +
                       (esn ? " esn" : ""));
          auto [out, in] = sa_pair(spec, esn, mode);
          for (size_t payload : {0u, 1u, 13u, 100u, 1400u}) {
            const auto inner = udp_packet(version, payload);
            const auto wire = seal(out, inner);
            ASSERT_FALSE(wire.empty());
            if (mode == SaMode::kTransport) {
              const auto h = ip::parse_header(wire);
              ASSERT_TRUE(h.has_value());
              EXPECT_EQ(h->protocol, kIpProtoEsp);
              EXPECT_EQ(h->total_length, wire.size());
            } else {
              EXPECT_EQ(ip::load32(wire.data()), kSpi);
            }
            const Cipher sizes = make_cipher(spec, 1);
            const size_t outer = mode == SaMode::kTransport ? (version == 4 ? 20 : 40) : 0;
            const size_t encrypted = wire.size() - outer - kEspHeaderSize - sizes.iv_size() - sizes.icv_size();
            EXPECT_EQ(encrypted % 4, 0u);  // RFC 4303 section 2.4
            auto opened = open(in, wire);
            ASSERT_TRUE(opened.has_value()) << esp_drop_name(opened.error());
            EXPECT_EQ(*opened, inner);
          }
          EXPECT_EQ(out.counters().packets, 5u);
          EXPECT_EQ(in.counters().packets, 5u);
          EXPECT_EQ(in.counters().bytes, out.counters().bytes);
        }
      }
    }
  }
}

TEST(EspRoundTrip, TheHighHalfOfEsnCrossesTheWrap) {
  for (const CipherSpec& spec : all_specs()) {
    SCOPED_TRACE(spec.name());
    auto [out, in] = sa_pair(spec, true, SaMode::kTunnel);
    out.skip_sequence_to(0xfffffffd);
    std::vector<std::vector<std::byte>> wires;
    for (int i = 0; i < 5; ++i) wires.push_back(seal(out, udp_packet(4, 20)));
    EXPECT_EQ(out.sequence(), 0x100000002u);
    EXPECT_EQ(ip::load32(&wires[4][4]), 2u);  // only the low half travels
    // Delivered out of order across the wrap.
    for (int i : {1, 3, 2, 4, 0}) {
      auto opened = open(in, wires[static_cast<size_t>(i)]);
      EXPECT_TRUE(opened.has_value()) << i << " " << esp_drop_name(opened.error());
    }
    EXPECT_EQ(in.replay().top(), 0x100000002u);
    // A receiver that thinks the high half is another one refuses all:
    // the high half is authenticated.
    auto [out2, in2] = sa_pair(spec, true, SaMode::kTunnel);
    out2.skip_sequence_to(0x300000005);
    auto opened = open(in2, seal(out2, udp_packet(4, 20)));
    ASSERT_FALSE(opened.has_value());
    EXPECT_EQ(opened.error(), EspDrop::kIcv);
  }
}

// ---------------------------------------------------------------------------
// Every byte of a sealed packet is protected.

TEST(EspInbound, RefusesEveryTamperedByte) {
  for (const CipherSpec& spec : all_specs()) {
    SCOPED_TRACE(spec.name());
    auto [out, in] = sa_pair(spec, false, SaMode::kTunnel);
    const auto wire = seal(out, udp_packet(4, 30));
    for (size_t i = 0; i < wire.size(); ++i) {
      auto tampered = wire;
      tampered[i] ^= std::byte{0x80};  // keeps the sequence number fresh
      auto opened = open(in, tampered);
      ASSERT_FALSE(opened.has_value()) << "byte " << i;
      const EspDrop d = opened.error();
      if (i < 4) {
        EXPECT_EQ(d, EspDrop::kUnknownSpi);
      } else {
        EXPECT_EQ(d, EspDrop::kIcv) << "byte " << i << ": " << esp_drop_name(d);
      }
    }
    EXPECT_TRUE(open(in, wire).has_value());  // nothing above moved the window
  }
}

// ---------------------------------------------------------------------------
// Drops of authentic packets: built with the SA's own keys around a chosen
// plaintext, so only the named check can refuse them.

std::vector<std::byte> raw_esp(const CipherSpec& spec, uint32_t sequence, std::vector<std::byte> plaintext) {
  Cipher cipher = make_cipher(spec, 7);
  std::vector<std::byte> wire(kEspHeaderSize + cipher.iv_size());
  ip::store32(&wire[0], kSpi);
  ip::store32(&wire[4], sequence);
  cipher.make_iv(sequence, std::span(wire).subspan(kEspHeaderSize));
  std::vector<std::byte> icv(cipher.icv_size());
  const std::vector<std::byte> aad(wire.begin(), wire.begin() + kEspHeaderSize);
  const std::vector<std::byte> iv(wire.begin() + kEspHeaderSize, wire.end());
  EXPECT_TRUE(cipher.seal(aad, iv, plaintext, icv));
  wire.insert(wire.end(), plaintext.begin(), plaintext.end());
  wire.insert(wire.end(), icv.begin(), icv.end());
  return wire;
}

// The inner packet, then `pad` pad bytes as given, pad length, next header.
std::vector<std::byte> plaintext(std::vector<std::byte> inner, std::vector<uint8_t> pad, uint8_t pad_length,
                                 uint8_t next_header) {
  for (uint8_t b : pad) inner.push_back(std::byte{b});
  inner.push_back(std::byte{pad_length});
  inner.push_back(std::byte{next_header});
  return inner;
}

TEST(EspInbound, NamesEachDropOfAnAuthenticPacket) {
  const CipherSpec spec{EncrId::kAesGcm16, 256, IntegId::kNone};
  const auto inner = udp_packet(4, 10);  // 38 bytes: 2 pad bytes reach a multiple of 4
  struct Case {
    std::vector<std::byte> text;
    std::optional<EspDrop> drop;
  };
  const std::vector<Case> cases = {
      {plaintext(inner, {1, 2}, 2, 4), std::nullopt},
      {plaintext(inner, {1, 3}, 2, 4), EspDrop::kPadding},
      {plaintext(inner, {}, 200, 4), EspDrop::kPadding},
      {plaintext(inner, {1, 2}, 2, 17), EspDrop::kNextHeader},
      {plaintext(inner, {1, 2}, 2, 41), EspDrop::kInnerMalformed},  // an IPv4 packet said to be IPv6
      {plaintext(inner, {1, 2}, 2, kNextHeaderNone), EspDrop::kDummy},
      {plaintext(test::seeded(38, 3), {1, 2}, 2, 4), EspDrop::kInnerMalformed},
      // TFC padding after the inner packet is accepted and cut off.
      {plaintext(plaintext(inner, {}, 0, 0), {1, 2, 3, 4}, 4, 4), std::nullopt},
  };
  uint32_t sequence = 1;
  for (const Case& c : cases) {
    InboundEspSa in(kSpi, make_cipher(spec, 7), false, SaMode::kTunnel);
    auto opened = open(in, raw_esp(spec, sequence, c.text));
    if (!c.drop) {
      ASSERT_TRUE(opened.has_value()) << esp_drop_name(opened.error());
      EXPECT_EQ(*opened, inner);
    } else {
      ASSERT_FALSE(opened.has_value()) << esp_drop_name(*c.drop);
      EXPECT_EQ(opened.error(), *c.drop);
      EXPECT_EQ(in.counters().dropped(*c.drop), 1u);
      // An authentic packet spends its number whatever it holds.
      EXPECT_EQ(in.replay().top(), sequence);
    }
    ++sequence;
  }
}

TEST(EspInbound, RefusesShortForeignMisalignedAndOldPackets) {
  const CipherSpec spec{EncrId::kAesCbc, 128, IntegId::kHmacSha256_128};
  auto [out, in] = sa_pair(spec, false, SaMode::kTunnel);
  std::vector<std::byte> tiny(20);
  EXPECT_EQ(open(in, tiny).error(), EspDrop::kTruncated);
  auto foreign = seal(out, udp_packet(4, 10));
  ip::store32(foreign.data(), 0x12345678);
  EXPECT_EQ(open(in, foreign).error(), EspDrop::kUnknownSpi);
  auto misaligned = seal(out, udp_packet(4, 10));
  misaligned.insert(misaligned.begin() + 30, std::byte{0});
  EXPECT_EQ(open(in, misaligned).error(), EspDrop::kMalformed);

  std::vector<std::vector<std::byte>> wires;
  for (uint64_t i = 0; i < AntiReplay::kWindow + 10; ++i) wires.push_back(seal(out, udp_packet(4, 1)));
  EXPECT_TRUE(open(in, wires.back()).has_value());
  EXPECT_EQ(open(in, wires[0]).error(), EspDrop::kTooOld);
  EXPECT_TRUE(open(in, wires[20]).has_value());
  EXPECT_EQ(open(in, wires[20]).error(), EspDrop::kReplay);
}

TEST(EspInbound, TransportModeRestoresTheIpHeader) {
  const CipherSpec spec{EncrId::kAesGcm16, 128, IntegId::kNone};
  auto [out, in] = sa_pair(spec, false, SaMode::kTransport);
  const auto inner = udp_packet(4, 50);
  const auto wire = seal(out, inner);
  EXPECT_EQ(wire[9], std::byte{kIpProtoEsp});
  auto opened = open(in, wire);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, inner);  // protocol 17, length and checksum as they were

  // The outer header the receiver is given must say ESP follows it (the
  // header is not authenticated by ESP: the packet is authentic, its
  // number spent, and then refused).
  auto relabelled = seal(out, inner);
  relabelled[9] = std::byte{17};
  EXPECT_EQ(open(in, relabelled).error(), EspDrop::kInnerMalformed);
  EXPECT_EQ(in.replay().top(), 2u);
}

TEST(EspInbound, TheSelectorHookRefusesPacketsOutsideTheSa) {
  const CipherSpec spec{EncrId::kAesGcm16, 128, IntegId::kNone};
  auto [out, in] = sa_pair(spec, false, SaMode::kTunnel, {},
                             [](std::span<const std::byte> inner) { return inner[0] == std::byte{0x45}; });
  EXPECT_TRUE(open(in, seal(out, udp_packet(4, 5))).has_value());
  EXPECT_EQ(open(in, seal(out, udp_packet(6, 5))).error(), EspDrop::kSelector);
  EXPECT_EQ(in.counters().dropped(EspDrop::kSelector), 1u);
}

// ---------------------------------------------------------------------------
// Outbound limits

TEST(EspOutbound, NeverCyclesTheSequenceNumberWithoutEsn) {
  const CipherSpec spec{EncrId::kAesGcm16, 256, IntegId::kNone};
  auto [out, in] = sa_pair(spec, false, SaMode::kTunnel);
  EXPECT_EQ(out.state(), SaState::kActive);
  out.skip_sequence_to(rekey_sequence(false) - 1);
  EXPECT_EQ(out.state(), SaState::kActive);
  seal(out, udp_packet(4, 1));
  EXPECT_EQ(out.state(), SaState::kRekeyNeeded);
  out.skip_sequence_to(0xfffffffe);
  EXPECT_FALSE(seal(out, udp_packet(4, 1)).empty());  // 2^32 - 1, the last
  EXPECT_EQ(out.state(), SaState::kExpired);
  Buffer b(udp_packet(4, 1));
  auto refused = out.seal(b.bytes, b.offset, b.length);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), EspDrop::kSequenceExhausted);
  EXPECT_EQ(out.sequence(), 0xffffffffu);
  out.skip_sequence_to(5);  // never back
  EXPECT_EQ(out.sequence(), 0xffffffffu);
}

TEST(EspOutbound, ReportsSoftAndHardLimits) {
  const CipherSpec spec{EncrId::kAesGcm16, 256, IntegId::kNone};
  SaLimits limits;
  limits.soft_packets = 2;
  limits.hard_packets = 3;
  auto [out, in] = sa_pair(spec, false, SaMode::kTunnel, limits);
  seal(out, udp_packet(4, 1));
  EXPECT_EQ(out.state(), SaState::kActive);
  seal(out, udp_packet(4, 1));
  EXPECT_EQ(out.state(), SaState::kRekeyNeeded);
  seal(out, udp_packet(4, 1));
  EXPECT_EQ(out.state(), SaState::kExpired);
  Buffer b(udp_packet(4, 1));
  EXPECT_EQ(out.seal(b.bytes, b.offset, b.length).error(), EspDrop::kSaExpired);

  SaLimits bytes;
  bytes.soft_bytes = 100;
  bytes.hard_bytes = 200;
  auto [out2, in2] = sa_pair(spec, false, SaMode::kTunnel, bytes);
  const auto wire = seal(out2, udp_packet(4, 100));  // 128 inner bytes
  EXPECT_EQ(out2.state(), SaState::kRekeyNeeded);
  EXPECT_TRUE(open(in2, wire).has_value());
  EXPECT_EQ(in2.state(), SaState::kRekeyNeeded);
  const auto wire2 = seal(out2, udp_packet(4, 100));
  EXPECT_EQ(out2.state(), SaState::kExpired);
  EXPECT_TRUE(open(in2, wire2).has_value());
  EXPECT_EQ(in2.state(), SaState::kExpired);
  OutboundEspSa unlimited(kSpi, make_cipher(spec, 7), false, SaMode::kTunnel);
  unlimited.skip_sequence_to(2);
  EXPECT_EQ(open(in2, seal(unlimited, udp_packet(4, 1))).error(), EspDrop::kSaExpired);
}

TEST(EspOutbound, RefusesMalformedInnerPacketsAndShortBuffers) {
  const CipherSpec spec{EncrId::kAesCbc, 256, IntegId::kHmacSha256_128};
  auto [out, in] = sa_pair(spec, false, SaMode::kTransport);
  auto fragment = udp_packet(4, 10);
  ip::store16(&fragment[6], 0x2000);  // MF
  Buffer f(fragment);
  EXPECT_EQ(out.seal(f.bytes, f.offset, f.length).error(), EspDrop::kInnerMalformed);
  auto garbage = test::seeded(40, 0x10);
  Buffer g(garbage);
  EXPECT_EQ(out.seal(g.bytes, g.offset, g.length).error(), EspDrop::kInnerMalformed);
  std::vector<std::byte> tight = udp_packet(4, 10);
  EXPECT_EQ(out.seal(tight, 0, tight.size()).error(), EspDrop::kNoRoom);
  EXPECT_EQ(out.sequence(), 0u);  // nothing refused spent a number
}

// ---------------------------------------------------------------------------
// RFC 3948 section 2

TEST(EspUdpEncap, ClassifiesIkeEspAndKeepalives) {
  EXPECT_EQ(classify_udp_encap(bytes_of_hex("ff")).kind, UdpEncapKind::kKeepalive);
  EXPECT_EQ(classify_udp_encap(bytes_of_hex("00")).kind, UdpEncapKind::kMalformed);
  EXPECT_EQ(classify_udp_encap({}).kind, UdpEncapKind::kMalformed);
  EXPECT_EQ(classify_udp_encap(bytes_of_hex("00000000 0102")).kind, UdpEncapKind::kMalformed);
  std::vector<std::byte> ike(4 + kIkeHeaderSize, std::byte{0});
  ike[4] = std::byte{0x11};
  const auto c = classify_udp_encap(ike);
  EXPECT_EQ(c.kind, UdpEncapKind::kIke);
  EXPECT_EQ(c.payload.size(), kIkeHeaderSize);
  EXPECT_EQ(c.payload[0], std::byte{0x11});
  EXPECT_EQ(classify_udp_encap(bytes_of_hex("c0ffee01 000000")).kind, UdpEncapKind::kMalformed);
  const auto esp = bytes_of_hex("c0ffee01 00000001 aabbccdd");
  const auto e = classify_udp_encap(esp);
  EXPECT_EQ(e.kind, UdpEncapKind::kEsp);
  EXPECT_EQ(e.payload.size(), esp.size());
  EXPECT_EQ(udp_encap_kind_name(UdpEncapKind::kKeepalive), "keepalive");
}

TEST(EspDrops, NamesAreStableAndDistinct) {
  EXPECT_EQ(esp_drop_name(EspDrop::kUnknownSpi), "esp_unknown_spi");
  EXPECT_EQ(esp_drop_name(EspDrop::kReplay), "esp_replay");
  EXPECT_EQ(esp_drop_name(EspDrop::kTooOld), "esp_too_old");
  EXPECT_EQ(esp_drop_name(EspDrop::kIcv), "esp_icv");
  EXPECT_EQ(esp_drop_name(EspDrop::kPadding), "esp_padding");
  EXPECT_EQ(esp_drop_name(EspDrop::kTruncated), "esp_truncated");
  EXPECT_EQ(esp_drop_name(EspDrop::kNextHeader), "esp_next_header");
  EXPECT_EQ(esp_drop_name(EspDrop::kInnerMalformed), "esp_inner_malformed");
  EXPECT_EQ(esp_drop_name(EspDrop::kSaExpired), "esp_sa_expired");
  std::set<std::string_view> names;
  for (size_t i = 0; i < kEspDropCount; ++i) {
    names.insert(esp_drop_name(static_cast<EspDrop>(i)));
    EXPECT_FALSE(esp_drop_meaning(static_cast<EspDrop>(i)).empty());
  }
  EXPECT_EQ(names.size(), kEspDropCount);
}

}  // namespace
}  // namespace cordon::ipsec
