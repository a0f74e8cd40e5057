// The payloads of IKEv2 messages (RFC 7296 section 3.2 to 3.16; RFC 7383
// section 2.5 for the Encrypted Fragment payload): one struct per payload
// body, and one codec for all of them. The IKE header and the payload chain
// are ike_message.hpp's.
//
// Every payload starts with the generic payload header (section 3.2):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Next Payload  |C|  RESERVED   |         Payload Length        |
//   +---------------+---------------+---------------+---------------+
//
// and the structs below hold what follows it (the "body"). Body layouts,
// big-endian, with the section that draws each:
//
//   SA      proposal+                                              3.3
//     proposal   last 1 (0|2) | reserved 1 | length 2 | number 1 | protocol 1
//                | SPI size 1 | #transforms 1 | SPI | transform+  3.3.1
//     transform  last 1 (0|3) | reserved 1 | length 2 | type 1 | reserved 1
//                | ID 2 | attribute*                               3.3.2
//     attribute  1 | type 15 | value 2              (TV)           3.3.5
//                0 | type 15 | length 2 | value     (TLV)
//   KE      group 2 | reserved 2 | data                            3.4
//   IDi/IDr type 1 | reserved 3 | data                             3.5
//   CERT/CERTREQ encoding 1 | data                                 3.6, 3.7
//   AUTH    method 1 | reserved 3 | data                           3.8
//   Nonce   data (16..256 bytes)                                   3.9
//   Notify  protocol 1 | SPI size 1 | type 2 | SPI | data          3.10
//   Delete  protocol 1 | SPI size 1 | #SPIs 2 | SPI*               3.11
//   V       data                                                   3.12
//   TSi/TSr #TS 1 | reserved 3 | selector+                         3.13
//     selector   type 1 | IP protocol 1 | length 2 | start port 2
//                | end port 2 | start address | end address     3.13.1
//   SK      IV | ciphertext | ICV (kept opaque here)               3.14
//   CP      type 1 | reserved 3 | (R 1 | type 15 | length 2 | value)*  3.15
//   EAP     message (carried, not interpreted)                     3.16
//   SKF     fragment number 2 | total fragments 2 | IV | ciphertext | ICV
//                                                        RFC 7383 2.5
//
// Reserved fields are written as zero and ignored on receipt (section 3.2).
// A parser rejects, with a named error, every length that disagrees with
// the bytes; what a field's value means for the exchange (which proposal to
// choose, whether a notify fits) is the IKE SA's business, not the codec's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/traffic_selector.hpp"
#include "core/result.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::ipsec {

using IkeBytes = std::vector<std::byte>;

// Section 3.9: a nonce is 16 to 256 bytes.
constexpr size_t kMinNonceSize = 16;
constexpr size_t kMaxNonceSize = 256;
// Section 3.3.1: SPI sizes per protocol in SA proposals.
constexpr size_t kIkeSpiSize = 8;
constexpr size_t kChildSpiSize = 4;

// Why a parse failed. `offset` is where in the parsed span the bad field
// starts; `field` is a string literal naming it ("SA proposal: SPI size").
struct IkeParseError {
  enum class Kind : uint8_t {
    kTruncated,              // a field runs past the end of its payload or message
    kBadLength,              // a length field disagrees with the bytes it covers
    kBadField,               // a value the section forbids (numbering, SPI size, TS type…)
    kTooLarge,               // datagram above kMaxIkeMessageSize, or too many payloads
    kOldMajorVersion,        // major version below 2: drop
    kUnsupportedMajorVersion,  // above 2: answer INVALID_MAJOR_VERSION (section 2.5)
    kUnsupportedCritical,    // unknown payload with the critical bit: answer
                             // UNSUPPORTED_CRITICAL_PAYLOAD with `payload_type`
    kEncryptedNotLast,       // SK or SKF followed by another payload (section 3.14)
  };
  Kind kind = Kind::kTruncated;
  size_t offset = 0;
  std::string_view field;
  uint8_t payload_type = 0;  // the payload being parsed (the unknown one for kUnsupportedCritical)
  friend bool operator==(const IkeParseError&, const IkeParseError&) = default;
};

// Stable log name of a parse error kind ("truncated", "unsupported_critical"…).
std::string_view ike_parse_error_name(IkeParseError::Kind kind);

// Why building failed: a value does not fit its field (a payload above
// 65535 bytes, a SPI above 255 bytes) or breaks a rule the parser enforces,
// so that nothing the builder writes is refused by the parser.
struct IkeBuildError {
  enum class Kind : uint8_t { kTooLarge, kBadField, kEncryptedNotLast, kSealFailed };
  Kind kind = Kind::kBadField;
  std::string_view field;
  friend bool operator==(const IkeBuildError&, const IkeBuildError&) = default;
};

// Whether the message carrying a payload is a request or a response: an SA
// payload is checked differently in each (section 3.3.1).
enum class MessageRole : uint8_t { kRequest, kResponse };

// Section 3.3.5. An attribute other than Key Length (in TV form) is kept
// raw: it makes its transform unacceptable (section 3.3.6), not the message
// malformed.
struct TransformAttribute {
  uint16_t type = 0;  // without the AF bit
  bool tv = true;     // AF bit: value in `value`, else in `data`
  uint16_t value = 0;
  IkeBytes data;
  friend bool operator==(const TransformAttribute&, const TransformAttribute&) = default;
};

struct Transform {
  TransformType type = TransformType::kEncryption;  // may hold a number outside the enum
  uint16_t id = 0;
  std::optional<uint16_t> key_length;  // bits; section 3.3.5
  std::vector<TransformAttribute> unknown_attributes;
  // False for a transform type this codec does not know (a proposal with
  // one is unacceptable, section 3.3.6) or an unknown attribute.
  bool understood() const;
  friend bool operator==(const Transform&, const Transform&) = default;
};

struct Proposal {
  uint8_t number = 1;
  ProtocolId protocol = ProtocolId::kIke;  // may hold a number outside the enum
  IkeBytes spi;  // 0 or 8 bytes for IKE, 4 for ESP and AH
  std::vector<Transform> transforms;
  // False if the protocol or any transform is not understood: the chooser
  // skips such a proposal (section 3.3.6) and the message stays valid.
  bool understood() const;
  friend bool operator==(const Proposal&, const Proposal&) = default;
};

// Section 3.3. In a request the proposals are numbered 1, 2, 3…; a
// response carries exactly one, with the number of the one it accepted
// (section 3.3.1).
struct SaPayload {
  static constexpr PayloadType kType = PayloadType::kSa;
  std::vector<Proposal> proposals;
  friend bool operator==(const SaPayload&, const SaPayload&) = default;
};

struct KePayload {
  static constexpr PayloadType kType = PayloadType::kKe;
  DhGroup group = DhGroup::kNone;  // may hold a number outside the enum
  IkeBytes data;
  friend bool operator==(const KePayload&, const KePayload&) = default;
};

// IDi and IDr share one layout (section 3.5); the payload type tells them apart.
template <PayloadType T>
struct IdentificationPayload {
  static constexpr PayloadType kType = T;
  IdType id_type = IdType::kFqdn;
  IkeBytes data;
  friend bool operator==(const IdentificationPayload&, const IdentificationPayload&) = default;
};
using IdiPayload = IdentificationPayload<PayloadType::kIdInitiator>;
using IdrPayload = IdentificationPayload<PayloadType::kIdResponder>;

// CERT and CERTREQ share one layout (sections 3.6, 3.7).
template <PayloadType T>
struct CertificatePayload {
  static constexpr PayloadType kType = T;
  CertEncoding encoding = CertEncoding::kX509Signature;
  IkeBytes data;  // CERT: the certificate; CERTREQ: SHA-1 hashes of CA keys
  friend bool operator==(const CertificatePayload&, const CertificatePayload&) = default;
};
using CertPayload = CertificatePayload<PayloadType::kCert>;
using CertReqPayload = CertificatePayload<PayloadType::kCertReq>;

struct AuthPayload {
  static constexpr PayloadType kType = PayloadType::kAuth;
  AuthMethod method = AuthMethod::kSharedKeyMic;
  IkeBytes data;
  friend bool operator==(const AuthPayload&, const AuthPayload&) = default;
};

struct NoncePayload {
  static constexpr PayloadType kType = PayloadType::kNonce;
  IkeBytes data;  // kMinNonceSize..kMaxNonceSize bytes
  friend bool operator==(const NoncePayload&, const NoncePayload&) = default;
};

struct NotifyPayload {
  static constexpr PayloadType kType = PayloadType::kNotify;
  ProtocolId protocol = ProtocolId::kNone;
  IkeBytes spi;  // empty unless the notification is about an SA
  NotifyType type = NotifyType::kInitialContact;  // may hold a number outside the enum
  IkeBytes data;
  friend bool operator==(const NotifyPayload&, const NotifyPayload&) = default;
};

// Section 3.11: deleting the IKE SA names no SPI; deleting Child SAs names
// their inbound 4-byte SPIs.
struct DeletePayload {
  static constexpr PayloadType kType = PayloadType::kDelete;
  ProtocolId protocol = ProtocolId::kIke;  // kIke, kAh or kEsp
  std::vector<uint32_t> spis;              // empty for kIke
  friend bool operator==(const DeletePayload&, const DeletePayload&) = default;
};

struct VendorIdPayload {
  static constexpr PayloadType kType = PayloadType::kVendorId;
  IkeBytes data;
  friend bool operator==(const VendorIdPayload&, const VendorIdPayload&) = default;
};

// TSi and TSr share one layout (section 3.13); IPv4 and IPv6 ranges only.
template <PayloadType T>
struct TrafficSelectorPayload {
  static constexpr PayloadType kType = T;
  std::vector<TrafficSelector> selectors;  // 1..255
  friend bool operator==(const TrafficSelectorPayload&, const TrafficSelectorPayload&) = default;
};
using TsiPayload = TrafficSelectorPayload<PayloadType::kTsInitiator>;
using TsrPayload = TrafficSelectorPayload<PayloadType::kTsResponder>;

struct ConfigAttribute {
  uint16_t type = 0;  // CfgAttribute, 15 bits
  IkeBytes value;
  friend bool operator==(const ConfigAttribute&, const ConfigAttribute&) = default;
};

struct ConfigPayload {
  static constexpr PayloadType kType = PayloadType::kConfiguration;
  CfgType type = CfgType::kRequest;
  std::vector<ConfigAttribute> attributes;
  friend bool operator==(const ConfigPayload&, const ConfigPayload&) = default;
};

struct EapPayload {
  static constexpr PayloadType kType = PayloadType::kEap;
  IkeBytes message;
  friend bool operator==(const EapPayload&, const EapPayload&) = default;
};

// Section 3.14, as received: the body is opaque until the IKE SA decrypts
// it. `offset` is where this payload's generic header starts in the
// message, so that body starts at offset + 4 and the associated data
// (RFC 5282 section 5.1) is message[0, offset + 4). `first_inner` is the
// generic header's Next Payload: the type of the first encrypted payload,
// for parse_payload_chain(). The builder ignores `offset`.
struct EncryptedPayload {
  static constexpr PayloadType kType = PayloadType::kEncrypted;
  PayloadType first_inner = PayloadType::kNone;
  IkeBytes body;  // IV | ciphertext (inner payloads | padding | pad length) | ICV
  size_t offset = 0;
  friend bool operator==(const EncryptedPayload&, const EncryptedPayload&) = default;
};

// RFC 7383 section 2.5. `first_inner` is kNone except in fragment 1. The
// associated data is message[0, offset + 8): the IKE header and the SKF
// header with its fragment fields.
struct EncryptedFragmentPayload {
  static constexpr PayloadType kType = PayloadType::kEncryptedFragment;
  PayloadType first_inner = PayloadType::kNone;
  uint16_t fragment_number = 1;  // 1..total_fragments
  uint16_t total_fragments = 1;
  IkeBytes body;  // IV | ciphertext | ICV
  size_t offset = 0;
  friend bool operator==(const EncryptedFragmentPayload&, const EncryptedFragmentPayload&) = default;
};

using PayloadBody = std::variant<SaPayload, KePayload, IdiPayload, IdrPayload, CertPayload, CertReqPayload,
                                 AuthPayload, NoncePayload, NotifyPayload, DeletePayload, VendorIdPayload,
                                 TsiPayload, TsrPayload, ConfigPayload, EapPayload, EncryptedPayload,
                                 EncryptedFragmentPayload>;

// One payload of a message: its body and the generic header's critical bit
// (section 2.5: set by the sender when the receiver must understand it).
struct Payload {
  PayloadBody body;
  bool critical = false;
  PayloadType type() const;
  friend bool operator==(const Payload&, const Payload&) = default;
};

// True if this codec has a struct for `type` (section 3.2's list, plus SKF).
bool is_known_payload_type(uint8_t type);

// Parses one payload body (the bytes after its generic header) of a known
// type. `next_payload` is the generic header's Next Payload field, which SK
// and SKF keep as `first_inner`; the other bodies ignore it.
Result<PayloadBody, IkeParseError> parse_payload_body(PayloadType type, PayloadType next_payload,
                                                     std::span<const std::byte> body, MessageRole role);

// Writes one payload body (no generic header). In sizing mode (a
// ByteWriter without a span) it only counts.
Status<IkeBuildError> write_payload_body(wire::ByteWriter& out, const PayloadBody& body);

// Typed shortcuts for the IKE SA and the tests.
Result<SaPayload, IkeParseError> parse_sa_payload(std::span<const std::byte> body, MessageRole role);
Result<std::vector<TrafficSelector>, IkeParseError> parse_traffic_selectors(std::span<const std::byte> body);

}  // namespace cordon::ipsec
