// The SA payload: proposals, transforms and transform attributes (RFC 7296
// section 3.3; layouts in ike_payloads.hpp).
#include <utility>

#include "core/ipsec/ike_payload_codec.hpp"
#include "core/ipsec/ike_payloads.hpp"

namespace cordon::ipsec {

using codec::parse_error;
using codec::shifted;
using codec::truncated;
using Kind = IkeParseError::Kind;
using BuildKind = IkeBuildError::Kind;

namespace {

// Section 3.3.1, "Last Substruc": 2 before another proposal, 3 before
// another transform, 0 after the last one.
constexpr uint8_t kMoreProposals = 2;
constexpr uint8_t kMoreTransforms = 3;
constexpr size_t kProposalHeaderSize = 8;
constexpr size_t kTransformHeaderSize = 8;

bool known_transform_type(TransformType t) {
  const auto v = static_cast<uint8_t>(t);
  return v >= static_cast<uint8_t>(TransformType::kEncryption) && v <= static_cast<uint8_t>(TransformType::kEsn);
}

bool known_protocol(ProtocolId p) { return p == ProtocolId::kIke || p == ProtocolId::kAh || p == ProtocolId::kEsp; }

// Section 3.3.1: IKE proposals carry no SPI in IKE_SA_INIT and the new 8-byte
// SPI when rekeying; ESP and AH proposals carry the 4-byte inbound SPI. An
// unknown protocol's proposal is kept (and skipped by the chooser).
bool spi_size_fits(ProtocolId p, size_t size) {
  if (p == ProtocolId::kIke) return size == 0 || size == kIkeSpiSize;
  if (p == ProtocolId::kAh || p == ProtocolId::kEsp) return size == kChildSpiSize;
  return true;
}

// Section 3.3.5: attributes fill the rest of the transform.
Status<IkeParseError> parse_attributes(std::span<const std::byte> bytes, Transform& t) {
  wire::ByteReader r(bytes);
  while (!r.at_end()) {
    const size_t start = r.offset();
    const auto word = r.u16();
    const auto value = r.u16();
    if (!word || !value) return truncated(r, "transform attribute");
    TransformAttribute a;
    a.type = *word & static_cast<uint16_t>(~kAttributeFormatTv);
    a.tv = (*word & kAttributeFormatTv) != 0;
    if (a.tv) {
      a.value = *value;
    } else {
      const auto data = r.bytes(*value);
      if (!data) return parse_error(Kind::kBadLength, start, "transform attribute: length");
      a.data = codec::copy_of(*data);
    }
    if (a.tv && a.type == kAttributeKeyLength && !t.key_length) {
      t.key_length = a.value;
    } else {
      t.unknown_attributes.push_back(std::move(a));
    }
  }
  return Ok{};
}

// One transform starting at the reader's position; `last` is whether the
// proposal's transform count says no other follows.
Result<Transform, IkeParseError> parse_transform(wire::ByteReader& r, bool last) {
  const size_t start = r.offset();
  const auto more = r.u8();
  const auto reserved = r.u8();
  const auto length = r.u16();
  const auto type = r.u8();
  const auto reserved2 = r.u8();
  const auto id = r.u16();
  if (r.failed()) return truncated(r, "SA transform header");
  (void)reserved;
  (void)reserved2;
  if (*more != (last ? 0 : kMoreTransforms))
    return parse_error(Kind::kBadField, start, "SA transform: last substructure");
  if (*length < kTransformHeaderSize) return parse_error(Kind::kBadLength, start, "SA transform: length");
  const auto rest = r.bytes(*length - kTransformHeaderSize);
  if (!rest) return parse_error(Kind::kBadLength, start, "SA transform: length");
  Transform t;
  t.type = static_cast<TransformType>(*type);
  t.id = *id;
  if (auto st = parse_attributes(*rest, t); !st) return shifted(st.error(), start + kTransformHeaderSize);
  return t;
}

// The proposal's SPI and transforms: the bytes after its 8-byte header.
Status<IkeParseError> parse_proposal_content(std::span<const std::byte> bytes, size_t spi_size,
                                             size_t transform_count, Proposal& p) {
  wire::ByteReader r(bytes);
  const auto spi = r.bytes(spi_size);
  if (!spi) return parse_error(Kind::kBadLength, 0, "SA proposal: SPI size");
  p.spi = codec::copy_of(*spi);
  for (size_t i = 0; i < transform_count; ++i) {
    auto t = parse_transform(r, i + 1 == transform_count);
    if (!t) return t.error();
    p.transforms.push_back(std::move(*t));
  }
  if (!r.at_end()) return parse_error(Kind::kBadLength, r.offset(), "SA proposal: bytes after its transforms");
  return Ok{};
}

// Section 3.3.1: a request numbers its proposals 1, 2, 3…; a response holds
// the one proposal it accepted, under that proposal's number.
Status<IkeParseError> check_numbering(const std::vector<Proposal>& proposals, MessageRole role) {
  if (proposals.empty()) return parse_error(Kind::kBadField, 0, "SA: no proposal");
  if (role == MessageRole::kResponse) {
    if (proposals.size() != 1) return parse_error(Kind::kBadField, 0, "SA response: more than one proposal");
    if (proposals[0].number == 0) return parse_error(Kind::kBadField, 0, "SA proposal: number 0");
    return Ok{};
  }
  for (size_t i = 0; i < proposals.size(); ++i) {
    if (proposals[i].number != i + 1) return parse_error(Kind::kBadField, 0, "SA proposal: numbers not 1, 2, 3...");
  }
  return Ok{};
}

}  // namespace

bool Transform::understood() const { return known_transform_type(type) && unknown_attributes.empty(); }

bool Proposal::understood() const {
  if (!known_protocol(protocol)) return false;
  for (const Transform& t : transforms) {
    if (!known_transform_type(t.type)) return false;
  }
  return true;
}

Result<SaPayload, IkeParseError> parse_sa_payload(std::span<const std::byte> body, MessageRole role) {
  wire::ByteReader r(body);
  SaPayload sa;
  while (!r.at_end()) {
    const size_t start = r.offset();
    const auto more = r.u8();
    const auto reserved = r.u8();
    const auto length = r.u16();
    const auto number = r.u8();
    const auto protocol = r.u8();
    const auto spi_size = r.u8();
    const auto transform_count = r.u8();
    if (r.failed()) return truncated(r, "SA proposal header");
    (void)reserved;
    if (*length < kProposalHeaderSize) return parse_error(Kind::kBadLength, start, "SA proposal: length");
    const auto content = r.bytes(*length - kProposalHeaderSize);
    if (!content) return parse_error(Kind::kBadLength, start, "SA proposal: length");
    if (*more != (r.at_end() ? 0 : kMoreProposals))
      return parse_error(Kind::kBadField, start, "SA proposal: last substructure");
    Proposal p;
    p.number = *number;
    p.protocol = static_cast<ProtocolId>(*protocol);
    if (!spi_size_fits(p.protocol, *spi_size))
      return parse_error(Kind::kBadField, start, "SA proposal: SPI size for its protocol");
    if (auto st = parse_proposal_content(*content, *spi_size, *transform_count, p); !st)
      return shifted(st.error(), start + kProposalHeaderSize);
    sa.proposals.push_back(std::move(p));
  }
  if (auto st = check_numbering(sa.proposals, role); !st) return st.error();
  return sa;
}

namespace {

Status<IkeBuildError> write_attributes(wire::ByteWriter& w, const Transform& t) {
  if (t.key_length) {
    w.u16(kAttributeFormatTv | kAttributeKeyLength);
    w.u16(*t.key_length);
  }
  for (const TransformAttribute& a : t.unknown_attributes) {
    if (a.type & kAttributeFormatTv) return codec::build_error(BuildKind::kBadField, "transform attribute: type");
    if (a.tv) {
      w.u16(kAttributeFormatTv | a.type);
      w.u16(a.value);
      continue;
    }
    if (a.data.size() > codec::kMaxLength16)
      return codec::build_error(BuildKind::kTooLarge, "transform attribute: value");
    w.u16(a.type);
    w.u16(static_cast<uint16_t>(a.data.size()));
    w.bytes(a.data);
  }
  return Ok{};
}

Status<IkeBuildError> write_transform(wire::ByteWriter& w, const Transform& t, bool last) {
  const auto attrs = codec::sized([&](wire::ByteWriter& s) { return write_attributes(s, t); });
  if (!attrs) return attrs.error();
  const size_t length = kTransformHeaderSize + *attrs;
  if (length > codec::kMaxLength16) return codec::build_error(BuildKind::kTooLarge, "SA transform");
  w.u8(last ? 0 : kMoreTransforms);
  w.u8(0);
  w.u16(static_cast<uint16_t>(length));
  w.u8(static_cast<uint8_t>(t.type));
  w.u8(0);
  w.u16(t.id);
  return write_attributes(w, t);
}

Status<IkeBuildError> write_proposal_content(wire::ByteWriter& w, const Proposal& p) {
  w.bytes(p.spi);
  for (size_t i = 0; i < p.transforms.size(); ++i) {
    if (auto st = write_transform(w, p.transforms[i], i + 1 == p.transforms.size()); !st) return st;
  }
  return Ok{};
}

Status<IkeBuildError> write_proposal(wire::ByteWriter& w, const Proposal& p, bool last) {
  if (!spi_size_fits(p.protocol, p.spi.size()) || p.spi.size() > 0xff)
    return codec::build_error(BuildKind::kBadField, "SA proposal: SPI size for its protocol");
  if (p.transforms.size() > 0xff) return codec::build_error(BuildKind::kTooLarge, "SA proposal: transforms");
  const auto content = codec::sized([&](wire::ByteWriter& s) { return write_proposal_content(s, p); });
  if (!content) return content.error();
  const size_t length = kProposalHeaderSize + *content;
  if (length > codec::kMaxLength16) return codec::build_error(BuildKind::kTooLarge, "SA proposal");
  w.u8(last ? 0 : kMoreProposals);
  w.u8(0);
  w.u16(static_cast<uint16_t>(length));
  w.u8(p.number);
  w.u8(static_cast<uint8_t>(p.protocol));
  w.u8(static_cast<uint8_t>(p.spi.size()));
  w.u8(static_cast<uint8_t>(p.transforms.size()));
  return write_proposal_content(w, p);
}

}  // namespace

// Proposal numbers are written as given: a responder keeps the number of
// the proposal it accepted (section 3.3.1).
Status<IkeBuildError> codec::write_sa_payload(wire::ByteWriter& w, const SaPayload& sa) {
  if (sa.proposals.empty()) return codec::build_error(BuildKind::kBadField, "SA: no proposal");
  for (size_t i = 0; i < sa.proposals.size(); ++i) {
    if (auto st = write_proposal(w, sa.proposals[i], i + 1 == sa.proposals.size()); !st) return st;
  }
  return Ok{};
}

}  // namespace cordon::ipsec
