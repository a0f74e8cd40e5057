// Helpers shared by the payload codecs (ike_payloads.cpp, ike_payload_sa.cpp,
// ike_payload_ts.cpp); not part of the codec's interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/ipsec/ike_message.hpp"
#include "core/ipsec/ike_payloads.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::ipsec::codec {

inline IkeParseError parse_error(IkeParseError::Kind kind, size_t offset, std::string_view field) {
  return IkeParseError{kind, offset, field, 0};
}

inline IkeParseError truncated(const wire::ByteReader& r, std::string_view field) {
  return parse_error(IkeParseError::Kind::kTruncated, r.offset(), field);
}

// An error found inside a sub-span that starts `base` bytes into the outer one.
inline IkeParseError shifted(IkeParseError e, size_t base) {
  e.offset += base;
  return e;
}

inline IkeBuildError build_error(IkeBuildError::Kind kind, std::string_view field) {
  return IkeBuildError{kind, field};
}

inline IkeBytes copy_of(std::span<const std::byte> b) { return IkeBytes(b.begin(), b.end()); }

// The size a write would take: the writer run in sizing mode.
template <typename Fn>
Result<size_t, IkeBuildError> sized(Fn&& write) {
  wire::ByteWriter counter;
  Status<IkeBuildError> st = write(counter);
  if (!st) return st.error();
  return counter.size();
}

constexpr uint16_t kMaxLength16 = 0xffff;

// The IKE header with these Next Payload and Length fields (ike_message.cpp).
Status<IkeBuildError> write_ike_header(wire::ByteWriter& w, const IkeHeader& h, PayloadType next, size_t length);

// The bodies with their own files (ike_payload_sa.cpp, ike_payload_ts.cpp).
Status<IkeBuildError> write_sa_payload(wire::ByteWriter& w, const SaPayload& sa);
Status<IkeBuildError> write_traffic_selectors(wire::ByteWriter& w, const std::vector<TrafficSelector>& selectors);

}  // namespace cordon::ipsec::codec
