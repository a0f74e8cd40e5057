// libFuzzer target for offload::segment_count and offload::split, the TSO/USO
// splitter that takes whatever a TUN queue hands over.
//
// Input: 10 bytes of virtio-net header (any gso_type value, even one the
// decoder refuses), 2 bytes MTU and 2 bytes `first` (little endian), 1 byte
// for the geometry (bits 0-2: out buffers, bits 3-5: headroom, bits 6-7:
// how much room each buffer leaves), then the packet.
//
// Asserts, besides "no crash, hang, leak or write outside a buffer" (each
// out buffer is its own allocation of the exact size, so ASan sees a write
// past it):
//   - split and segment_count agree on the drop, or split returns
//     kOutTooSmall, or split returns min(buffers, count - first) segments;
//   - a segment of a GSO packet parses as an IP packet of exactly its size,
//     no larger than the MTU, and its IPv4 header and transport checksums
//     verify;
//   - a kNone packet comes out as long as it went in, unchanged apart from
//     the two checksum bytes when kNeedsChecksum asked for them.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/offload/checksum.hpp"
#include "core/offload/gso_split.hpp"
#include "core/wire/inner_packet.hpp"

namespace {

using namespace cordon;
using namespace cordon::offload;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

VirtioNetHeader raw_header(const uint8_t* p) {
  return VirtioNetHeader{.flags = p[0],
                         .gso_type = static_cast<GsoType>(p[1] & 0x7f),
                         .ecn = (p[1] & 0x80) != 0,
                         .header_length = le16(p + 2),
                         .gso_size = le16(p + 4),
                         .checksum_start = le16(p + 6),
                         .checksum_offset = le16(p + 8)};
}

void check_segment(const VirtioNetHeader& h, std::span<const std::byte> packet, std::span<const std::byte> seg,
                   size_t mtu) {
  if (h.gso_type == GsoType::kNone) {
    check(seg.size() == packet.size());
    const size_t field = size_t{h.checksum_start} + h.checksum_offset;
    for (size_t i = 0; i < seg.size(); ++i)
      check(seg[i] == packet[i] || ((h.flags & kNeedsChecksum) && (i == field || i == field + 1)));
    return;
  }
  check(seg.size() <= mtu);
  const auto inner = wire::parse_inner(seg);
  check(inner.has_value() && inner->length == seg.size());
  const bool v4 = inner->source.is_v4();
  const size_t l3 = v4 ? (std::to_integer<size_t>(seg[0]) & 0x0f) * 4 : 40;
  if (v4) check(checksum_fold(checksum_add(seg.first(l3))) == 0xffff);
  const auto transport = seg.subspan(l3);
  const uint64_t pseudo = pseudo_header_sum(v4 ? seg.subspan(12, 8) : seg.subspan(8, 32),
                                            std::to_integer<uint8_t>(seg[v4 ? 9 : 6]),
                                            static_cast<uint32_t>(transport.size()));
  check(checksum_fold(checksum_add(transport, pseudo)) == 0xffff);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kPrefix = kVirtioNetHeaderSize + 5;
  if (size < kPrefix) return 0;
  const VirtioNetHeader h = raw_header(data);
  const size_t mtu = le16(data + 10);
  const size_t first = le16(data + 12);
  const uint8_t geometry = data[14];
  const auto packet = std::as_bytes(std::span(data + kPrefix, size - kPrefix));

  const size_t buffers = 1 + (geometry & 7);
  const size_t offset = static_cast<size_t>((geometry >> 3) & 7) * 8;
  constexpr size_t kRooms[] = {0, 1, 64, 0};  // 3: room for the whole packet
  const size_t room = (geometry >> 6) == 3 ? packet.size() + 64 : std::min<size_t>(mtu, 9000) + kRooms[geometry >> 6];

  std::vector<std::vector<std::byte>> storage;
  std::vector<std::span<std::byte>> out;
  for (size_t i = 0; i < buffers; ++i) storage.emplace_back(offset + room - (offset + room > 0 ? i % 2 : 0));  // odd ones a byte short
  for (auto& b : storage) out.emplace_back(b);
  std::vector<size_t> sizes(buffers);

  const auto count = segment_count(h, packet, mtu);
  const auto k = split(h, packet, mtu, first, out, sizes, offset);
  if (!count) {
    check(!k && k.error() == count.error());
    return 0;
  }
  check(*count >= 1 && *count <= kMaxSegments);
  if (!k) {
    check(k.error() == SplitDrop::kOutTooSmall);
    return 0;
  }
  check(*k == (first >= *count ? 0 : std::min(buffers, *count - first)));
  for (size_t j = 0; j < *k; ++j) check_segment(h, packet, std::span(storage[j]).subspan(offset, sizes[j]), mtu);
  return 0;
}
