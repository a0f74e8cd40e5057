#include "core/offload/virtio_net.hpp"

namespace cordon::offload {
namespace {

uint16_t le16(std::span<const std::byte> p, size_t at) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[at]) | std::to_integer<uint16_t>(p[at + 1]) << 8);
}

void put_le16(std::span<std::byte> p, size_t at, uint16_t v) {
  p[at] = static_cast<std::byte>(v & 0xff);
  p[at + 1] = static_cast<std::byte>(v >> 8);
}

bool known(uint8_t type) {
  switch (static_cast<GsoType>(type)) {
    case GsoType::kNone:
    case GsoType::kTcpV4:
    case GsoType::kUdp:
    case GsoType::kTcpV6:
    case GsoType::kUdpL4:
      return true;
  }
  return false;
}

}  // namespace

std::optional<VirtioNetHeader> decode_virtio_net(std::span<const std::byte> bytes) {
  if (bytes.size() < kVirtioNetHeaderSize) return std::nullopt;
  const auto raw_type = std::to_integer<uint8_t>(bytes[1]);
  const auto type = static_cast<uint8_t>(raw_type & ~kGsoEcn);
  if (!known(type)) return std::nullopt;
  return VirtioNetHeader{.flags = std::to_integer<uint8_t>(bytes[0]),
                         .gso_type = static_cast<GsoType>(type),
                         .ecn = (raw_type & kGsoEcn) != 0,
                         .header_length = le16(bytes, 2),
                         .gso_size = le16(bytes, 4),
                         .checksum_start = le16(bytes, 6),
                         .checksum_offset = le16(bytes, 8)};
}

void encode_virtio_net(const VirtioNetHeader& header, std::span<std::byte> out) {
  out[0] = static_cast<std::byte>(header.flags);
  out[1] = static_cast<std::byte>(static_cast<uint8_t>(header.gso_type) | (header.ecn ? kGsoEcn : 0));
  put_le16(out, 2, header.header_length);
  put_le16(out, 4, header.gso_size);
  put_le16(out, 6, header.checksum_start);
  put_le16(out, 8, header.checksum_offset);
}

}  // namespace cordon::offload
