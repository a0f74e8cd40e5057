// Codecs of the payload bodies other than SA and TS (RFC 7296 section 3;
// layouts in ike_payloads.hpp), and the dispatch on the payload type.
#include "core/ipsec/ike_payloads.hpp"

#include <type_traits>
#include <utility>

#include "core/ipsec/ike_payload_codec.hpp"

namespace cordon::ipsec {

using codec::copy_of;
using codec::parse_error;
using codec::truncated;
using Kind = IkeParseError::Kind;
using BuildKind = IkeBuildError::Kind;

namespace {

// The rest of the reader, copied: the opaque tail that many payloads end with.
IkeBytes rest_of(wire::ByteReader& r) { return copy_of(*r.bytes(r.remaining())); }

// Bodies of the form "one byte | three reserved bytes | data" (KE has a
// 2-byte group instead, handled apart).
Result<std::pair<uint8_t, IkeBytes>, IkeParseError> parse_byte_and_reserved(std::span<const std::byte> body,
                                                                            std::string_view field) {
  wire::ByteReader r(body);
  const auto value = r.u8();
  const auto reserved = r.bytes(3);
  if (!value || !reserved) return truncated(r, field);
  return std::pair{*value, rest_of(r)};
}

Result<KePayload, IkeParseError> parse_ke(std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto group = r.u16();
  const auto reserved = r.u16();
  if (!group || !reserved) return truncated(r, "KE payload header");
  return KePayload{static_cast<DhGroup>(*group), rest_of(r)};
}

template <typename T>
Result<T, IkeParseError> parse_identification(std::span<const std::byte> body) {
  auto v = parse_byte_and_reserved(body, "ID payload header");
  if (!v) return v.error();
  return T{static_cast<IdType>(v->first), std::move(v->second)};
}

template <typename T>
Result<T, IkeParseError> parse_certificate(std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto encoding = r.u8();
  if (!encoding) return truncated(r, "CERT payload: encoding");
  return T{static_cast<CertEncoding>(*encoding), rest_of(r)};
}

Result<AuthPayload, IkeParseError> parse_auth(std::span<const std::byte> body) {
  auto v = parse_byte_and_reserved(body, "AUTH payload header");
  if (!v) return v.error();
  return AuthPayload{static_cast<AuthMethod>(v->first), std::move(v->second)};
}

// Section 3.9: "at least 128 bits in size ... MUST NOT be larger than 2048 bits".
Result<NoncePayload, IkeParseError> parse_nonce(std::span<const std::byte> body) {
  if (body.size() < kMinNonceSize || body.size() > kMaxNonceSize)
    return parse_error(Kind::kBadLength, 0, "Nonce: 16 to 256 bytes");
  return NoncePayload{copy_of(body)};
}

Result<NotifyPayload, IkeParseError> parse_notify(std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto protocol = r.u8();
  const auto spi_size = r.u8();
  const auto type = r.u16();
  if (r.failed()) return truncated(r, "Notify payload header");
  const auto spi = r.bytes(*spi_size);
  if (!spi) return parse_error(Kind::kBadLength, 1, "Notify payload: SPI size");
  return NotifyPayload{static_cast<ProtocolId>(*protocol), copy_of(*spi), static_cast<NotifyType>(*type),
                       rest_of(r)};
}

// Section 3.11: IKE SA deletion has SPI size 0 and no SPI; ESP and AH use 4.
Result<DeletePayload, IkeParseError> parse_delete(std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto protocol = r.u8();
  const auto spi_size = r.u8();
  const auto count = r.u16();
  if (r.failed()) return truncated(r, "Delete payload header");
  DeletePayload d;
  d.protocol = static_cast<ProtocolId>(*protocol);
  if (d.protocol == ProtocolId::kIke) {
    if (*spi_size != 0 || *count != 0) return parse_error(Kind::kBadField, 1, "Delete payload: IKE SA with a SPI");
  } else if (d.protocol == ProtocolId::kEsp || d.protocol == ProtocolId::kAh) {
    if (*spi_size != kChildSpiSize) return parse_error(Kind::kBadField, 1, "Delete payload: SPI size");
  } else {
    return parse_error(Kind::kBadField, 0, "Delete payload: protocol");
  }
  for (size_t i = 0; i < *count; ++i) {
    const auto spi = r.u32();
    if (!spi) return parse_error(Kind::kBadLength, 2, "Delete payload: number of SPIs");
    d.spis.push_back(*spi);
  }
  if (!r.at_end()) return parse_error(Kind::kBadLength, r.offset(), "Delete payload: bytes after its SPIs");
  return d;
}

// Section 3.15.1: the attribute's first bit is reserved, ignored on receipt.
Result<ConfigPayload, IkeParseError> parse_config(std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto type = r.u8();
  const auto reserved = r.bytes(3);
  if (!type || !reserved) return truncated(r, "CP payload header");
  ConfigPayload cp;
  cp.type = static_cast<CfgType>(*type);
  while (!r.at_end()) {
    const size_t start = r.offset();
    const auto attr_type = r.u16();
    const auto length = r.u16();
    if (r.failed()) return truncated(r, "CP attribute header");
    const auto value = r.bytes(*length);
    if (!value) return parse_error(Kind::kBadLength, start, "CP attribute: length");
    cp.attributes.push_back(ConfigAttribute{static_cast<uint16_t>(*attr_type & 0x7fff), copy_of(*value)});
  }
  return cp;
}

// RFC 7383 section 2.5: fragments are numbered from 1 up to the total.
Result<EncryptedFragmentPayload, IkeParseError> parse_fragment(PayloadType next, std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto number = r.u16();
  const auto total = r.u16();
  if (r.failed()) return truncated(r, "SKF payload header");
  if (*number == 0 || *number > *total) return parse_error(Kind::kBadField, 0, "SKF payload: fragment number");
  return EncryptedFragmentPayload{next, *number, *total, rest_of(r), 0};
}

}  // namespace

std::string_view ike_parse_error_name(IkeParseError::Kind kind) {
  switch (kind) {
    case Kind::kTruncated: return "truncated";
    case Kind::kBadLength: return "bad_length";
    case Kind::kBadField: return "bad_field";
    case Kind::kTooLarge: return "too_large";
    case Kind::kOldMajorVersion: return "old_major_version";
    case Kind::kUnsupportedMajorVersion: return "unsupported_major_version";
    case Kind::kUnsupportedCritical: return "unsupported_critical";
    case Kind::kEncryptedNotLast: return "encrypted_not_last";
  }
  return "unknown";
}

bool is_known_payload_type(uint8_t type) {
  return (type >= static_cast<uint8_t>(PayloadType::kSa) && type <= static_cast<uint8_t>(PayloadType::kEap)) ||
         type == static_cast<uint8_t>(PayloadType::kEncryptedFragment);
}

PayloadType Payload::type() const {
  return std::visit([](const auto& b) { return std::decay_t<decltype(b)>::kType; }, body);
}

Result<PayloadBody, IkeParseError> parse_payload_body(PayloadType type, PayloadType next_payload,
                                                     std::span<const std::byte> body, MessageRole role) {
  // Each case converts its typed Result into the variant.
  auto as_body = [](auto r) -> Result<PayloadBody, IkeParseError> {
    if (!r) return r.error();
    return PayloadBody{std::move(*r)};
  };
  switch (type) {
    case PayloadType::kSa: return as_body(parse_sa_payload(body, role));
    case PayloadType::kKe: return as_body(parse_ke(body));
    case PayloadType::kIdInitiator: return as_body(parse_identification<IdiPayload>(body));
    case PayloadType::kIdResponder: return as_body(parse_identification<IdrPayload>(body));
    case PayloadType::kCert: return as_body(parse_certificate<CertPayload>(body));
    case PayloadType::kCertReq: return as_body(parse_certificate<CertReqPayload>(body));
    case PayloadType::kAuth: return as_body(parse_auth(body));
    case PayloadType::kNonce: return as_body(parse_nonce(body));
    case PayloadType::kNotify: return as_body(parse_notify(body));
    case PayloadType::kDelete: return as_body(parse_delete(body));
    case PayloadType::kVendorId: return PayloadBody{VendorIdPayload{copy_of(body)}};
    case PayloadType::kTsInitiator:
    case PayloadType::kTsResponder: {
      auto ts = parse_traffic_selectors(body);
      if (!ts) return ts.error();
      if (type == PayloadType::kTsInitiator) return PayloadBody{TsiPayload{std::move(*ts)}};
      return PayloadBody{TsrPayload{std::move(*ts)}};
    }
    case PayloadType::kConfiguration: return as_body(parse_config(body));
    case PayloadType::kEap: return PayloadBody{EapPayload{copy_of(body)}};
    case PayloadType::kEncrypted: return PayloadBody{EncryptedPayload{next_payload, copy_of(body), 0}};
    case PayloadType::kEncryptedFragment: return as_body(parse_fragment(next_payload, body));
    case PayloadType::kNone: break;
  }
  return parse_error(Kind::kBadField, 0, "payload type");
}

namespace {

Status<IkeBuildError> write_byte_reserved_data(wire::ByteWriter& w, uint8_t value, const IkeBytes& data) {
  w.u8(value);
  w.u8(0);
  w.u16(0);
  w.bytes(data);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const SaPayload& p) { return codec::write_sa_payload(w, p); }

Status<IkeBuildError> write_body(wire::ByteWriter& w, const KePayload& p) {
  w.u16(static_cast<uint16_t>(p.group));
  w.u16(0);
  w.bytes(p.data);
  return Ok{};
}

template <PayloadType T>
Status<IkeBuildError> write_body(wire::ByteWriter& w, const IdentificationPayload<T>& p) {
  return write_byte_reserved_data(w, static_cast<uint8_t>(p.id_type), p.data);
}

template <PayloadType T>
Status<IkeBuildError> write_body(wire::ByteWriter& w, const CertificatePayload<T>& p) {
  w.u8(static_cast<uint8_t>(p.encoding));
  w.bytes(p.data);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const AuthPayload& p) {
  return write_byte_reserved_data(w, static_cast<uint8_t>(p.method), p.data);
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const NoncePayload& p) {
  if (p.data.size() < kMinNonceSize || p.data.size() > kMaxNonceSize)
    return codec::build_error(BuildKind::kBadField, "Nonce: 16 to 256 bytes");
  w.bytes(p.data);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const NotifyPayload& p) {
  if (p.spi.size() > 0xff) return codec::build_error(BuildKind::kTooLarge, "Notify payload: SPI");
  w.u8(static_cast<uint8_t>(p.protocol));
  w.u8(static_cast<uint8_t>(p.spi.size()));
  w.u16(static_cast<uint16_t>(p.type));
  w.bytes(p.spi);
  w.bytes(p.data);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const DeletePayload& p) {
  const bool ike = p.protocol == ProtocolId::kIke;
  if (!ike && p.protocol != ProtocolId::kEsp && p.protocol != ProtocolId::kAh)
    return codec::build_error(BuildKind::kBadField, "Delete payload: protocol");
  if ((ike && !p.spis.empty()) || p.spis.size() > 0xffff)
    return codec::build_error(BuildKind::kBadField, "Delete payload: SPIs");
  w.u8(static_cast<uint8_t>(p.protocol));
  w.u8(ike ? 0 : kChildSpiSize);
  w.u16(static_cast<uint16_t>(p.spis.size()));
  for (uint32_t spi : p.spis) w.u32(spi);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const VendorIdPayload& p) {
  w.bytes(p.data);
  return Ok{};
}

template <PayloadType T>
Status<IkeBuildError> write_body(wire::ByteWriter& w, const TrafficSelectorPayload<T>& p) {
  return codec::write_traffic_selectors(w, p.selectors);
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const ConfigPayload& p) {
  w.u8(static_cast<uint8_t>(p.type));
  w.u8(0);
  w.u16(0);
  for (const ConfigAttribute& a : p.attributes) {
    if (a.type > 0x7fff) return codec::build_error(BuildKind::kBadField, "CP attribute: type");
    if (a.value.size() > codec::kMaxLength16) return codec::build_error(BuildKind::kTooLarge, "CP attribute");
    w.u16(a.type);
    w.u16(static_cast<uint16_t>(a.value.size()));
    w.bytes(a.value);
  }
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const EapPayload& p) {
  w.bytes(p.message);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const EncryptedPayload& p) {
  w.bytes(p.body);
  return Ok{};
}

Status<IkeBuildError> write_body(wire::ByteWriter& w, const EncryptedFragmentPayload& p) {
  if (p.fragment_number == 0 || p.fragment_number > p.total_fragments)
    return codec::build_error(BuildKind::kBadField, "SKF payload: fragment number");
  w.u16(p.fragment_number);
  w.u16(p.total_fragments);
  w.bytes(p.body);
  return Ok{};
}

}  // namespace

Status<IkeBuildError> write_payload_body(wire::ByteWriter& out, const PayloadBody& body) {
  return std::visit([&](const auto& b) { return write_body(out, b); }, body);
}

}  // namespace cordon::ipsec
