// What the protected-traffic filter reads from an inner packet
// (docs/gateways.md, "The protected-traffic filter"): addresses, protocol,
// ports or ICMP type, TCP flags, and for an ICMP error the connection it
// reports on. IPv4 per RFC 791, IPv6 and its extension headers per RFC 8200.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/types.hpp"

namespace cordon::filter {

inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kIcmpv6 = 58;

// TCP flags (RFC 9293, section 3.1).
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kAck = 0x10;

// The addresses and ports that name a connection, as this packet travels.
// ICMP echo carries its identifier in both ports, so that a reply's tuple is
// the request's reversed; other ICMP messages have ports 0.
struct Tuple {
  IpAddress source;
  IpAddress destination;
  uint8_t protocol = 0;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  friend bool operator==(const Tuple&, const Tuple&) = default;
};

struct Flow {
  Tuple tuple;
  // The transport header was read: TCP/UDP ports, or ICMP type and code.
  // False for a later fragment (offset != 0), which carries none; such a
  // packet matches only rules that name no port and no ICMP type.
  bool transport = false;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint8_t tcp_flags = 0;
  // An ICMP error (RFC 792 types 3, 4, 11, 12; RFC 4443 types 1-4): the
  // tuple of the packet it quotes, as that packet travelled.
  std::optional<Tuple> quoted;
};

// Reads the flow of the IP packet `packet` (the IP total length already
// checked by wire::parse_inner). nullopt for what the filter cannot judge:
// a truncated header, an IPv6 header chain longer than kMaxExtensionHeaders,
// or a first fragment too short to hold the transport header's first 8
// bytes (RFC 1858, section 3.2: the tiny fragment attack).
std::optional<Flow> parse_flow(std::span<const std::byte> packet);

inline constexpr int kMaxExtensionHeaders = 8;

}  // namespace cordon::filter
