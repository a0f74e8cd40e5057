#include "testing/segment_forge.hpp"

#include <algorithm>
#include <cstring>

#include "core/offload/checksum.hpp"
#include "core/offload/virtio_net.hpp"

namespace cordon::testing {
namespace {

using offload::checksum_add;
using offload::checksum_finish;

void put16(std::span<std::byte> p, size_t at, uint16_t v) {
  p[at] = static_cast<std::byte>(v >> 8);
  p[at + 1] = static_cast<std::byte>(v & 0xff);
}
void put32(std::span<std::byte> p, size_t at, uint32_t v) {
  put16(p, at, static_cast<uint16_t>(v >> 16));
  put16(p, at + 2, static_cast<uint16_t>(v));
}
uint16_t get16(std::span<const std::byte> p, size_t at) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[at]) << 8 | std::to_integer<uint16_t>(p[at + 1]));
}
uint32_t get32(std::span<const std::byte> p, size_t at) { return uint32_t{get16(p, at)} << 16 | get16(p, at + 2); }

bool is_v6(std::span<const std::byte> p) { return std::to_integer<uint8_t>(p[0]) >> 4 == 6; }

}  // namespace

void fill_checksums(std::span<std::byte> p) {
  const bool v6 = is_v6(p);
  const size_t iph = v6 ? 40 : 20;
  const uint8_t proto = std::to_integer<uint8_t>(p[v6 ? 6 : 9]);
  const bool udp = proto == 17;
  if (!v6) {
    put16(p, 10, 0);
    put16(p, 10, checksum_finish(checksum_add(p.first(20))));
  }
  const size_t field = iph + (udp ? 6 : 16);
  put16(p, field, 0);
  const auto segment = p.subspan(iph);
  const auto addresses = v6 ? p.subspan(8, 32) : p.subspan(12, 8);
  uint16_t sum = checksum_finish(offload::pseudo_header_sum(addresses, proto, static_cast<uint32_t>(segment.size())) +
                                 checksum_add(segment));
  if (udp && sum == 0) sum = 0xffff;  // RFC 768: zero means "no checksum"
  put16(p, field, sum);
}

std::vector<std::byte> forge_segment(const SegmentSpec& s, std::span<const std::byte> payload) {
  const size_t iph = s.v6 ? 40 : 20;
  const size_t th = s.udp ? 8 : 20 + s.options.size();
  std::vector<std::byte> p(iph + th + payload.size());
  const std::span<std::byte> b(p);
  const uint8_t proto = s.udp ? 17 : 6;
  if (s.v6) {
    put32(b, 0, 0x60000000u | uint32_t{s.tos} << 20 | (s.flow_label & 0xfffff));
    put16(b, 4, static_cast<uint16_t>(p.size() - 40));
    b[6] = std::byte{proto};
    b[7] = std::byte{s.ttl};
    std::memcpy(p.data() + 8, s.source.data(), 16);
    std::memcpy(p.data() + 24, s.destination.data(), 16);
  } else {
    b[0] = std::byte{0x45};
    b[1] = std::byte{s.tos};
    put16(b, 2, static_cast<uint16_t>(p.size()));
    put16(b, 4, s.id);
    put16(b, 6, s.dont_fragment ? 0x4000 : 0);
    b[8] = std::byte{s.ttl};
    b[9] = std::byte{proto};
    std::memcpy(p.data() + 12, s.source.data(), 4);
    std::memcpy(p.data() + 16, s.destination.data(), 4);
  }
  put16(b, iph, s.source_port);
  put16(b, iph + 2, s.destination_port);
  if (s.udp) {
    put16(b, iph + 4, static_cast<uint16_t>(p.size() - iph));
  } else {
    put32(b, iph + 4, s.seq);
    put32(b, iph + 8, s.ack);
    b[iph + 12] = static_cast<std::byte>((th / 4) << 4);
    b[iph + 13] = std::byte{s.flags};
    put16(b, iph + 14, s.window);
    put16(b, iph + 18, s.urgent);
    if (!s.options.empty()) std::memcpy(p.data() + iph + 20, s.options.data(), s.options.size());
  }
  if (!payload.empty()) std::memcpy(p.data() + iph + th, payload.data(), payload.size());
  fill_checksums(b);
  return p;
}

std::vector<std::vector<std::byte>> split_super_packet(std::span<const std::byte> written) {
  const auto header = offload::decode_virtio_net(written);
  if (!header) return {};
  const auto packet = written.subspan(offload::kVirtioNetHeaderSize);
  if (header->gso_type == offload::GsoType::kNone) return {{packet.begin(), packet.end()}};
  const size_t hl = header->header_length, gso = header->gso_size;
  if (gso == 0 || packet.size() <= hl) return {};
  const bool v6 = is_v6(packet);
  const size_t iph = header->checksum_start;
  const bool udp = header->gso_type == offload::GsoType::kUdpL4;
  std::vector<std::vector<std::byte>> out;
  for (size_t at = hl, i = 0; at < packet.size(); at += gso, ++i) {
    const size_t n = std::min(gso, packet.size() - at);
    const bool last = at + n == packet.size();
    std::vector<std::byte> seg(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(hl));
    seg.insert(seg.end(), packet.begin() + static_cast<ptrdiff_t>(at), packet.begin() + static_cast<ptrdiff_t>(at + n));
    const std::span<std::byte> b(seg);
    if (v6) {
      put16(b, 4, static_cast<uint16_t>(seg.size() - 40));
    } else {
      put16(b, 2, static_cast<uint16_t>(seg.size()));
      put16(b, 4, static_cast<uint16_t>(get16(packet, 4) + i));
    }
    if (udp) {
      put16(b, iph + 4, static_cast<uint16_t>(seg.size() - iph));
    } else {
      put32(b, iph + 4, static_cast<uint32_t>(get32(packet, iph + 4) + i * gso));
      if (!last) b[iph + 13] &= ~std::byte{0x09};  // PSH and FIN
    }
    fill_checksums(b);
    out.push_back(std::move(seg));
  }
  return out;
}

}  // namespace cordon::testing
