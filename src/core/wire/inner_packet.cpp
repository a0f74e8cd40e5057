#include "core/wire/inner_packet.hpp"

#include <algorithm>

namespace cordon::wire {
namespace {

constexpr size_t kIpv4MinHeader = 20;  // RFC 791, section 3.1: IHL >= 5 words
constexpr size_t kIpv6Header = 40;     // RFC 8200, section 3

uint16_t be16(std::span<const std::byte> p, size_t at) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[at]) << 8 | std::to_integer<uint16_t>(p[at + 1]));
}

template <size_t N>
std::array<uint8_t, N> copy_bytes(std::span<const std::byte> p, size_t at) {
  std::array<uint8_t, N> out{};
  std::transform(p.begin() + at, p.begin() + at + N, out.begin(),
                 [](std::byte b) { return std::to_integer<uint8_t>(b); });
  return out;
}

std::optional<InnerPacket> parse_v4(std::span<const std::byte> p) {
  if (p.size() < kIpv4MinHeader) return std::nullopt;
  const size_t ihl = (std::to_integer<size_t>(p[0]) & 0x0f) * 4;
  const size_t total = be16(p, 2);
  if (ihl < kIpv4MinHeader || total < ihl || total > p.size()) return std::nullopt;
  return InnerPacket{IpAddress::v4(copy_bytes<4>(p, 12)), IpAddress::v4(copy_bytes<4>(p, 16)), total};
}

std::optional<InnerPacket> parse_v6(std::span<const std::byte> p) {
  if (p.size() < kIpv6Header) return std::nullopt;
  const size_t total = kIpv6Header + be16(p, 4);
  if (total > p.size()) return std::nullopt;
  return InnerPacket{IpAddress::v6(copy_bytes<16>(p, 8)), IpAddress::v6(copy_bytes<16>(p, 24)), total};
}

}  // namespace

std::optional<InnerPacket> parse_inner(std::span<const std::byte> packet) {
  if (packet.empty()) return std::nullopt;
  switch (std::to_integer<uint8_t>(packet[0]) >> 4) {
    case 4:
      return parse_v4(packet);
    case 6:
      return parse_v6(packet);
    default:
      return std::nullopt;
  }
}

}  // namespace cordon::wire
