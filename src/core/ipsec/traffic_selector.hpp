// A traffic selector (RFC 7296 section 3.13.1; RFC 4301 section 4.4.1): an
// address range, an IP protocol and a port range. The IKE codec carries it in
// TSi/TSr payloads; the security policy database matches packets against it.
#pragma once

#include <array>
#include <cstdint>

#include "core/ipsec/ike_constants.hpp"

namespace cordon::ipsec {

struct TrafficSelector {
  TsType type = TsType::kIpv4AddrRange;
  uint8_t ip_protocol = 0;  // 0: any
  uint16_t start_port = 0;
  uint16_t end_port = 65535;
  // IPv4 uses the first 4 bytes; the rest are zero.
  std::array<uint8_t, 16> start_address{};
  std::array<uint8_t, 16> end_address{};

  size_t address_size() const { return type == TsType::kIpv4AddrRange ? 4 : 16; }
  friend bool operator==(const TrafficSelector&, const TrafficSelector&) = default;
};

}  // namespace cordon::ipsec
