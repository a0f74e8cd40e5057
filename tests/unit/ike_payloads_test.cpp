// IKEv2 payload codecs (core/ipsec/ike_payloads.hpp): each body against a
// layout written by hand from the diagrams of RFC 7296 section 3 (cited per
// test), both ways, and the malformed bodies each parser must refuse.
#include "core/ipsec/ike_payloads.hpp"

#include <gtest/gtest.h>

#include <variant>

#include "tests/unit/ike_test_util.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::filled;
using test::hex;
using test::text_bytes;
using test::written;
using Kind = IkeParseError::Kind;

Result<PayloadBody, IkeParseError> parse(PayloadType type, const Bytes& body,
                                         MessageRole role = MessageRole::kRequest,
                                         PayloadType next = PayloadType::kNone) {
  return parse_payload_body(type, next, body, role);
}

// `bytes` parses to `expected`, and `expected` writes back to `bytes`.
template <typename T>
void expect_codec(const Bytes& bytes, const T& expected, MessageRole role = MessageRole::kRequest,
                  PayloadType next = PayloadType::kNone) {
  const auto parsed = parse(T::kType, bytes, role, next);
  ASSERT_TRUE(parsed) << ike_parse_error_name(parsed.error().kind) << ": " << parsed.error().field;
  ASSERT_TRUE(std::holds_alternative<T>(*parsed));
  EXPECT_EQ(std::get<T>(*parsed), expected);
  EXPECT_EQ(written(PayloadBody{expected}), bytes);
}

void expect_error(PayloadType type, const Bytes& bytes, Kind kind, MessageRole role = MessageRole::kRequest) {
  const auto parsed = parse(type, bytes, role);
  ASSERT_FALSE(parsed) << "parsed a malformed body";
  EXPECT_EQ(parsed.error().kind, kind) << ike_parse_error_name(parsed.error().kind) << ": "
                                       << parsed.error().field;
}

Transform transform(TransformType type, uint16_t id, std::optional<uint16_t> key_length = std::nullopt) {
  return Transform{type, id, key_length, {}};
}

// Section 3.3.1 and 3.3.2: one IKE proposal, no SPI, four transforms, the
// first with a Key Length attribute (section 3.3.5, TV form 0x800e).
const char* const kIkeSaBody =
    "00 00 002c | 01 01 00 04"          // last proposal, length 44, #1, IKE, SPI size 0, 4 transforms
    "03 00 000c | 01 00 000c | 800e 0100"  // ENCR AES-CBC, key length 256
    "03 00 0008 | 03 00 000c"          // INTEG HMAC-SHA-256-128
    "03 00 0008 | 02 00 0005"          // PRF HMAC-SHA-256
    "00 00 0008 | 04 00 0013";         // last transform: D-H group 19

SaPayload ike_sa() {
  Proposal p{1, ProtocolId::kIke, {},
             {transform(TransformType::kEncryption, 12, 256), transform(TransformType::kIntegrity, 12),
              transform(TransformType::kPrf, 5), transform(TransformType::kDhGroup, 19)}};
  return SaPayload{{p}};
}

TEST(IkePayloads, SaMatchesTheLayoutOfSection3_3) { expect_codec(hex(kIkeSaBody), ike_sa()); }

TEST(IkePayloads, SaChildProposalsCarryTheirSpi) {
  // Section 3.3.1: two ESP proposals with the 4-byte SPI; "2" then "0" in Last Substruc.
  const Bytes bytes = hex(
      "02 00 0020 | 01 03 04 02 | 11223344"
      "03 00 000c | 01 00 0014 | 800e 0080"  // ENCR AES-GCM-16, 128 bits
      "00 00 0008 | 05 00 0000"             // ESN none
      "00 00 0018 | 02 03 04 01 | 11223344"
      "00 00 000c | 01 00 001c | 800e 0100");  // ChaCha20 (key length given anyway)
  Proposal first{1, ProtocolId::kEsp, hex("11223344"),
                 {transform(TransformType::kEncryption, 20, 128), transform(TransformType::kEsn, 0)}};
  Proposal second{2, ProtocolId::kEsp, hex("11223344"), {transform(TransformType::kEncryption, 28, 256)}};
  expect_codec(bytes, SaPayload{{first, second}});
}

TEST(IkePayloads, SaRequestProposalsAreNumberedFromOne) {
  Bytes bytes = hex(kIkeSaBody);
  bytes[4] = std::byte{2};  // a request's only proposal numbered 2
  expect_error(PayloadType::kSa, bytes, Kind::kBadField);
  // A response names the accepted proposal by its number (section 3.3.1).
  const auto response = parse(PayloadType::kSa, bytes, MessageRole::kResponse);
  ASSERT_TRUE(response);
  EXPECT_EQ(std::get<SaPayload>(*response).proposals.at(0).number, 2);
  bytes[4] = std::byte{0};
  expect_error(PayloadType::kSa, bytes, Kind::kBadField, MessageRole::kResponse);
}

TEST(IkePayloads, SaProposalNumbersMustBeConsecutive) {
  const Bytes one_three = hex(
      "02 00 0010 | 01 01 00 01 | 00 00 0008 | 01 00 000c"
      "00 00 0010 | 03 01 00 01 | 00 00 0008 | 01 00 000c");
  expect_error(PayloadType::kSa, one_three, Kind::kBadField);
  Bytes one_two = one_three;
  one_two[20] = std::byte{2};
  ASSERT_TRUE(parse(PayloadType::kSa, one_two));
  // A response carries exactly one proposal.
  expect_error(PayloadType::kSa, one_two, Kind::kBadField, MessageRole::kResponse);
}

TEST(IkePayloads, SaSpiSizeMustFitTheProtocol) {
  // Section 3.3.1: IKE 0 or 8, ESP and AH 4.
  auto proposal = [](uint8_t protocol, size_t spi_size) {
    Bytes b = hex("00 00 0000 | 01 00 00 01");
    b[5] = std::byte{protocol};
    b[6] = static_cast<std::byte>(spi_size);
    for (size_t i = 0; i < spi_size; ++i) b.push_back(std::byte{0x5a});
    const Bytes t = hex("00 00 0008 | 01 00 000c");
    b.insert(b.end(), t.begin(), t.end());
    b[3] = static_cast<std::byte>(b.size());
    return b;
  };
  EXPECT_TRUE(parse(PayloadType::kSa, proposal(1, 0)));
  EXPECT_TRUE(parse(PayloadType::kSa, proposal(1, 8)));
  EXPECT_TRUE(parse(PayloadType::kSa, proposal(3, 4)));
  EXPECT_TRUE(parse(PayloadType::kSa, proposal(2, 4)));
  expect_error(PayloadType::kSa, proposal(1, 4), Kind::kBadField);
  expect_error(PayloadType::kSa, proposal(3, 0), Kind::kBadField);
  expect_error(PayloadType::kSa, proposal(3, 8), Kind::kBadField);
  expect_error(PayloadType::kSa, proposal(2, 5), Kind::kBadField);
}

TEST(IkePayloads, SaLengthsMustAgree) {
  const Bytes good = hex(kIkeSaBody);
  Bytes b = good;
  b[11] = std::byte{0x07};  // first transform shorter than its header
  expect_error(PayloadType::kSa, b, Kind::kBadLength);
  b = good;
  b[11] = std::byte{0x10};  // first transform runs 4 bytes into the next one
  EXPECT_FALSE(parse(PayloadType::kSa, b));
  b = good;
  b[3] = std::byte{0x30};  // proposal longer than the payload
  expect_error(PayloadType::kSa, b, Kind::kBadLength);
  b = good;
  b[7] = std::byte{3};  // three transforms announced, four present
  EXPECT_FALSE(parse(PayloadType::kSa, b));
  b = good;
  b[7] = std::byte{5};  // five announced
  EXPECT_FALSE(parse(PayloadType::kSa, b));
  b = good;
  b[0] = std::byte{2};  // "more proposals" on the last one
  expect_error(PayloadType::kSa, b, Kind::kBadField);
  b = good;
  b[8] = std::byte{0};  // "last transform" on the first one
  expect_error(PayloadType::kSa, b, Kind::kBadField);
  expect_error(PayloadType::kSa, Bytes{}, Kind::kBadField);  // no proposal at all
}

TEST(IkePayloads, UnknownAttributesAndTransformTypesAreKeptNotFatal) {
  // Section 3.3.6: they make a transform (or proposal) unacceptable, and
  // the chooser skips it; the message itself stays valid.
  const Bytes bytes = hex(
      "00 00 002e | 01 01 00 03"
      "03 00 0010 | 01 00 000c | 800e 0080 | 8063 0001"  // + unknown TV attribute 99
      "03 00 000e | 02 00 0005 | 0064 0002 abcd"         // + unknown TLV attribute 100
      "00 00 0008 | 09 00 0001");                        // unknown transform type 9
  const auto parsed = parse(PayloadType::kSa, bytes);
  ASSERT_TRUE(parsed);
  const Proposal& p = std::get<SaPayload>(*parsed).proposals.at(0);
  ASSERT_EQ(p.transforms.size(), 3u);
  EXPECT_EQ(p.transforms[0].key_length, 128);
  EXPECT_EQ(p.transforms[0].unknown_attributes, (std::vector<TransformAttribute>{{99, true, 1, {}}}));
  EXPECT_FALSE(p.transforms[0].understood());
  EXPECT_EQ(p.transforms[1].unknown_attributes, (std::vector<TransformAttribute>{{100, false, 0, hex("abcd")}}));
  EXPECT_FALSE(p.transforms[1].understood());
  EXPECT_FALSE(p.transforms[2].understood());
  EXPECT_FALSE(p.understood());
  EXPECT_EQ(written(*parsed), bytes);
  // Without the unknown transform type the proposal is understood, even
  // though two of its transforms are not.
  Proposal known = p;
  known.transforms.pop_back();
  EXPECT_TRUE(known.understood());
  EXPECT_TRUE(std::get<SaPayload>(*parse(PayloadType::kSa, hex(kIkeSaBody))).proposals[0].understood());
}

TEST(IkePayloads, AttributeLengthPastTheTransformIsRefused) {
  expect_error(PayloadType::kSa, hex("00 00 0014 | 01 01 00 01 | 00 00 000c | 01 00 000c | 0064 0004"),
               Kind::kBadLength);
}

TEST(IkePayloads, KeMatchesSection3_4) {
  expect_codec(hex("0013 0000 | 0102030405"), KePayload{DhGroup::kEcp256, hex("0102030405")});
  expect_error(PayloadType::kKe, hex("0013 00"), Kind::kTruncated);
}

TEST(IkePayloads, IdentificationMatchesSection3_5) {
  expect_codec(hex("02 000000 | 612e6578"), IdiPayload{IdType::kFqdn, text_bytes("a.ex")});
  expect_codec(hex("01 000000 | c0000201"), IdrPayload{IdType::kIpv4Addr, hex("c0000201")});
  expect_error(PayloadType::kIdInitiator, hex("02 0000"), Kind::kTruncated);
}

TEST(IkePayloads, CertificatesMatchSections3_6And3_7) {
  expect_codec(hex("04 | 3082"), CertPayload{CertEncoding::kX509Signature, hex("3082")});
  expect_codec(hex("04 | " + std::string(40, 'a')), CertReqPayload{CertEncoding::kX509Signature, filled(20, 0xaa)});
  expect_error(PayloadType::kCert, Bytes{}, Kind::kTruncated);
}

TEST(IkePayloads, AuthMatchesSection3_8) {
  expect_codec(hex("02 000000 | 00112233"), AuthPayload{AuthMethod::kSharedKeyMic, hex("00112233")});
}

TEST(IkePayloads, NonceIs16To256Bytes) {
  // Section 3.9.
  expect_codec(filled(16, 1), NoncePayload{filled(16, 1)});
  expect_codec(filled(256, 2), NoncePayload{filled(256, 2)});
  expect_error(PayloadType::kNonce, filled(15, 1), Kind::kBadLength);
  expect_error(PayloadType::kNonce, filled(257, 1), Kind::kBadLength);
  EXPECT_TRUE(written(PayloadBody{NoncePayload{filled(15, 1)}}).empty());
}

TEST(IkePayloads, NotifyMatchesSection3_10) {
  // NAT_DETECTION_SOURCE_IP (16388 = 0x4004): no SPI, 20 bytes of hash.
  expect_codec(hex("00 00 4004 | " + std::string(40, 'e')),
               NotifyPayload{ProtocolId::kNone, {}, NotifyType::kNatDetectionSourceIp, filled(20, 0xee)});
  // REKEY_SA (16393 = 0x4009) about an ESP SA: protocol 3, SPI size 4.
  expect_codec(hex("03 04 4009 | cafef00d"), NotifyPayload{ProtocolId::kEsp, hex("cafef00d"), NotifyType::kRekeySa, {}});
  expect_error(PayloadType::kNotify, hex("03 08 4009 | cafef00d"), Kind::kBadLength);
  expect_error(PayloadType::kNotify, hex("00 00 40"), Kind::kTruncated);
}

TEST(IkePayloads, DeleteMatchesSection3_11) {
  expect_codec(hex("01 00 0000"), DeletePayload{ProtocolId::kIke, {}});
  expect_codec(hex("03 04 0002 | 11111111 22222222"), DeletePayload{ProtocolId::kEsp, {0x11111111, 0x22222222}});
  expect_error(PayloadType::kDelete, hex("01 08 0001 | 0102030405060708"), Kind::kBadField);
  expect_error(PayloadType::kDelete, hex("03 08 0001 | 0102030405060708"), Kind::kBadField);
  expect_error(PayloadType::kDelete, hex("03 04 0002 | 11111111"), Kind::kBadLength);
  expect_error(PayloadType::kDelete, hex("03 04 0001 | 11111111 22"), Kind::kBadLength);
  expect_error(PayloadType::kDelete, hex("07 04 0000"), Kind::kBadField);
}

TEST(IkePayloads, VendorIdAndEapAreCarriedAsBytes) {
  // Sections 3.12 and 3.16.
  expect_codec(hex("882fe56d6fd20dbc2251613b2ebe5beb"), VendorIdPayload{hex("882fe56d6fd20dbc2251613b2ebe5beb")});
  expect_codec(hex("01 02 0005 01"), EapPayload{hex("0102000501")});
}

TrafficSelector v4_range(uint32_t first, uint32_t last, uint8_t protocol = 0, uint16_t p0 = 0, uint16_t p1 = 65535) {
  TrafficSelector ts;
  ts.type = TsType::kIpv4AddrRange;
  ts.ip_protocol = protocol;
  ts.start_port = p0;
  ts.end_port = p1;
  for (int i = 0; i < 4; ++i) {
    ts.start_address[i] = static_cast<uint8_t>(first >> (24 - 8 * i));
    ts.end_address[i] = static_cast<uint8_t>(last >> (24 - 8 * i));
  }
  return ts;
}

TEST(IkePayloads, TrafficSelectorsMatchSection3_13) {
  // Section 3.13.1: IPv4 selectors are 16 bytes, IPv6 ones 40.
  TrafficSelector v6;
  v6.type = TsType::kIpv6AddrRange;
  v6.ip_protocol = 6;
  v6.start_port = 443;
  v6.end_port = 443;
  v6.start_address = {0x20, 0x01, 0x0d, 0xb8};
  v6.end_address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  expect_codec(hex("02 000000"
                   "07 00 0010 | 0000 ffff | 0a4d0100 | 0a4d01ff"
                   "08 06 0028 | 01bb 01bb | 20010db8 00000000 00000000 00000000"
                   "                       | 20010db8 00000000 ffffffff ffffffff"),
               TsiPayload{{v4_range(0x0a4d0100, 0x0a4d01ff), v6}});
  expect_codec(hex("01 000000 | 07 11 0010 | 0035 0035 | 0a000001 | 0a000001"),
               TsrPayload{{v4_range(0x0a000001, 0x0a000001, 17, 53, 53)}});
}

TEST(IkePayloads, BadSelectorsAreRefused) {
  const std::string v4 = "07 00 0010 | 0000 ffff | 0a000000 | 0a0000ff";
  expect_error(PayloadType::kTsInitiator, hex("01 000000 | 07 00 0028 | 0000 ffff | 0a000000 | 0a0000ff"),
               Kind::kBadLength);  // IPv4 range claiming the IPv6 length
  expect_error(PayloadType::kTsInitiator, hex("01 000000 | 08 00 0010 | 0000 ffff | 0a000000 | 0a0000ff"),
               Kind::kBadLength);  // IPv6 range claiming the IPv4 length
  expect_error(PayloadType::kTsInitiator, hex("01 000000 | 09 00 0010 | 0000 ffff | 0a000000 | 0a0000ff"),
               Kind::kBadField);  // unknown TS type
  expect_error(PayloadType::kTsInitiator, hex("02 000000 | " + v4), Kind::kTruncated);   // count too high
  expect_error(PayloadType::kTsInitiator, hex("01 000000 | " + v4 + v4), Kind::kBadLength);  // too low
  expect_error(PayloadType::kTsInitiator, hex("00 000000"), Kind::kBadField);
}

TEST(IkePayloads, ConfigurationMatchesSection3_15) {
  // A request for an address and a DNS server (empty values), and a reply.
  expect_codec(hex("01 000000 | 0001 0000 | 0003 0000"),
               ConfigPayload{CfgType::kRequest, {{1, {}}, {3, {}}}});
  expect_codec(hex("02 000000 | 0001 0004 | 0a4d0102"), ConfigPayload{CfgType::kReply, {{1, hex("0a4d0102")}}});
  expect_error(PayloadType::kConfiguration, hex("02 000000 | 0001 0004 | 0a4d01"), Kind::kBadLength);
  expect_error(PayloadType::kConfiguration, hex("02 000000 | 0001 00"), Kind::kTruncated);
}

TEST(IkePayloads, EncryptedBodiesStayOpaque) {
  // Section 3.14 and RFC 7383 section 2.5: the Next Payload field names the first inner payload.
  expect_codec(hex("0102030405"), EncryptedPayload{PayloadType::kIdInitiator, hex("0102030405"), 0},
               MessageRole::kRequest, PayloadType::kIdInitiator);
  expect_codec(hex("0001 0003 | aabbcc"),
               EncryptedFragmentPayload{PayloadType::kIdInitiator, 1, 3, hex("aabbcc"), 0}, MessageRole::kRequest,
               PayloadType::kIdInitiator);
  expect_error(PayloadType::kEncryptedFragment, hex("0000 0003 | aa"), Kind::kBadField);
  expect_error(PayloadType::kEncryptedFragment, hex("0004 0003 | aa"), Kind::kBadField);
  expect_error(PayloadType::kEncryptedFragment, hex("0001 00"), Kind::kTruncated);
}

TEST(IkePayloads, EveryPrefixOfAStructuredBodyIsRefused) {
  // Bodies whose every byte is covered by a count or a length: no proper
  // prefix is a valid body.
  const std::vector<std::pair<PayloadType, Bytes>> bodies = {
      {PayloadType::kSa, hex(kIkeSaBody)},
      {PayloadType::kTsResponder, hex("01 000000 | 07 11 0010 | 0035 0035 | 0a000001 | 0a000001")},
      {PayloadType::kDelete, hex("03 04 0002 | 11111111 22222222")},
      {PayloadType::kConfiguration, hex("02 000000 | 0001 0004 | 0a4d0102")},
  };
  for (const auto& [type, body] : bodies) {
    for (size_t n = 0; n < body.size(); ++n) {
      const Bytes prefix(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n));
      const auto parsed = parse(type, prefix);
      // CP with attributes cut at an attribute boundary is still a valid CP.
      if (type == PayloadType::kConfiguration && n == 4) continue;
      EXPECT_FALSE(parsed) << "type " << static_cast<int>(type) << ", " << n << " bytes";
    }
  }
}

TEST(IkePayloads, BuilderRefusesWhatDoesNotFitItsField) {
  NotifyPayload n;
  n.spi = filled(256, 1);
  EXPECT_TRUE(written(PayloadBody{n}).empty());
  EXPECT_TRUE(written(PayloadBody{SaPayload{}}).empty());
  EXPECT_TRUE(written(PayloadBody{TsiPayload{}}).empty());
  Proposal wrong_spi{1, ProtocolId::kEsp, {}, {transform(TransformType::kEncryption, 20, 128)}};
  EXPECT_TRUE(written(PayloadBody{SaPayload{{wrong_spi}}}).empty());
  EXPECT_TRUE(written(PayloadBody{DeletePayload{ProtocolId::kIke, {1}}}).empty());
  EXPECT_TRUE(written(PayloadBody{EncryptedFragmentPayload{PayloadType::kNone, 3, 2, {}, 0}}).empty());
}

}  // namespace
}  // namespace cordon::ipsec
