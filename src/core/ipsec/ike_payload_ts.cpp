// TSi and TSr payloads: IPv4 and IPv6 address-range selectors (RFC 7296
// sections 3.13 and 3.13.1; layouts in ike_payloads.hpp).
#include "core/ipsec/ike_payload_codec.hpp"
#include "core/ipsec/ike_payloads.hpp"

namespace cordon::ipsec {

using codec::parse_error;
using codec::truncated;
using Kind = IkeParseError::Kind;

namespace {

constexpr size_t kSelectorFixedSize = 8;    // type, protocol, length, two ports

bool known_ts_type(TsType t) { return t == TsType::kIpv4AddrRange || t == TsType::kIpv6AddrRange; }

// Section 3.13.1: the Selector Length covers the whole selector, so 16 bytes
// for an IPv4 range and 40 for an IPv6 one.
size_t selector_size(const TrafficSelector& ts) { return kSelectorFixedSize + 2 * ts.address_size(); }

Result<TrafficSelector, IkeParseError> parse_selector(wire::ByteReader& r) {
  const size_t start = r.offset();
  const auto type = r.u8();
  const auto protocol = r.u8();
  const auto length = r.u16();
  const auto start_port = r.u16();
  const auto end_port = r.u16();
  if (r.failed()) return truncated(r, "traffic selector");
  TrafficSelector ts;
  ts.type = static_cast<TsType>(*type);
  if (!known_ts_type(ts.type)) return parse_error(Kind::kBadField, start, "traffic selector: type");
  if (*length != selector_size(ts)) return parse_error(Kind::kBadLength, start, "traffic selector: length");
  ts.ip_protocol = *protocol;
  ts.start_port = *start_port;
  ts.end_port = *end_port;
  const auto first = r.bytes(ts.address_size());
  const auto last = r.bytes(ts.address_size());
  if (!first || !last) return truncated(r, "traffic selector: addresses");
  for (size_t i = 0; i < ts.address_size(); ++i) {
    ts.start_address[i] = static_cast<uint8_t>((*first)[i]);
    ts.end_address[i] = static_cast<uint8_t>((*last)[i]);
  }
  return ts;
}

}  // namespace

Result<std::vector<TrafficSelector>, IkeParseError> parse_traffic_selectors(std::span<const std::byte> body) {
  wire::ByteReader r(body);
  const auto count = r.u8();
  const auto reserved = r.bytes(3);
  if (!count || !reserved) return truncated(r, "TS payload header");
  if (*count == 0) return parse_error(Kind::kBadField, 0, "TS payload: no selector");
  std::vector<TrafficSelector> out;
  for (size_t i = 0; i < *count; ++i) {
    auto ts = parse_selector(r);
    if (!ts) return ts.error();
    out.push_back(*ts);
  }
  if (!r.at_end()) return parse_error(Kind::kBadLength, r.offset(), "TS payload: bytes after its selectors");
  return out;
}

Status<IkeBuildError> codec::write_traffic_selectors(wire::ByteWriter& w,
                                                     const std::vector<TrafficSelector>& selectors) {
  if (selectors.empty() || selectors.size() > 0xff)
    return build_error(IkeBuildError::Kind::kBadField, "TS payload: 1 to 255 selectors");
  w.u8(static_cast<uint8_t>(selectors.size()));
  w.u8(0);
  w.u16(0);
  for (const TrafficSelector& ts : selectors) {
    if (!known_ts_type(ts.type)) return build_error(IkeBuildError::Kind::kBadField, "traffic selector: type");
    w.u8(static_cast<uint8_t>(ts.type));
    w.u8(ts.ip_protocol);
    w.u16(static_cast<uint16_t>(selector_size(ts)));
    w.u16(ts.start_port);
    w.u16(ts.end_port);
    for (size_t i = 0; i < ts.address_size(); ++i) w.u8(ts.start_address[i]);
    for (size_t i = 0; i < ts.address_size(); ++i) w.u8(ts.end_address[i]);
  }
  return Ok{};
}

}  // namespace cordon::ipsec
