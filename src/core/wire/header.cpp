#include "core/wire/header.hpp"

namespace cordon::wire {
namespace {

constexpr uint8_t kFormatShift = 6, kSuiteShift = 4, kGenShift = 2;
constexpr uint8_t kTwoBits = 0x3;

}  // namespace

ParsedHeader parse_header(std::span<const std::byte> datagram) {
  if (datagram.size() < kOverhead) return {std::nullopt, HeaderError::kTooShort};
  const auto b0 = std::to_integer<uint8_t>(datagram[0]);
  const uint8_t format = (b0 >> kFormatShift) & kTwoBits;
  if (format != static_cast<uint8_t>(Format::kDirect) && format != static_cast<uint8_t>(Format::kRelayed)) {
    return {std::nullopt, HeaderError::kBadFormat};
  }
  Header h;
  h.format = static_cast<Format>(format);
  h.suite = static_cast<crypto::Suite>((b0 >> kSuiteShift) & kTwoBits);
  h.generation = (b0 >> kGenShift) & kTwoBits;
  h.lane = b0 & kTwoBits;
  h.sender_host = static_cast<uint16_t>((std::to_integer<uint16_t>(datagram[1]) << 8) |
                                        std::to_integer<uint16_t>(datagram[2]));
  uint64_t c = 0;
  for (size_t i = 3; i < kHeaderSize; ++i) c = (c << 8) | std::to_integer<uint64_t>(datagram[i]);
  h.wire_counter = c;
  return {h, HeaderError::kTooShort};
}

uint8_t lane_of(std::span<const std::byte> datagram) {
  return datagram.empty() ? 0 : std::to_integer<uint8_t>(datagram[0]) & kTwoBits;
}

void write_header(const Header& h, std::span<std::byte, kHeaderSize> out) {
  const uint8_t b0 = static_cast<uint8_t>((static_cast<uint8_t>(h.format) & kTwoBits) << kFormatShift |
                                          (static_cast<uint8_t>(h.suite) & kTwoBits) << kSuiteShift |
                                          (h.generation & kTwoBits) << kGenShift | (h.lane & kTwoBits));
  out[0] = std::byte{b0};
  out[1] = std::byte{static_cast<uint8_t>(h.sender_host >> 8)};
  out[2] = std::byte{static_cast<uint8_t>(h.sender_host)};
  const uint64_t c = h.wire_counter & kWireCounterMask;
  for (size_t i = 0; i < 5; ++i) out[3 + i] = std::byte{static_cast<uint8_t>(c >> (8 * (4 - i)))};
}

uint64_t rebuild_counter(uint64_t wire_counter, uint64_t reference) {
  // Same idea as ESP extended sequence numbers (RFC 4303, Appendix A): pick
  // the candidate sharing the low bits that lies nearest the reference.
  constexpr uint64_t kSpan = kWireCounterMask + 1;
  constexpr uint64_t kHalf = kSpan / 2;
  const uint64_t base = reference & ~kWireCounterMask;
  uint64_t candidate = base | (wire_counter & kWireCounterMask);
  if (candidate > reference && candidate - reference > kHalf && candidate >= kSpan) {
    candidate -= kSpan;
  } else if (candidate < reference && reference - candidate > kHalf &&
             candidate <= UINT64_MAX - kSpan) {
    candidate += kSpan;
  }
  return candidate;
}

std::array<std::byte, crypto::kNonceSize> make_nonce(uint64_t counter) {
  std::array<std::byte, crypto::kNonceSize> n{};
  for (size_t i = 0; i < 8; ++i) n[4 + i] = std::byte{static_cast<uint8_t>(counter >> (8 * (7 - i)))};
  return n;
}

uint64_t counter_units(int64_t real_ns) {
  if (real_ns <= 0) return 0;
  const auto ns = static_cast<uint64_t>(real_ns);
  const uint64_t secs = ns / kNsPerSecond;
  const uint64_t frac = ns % kNsPerSecond;
  return (secs << kCounterSubsecondBits) + (frac << kCounterSubsecondBits) / kNsPerSecond;
}

}  // namespace cordon::wire
