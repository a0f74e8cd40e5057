#include "core/filter/flow.hpp"

#include <algorithm>
#include <array>

namespace cordon::filter {
namespace {

constexpr size_t kIpv4MinHeader = 20;  // RFC 791, section 3.1
constexpr size_t kIpv6Header = 40;     // RFC 8200, section 3
constexpr size_t kTcpMinHeader = 20;   // RFC 9293, section 3.1
constexpr size_t kUdpHeader = 8;       // RFC 768
constexpr size_t kIcmpHeader = 8;      // RFC 792, RFC 4443 section 2.1

// IPv6 extension headers the filter walks (RFC 8200, section 4.1; RFC 4302
// for AH, whose length counts 4-byte words less 2).
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestination = 60, kAuthHeader = 51;

uint8_t u8(std::span<const std::byte> p, size_t at) { return std::to_integer<uint8_t>(p[at]); }
uint16_t be16(std::span<const std::byte> p, size_t at) {
  return static_cast<uint16_t>(u8(p, at) << 8 | u8(p, at + 1));
}
template <size_t N>
std::array<uint8_t, N> copy_bytes(std::span<const std::byte> p, size_t at) {
  std::array<uint8_t, N> out{};
  std::transform(p.begin() + at, p.begin() + at + N, out.begin(), [](std::byte b) { return std::to_integer<uint8_t>(b); });
  return out;
}

// The network header: addresses, the transport protocol, where its header
// starts, and whether this is a later fragment.
struct Network {
  IpAddress source, destination;
  uint8_t protocol = 0;
  size_t transport_at = 0;
  bool later_fragment = false;
  bool more_fragments = false;
  uint16_t fragment_offset = 0;  // in 8-byte units
};

std::optional<Network> parse_v4(std::span<const std::byte> p) {
  if (p.size() < kIpv4MinHeader) return std::nullopt;
  const size_t ihl = (u8(p, 0) & 0x0f) * 4u;
  if (ihl < kIpv4MinHeader || ihl > p.size()) return std::nullopt;
  Network n{IpAddress::v4(copy_bytes<4>(p, 12)), IpAddress::v4(copy_bytes<4>(p, 16)), u8(p, 9), ihl};
  const uint16_t fragment = be16(p, 6);
  n.fragment_offset = fragment & 0x1fff;
  n.more_fragments = (fragment & 0x2000) != 0;
  n.later_fragment = n.fragment_offset != 0;
  return n;
}

std::optional<Network> parse_v6(std::span<const std::byte> p) {
  if (p.size() < kIpv6Header) return std::nullopt;
  Network n{IpAddress::v6(copy_bytes<16>(p, 8)), IpAddress::v6(copy_bytes<16>(p, 24)), u8(p, 6), kIpv6Header};
  for (int i = 0;; ++i) {
    const uint8_t h = n.protocol;
    if (h != kHopByHop && h != kRouting && h != kFragment && h != kDestination && h != kAuthHeader) return n;
    if (i == kMaxExtensionHeaders || n.transport_at + 8 > p.size()) return std::nullopt;
    n.protocol = u8(p, n.transport_at);
    if (h == kFragment) {
      const uint16_t fragment = be16(p, n.transport_at + 2);
      n.fragment_offset = fragment >> 3;
      n.more_fragments = (fragment & 1) != 0;
      n.later_fragment = n.later_fragment || n.fragment_offset != 0;
      n.transport_at += 8;
    } else if (h == kAuthHeader) {
      n.transport_at += (u8(p, n.transport_at + 1) + 2u) * 4u;
    } else {
      n.transport_at += (u8(p, n.transport_at + 1) + 1u) * 8u;
    }
  }
}

// The network header, if its whole header chain lies inside `p`.
std::optional<Network> parse_network(std::span<const std::byte> p) {
  if (p.empty()) return std::nullopt;
  std::optional<Network> n;
  switch (u8(p, 0) >> 4) {
    case 4:
      n = parse_v4(p);
      break;
    case 6:
      n = parse_v6(p);
      break;
    default:
      return std::nullopt;
  }
  if (n && n->transport_at > p.size()) return std::nullopt;
  return n;
}

bool is_icmp(uint8_t protocol) { return protocol == kIcmp || protocol == kIcmpv6; }

// Echo request and reply carry an identifier (RFC 792; RFC 4443, section 4).
bool is_echo(uint8_t protocol, uint8_t type) {
  return protocol == kIcmp ? (type == 8 || type == 0) : (type == 128 || type == 129);
}

bool is_error(uint8_t protocol, uint8_t type) {
  return protocol == kIcmp ? (type == 3 || type == 4 || type == 11 || type == 12) : (type >= 1 && type <= 4);
}

size_t min_transport(uint8_t protocol) {
  if (protocol == kTcp) return kTcpMinHeader;
  if (protocol == kUdp) return kUdpHeader;
  if (is_icmp(protocol)) return kIcmpHeader;
  return 0;
}

// The tuple of the packet an ICMP error quotes: its IP header and at least
// the first 8 bytes of its transport header (RFC 792; RFC 4443, section 3).
std::optional<Tuple> parse_quoted(std::span<const std::byte> p) {
  const auto n = parse_network(p);
  if (!n || n->later_fragment) return std::nullopt;
  Tuple t{n->source, n->destination, n->protocol};
  const auto transport = p.subspan(n->transport_at);
  if (n->protocol == kTcp || n->protocol == kUdp) {
    if (transport.size() < 4) return std::nullopt;
    t.source_port = be16(transport, 0);
    t.destination_port = be16(transport, 2);
  } else if (is_icmp(n->protocol)) {
    if (transport.size() < 8) return std::nullopt;
    if (is_echo(n->protocol, u8(transport, 0))) t.source_port = t.destination_port = be16(transport, 4);
  }
  return t;
}

}  // namespace

std::optional<Flow> parse_flow(std::span<const std::byte> packet) {
  const auto n = parse_network(packet);
  if (!n) return std::nullopt;
  Flow f;
  f.tuple = Tuple{n->source, n->destination, n->protocol};
  if (n->later_fragment) {
    // RFC 1858, section 3.2: a TCP fragment at offset 8 bytes can only serve
    // to rewrite the flags of the first one.
    if (n->protocol == kTcp && n->fragment_offset == 1) return std::nullopt;
    return f;
  }
  const auto transport = packet.subspan(n->transport_at);
  if (transport.size() < min_transport(n->protocol)) return std::nullopt;
  f.transport = true;
  if (n->protocol == kTcp || n->protocol == kUdp) {
    f.tuple.source_port = be16(transport, 0);
    f.tuple.destination_port = be16(transport, 2);
    if (n->protocol == kTcp) f.tcp_flags = u8(transport, 13);
  } else if (is_icmp(n->protocol)) {
    f.icmp_type = u8(transport, 0);
    f.icmp_code = u8(transport, 1);
    if (is_echo(n->protocol, f.icmp_type)) f.tuple.source_port = f.tuple.destination_port = be16(transport, 4);
    if (is_error(n->protocol, f.icmp_type)) f.quoted = parse_quoted(transport.subspan(kIcmpHeader));
  }
  return f;
}

}  // namespace cordon::filter
