#include "core/ipsec/ip_header.hpp"

#include "core/offload/checksum.hpp"

namespace cordon::ipsec::ip {

std::optional<Header> parse_header(std::span<const std::byte> packet) {
  if (packet.empty()) return std::nullopt;
  Header h;
  h.version = static_cast<uint8_t>(std::to_integer<unsigned>(packet[0]) >> 4);
  if (h.version == 4) {
    if (packet.size() < kIpv4MinHeader) return std::nullopt;
    h.length = (std::to_integer<size_t>(packet[0]) & 0x0f) * 4;
    h.total_length = load16(&packet[2]);
    h.protocol = std::to_integer<uint8_t>(packet[9]);
    h.fragment = (load16(&packet[6]) & 0x3fff) != 0;  // MF and the offset; DF is no fragment
    if (h.length < kIpv4MinHeader) return std::nullopt;
  } else if (h.version == 6) {
    if (packet.size() < kIpv6Header) return std::nullopt;
    h.length = kIpv6Header;
    h.total_length = kIpv6Header + load16(&packet[4]);
    h.protocol = std::to_integer<uint8_t>(packet[6]);
  } else {
    return std::nullopt;
  }
  if (h.total_length < h.length || h.total_length > packet.size()) return std::nullopt;
  return h;
}

void rewrite(std::span<std::byte> packet, const Header& h, uint8_t protocol, size_t total_length) {
  if (h.version == 4) {
    packet[9] = static_cast<std::byte>(protocol);
    store16(&packet[2], static_cast<uint16_t>(total_length));
    store16(&packet[10], 0);
    store16(&packet[10], offload::checksum_finish(offload::checksum_add(packet.first(h.length))));
  } else {
    packet[6] = static_cast<std::byte>(protocol);
    store16(&packet[4], static_cast<uint16_t>(total_length - kIpv6Header));
  }
}

}  // namespace cordon::ipsec::ip
