#include "core/offload/gro.hpp"

#include <algorithm>
#include <cstring>

#include "core/offload/checksum.hpp"
#include "core/offload/virtio_net.hpp"

namespace cordon::offload {
namespace {

constexpr uint8_t kProtoTcp = 6;   // RFC 9293
constexpr uint8_t kProtoUdp = 17;  // RFC 768
constexpr size_t kIpv4Header = 20;  // RFC 791 section 3.1, without options
constexpr size_t kIpv6Header = 40;  // RFC 8200 section 3
constexpr size_t kTcpHeader = 20;   // RFC 9293 section 3.1, without options
constexpr size_t kUdpHeader = 8;    // RFC 768

// TCP flags (RFC 9293 section 3.1; CWR and ECE from RFC 3168 section 6.1).
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kUrg = 0x20, kCwr = 0x80;
// IPv4 flags and fragment offset (RFC 791 section 3.1).
constexpr uint16_t kMoreFragments = 0x2000, kDontFragment = 0x4000, kOffsetMask = 0x1fff;

// The kernel's limits for one GRO packet: MAX_GRO_SKBS and UDP_GRO_CNT_MAX
// segments, and the 16-bit IP length.
constexpr uint32_t kMaxSegments = 64;
constexpr uint32_t kMaxIpLength = 65535;
constexpr size_t kProbeLimit = 32;
// virtio-net header, IPv6 header, TCP header with 40 bytes of options.
constexpr size_t kHeaderRoom = kVirtioNetHeaderSize + kIpv6Header + 60;
constexpr uint32_t kNoMember = UINT32_MAX;

uint8_t u8(std::span<const std::byte> p, size_t at) { return std::to_integer<uint8_t>(p[at]); }
uint16_t be16(std::span<const std::byte> p, size_t at) { return static_cast<uint16_t>(u8(p, at) << 8 | u8(p, at + 1)); }
uint32_t be32(std::span<const std::byte> p, size_t at) {
  return static_cast<uint32_t>(be16(p, at)) << 16 | be16(p, at + 2);
}
void put16(std::byte* p, uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xff);
}
// Bytes [from, to) of a and b are equal.
bool same(std::span<const std::byte> a, std::span<const std::byte> b, size_t from, size_t to) {
  return std::memcmp(a.data() + from, b.data() + from, to - from) == 0;
}

// A checksum verifies when the sum over the covered bytes, the checksum
// field included, folds to all ones (RFC 1071 section 1).
bool verifies(uint64_t sum) { return checksum_fold(sum) == 0xffff; }

uint64_t mix(uint64_t h, uint64_t word) { return (h ^ word) * 0x9e3779b97f4a7c15ULL; }

}  // namespace

struct Coalescer::Parsed {
  FlowKey key;               // kind kOther: the packet belongs to no flow
  bool eligible = false;     // may open or join a super-packet
  bool bad_checksum = false;
  uint8_t ip_header = 0, transport_header = 0;
  uint8_t flags = 0;         // TCP
  uint16_t payload = 0;
  uint32_t seq = 0;          // TCP
  bool tcp() const { return key.kind == Kind::kTcp4 || key.kind == Kind::kTcp6; }
  bool v4() const { return key.kind == Kind::kTcp4 || key.kind == Kind::kUdp4; }
};

Coalescer::Coalescer(GroOptions options)
    : options_(options),
      members_(options.max_packets),
      flows_(options.max_packets),
      headers_((options.max_packets / 2 + 1) * kHeaderRoom),
      parts_(2 * options.max_packets),
      out_(options.max_packets) {
  size_t slots = 16;
  while (slots < 4 * options.max_packets) slots *= 2;
  slots_.resize(slots);
}

// Which flow a packet belongs to, and whether it may be coalesced. A packet
// has a flow as soon as its addresses and ports can be read, so that one
// that cannot join still closes its flow's super-packet (arrival order).
Coalescer::Parsed Coalescer::classify(std::span<const std::byte> p, const GroOptions& options) {
  Parsed r;
  if (p.empty()) return r;
  const auto wanted = [&](uint8_t proto) {
    return (proto == kProtoTcp && options.tcp) || (proto == kProtoUdp && options.udp);
  };
  const uint8_t version = u8(p, 0) >> 4;
  bool headers_fit = false;  // the IP header is one that may be coalesced
  if (version == 4) {
    const size_t ihl = (u8(p, 0) & 0x0f) * size_t{4};
    if (p.size() < kIpv4Header || ihl < kIpv4Header || p.size() < ihl + 4 || !wanted(u8(p, 9))) return r;
    const uint16_t fragment = be16(p, 6);
    if ((fragment & kOffsetMask) != 0) return r;  // a later fragment: no ports
    r.key.kind = u8(p, 9) == kProtoTcp ? Kind::kTcp4 : Kind::kUdp4;
    std::memcpy(r.key.addresses.data(), p.data() + 12, 8);
    r.key.ports = be32(p, ihl);
    r.ip_header = static_cast<uint8_t>(ihl);
    headers_fit = ihl == kIpv4Header && (fragment & kMoreFragments) == 0 && be16(p, 2) == p.size();
    if (headers_fit && !verifies(checksum_add(p.first(kIpv4Header)))) {
      r.bad_checksum = true;
      return r;
    }
  } else if (version == 6) {
    if (p.size() < kIpv6Header + 4 || !wanted(u8(p, 6))) return r;
    r.key.kind = u8(p, 6) == kProtoTcp ? Kind::kTcp6 : Kind::kUdp6;
    std::memcpy(r.key.addresses.data(), p.data() + 8, 32);
    r.key.ports = be32(p, kIpv6Header);
    r.ip_header = kIpv6Header;
    headers_fit = be16(p, 4) + kIpv6Header == p.size();
  }
  if (headers_fit && p.size() <= kMaxIpLength) check_transport(p, r);
  return r;
}

// The transport header of a packet whose IP header may be coalesced: sets
// eligible, or bad_checksum.
void Coalescer::check_transport(std::span<const std::byte> p, Parsed& r) {
  const size_t off = r.ip_header;
  size_t header = kUdpHeader;
  if (r.tcp()) {
    if (p.size() < off + kTcpHeader) return;
    header = (u8(p, off + 12) >> 4) * size_t{4};
    r.flags = u8(p, off + 13);
    if (header < kTcpHeader || p.size() < off + header || (r.flags & (kSyn | kRst | kUrg | kCwr)) != 0) return;
    r.seq = be32(p, off + 4);
  } else {
    if (p.size() < off + kUdpHeader || be16(p, off + 4) != p.size() - off) return;
    if (be16(p, off + 6) == 0) return;  // no checksum (RFC 768): nothing to verify
  }
  if (p.size() == off + header) return;  // no payload
  const auto addresses = r.v4() ? p.subspan(12, 8) : p.subspan(8, 32);
  const auto segment = p.subspan(off);
  const uint8_t proto = r.tcp() ? kProtoTcp : kProtoUdp;
  if (!verifies(pseudo_header_sum(addresses, proto, static_cast<uint32_t>(segment.size())) +
                checksum_add(segment))) {
    r.bad_checksum = true;
    return;
  }
  r.transport_header = static_cast<uint8_t>(header);
  r.payload = static_cast<uint16_t>(p.size() - off - header);
  r.eligible = true;
}

bool Coalescer::add(std::span<const std::byte> packet) {
  if (finished_) start_batch();
  if (members_used_ == options_.max_packets) return false;
  const auto member = static_cast<uint32_t>(members_used_++);
  members_[member] = {packet, kNoMember};
  ++batch_.packets_in;
  const Parsed parsed = classify(packet, options_);
  if (parsed.bad_checksum) ++batch_.bad_checksum;
  if (parsed.key.kind == Kind::kOther) {
    open_flow(member, parsed);
    return true;
  }
  Slot* slot = find_slot(parsed.key);
  if (slot != nullptr && slot->generation == generation_ && parsed.eligible &&
      joins(flows_[slot->flow], packet, parsed)) {
    append(flows_[slot->flow], member, parsed);
    return true;
  }
  const uint32_t flow = open_flow(member, parsed);
  if (slot != nullptr) *slot = {generation_, flow};
  return true;
}

void Coalescer::start_batch() {
  members_used_ = flows_used_ = out_used_ = 0;
  batch_ = {};
  finished_ = false;
  if (++generation_ == 0) {  // wrapped: slots of generation 0 would look current
    std::fill(slots_.begin(), slots_.end(), Slot{});
    generation_ = 1;
  }
}

// The slot that holds the flow, or the empty slot where it goes; nullptr
// when neither is within kProbeLimit probes (the flow is then not
// coalesced: none of its packets finds an earlier one, so order holds).
Coalescer::Slot* Coalescer::find_slot(const FlowKey& key) {
  uint64_t h = mix(static_cast<uint64_t>(key.kind), key.ports);
  for (size_t i = 0; i < key.addresses.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, key.addresses.data() + i, 8);
    h = mix(h, word);
  }
  const size_t mask = slots_.size() - 1;
  size_t at = static_cast<size_t>(h ^ (h >> 31)) & mask;
  for (size_t probe = 0; probe < std::min(kProbeLimit, slots_.size()); ++probe, at = (at + 1) & mask) {
    Slot& slot = slots_[at];
    if (slot.generation != generation_ || flows_[slot.flow].key == key) return &slot;
  }
  return nullptr;
}

// The joining rules of gro.hpp, for an eligible packet of the flow.
bool Coalescer::joins(const Flow& flow, std::span<const std::byte> p, const Parsed& r) const {
  if (!flow.open || flow.count >= kMaxSegments || r.payload > flow.gso_size ||
      flow.ip_length + r.payload > kMaxIpLength || r.transport_header != flow.transport_header)
    return false;
  const auto head = members_[flow.head].bytes;
  if (r.v4()) {
    // TOS; DF and the reserved bit; TTL; without DF, the ID in sequence.
    if (u8(head, 1) != u8(p, 1) || (u8(head, 6) & 0xe0) != (u8(p, 6) & 0xe0) || u8(head, 8) != u8(p, 8)) return false;
    if ((be16(head, 6) & kDontFragment) == 0 && be16(p, 4) != static_cast<uint16_t>(be16(head, 4) + flow.count))
      return false;
  } else if (!same(head, p, 0, 4) || u8(head, 7) != u8(p, 7)) {  // traffic class, flow label; hop limit
    return false;
  }
  if (!r.tcp()) return true;
  const size_t off = r.ip_header;
  const size_t end = off + r.transport_header;
  // ACK number and data offset; flags but PSH and FIN; window; urgent pointer and options.
  return r.seq == flow.next_seq && same(head, p, off + 8, off + 13) &&
         (r.flags & ~(kPsh | kFin)) == u8(head, off + 13) && same(head, p, off + 14, off + 16) &&
         same(head, p, off + 18, end);
}

void Coalescer::append(Flow& flow, uint32_t member, const Parsed& r) {
  members_[flow.tail].next = member;
  flow.tail = member;
  ++flow.count;
  flow.ip_length += r.payload;
  flow.next_seq += r.payload;
  flow.last_flags = r.flags;
  // A shorter segment can only be the last (the kernel cuts at gso_size);
  // PSH and FIN belong to the last segment (RFC 9293 sections 3.9.1, 3.6).
  if (r.payload < flow.gso_size || (r.tcp() && (r.flags & (kPsh | kFin)) != 0)) flow.open = false;
  ++batch_.coalesced;
}

uint32_t Coalescer::open_flow(uint32_t member, const Parsed& r) {
  const auto index = static_cast<uint32_t>(flows_used_++);
  Flow& flow = flows_[index];
  flow = Flow{.key = r.key, .head = member, .tail = member, .count = 1};
  if (!r.eligible) return index;
  flow.ip_length = static_cast<uint32_t>(members_[member].bytes.size());
  flow.next_seq = r.seq + r.payload;
  flow.gso_size = r.payload;
  flow.ip_header = r.ip_header;
  flow.transport_header = r.transport_header;
  flow.last_flags = r.flags;
  flow.open = !(r.tcp() && (r.flags & (kPsh | kFin)) != 0);
  return index;
}

// The super-packet's virtio-net header and IP and transport headers, into
// `out` (kHeaderRoom bytes).
std::span<const std::byte> Coalescer::write_headers(const Flow& flow, std::byte* out) const {
  const bool tcp = flow.key.kind == Kind::kTcp4 || flow.key.kind == Kind::kTcp6;
  const bool v4 = flow.key.kind == Kind::kTcp4 || flow.key.kind == Kind::kUdp4;
  const size_t iph = flow.ip_header;
  const size_t headers = iph + flow.transport_header;
  GsoType type = GsoType::kUdpL4;
  if (tcp) type = v4 ? GsoType::kTcpV4 : GsoType::kTcpV6;
  encode_virtio_net({.flags = kNeedsChecksum,
                     .gso_type = type,
                     .header_length = static_cast<uint16_t>(headers),
                     .gso_size = flow.gso_size,
                     .checksum_start = static_cast<uint16_t>(iph),
                     .checksum_offset = static_cast<uint16_t>(tcp ? 16 : 6)},
                    std::span(out, kVirtioNetHeaderSize));
  std::byte* ip = out + kVirtioNetHeaderSize;
  std::memcpy(ip, members_[flow.head].bytes.data(), headers);
  const auto transport_length = static_cast<uint16_t>(flow.ip_length - iph);
  if (v4) {
    put16(ip + 2, static_cast<uint16_t>(flow.ip_length));
    put16(ip + 10, 0);
    put16(ip + 10, checksum_finish(checksum_add(std::span<const std::byte>(ip, kIpv4Header))));
  } else {
    put16(ip + 4, transport_length);
  }
  if (tcp) {
    ip[iph + 13] |= static_cast<std::byte>(flow.last_flags & (kPsh | kFin));
  } else {
    put16(ip + iph + 4, transport_length);
  }
  const auto addresses = v4 ? std::span<const std::byte>(ip + 12, 8) : std::span<const std::byte>(ip + 8, 32);
  // The kernel folds in the sum from checksum_start on and stores its
  // complement (kNeedsChecksum), so the field holds the bare pseudo-header
  // sum (RFC 9293 section 3.1, RFC 768, RFC 8200 section 8.1).
  put16(ip + iph + (tcp ? 16 : 6),
        checksum_fold(pseudo_header_sum(addresses, tcp ? kProtoTcp : kProtoUdp, transport_length)));
  return {out, kVirtioNetHeaderSize + headers};
}

std::span<const GroPacket> Coalescer::finish() {
  // Nothing added since the last finish: an empty batch. Giving the last
  // batch back again would write its packets twice, from buffers the caller
  // has refilled since (docs/design.md, "Offloads: coalescing on the way in").
  if (finished_) start_batch();
  size_t part = 0, header_slot = 0;
  for (size_t i = 0; i < flows_used_; ++i) {
    const Flow& flow = flows_[i];
    const size_t first = part;
    if (flow.count == 1) {
      parts_[part++] = zero_header_;
      parts_[part++] = members_[flow.head].bytes;
    } else {
      parts_[part++] = write_headers(flow, headers_.data() + kHeaderRoom * header_slot++);
      const size_t headers = size_t{flow.ip_header} + flow.transport_header;
      for (uint32_t m = flow.head; m != kNoMember; m = members_[m].next) parts_[part++] = members_[m].bytes.subspan(headers);
    }
    out_[out_used_++] = {std::span(parts_.data() + first, part - first)};
  }
  batch_.packets_out = out_used_;
  tally_ = batch_;
  finished_ = true;
  return {out_.data(), out_used_};
}

}  // namespace cordon::offload
