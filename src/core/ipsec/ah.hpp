// AH (RFC 4302) with HMAC-SHA-256-128, -384-192 or -512-256 (RFC 4868):
// the packet format and the state of one security association per
// direction, beside ESP's (esp.hpp), with the same replay window, limits
// and counters.
//
// RFC 4302 section 2, AH as it follows the IP header:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Next Header   |  Payload Len  |          RESERVED (0)         |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                 Security Parameters Index (SPI)               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |        Sequence Number (the low 32 bits with ESN)             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  ICV (16, 24 or 32 bytes), then zeros up to a multiple of 8    |
//   |  bytes under IPv6 (section 2.6); Payload Len = words - 2       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The ICV covers the IP header with its mutable fields zeroed (section
// 3.3.3.1: IPv4 TOS, flags, fragment offset, TTL, checksum; IPv6 traffic
// class, flow label, hop limit), AH with its ICV zeroed, the payload, and
// with ESN the high half of the sequence number after it. IPv4 options and
// IPv6 extension headers are refused, not authenticated (ah_ip_options,
// ah_ipv6_extension): their mutability differs per option.
//
// AH authenticates the outer header, so a tunnel-mode SA builds it (from
// its endpoints) and both modes hand over or take whole IP packets: they
// are sent with the header included (IP_HDRINCL on Linux).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/ipsec/anti_replay.hpp"
#include "core/ipsec/cipher.hpp"
#include "core/ipsec/esp.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

constexpr size_t kAhFixedSize = 12;  // before the ICV

// The outer header of a tunnel-mode AH SA. Addresses as in
// TrafficSelector: IPv4 in the first 4 bytes.
struct TunnelEndpoints {
  uint8_t version = 4;
  std::array<uint8_t, 16> local{};
  std::array<uint8_t, 16> remote{};
  uint8_t ttl = 64;  // hop limit under IPv6
};

// AH's length for an ICV under an IP version: 12 + ICV, rounded up to 8
// bytes for IPv6 (RFC 4302 section 2.6) and 4 for IPv4.
constexpr size_t ah_length(size_t icv_size, uint8_t ip_version) {
  const size_t unit = ip_version == 6 ? 8 : 4;
  return (kAhFixedSize + icv_size + unit - 1) / unit * unit;
}

// Before the inner packet: an outer IPv6 header and the longest AH (a
// 32-byte ICV, 44 bytes rounded up to 48 for IPv6).
constexpr size_t kAhHeadroom = 40 + 48;
static_assert(kAhHeadroom == 40 + ah_length(32, 6));

class OutboundAhSa : public SendingSa {
 public:
  // `tunnel` is needed in tunnel mode (its outer header), ignored in
  // transport mode.
  OutboundAhSa(uint32_t spi, Integrity integrity, bool esn, SaMode mode, TunnelEndpoints tunnel = {},
               SaLimits limits = {});

  // Protects the IP packet buffer[inner_offset, inner_offset + inner_len)
  // in place, with kAhHeadroom bytes free before it. Returns the IP packet
  // to send: tunnel mode, a new outer header, AH, the inner packet;
  // transport mode, the packet's header (protocol 51, lengths and IPv4
  // checksum rewritten), AH, its payload.
  Result<std::span<std::byte>, EspDrop> seal(std::span<std::byte> buffer, size_t inner_offset, size_t inner_len);

  IntegId integ() const { return integrity_.id(); }

 private:
  Integrity integrity_;
  TunnelEndpoints tunnel_;
};

class InboundAhSa : public ReceivingSa {
 public:
  InboundAhSa(uint32_t spi, Integrity integrity, bool esn, SaMode mode, SaLimits limits = {}, InnerCheck check = {});

  // Verifies the IP packet `packet` (IP header, AH, payload) in place.
  // Returns the inner packet (tunnel mode) or the packet with AH taken out
  // and its header restored (transport mode).
  Result<std::span<std::byte>, EspDrop> open(std::span<std::byte> packet);

  IntegId integ() const { return integrity_.id(); }

 private:
  Result<std::span<std::byte>, EspDrop> inner(std::span<std::byte> packet, size_t header_len, size_t ah_len,
                                              uint8_t next_header);

  Integrity integrity_;
};

// The SPI of the AH in an IP packet (after an IPv4 header without options
// or an IPv6 header without extensions), to find its SA; nullopt if the
// packet is not that.
std::optional<uint32_t> ah_spi(std::span<const std::byte> packet);

}  // namespace cordon::ipsec
