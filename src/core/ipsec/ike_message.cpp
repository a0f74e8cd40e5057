// IKE header, payload chain and message codec (RFC 7296 sections 3.1, 3.2
// and 2.5; checks listed in ike_message.hpp).
#include "core/ipsec/ike_message.hpp"

#include <utility>

#include "core/ipsec/ike_payload_codec.hpp"

namespace cordon::ipsec {

using codec::parse_error;
using Kind = IkeParseError::Kind;
using BuildKind = IkeBuildError::Kind;

namespace {

constexpr uint8_t kCriticalBit = 0x80;  // section 3.2, generic payload header

bool is_encrypted(PayloadType t) { return t == PayloadType::kEncrypted || t == PayloadType::kEncryptedFragment; }

IkeParseError in_payload(IkeParseError e, size_t base, uint8_t type) {
  e.offset += base;
  if (e.payload_type == 0) e.payload_type = type;
  return e;
}

void set_offset(Payload& p, size_t offset) {
  if (auto* sk = std::get_if<EncryptedPayload>(&p.body)) sk->offset = offset;
  if (auto* skf = std::get_if<EncryptedFragmentPayload>(&p.body)) skf->offset = offset;
}

// Walks a chain starting with type `first` over `bytes`, which start `base`
// bytes into the datagram (offsets in errors and SK payloads are the
// datagram's). `outer`: the chain of the datagram itself, where SK and SKF
// may end it; inside an SK payload they may not appear.
Result<std::vector<Payload>, IkeParseError> walk_chain(uint8_t first, std::span<const std::byte> bytes, size_t base,
                                                      MessageRole role, bool outer) {
  std::vector<Payload> out;
  wire::ByteReader r(bytes);
  uint8_t type = first;
  for (size_t count = 0; type != static_cast<uint8_t>(PayloadType::kNone); ++count) {
    const size_t start = r.offset();
    if (count == kMaxPayloads) return in_payload(parse_error(Kind::kTooLarge, start, "payload count"), base, type);
    const auto next = r.u8();
    const auto flags = r.u8();
    const auto length = r.u16();
    if (r.failed()) return in_payload(codec::truncated(r, "generic payload header"), base, type);
    if (*length < kGenericPayloadHeaderSize)
      return in_payload(parse_error(Kind::kBadLength, start, "payload length"), base, type);
    const auto body = r.bytes(*length - kGenericPayloadHeaderSize);
    if (!body) return in_payload(parse_error(Kind::kBadLength, start, "payload length"), base, type);
    const bool critical = (*flags & kCriticalBit) != 0;
    if (!is_known_payload_type(type)) {
      // Section 2.5: skip an unknown payload unless its sender marked it critical.
      if (critical) return in_payload(parse_error(Kind::kUnsupportedCritical, start, "payload type"), base, type);
      type = *next;
      continue;
    }
    const auto payload_type = static_cast<PayloadType>(type);
    if (is_encrypted(payload_type) && !outer)
      return in_payload(parse_error(Kind::kBadField, start, "encrypted payload inside an encrypted one"), base, type);
    auto parsed = parse_payload_body(payload_type, static_cast<PayloadType>(*next), *body, role);
    if (!parsed) return in_payload(parsed.error(), base + start + kGenericPayloadHeaderSize, type);
    out.push_back(Payload{std::move(*parsed), critical});
    if (is_encrypted(payload_type)) {
      // Section 3.14: SK is the last payload; its Next Payload is the first inner one.
      set_offset(out.back(), base + start);
      if (!r.at_end()) return in_payload(parse_error(Kind::kEncryptedNotLast, r.offset(), "payload after SK"), base, type);
      return out;
    }
    type = *next;
  }
  if (!r.at_end()) return parse_error(Kind::kBadLength, base + r.offset(), "bytes after the last payload");
  return out;
}

}  // namespace

const NotifyPayload* find_notify(std::span<const Payload> payloads, NotifyType type) {
  for (const Payload& p : payloads) {
    const auto* n = std::get_if<NotifyPayload>(&p.body);
    if (n != nullptr && n->type == type) return n;
  }
  return nullptr;
}

Result<RawIkeHeader, IkeParseError> parse_ike_header(std::span<const std::byte> datagram) {
  wire::ByteReader r(datagram);
  RawIkeHeader raw;
  IkeHeader& h = raw.header;
  const auto spi_i = r.u64();
  const auto spi_r = r.u64();
  const auto next = r.u8();
  const auto version = r.u8();
  const auto exchange = r.u8();
  const auto flags = r.u8();
  const auto message_id = r.u32();
  const auto length = r.u32();
  if (r.failed()) return codec::truncated(r, "IKE header");
  h.spi_i = *spi_i;
  h.spi_r = *spi_r;
  h.major_version = static_cast<uint8_t>(*version >> 4);
  h.minor_version = static_cast<uint8_t>(*version & 0x0f);
  h.exchange = static_cast<ExchangeType>(*exchange);
  h.initiator = (*flags & kFlagInitiator) != 0;
  h.response = (*flags & kFlagResponse) != 0;
  h.version = (*flags & kFlagVersion) != 0;
  h.message_id = *message_id;
  raw.next_payload = static_cast<PayloadType>(*next);
  raw.length = *length;
  return raw;
}

Result<IkeMessage, IkeParseError> parse_ike_message(std::span<const std::byte> datagram) {
  if (datagram.size() > kMaxIkeMessageSize) return parse_error(Kind::kTooLarge, 0, "IKE message size");
  auto raw = parse_ike_header(datagram);
  if (!raw) return raw.error();
  const IkeHeader& h = raw->header;
  // Section 2.5: a higher major version is answered, a lower one dropped.
  if (h.major_version > kIkeMajorVersion) return parse_error(Kind::kUnsupportedMajorVersion, 17, "major version");
  if (h.major_version < kIkeMajorVersion) return parse_error(Kind::kOldMajorVersion, 17, "major version");
  if (raw->length != datagram.size()) return parse_error(Kind::kBadLength, 24, "IKE header: length");
  auto payloads = walk_chain(static_cast<uint8_t>(raw->next_payload), datagram.subspan(kIkeHeaderSize),
                             kIkeHeaderSize, h.role(), true);
  if (!payloads) return payloads.error();
  return IkeMessage{h, std::move(*payloads)};
}

Result<std::vector<Payload>, IkeParseError> parse_payload_chain(PayloadType first, std::span<const std::byte> bytes,
                                                               MessageRole role) {
  return walk_chain(static_cast<uint8_t>(first), bytes, 0, role, false);
}

Status<IkeBuildError> codec::write_ike_header(wire::ByteWriter& w, const IkeHeader& h, PayloadType next,
                                             size_t length) {
  if (h.major_version > 0x0f || h.minor_version > 0x0f)
    return codec::build_error(BuildKind::kBadField, "IKE header: version");
  w.u64(h.spi_i);
  w.u64(h.spi_r);
  w.u8(static_cast<uint8_t>(next));
  w.u8(static_cast<uint8_t>(h.major_version << 4 | h.minor_version));
  w.u8(static_cast<uint8_t>(h.exchange));
  w.u8(static_cast<uint8_t>((h.initiator ? kFlagInitiator : 0) | (h.response ? kFlagResponse : 0) |
                            (h.version ? kFlagVersion : 0)));
  w.u32(h.message_id);
  w.u32(static_cast<uint32_t>(length));
  return Ok{};
}

namespace {

PayloadType first_inner_of(const Payload& p) {
  if (const auto* sk = std::get_if<EncryptedPayload>(&p.body)) return sk->first_inner;
  if (const auto* skf = std::get_if<EncryptedFragmentPayload>(&p.body)) return skf->first_inner;
  return PayloadType::kNone;
}

Status<IkeBuildError> write_chain(wire::ByteWriter& w, std::span<const Payload> payloads, bool outer) {
  if (payloads.size() > kMaxPayloads) return codec::build_error(BuildKind::kTooLarge, "payload count");
  for (size_t i = 0; i < payloads.size(); ++i) {
    const Payload& p = payloads[i];
    const bool last = i + 1 == payloads.size();
    if (is_encrypted(p.type())) {
      if (!outer) return codec::build_error(BuildKind::kBadField, "encrypted payload inside an encrypted one");
      if (!last) return codec::build_error(BuildKind::kEncryptedNotLast, "payload after SK");
    }
    const PayloadType next = last ? first_inner_of(p) : payloads[i + 1].type();
    const auto body = codec::sized([&](wire::ByteWriter& s) { return write_payload_body(s, p.body); });
    if (!body) return body.error();
    if (kGenericPayloadHeaderSize + *body > codec::kMaxLength16)
      return codec::build_error(BuildKind::kTooLarge, "payload length");
    w.u8(static_cast<uint8_t>(next));
    w.u8(p.critical ? kCriticalBit : 0);
    w.u16(static_cast<uint16_t>(kGenericPayloadHeaderSize + *body));
    if (auto st = write_payload_body(w, p.body); !st) return st;
  }
  return Ok{};
}

// Sizes, then fills: the two passes of ByteWriter (core/wire/byte_io.hpp).
template <typename Fn>
Result<IkeBytes, IkeBuildError> write_twice(Fn&& write) {
  const auto size = codec::sized(write);
  if (!size) return size.error();
  IkeBytes out(*size);
  wire::ByteWriter w(out);
  if (auto st = write(w); !st) return st.error();
  return out;
}

}  // namespace

Result<IkeBytes, IkeBuildError> serialize_payload_chain(std::span<const Payload> payloads) {
  return write_twice([&](wire::ByteWriter& w) { return write_chain(w, payloads, false); });
}

Result<IkeBytes, IkeBuildError> serialize_ike_message(const IkeMessage& m) {
  const auto chain = codec::sized([&](wire::ByteWriter& s) { return write_chain(s, m.payloads, true); });
  if (!chain) return chain.error();
  const size_t length = kIkeHeaderSize + *chain;
  if (length > kMaxIkeMessageSize) return codec::build_error(BuildKind::kTooLarge, "IKE message size");
  const PayloadType first = m.payloads.empty() ? PayloadType::kNone : m.payloads.front().type();
  return write_twice([&](wire::ByteWriter& w) -> Status<IkeBuildError> {
    if (auto st = codec::write_ike_header(w, m.header, first, length); !st) return st;
    return write_chain(w, m.payloads, true);
  });
}

}  // namespace cordon::ipsec
