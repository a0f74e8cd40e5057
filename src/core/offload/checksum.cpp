#include "core/offload/checksum.hpp"

#include <bit>
#include <cstring>

namespace cordon::offload {

uint64_t checksum_add(std::span<const std::byte> bytes, uint64_t sum) {
  // The ones'-complement sum does not depend on byte order (RFC 1071,
  // section 2(B)): sum the bytes as host-order words, 64 bits at a time
  // into two 32-bit halves so no carry is lost, fold, and swap the 16-bit
  // result into network order on a little-endian host. Any word size gives
  // the same folded sum (section 2(B) again).
  const std::byte* p = bytes.data();
  size_t n = bytes.size();
  uint64_t host = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    host += (word & 0xffffffff) + (word >> 32);
  }
  for (; n >= 2; p += 2, n -= 2) {
    uint16_t word;
    std::memcpy(&word, p, 2);
    host += word;
  }
  if (n == 1) {
    const std::byte last[2] = {p[0], std::byte{0}};  // padded with a zero byte
    uint16_t word;
    std::memcpy(&word, last, 2);
    host += word;
  }
  const uint16_t folded = checksum_fold(host);
  if constexpr (std::endian::native == std::endian::little) return sum + __builtin_bswap16(folded);
  return sum + folded;
}

uint16_t checksum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint64_t pseudo_header_sum(std::span<const std::byte> addresses, uint8_t protocol, uint32_t length) {
  return checksum_add(addresses) + protocol + length;
}

}  // namespace cordon::offload
