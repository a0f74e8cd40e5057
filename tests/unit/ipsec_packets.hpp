// Inner packets and SA pairs for the ESP and AH tests: well-formed IPv4 and
// IPv6 UDP packets with a recognisable payload, and keys made from a seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/ipsec/cipher.hpp"
#include "core/ipsec/ip_header.hpp"

namespace cordon::ipsec::test {

// An IPv4 packet 10.0.0.1 -> 10.0.0.2 (or IPv6 fd00::1 -> fd00::2) with a
// UDP header and `payload` bytes, its IPv4 header checksum right.
inline std::vector<std::byte> udp_packet(int version, size_t payload, uint8_t fill = 0x42) {
  const size_t header = version == 4 ? ip::kIpv4MinHeader : ip::kIpv6Header;
  std::vector<std::byte> p(header + 8 + payload, static_cast<std::byte>(fill));
  if (version == 4) {
    p[0] = std::byte{0x45};
    p[1] = std::byte{0};
    ip::store16(&p[4], 0x1234);  // identification
    ip::store16(&p[6], 0x4000);  // DF
    p[8] = std::byte{64};
    for (int i = 0; i < 4; ++i) p[12 + i] = p[16 + i] = std::byte{0};
    p[12] = p[16] = std::byte{10};
    p[15] = std::byte{1};
    p[19] = std::byte{2};
  } else {
    p[0] = std::byte{0x60};
    for (int i = 1; i < 4; ++i) p[i] = std::byte{0};
    p[7] = std::byte{64};
    for (int i = 8; i < 40; ++i) p[i] = std::byte{0};
    p[8] = p[24] = std::byte{0xfd};
    p[23] = std::byte{1};
    p[39] = std::byte{2};
  }
  ip::store16(&p[header], 5000);
  ip::store16(&p[header + 2], 53);
  ip::store16(&p[header + 4], static_cast<uint16_t>(8 + payload));
  ip::store16(&p[header + 6], 0);
  ip::Header h;  // sets protocol 17, the lengths and the IPv4 checksum
  h.version = static_cast<uint8_t>(version);
  h.length = header;
  ip::rewrite(p, h, 17, p.size());
  return p;
}

inline std::vector<std::byte> seeded(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(seed + 31 * i);
  return v;
}

inline Cipher make_cipher(const CipherSpec& spec, uint8_t seed) {
  return *Cipher::create(spec, seeded(spec.encryption_key_size(), seed), seeded(spec.integrity_key_size(), seed + 1));
}

inline std::vector<CipherSpec> all_specs() {
  return {
      {EncrId::kAesGcm16, 128, IntegId::kNone},
      {EncrId::kAesGcm16, 256, IntegId::kNone},
      {EncrId::kChaCha20Poly1305, 256, IntegId::kNone},
      {EncrId::kAesCbc, 128, IntegId::kHmacSha256_128},
      {EncrId::kAesCbc, 256, IntegId::kHmacSha384_192},
      {EncrId::kAesCbc, 256, IntegId::kHmacSha512_256},
  };
}

}  // namespace cordon::ipsec::test
