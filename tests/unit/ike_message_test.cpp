// IKEv2 message codec (core/ipsec/ike_message.hpp): the header and payload
// chain against a message written by hand from RFC 7296 sections 3.1 and
// 3.2, the checks of section 2.5, the SK and SKF envelopes, and messages
// captured from strongSwan.
#include "core/ipsec/ike_message.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <variant>

#include "tests/unit/ike_strongswan_capture.hpp"
#include "tests/unit/ike_test_util.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::filled;
using test::hex;
using Kind = IkeParseError::Kind;

// Section 3.1 header, then SA (section 3.3), KE (3.4), Nonce (3.9) and a
// FRAGMENTATION_SUPPORTED notify (RFC 7383 section 2.3), each behind its
// generic header (section 3.2): next payload | critical | length.
const std::string kSaInitHex =
    "0102030405060708 | 0000000000000000 | 21 20 22 08 | 00000000 | 00000074"
    "22 00 0030 | 00 00 002c 01 01 00 04"
    "            03 00 000c 01 00 000c 800e 0100 | 03 00 0008 03 00 000c"
    "            03 00 0008 02 00 0005 | 00 00 0008 04 00 0013"
    "28 00 000c | 0013 0000 01020304"
    "29 00 0014 | 00112233445566778899aabbccddeeff"
    "00 00 0008 | 00 00 402e";

IkeMessage sa_init() {
  IkeMessage m;
  m.header.spi_i = 0x0102030405060708;
  m.header.exchange = ExchangeType::kIkeSaInit;
  m.header.initiator = true;
  Proposal p{1, ProtocolId::kIke, {},
             {Transform{TransformType::kEncryption, 12, 256, {}}, Transform{TransformType::kIntegrity, 12, {}, {}},
              Transform{TransformType::kPrf, 5, {}, {}}, Transform{TransformType::kDhGroup, 19, {}, {}}}};
  m.payloads = {Payload{SaPayload{{p}}}, Payload{KePayload{DhGroup::kEcp256, hex("01020304")}},
                Payload{NoncePayload{hex("00112233445566778899aabbccddeeff")}},
                Payload{NotifyPayload{ProtocolId::kNone, {}, NotifyType::kFragmentationSupported, {}}}};
  return m;
}

Bytes serialized(const IkeMessage& m) {
  auto b = serialize_ike_message(m);
  EXPECT_TRUE(b);
  return b ? *b : Bytes{};
}

void expect_error(const Bytes& datagram, Kind kind) {
  const auto parsed = parse_ike_message(datagram);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind, kind) << ike_parse_error_name(parsed.error().kind) << ": " << parsed.error().field;
}

void set_length(Bytes& m, size_t length) {
  for (int i = 0; i < 4; ++i) m[24 + i] = static_cast<std::byte>(length >> (24 - 8 * i));
}

// Inserts a raw payload (generic header included) after the payload that
// ends at `at`, whose Next Payload byte is at `prev_next`.
Bytes with_payload_inserted(Bytes m, size_t prev_next, size_t at, uint8_t type, bool critical) {
  const uint8_t follows = static_cast<uint8_t>(m[prev_next]);
  m[prev_next] = std::byte{type};
  const Bytes p = {std::byte{follows}, std::byte{static_cast<uint8_t>(critical ? 0x80 : 0)}, std::byte{0},
                   std::byte{8}, std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), p.begin(), p.end());
  set_length(m, m.size());
  return m;
}

TEST(IkeMessage, HeaderAndPayloadsMatchSection3_1) {
  const Bytes bytes = hex(kSaInitHex);
  const auto parsed = parse_ike_message(bytes);
  ASSERT_TRUE(parsed) << parsed.error().field;
  EXPECT_EQ(*parsed, sa_init());
  EXPECT_EQ(serialized(sa_init()), bytes);
  const auto raw = parse_ike_header(bytes);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->next_payload, PayloadType::kSa);
  EXPECT_EQ(raw->length, 116u);
}

TEST(IkeMessage, FlagsAndVersionsRoundTrip) {
  IkeMessage m = sa_init();
  m.header.response = true;
  m.header.version = true;
  m.header.initiator = false;
  m.header.minor_version = 3;  // section 2.5: a higher minor version is accepted
  m.header.message_id = 0xfedcba98;
  m.header.spi_r = 0x1112131415161718;
  const Bytes b = serialized(m);
  EXPECT_EQ(b[18], std::byte{0x22});
  EXPECT_EQ(b[19], std::byte{0x30});
  const auto parsed = parse_ike_message(b);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->header, m.header);
}

TEST(IkeMessage, EveryTruncationIsRefused) {
  const Bytes bytes = hex(kSaInitHex);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse_ike_message(cut)) << n << " bytes";
    // Also with a Length field that agrees, so the chain walk meets the end.
    if (n >= kIkeHeaderSize) {
      set_length(cut, n);
      EXPECT_FALSE(parse_ike_message(cut)) << n << " bytes, length adjusted";
    }
  }
}

TEST(IkeMessage, EveryTruncationOfTheStrongswanCaptureIsRefused) {
  const Bytes bytes = test::from_array(capture::kIkeSaInitRequest);
  for (size_t n = kIkeHeaderSize; n < bytes.size(); ++n) {
    Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    set_length(cut, n);
    EXPECT_FALSE(parse_ike_message(cut)) << n << " bytes";
  }
}

TEST(IkeMessage, LengthFieldMustEqualTheDatagram) {
  Bytes b = hex(kSaInitHex);
  set_length(b, b.size() + 1);
  expect_error(b, Kind::kBadLength);
  set_length(b, b.size() - 1);
  expect_error(b, Kind::kBadLength);
  // A stray byte after the last payload, the Length field counting it.
  b = hex(kSaInitHex);
  b.push_back(std::byte{0});
  set_length(b, b.size());
  expect_error(b, Kind::kBadLength);
  // A payload length below its own header.
  b = hex(kSaInitHex);
  b[28 + 48 + 12 + 20 + 3] = std::byte{3};
  expect_error(b, Kind::kBadLength);
}

TEST(IkeMessage, MajorVersionsOtherThanTwo) {
  // Section 2.5: above 2 the caller answers INVALID_MAJOR_VERSION, for
  // which it still reads the SPIs and message ID; below 2 it drops.
  Bytes b = hex(kSaInitHex);
  b[17] = std::byte{0x30};
  expect_error(b, Kind::kUnsupportedMajorVersion);
  const auto raw = parse_ike_header(b);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->header.major_version, 3);
  EXPECT_EQ(raw->header.spi_i, 0x0102030405060708u);
  b[17] = std::byte{0x10};
  expect_error(b, Kind::kOldMajorVersion);
}

TEST(IkeMessage, UnknownCriticalPayloadIsNamed) {
  // Section 2.5: an unknown payload with the critical bit fails the message,
  // naming its type for UNSUPPORTED_CRITICAL_PAYLOAD.
  const size_t ke_next = 28 + 48;  // the KE payload's Next Payload byte
  const size_t after_ke = 28 + 48 + 12;
  const Bytes b = with_payload_inserted(hex(kSaInitHex), ke_next, after_ke, 200, true);
  const auto parsed = parse_ike_message(b);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind, Kind::kUnsupportedCritical);
  EXPECT_EQ(parsed.error().payload_type, 200);
  EXPECT_EQ(parsed.error().offset, after_ke);
}

TEST(IkeMessage, UnknownNonCriticalPayloadIsSkipped) {
  const Bytes b = with_payload_inserted(hex(kSaInitHex), 28 + 48, 28 + 48 + 12, 200, false);
  const auto parsed = parse_ike_message(b);
  ASSERT_TRUE(parsed) << parsed.error().field;
  EXPECT_EQ(parsed->payloads, sa_init().payloads);
  // The critical bit of a known payload is kept, not acted on.
  Bytes crit = hex(kSaInitHex);
  crit[28 + 1] = std::byte{0x80};
  const auto known = parse_ike_message(crit);
  ASSERT_TRUE(known);
  EXPECT_TRUE(known->payloads[0].critical);
  EXPECT_EQ(serialized(*known), crit);
}

TEST(IkeMessage, EncryptedPayloadMustBeLast) {
  // Section 3.14: SK is the last payload. Here a Notify follows it in the
  // datagram: SK's Next Payload names its first inner payload, so the
  // Notify is bytes the chain does not account for.
  const Bytes b = hex(
      "0102030405060708 | 1112131415161718 | 2e 20 23 08 | 00000001 | 00000030"
      "23 00 000c | aabbccddeeff0011"
      "00 00 0008 | 00 00 402e");
  expect_error(b, Kind::kEncryptedNotLast);
  IkeMessage m;
  m.payloads = {Payload{EncryptedPayload{PayloadType::kIdInitiator, hex("00"), 0}},
                Payload{NotifyPayload{ProtocolId::kNone, {}, NotifyType::kFragmentationSupported, {}}}};
  const auto built = serialize_ike_message(m);
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().kind, IkeBuildError::Kind::kEncryptedNotLast);
}

TEST(IkeMessage, TooManyPayloadsOrBytes) {
  IkeMessage m = sa_init();
  m.payloads.clear();
  for (size_t i = 0; i < kMaxPayloads; ++i) m.payloads.push_back(Payload{VendorIdPayload{}});
  Bytes b = serialized(m);
  ASSERT_TRUE(parse_ike_message(b));
  // One more, added by hand (the builder refuses it too).
  b[b.size() - 4] = std::byte{static_cast<uint8_t>(PayloadType::kVendorId)};
  b.insert(b.end(), {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{4}});
  set_length(b, b.size());
  expect_error(b, Kind::kTooLarge);
  m.payloads.push_back(Payload{VendorIdPayload{}});
  EXPECT_FALSE(serialize_ike_message(m));
  // Section 3.1's Length is 32 bits, but no UDP datagram is above 65535 bytes.
  Bytes big(kMaxIkeMessageSize + 1);
  expect_error(big, Kind::kTooLarge);
}

// A stand-in for the IKE SA's cipher, to check the layout only: "encrypts"
// by flipping bits, writes a recognisable IV and an ICV that is the sum of
// the authenticated bytes.
bool fake_seal(const SkSealView& v, std::vector<Bytes>* associated) {
  associated->emplace_back(v.associated_data.begin(), v.associated_data.end());
  std::fill(v.iv.begin(), v.iv.end(), std::byte{0x1f});
  for (std::byte& b : v.plaintext) b ^= std::byte{0xa5};
  uint8_t sum = 0;
  for (std::byte b : v.authenticated) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  std::fill(v.icv.begin(), v.icv.end(), std::byte{sum});
  return true;
}

Bytes fake_open(std::span<const std::byte> ciphertext) {
  Bytes out(ciphertext.begin(), ciphertext.end());
  for (std::byte& b : out) b ^= std::byte{0xa5};
  return out;
}

std::vector<Payload> auth_payloads() {
  return {Payload{IdiPayload{IdType::kFqdn, test::text_bytes("a.example")}},
          Payload{AuthPayload{AuthMethod::kSharedKeyMic, filled(32, 7)}},
          Payload{NotifyPayload{ProtocolId::kNone, {}, NotifyType::kInitialContact, {}}}};
}

TEST(IkeMessage, SealedMessageLaysOutSection3_14) {
  const auto inner = serialize_payload_chain(auth_payloads());
  ASSERT_TRUE(inner);
  IkeHeader h = sa_init().header;
  h.exchange = ExchangeType::kIkeAuth;
  h.message_id = 1;
  const SkLayout layout{16, 16, 16};  // AES-CBC-like: 16-byte IV and blocks, 16-byte ICV
  std::vector<Bytes> associated;
  const auto sealed = build_encrypted_message(h, PayloadType::kIdInitiator, *inner, layout,
                                              [&](const SkSealView& v) { return fake_seal(v, &associated); });
  ASSERT_TRUE(sealed);
  const auto parsed = parse_ike_message(*sealed);
  ASSERT_TRUE(parsed) << parsed.error().field;
  EXPECT_EQ(parsed->header, h);
  ASSERT_EQ(parsed->payloads.size(), 1u);
  const auto& sk = std::get<EncryptedPayload>(parsed->payloads[0].body);
  EXPECT_EQ(sk.offset, kIkeHeaderSize);
  EXPECT_EQ(sk.first_inner, PayloadType::kIdInitiator);
  // RFC 5282 section 5.1: associated data is the IKE header and SK header.
  ASSERT_EQ(associated.size(), 1u);
  EXPECT_EQ(associated[0], Bytes(sealed->begin(), sealed->begin() + 32));

  const auto parts = split_encrypted_body(sk.body, layout);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->iv.size(), 16u);
  EXPECT_EQ(parts->iv[0], std::byte{0x1f});
  EXPECT_EQ(parts->ciphertext.size() % 16, 0u);
  const Bytes plain = fake_open(parts->ciphertext);
  const auto stripped = strip_sk_padding(plain);
  ASSERT_TRUE(stripped);
  EXPECT_EQ(Bytes(stripped->begin(), stripped->end()), *inner);
  const auto payloads = parse_payload_chain(sk.first_inner, *stripped, MessageRole::kRequest);
  ASSERT_TRUE(payloads);
  EXPECT_EQ(*payloads, auth_payloads());
}

TEST(IkeMessage, AeadLayoutNeedsNoPadding) {
  // RFC 5282 section 3: an AEAD with block size 1 pads with nothing, and
  // the pad length byte is 0.
  const Bytes inner = test::text_bytes("0123");
  const auto sealed = build_encrypted_message(IkeHeader{}, PayloadType::kNotify, inner, SkLayout{8, 1, 16},
                                              [](const SkSealView& v) { return v.plaintext.size() == 5; });
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), 28u + 4 + 8 + 5 + 16);
  EXPECT_EQ((*sealed)[28 + 4 + 8 + 4], std::byte{0});
  EXPECT_FALSE(build_encrypted_message(IkeHeader{}, PayloadType::kNotify, inner, SkLayout{8, 1, 16},
                                       [](const SkSealView&) { return false; }));
}

TEST(IkeMessage, FragmentsFollowRfc7383) {
  const auto inner = serialize_payload_chain(auth_payloads());
  ASSERT_TRUE(inner);
  const SkLayout layout{8, 1, 16};
  std::vector<Bytes> associated;
  const auto fragments =
      build_encrypted_fragments(IkeHeader{}, PayloadType::kIdInitiator, *inner, 24, layout,
                                [&](const SkSealView& v) { return fake_seal(v, &associated); });
  ASSERT_TRUE(fragments);
  const size_t count = (inner->size() + 23) / 24;
  ASSERT_EQ(fragments->size(), count);
  Bytes joined;
  for (size_t i = 0; i < count; ++i) {
    const auto parsed = parse_ike_message((*fragments)[i]);
    ASSERT_TRUE(parsed) << parsed.error().field;
    const auto& skf = std::get<EncryptedFragmentPayload>(parsed->payloads.at(0).body);
    EXPECT_EQ(skf.fragment_number, i + 1);
    EXPECT_EQ(skf.total_fragments, count);
    EXPECT_EQ(skf.first_inner, i == 0 ? PayloadType::kIdInitiator : PayloadType::kNone);
    // RFC 7383 section 2.5: the IKE header and the SKF header with its numbers.
    EXPECT_EQ(associated[i], Bytes((*fragments)[i].begin(), (*fragments)[i].begin() + 36));
    const auto parts = split_encrypted_body(skf.body, layout);
    ASSERT_TRUE(parts);
    const Bytes plain = fake_open(parts->ciphertext);
    const auto piece = strip_sk_padding(plain);
    ASSERT_TRUE(piece);
    joined.insert(joined.end(), piece->begin(), piece->end());
  }
  EXPECT_EQ(joined, *inner);
  EXPECT_FALSE(build_encrypted_fragments(IkeHeader{}, PayloadType::kIdInitiator, *inner, 0, layout,
                                         [](const SkSealView&) { return true; }));
}

TEST(IkeMessage, EncryptedPartsAreChecked) {
  EXPECT_FALSE(split_encrypted_body(filled(32, 0), SkLayout{16, 16, 16}));  // no ciphertext
  EXPECT_FALSE(split_encrypted_body(filled(40, 0), SkLayout{16, 16, 16}));  // 8 bytes: not a block
  EXPECT_TRUE(split_encrypted_body(filled(48, 0), SkLayout{16, 16, 16}));
  EXPECT_FALSE(strip_sk_padding(Bytes{}));
  EXPECT_FALSE(strip_sk_padding(hex("aa 02")));  // pad length 2 with only 1 byte before it
  const auto ok = strip_sk_padding(hex("aa 00 01"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 1u);
}

TEST(IkeMessage, NoEncryptedPayloadInsideAnEncryptedOne) {
  const Bytes inner = hex("00 00 0008 | aabbccdd");
  const auto parsed = parse_payload_chain(PayloadType::kEncrypted, inner, MessageRole::kRequest);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind, Kind::kBadField);
  const std::vector<Payload> nested = {Payload{EncryptedPayload{}}};
  EXPECT_FALSE(serialize_payload_chain(nested));
}

std::vector<PayloadType> types_of(const IkeMessage& m) {
  std::vector<PayloadType> out;
  for (const Payload& p : m.payloads) out.push_back(p.type());
  return out;
}

std::vector<NotifyType> notifies_of(const IkeMessage& m) {
  std::vector<NotifyType> out;
  for (const Payload& p : m.payloads)
    if (const auto* n = std::get_if<NotifyPayload>(&p.body)) out.push_back(n->type);
  return out;
}

TEST(IkeMessage, ParsesStrongswansIkeSaInitRequest) {
  const Bytes bytes = test::from_array(capture::kIkeSaInitRequest);
  const auto m = parse_ike_message(bytes);
  ASSERT_TRUE(m) << ike_parse_error_name(m.error().kind) << ": " << m.error().field << " at " << m.error().offset;
  EXPECT_EQ(m->header.exchange, ExchangeType::kIkeSaInit);
  EXPECT_TRUE(m->header.initiator);
  EXPECT_FALSE(m->header.response);
  EXPECT_EQ(m->header.spi_r, 0u);
  using T = PayloadType;
  EXPECT_EQ(types_of(*m), (std::vector<T>{T::kSa, T::kKe, T::kNonce, T::kNotify, T::kNotify, T::kNotify, T::kNotify,
                                          T::kNotify, T::kVendorId}));
  const auto& sa = std::get<SaPayload>(m->payloads[0].body);
  ASSERT_EQ(sa.proposals.size(), 4u);
  for (const Proposal& p : sa.proposals) {
    EXPECT_TRUE(p.understood());
    EXPECT_TRUE(p.spi.empty());
  }
  // "aes256-sha256-ecp256", the first proposal of the configuration.
  EXPECT_EQ(sa.proposals[0].transforms,
            (std::vector<Transform>{{TransformType::kEncryption, 12, 256, {}},
                                    {TransformType::kIntegrity, 12, {}, {}},
                                    {TransformType::kPrf, 5, {}, {}},
                                    {TransformType::kDhGroup, 19, {}, {}}}));
  const auto& ke = std::get<KePayload>(m->payloads[1].body);
  EXPECT_EQ(ke.group, DhGroup::kEcp256);
  EXPECT_EQ(ke.data.size(), 64u);
  EXPECT_EQ(std::get<NoncePayload>(m->payloads[2].body).data.size(), 32u);
  EXPECT_EQ(notifies_of(*m), (std::vector<NotifyType>{NotifyType::kNatDetectionSourceIp,
                                                      NotifyType::kNatDetectionDestinationIp,
                                                      NotifyType::kFragmentationSupported,
                                                      NotifyType::kSignatureHashAlgorithms,
                                                      NotifyType::kRedirectSupported}));
  const auto* nat = find_notify(m->payloads, NotifyType::kNatDetectionDestinationIp);
  ASSERT_NE(nat, nullptr);
  EXPECT_EQ(nat->data.size(), 20u);  // RFC 7296 section 2.23: a SHA-1 hash
  EXPECT_EQ(find_notify(m->payloads, NotifyType::kCookie), nullptr);
  ASSERT_NE(find_payload<KePayload>(m->payloads), nullptr);
  EXPECT_EQ(find_payload<KePayload>(m->payloads)->group, DhGroup::kEcp256);
  EXPECT_EQ(find_payload<AuthPayload>(m->payloads), nullptr);
  EXPECT_EQ(std::get<VendorIdPayload>(m->payloads[8].body).data, hex("882fe56d6fd20dbc2251613b2ebe5beb"));
  // strongSwan encodes exactly as this builder does.
  EXPECT_EQ(serialized(*m), bytes);
}

TEST(IkeMessage, ParsesStrongswansIkeSaInitResponse) {
  const Bytes bytes = test::from_array(capture::kIkeSaInitResponse);
  const auto m = parse_ike_message(bytes);
  ASSERT_TRUE(m) << ike_parse_error_name(m.error().kind) << ": " << m.error().field;
  EXPECT_TRUE(m->header.response);
  EXPECT_NE(m->header.spi_r, 0u);
  const auto& sa = std::get<SaPayload>(m->payloads[0].body);
  ASSERT_EQ(sa.proposals.size(), 1u);
  EXPECT_EQ(sa.proposals[0].number, 1);
  EXPECT_EQ(notifies_of(*m), (std::vector<NotifyType>{NotifyType::kNatDetectionSourceIp,
                                                      NotifyType::kNatDetectionDestinationIp,
                                                      NotifyType::kFragmentationSupported,
                                                      NotifyType::kSignatureHashAlgorithms,
                                                      NotifyType::kChildlessIkev2Supported,
                                                      NotifyType::kMultipleAuthSupported}));
  EXPECT_EQ(serialized(*m), bytes);
}

TEST(IkeMessage, ParsesStrongswansIkeAuthEnvelope) {
  const Bytes bytes = test::from_array(capture::kIkeAuthRequest);
  const auto m = parse_ike_message(bytes);
  ASSERT_TRUE(m) << ike_parse_error_name(m.error().kind) << ": " << m.error().field;
  EXPECT_EQ(m->header.exchange, ExchangeType::kIkeAuth);
  EXPECT_EQ(m->header.message_id, 1u);
  ASSERT_EQ(m->payloads.size(), 1u);
  const auto& sk = std::get<EncryptedPayload>(m->payloads[0].body);
  EXPECT_EQ(sk.first_inner, PayloadType::kIdInitiator);
  EXPECT_EQ(sk.offset, kIkeHeaderSize);
  EXPECT_EQ(sk.body.size(), bytes.size() - kIkeHeaderSize - kGenericPayloadHeaderSize);
  // AES-256-CBC with HMAC-SHA-256-128, the proposal strongSwan's responder chose.
  EXPECT_TRUE(split_encrypted_body(sk.body, SkLayout{16, 16, 16}));
  EXPECT_EQ(serialized(*m), bytes);
}

}  // namespace
}  // namespace cordon::ipsec
