#include "core/offload/gso_split.hpp"

#include <algorithm>
#include <cstring>

#include "core/offload/checksum.hpp"

namespace cordon::offload {
namespace {

constexpr uint8_t kTcp = 6;   // IANA protocol numbers (IPv4 protocol, IPv6 next header)
constexpr uint8_t kUdp = 17;
constexpr size_t kIpv4MinHeader = 20;  // RFC 791 section 3.1, IHL 5
constexpr size_t kIpv6Header = 40;     // RFC 8200 section 3
constexpr size_t kTcpMinHeader = 20;   // RFC 9293 section 3.1, data offset 5
constexpr size_t kUdpHeader = 8;       // RFC 768
constexpr size_t kTcpChecksumAt = 16;  // from the start of the TCP header
constexpr size_t kUdpChecksumAt = 6;
constexpr uint8_t kFin = 0x01, kPsh = 0x08, kCwr = 0x80;  // RFC 9293 section 3.1; CWR: RFC 3168 section 23.2

uint16_t be16(std::span<const std::byte> p, size_t at) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[at]) << 8 | std::to_integer<uint16_t>(p[at + 1]));
}
uint32_t be32(std::span<const std::byte> p, size_t at) { return uint32_t{be16(p, at)} << 16 | be16(p, at + 2); }
void put_be16(std::span<std::byte> p, size_t at, uint16_t v) {
  p[at] = static_cast<std::byte>(v >> 8);
  p[at + 1] = static_cast<std::byte>(v & 0xff);
}
void put_be32(std::span<std::byte> p, size_t at, uint32_t v) {
  put_be16(p, at, static_cast<uint16_t>(v >> 16));
  put_be16(p, at + 2, static_cast<uint16_t>(v));
}

// What to do with one packet, decided once per call from its headers.
struct Plan {
  enum class Kind : uint8_t { kCopy, kCompleteChecksum, kTcp, kUdp } kind = Kind::kCopy;
  bool v4 = false;
  size_t l3 = 0;       // IP header bytes
  size_t l4 = 0;       // transport header bytes
  size_t length = 0;   // bytes of `packet` that the segments are made of
  size_t payload = 0;  // transport payload bytes (TCP, UDP)
  size_t size = 0;     // payload bytes per segment (TCP, UDP)
  size_t count = 1;
  size_t field = 0;    // checksum field to complete (kCompleteChecksum)

  size_t headers() const { return l3 + l4; }
  size_t payload_of(size_t i) const { return std::min(size, payload - i * size); }
  size_t length_of(size_t i) const {
    return kind == Kind::kTcp || kind == Kind::kUdp ? headers() + payload_of(i) : length;
  }
};

struct Ip {
  bool v4 = false;
  size_t l3 = 0;
  size_t length = 0;
  uint8_t protocol = 0;
  bool fragment = false;
};

// RFC 791 section 3.1 and RFC 8200 section 3: the IP header, and the
// packet's length as the header gives it (bytes after it are ignored).
Result<Ip, SplitDrop> parse_ip(std::span<const std::byte> p) {
  if (p.empty()) return SplitDrop::kNotIp;
  const auto version = std::to_integer<uint8_t>(p[0]) >> 4;
  if (version == 4) {
    if (p.size() < kIpv4MinHeader) return SplitDrop::kNotIp;
    const size_t ihl = size_t{std::to_integer<uint8_t>(p[0]) & 0x0fu} * 4;
    const size_t total = be16(p, 2);
    if (ihl < kIpv4MinHeader || ihl > p.size() || total < ihl) return SplitDrop::kNotIp;
    if (total > p.size()) return SplitDrop::kTruncated;
    // More fragments, or a fragment offset: a piece of a datagram, not one.
    const bool fragment = (be16(p, 6) & 0x3fff) != 0;
    return Ip{.v4 = true, .l3 = ihl, .length = total, .protocol = std::to_integer<uint8_t>(p[9]), .fragment = fragment};
  }
  if (version == 6) {
    if (p.size() < kIpv6Header) return SplitDrop::kNotIp;
    const size_t total = kIpv6Header + be16(p, 4);
    if (total > p.size()) return SplitDrop::kTruncated;
    return Ip{.v4 = false, .l3 = kIpv6Header, .length = total, .protocol = std::to_integer<uint8_t>(p[6])};
  }
  return SplitDrop::kNotIp;
}

// gso_type kNone: one packet. The checksum fields are the kernel's
// (skb_partial_csum_set): the field must lie inside the packet.
Result<Plan, SplitDrop> plan_single(const VirtioNetHeader& h, std::span<const std::byte> packet) {
  if ((h.flags & kNeedsChecksum) == 0) return Plan{.kind = Plan::Kind::kCopy, .length = packet.size()};
  const size_t field = size_t{h.checksum_start} + h.checksum_offset;
  if (field + 2 > packet.size()) return SplitDrop::kBadChecksumFields;
  return Plan{.kind = Plan::Kind::kCompleteChecksum, .length = packet.size(), .field = field};
}

// Segments of `payload` bytes cut `size` at a time: at least one, so that a
// GSO packet with no payload still goes out as the one packet it is.
Result<Plan, SplitDrop> with_count(Plan plan) {
  plan.count = plan.payload == 0 ? 1 : (plan.payload + plan.size - 1) / plan.size;
  if (plan.count > kMaxSegments) return SplitDrop::kTooManySegments;
  return plan;
}

Result<Plan, SplitDrop> plan_gso(const VirtioNetHeader& h, std::span<const std::byte> packet, size_t mtu) {
  // UFO (kUdp) cuts one datagram into IP fragments: Linux stopped making
  // such packets in 4.14 and a tunnel has no use for them. A type that
  // decode_virtio_net would not have let through is refused too.
  const bool tcp = h.gso_type == GsoType::kTcpV4 || h.gso_type == GsoType::kTcpV6;
  if (!tcp && h.gso_type != GsoType::kUdpL4) return SplitDrop::kUnsupportedGso;
  const auto ip = parse_ip(packet);
  if (!ip) return ip.error();
  // IPv6 extension headers show up here as a next header other than TCP or
  // UDP: the kernel's ipv6_gso_segment would walk them, this splitter does not.
  if ((h.gso_type == GsoType::kTcpV4 && !ip->v4) || (h.gso_type == GsoType::kTcpV6 && ip->v4) ||
      ip->protocol != (tcp ? kTcp : kUdp) || ip->fragment)
    return SplitDrop::kUnsupportedGso;

  const size_t l3 = ip->l3;
  if (ip->length < l3 + (tcp ? kTcpMinHeader : kUdpHeader)) return SplitDrop::kTruncated;
  const size_t l4 = tcp ? size_t{std::to_integer<uint8_t>(packet[l3 + 12])} / 16 * 4 : kUdpHeader;
  if (tcp && l4 < kTcpMinHeader) return SplitDrop::kNotIp;  // data offset below 5
  if (l3 + l4 > ip->length || h.header_length > ip->length) return SplitDrop::kTruncated;
  // A GSO packet's checksum is always left to the device on the transport
  // header (tcp_v4_send_check, udp4_hwcsum); fields that say otherwise
  // describe another packet.
  if ((h.flags & kNeedsChecksum) != 0 &&
      (h.checksum_start != l3 || h.checksum_offset != (tcp ? kTcpChecksumAt : kUdpChecksumAt)))
    return SplitDrop::kBadChecksumFields;
  if (h.gso_size == 0) return SplitDrop::kBadGsoSize;

  Plan plan{.kind = tcp ? Plan::Kind::kTcp : Plan::Kind::kUdp,
            .v4 = ip->v4,
            .l3 = l3,
            .l4 = l4,
            .length = ip->length,
            .payload = ip->length - l3 - l4};
  if (tcp) {
    // Cut at the MTU when gso_size is larger: the sender's MSS comes from
    // the TUN's MTU, which may be above what the tunnel carries.
    if (mtu <= plan.headers()) return SplitDrop::kBadGsoSize;
    plan.size = std::min<size_t>(h.gso_size, mtu - plan.headers());
  } else {
    plan.size = h.gso_size;
    if (plan.headers() + std::min(plan.size, plan.payload) > mtu) return SplitDrop::kBadGsoSize;
  }
  return with_count(plan);
}

Result<Plan, SplitDrop> make_plan(const VirtioNetHeader& h, std::span<const std::byte> packet, size_t mtu) {
  return h.gso_type == GsoType::kNone ? plan_single(h, packet) : plan_gso(h, packet, mtu);
}

// RFC 791 section 3.1: total length, identification + i, header checksum.
// RFC 8200 section 3: payload length.
void patch_ip(const Plan& plan, size_t i, std::span<std::byte> seg) {
  if (!plan.v4) {
    put_be16(seg, 4, static_cast<uint16_t>(seg.size() - kIpv6Header));
    return;
  }
  put_be16(seg, 2, static_cast<uint16_t>(seg.size()));
  put_be16(seg, 4, static_cast<uint16_t>(be16(seg, 4) + i));
  put_be16(seg, 10, 0);
  put_be16(seg, 10, checksum_finish(checksum_add(seg.first(plan.l3))));
}

// The pseudo-header (RFC 9293 section 3.1, RFC 768, RFC 8200 section 8.1)
// plus the transport header plus the payload, with the field zeroed.
uint16_t transport_checksum(const Plan& plan, std::span<std::byte> seg, uint8_t protocol, size_t field) {
  const auto addresses = plan.v4 ? seg.subspan(12, 8) : seg.subspan(8, 32);
  put_be16(seg, field, 0);
  const auto transport = seg.subspan(plan.l3);
  const uint64_t sum = pseudo_header_sum(addresses, protocol, static_cast<uint32_t>(transport.size())) +
                       checksum_add(transport.first(plan.l4)) + checksum_add(transport.subspan(plan.l4));
  return checksum_finish(sum);
}

// tcp_gso_segment: sequence numbers advance by the payload before; FIN and
// PSH belong to the last segment, CWR (RFC 3168 section 6.1.2) to the first.
void patch_tcp(const Plan& plan, size_t i, std::span<std::byte> seg) {
  const size_t th = plan.l3;
  put_be32(seg, th + 4, static_cast<uint32_t>(be32(seg, th + 4) + i * plan.size));
  auto flags = std::to_integer<uint8_t>(seg[th + 13]);
  if (i + 1 != plan.count) flags &= static_cast<uint8_t>(~(kFin | kPsh));
  if (i != 0) flags &= static_cast<uint8_t>(~kCwr);
  seg[th + 13] = std::byte{flags};
  put_be16(seg, th + kTcpChecksumAt, transport_checksum(plan, seg, kTcp, th + kTcpChecksumAt));
}

// __udp_gso_segment: each datagram its own length and checksum; a computed
// 0 is sent as 0xffff, since 0 means "no checksum" (RFC 768).
void patch_udp(const Plan& plan, std::span<std::byte> seg) {
  const size_t uh = plan.l3;
  put_be16(seg, uh + 4, static_cast<uint16_t>(seg.size() - uh));
  const uint16_t sum = transport_checksum(plan, seg, kUdp, uh + kUdpChecksumAt);
  put_be16(seg, uh + kUdpChecksumAt, sum == 0 ? 0xffff : sum);
}

// skb_checksum_help: the field holds the pseudo-header sum, so the sum of
// [checksum_start, end) with it is the whole checksum; a 0 goes out as
// 0xffff, which means the same to TCP and is required by UDP.
void complete_checksum(const VirtioNetHeader& h, const Plan& plan, std::span<std::byte> seg) {
  const uint16_t sum = checksum_finish(checksum_add(seg.subspan(h.checksum_start)));
  put_be16(seg, plan.field, sum == 0 ? 0xffff : sum);
}

void write_segment(const VirtioNetHeader& h, const Plan& plan, std::span<const std::byte> packet, size_t i,
                   std::span<std::byte> seg) {
  if (plan.kind == Plan::Kind::kCopy || plan.kind == Plan::Kind::kCompleteChecksum) {
    // An empty packet may come with no storage at all: memcpy must not see it.
    if (!seg.empty()) std::memcpy(seg.data(), packet.data(), seg.size());
    if (plan.kind == Plan::Kind::kCompleteChecksum) complete_checksum(h, plan, seg);
    return;
  }
  std::memcpy(seg.data(), packet.data(), plan.headers());
  std::memcpy(seg.data() + plan.headers(), packet.data() + plan.headers() + i * plan.size, plan.payload_of(i));
  patch_ip(plan, i, seg);
  if (plan.kind == Plan::Kind::kTcp)
    patch_tcp(plan, i, seg);
  else
    patch_udp(plan, seg);
}

}  // namespace

const char* to_string(SplitDrop drop) {
  switch (drop) {
    case SplitDrop::kNotIp: return "not_ip";
    case SplitDrop::kTruncated: return "truncated";
    case SplitDrop::kBadChecksumFields: return "bad_checksum_fields";
    case SplitDrop::kUnsupportedGso: return "unsupported_gso";
    case SplitDrop::kBadGsoSize: return "bad_gso_size";
    case SplitDrop::kTooManySegments: return "too_many_segments";
    case SplitDrop::kOutTooSmall: return "out_too_small";
  }
  return "unknown";
}

Result<size_t, SplitDrop> segment_count(const VirtioNetHeader& header, std::span<const std::byte> packet,
                                        size_t mtu) {
  const auto plan = make_plan(header, packet, mtu);
  if (!plan) return plan.error();
  return plan->count;
}

Result<size_t, SplitDrop> split(const VirtioNetHeader& header, std::span<const std::byte> packet, size_t mtu,
                                size_t first, std::span<const std::span<std::byte>> out, std::span<size_t> sizes,
                                size_t offset) {
  const auto plan = make_plan(header, packet, mtu);
  if (!plan) return plan.error();
  if (first >= plan->count) return size_t{0};
  const size_t k = std::min({out.size(), sizes.size(), plan->count - first});
  for (size_t j = 0; j < k; ++j) {
    const size_t length = plan->length_of(first + j);
    if (out[j].size() < offset || out[j].size() - offset < length) return SplitDrop::kOutTooSmall;
    write_segment(header, *plan, packet, first + j, out[j].subspan(offset, length));
    sizes[j] = length;
  }
  return k;
}

}  // namespace cordon::offload
