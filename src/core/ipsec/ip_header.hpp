// The outer or inner IP header as ESP and AH see it: where it ends, which
// protocol follows it, and rewriting those when a security header is put in
// or taken out (transport mode, RFC 4303 section 3.1.1; RFC 4302 section
// 3.1.1). IPv4 (RFC 791) and IPv6 (RFC 8200) without extension headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace cordon::ipsec::ip {

constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;

inline uint16_t load16(const std::byte* p) {
  return static_cast<uint16_t>(std::to_integer<unsigned>(p[0]) << 8 | std::to_integer<unsigned>(p[1]));
}
inline uint32_t load32(const std::byte* p) { return uint32_t{load16(p)} << 16 | load16(p + 2); }
inline void store16(std::byte* p, uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}
inline void store32(std::byte* p, uint32_t v) {
  store16(p, static_cast<uint16_t>(v >> 16));
  store16(p + 2, static_cast<uint16_t>(v));
}

struct Header {
  uint8_t version = 0;      // 4 or 6
  size_t length = 0;        // of the header: IHL * 4, or 40
  uint8_t protocol = 0;     // IPv4 Protocol, IPv6 Next Header
  size_t total_length = 0;  // header and payload, at most the bytes given
  bool fragment = false;    // IPv4 MF set or a fragment offset
};

// The header at the start of `packet`: the version, a header length that
// fits, a total length at least the header and at most `packet.size()`
// (bytes after it are not part of the packet). nullopt for anything else.
std::optional<Header> parse_header(std::span<const std::byte> packet);

// IPv6 extension headers that may come before a transport header (RFC 8200
// section 4; IANA "IPv6 Extension Header Types"), including ESP and AH.
constexpr bool is_ipv6_extension(uint8_t next_header) {
  switch (next_header) {
    case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140: case 253: case 254:
      return true;
    default:
      return false;
  }
}

// Rewrites the protocol and the length of the header at the start of
// `packet` (whose header `h` describes): IPv4 Protocol, Total Length and a
// new header checksum; IPv6 Next Header and Payload Length.
void rewrite(std::span<std::byte> packet, const Header& h, uint8_t protocol, size_t total_length);

}  // namespace cordon::ipsec::ip
