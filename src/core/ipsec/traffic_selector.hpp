// A traffic selector (RFC 7296 section 3.13.1; RFC 4301 section 4.4.1): an
// address range, an IP protocol and a port range. The IKE codec carries it in
// TSi/TSr payloads; the security policy database matches packets against it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ipsec/ike_constants.hpp"
#include "core/types.hpp"

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

// "10.1.0.0/24", "192.0.2.7" (one address), "2001:db8::/32": every
// protocol and port. nullopt for anything else.
std::optional<TrafficSelector> parse_selector(std::string_view text);
// The prefixes the address range covers, largest first ("10.0.0.4-10.0.0.6"
// is 10.0.0.4/31 and 10.0.0.6/32); at most 64.
std::vector<Prefix> selector_prefixes(const TrafficSelector& ts);
// "10.1.0.0/24", or "10.0.0.4-10.0.0.6" for a range that is no prefix,
// followed by " proto 6 port 80-443" when those are narrowed.
std::string selector_text(const TrafficSelector& ts);

}  // namespace cordon::ipsec
