// The Internet checksum (RFC 1071; RFC 1624 for incremental updates) over
// IP headers and TCP/UDP segments with their pseudo-headers (RFC 791 section
// 3.1, RFC 9293 section 3.1, RFC 768, RFC 8200 section 8.1).
//
// Sums are carried unfolded in 64 bits, so a packet is summed piece by
// piece: sum(a ++ b) == add(sum(a), sum(b)) as long as every piece but the
// last has an even length (the usual case: headers, then the payload).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace cordon::offload {

// The ones'-complement sum of `bytes` as big-endian 16-bit words (an odd
// last byte is padded with zero), added to `sum`.
uint64_t checksum_add(std::span<const std::byte> bytes, uint64_t sum = 0);
// Folds a sum to 16 bits (not complemented).
uint16_t checksum_fold(uint64_t sum);
// The value stored in a checksum field: the complement of the folded sum.
inline uint16_t checksum_finish(uint64_t sum) { return static_cast<uint16_t>(~checksum_fold(sum)); }

// The pseudo-header sum of a TCP or UDP segment of `length` bytes
// (transport header plus payload): `addresses` is the source address
// followed by the destination address as they lie in the IP header (8
// bytes for IPv4 at offset 12, 32 bytes for IPv6 at offset 8), `protocol`
// 6 for TCP, 17 for UDP.
uint64_t pseudo_header_sum(std::span<const std::byte> addresses, uint8_t protocol, uint32_t length);

}  // namespace cordon::offload
