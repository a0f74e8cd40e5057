#include "core/offload/checksum.hpp"

#include <cstring>

namespace cordon::offload {

uint64_t checksum_add(std::span<const std::byte> bytes, uint64_t sum) {
  // Summing 32-bit big-endian words into 64 bits and folding at the end
  // gives the same result as 16-bit words (RFC 1071, section 2(B): the sum
  // may be computed in any word size and folded).
  const std::byte* p = bytes.data();
  size_t n = bytes.size();
  while (n >= 4) {
    uint32_t word;
    std::memcpy(&word, p, 4);
    sum += __builtin_bswap32(word);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    sum += static_cast<uint64_t>(std::to_integer<uint32_t>(p[0]) << 8 | std::to_integer<uint32_t>(p[1]));
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += static_cast<uint64_t>(std::to_integer<uint32_t>(p[0]) << 8);
  return sum;
}

uint16_t checksum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint64_t pseudo_header_sum(std::span<const std::byte> addresses, uint8_t protocol, uint32_t length) {
  return checksum_add(addresses) + protocol + length;
}

}  // namespace cordon::offload
