#include "core/ipsec/udp_encap.hpp"

#include <algorithm>

#include "core/ipsec/esp.hpp"
#include "core/ipsec/ike_constants.hpp"

namespace cordon::ipsec {

std::string_view udp_encap_kind_name(UdpEncapKind kind) {
  switch (kind) {
    case UdpEncapKind::kIke: return "ike";
    case UdpEncapKind::kEsp: return "esp";
    case UdpEncapKind::kKeepalive: return "keepalive";
    case UdpEncapKind::kMalformed: break;
  }
  return "malformed";
}

UdpEncapClass classify_udp_encap(std::span<const std::byte> udp_payload) {
  if (udp_payload.size() == 1 && udp_payload[0] == std::byte{0xff}) return {UdpEncapKind::kKeepalive, {}};
  if (udp_payload.size() < kNonEspMarkerSize) return {UdpEncapKind::kMalformed, {}};
  const bool marker = std::all_of(udp_payload.begin(), udp_payload.begin() + kNonEspMarkerSize,
                                  [](std::byte b) { return b == std::byte{0}; });
  if (marker) {
    // RFC 3948 section 2.2: the SPI field is zero, which no ESP packet has.
    if (udp_payload.size() < kNonEspMarkerSize + kIkeHeaderSize) return {UdpEncapKind::kMalformed, {}};
    return {UdpEncapKind::kIke, udp_payload.subspan(kNonEspMarkerSize)};
  }
  if (udp_payload.size() < kEspHeaderSize) return {UdpEncapKind::kMalformed, {}};
  return {UdpEncapKind::kEsp, udp_payload};
}

}  // namespace cordon::ipsec
