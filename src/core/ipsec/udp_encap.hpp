// UDP encapsulation of ESP (RFC 3948): what arrives on UDP port 4500 is one
// of three things, told apart by its first bytes (RFC 3948 section 2):
//
//   IKE         | 00 00 00 00 (non-ESP marker) | IKE message ...       |
//   keepalive   | FF |                        (section 2.3, one byte)
//   ESP         | SPI (never 0) | sequence | IV ... (section 2.1)
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace cordon::ipsec {

constexpr size_t kNonEspMarkerSize = 4;

enum class UdpEncapKind : uint8_t {
  kIke,        // payload after the marker: an IKE message
  kEsp,        // the whole payload: an ESP packet
  kKeepalive,  // nothing to do (RFC 3948 section 2.3)
  kMalformed,  // too short to be any of them
};
std::string_view udp_encap_kind_name(UdpEncapKind kind);  // "ike", "esp", "keepalive", "malformed"

struct UdpEncapClass {
  UdpEncapKind kind;
  std::span<const std::byte> payload;  // the IKE message without its marker, or the ESP packet
};

// Classifies one UDP payload received on port 4500. An ESP packet shorter
// than its 8-byte header, or a marker with no IKE header after it, is
// malformed; the ESP and IKE parsers judge the rest.
UdpEncapClass classify_udp_encap(std::span<const std::byte> udp_payload);

}  // namespace cordon::ipsec
