#include "core/wire/unreachable.hpp"

#include <algorithm>

#include "core/offload/checksum.hpp"
#include "core/wire/inner_packet.hpp"

namespace cordon::wire {
namespace {

using offload::checksum_add;
using offload::checksum_finish;
using offload::pseudo_header_sum;

constexpr uint8_t kIcmp = 1, kTcp = 6, kIcmpv6 = 58;  // IP protocol numbers
constexpr size_t kIpv4Header = 20;  // the reply's, without options (RFC 791 section 3.1)
constexpr size_t kIpv6Header = 40;  // RFC 8200 section 3
constexpr size_t kTcpHeader = 20;   // RFC 9293 section 3.1, without options
constexpr size_t kIcmpHeader = 8;   // type, code, checksum, 4 more (RFC 792; RFC 4443 section 2.1)
constexpr size_t kQuoteBeyondHeader = 8;  // RFC 792: the IP header "+ 64 bits of Original Data"
constexpr uint8_t kHopLimit = 64;         // TTL and hop limit of a reply (RFC 1700's default TTL)
constexpr uint16_t kDontFragment = 0x4000;  // RFC 791 section 3.1, flags
// TCP flags (RFC 9293 section 3.1).
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
// IPv6 extension headers walked to the upper-layer header (RFC 8200
// section 4.1; RFC 4302 section 2.2 for AH), and at most this many.
constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kAuthHeader = 51, kDestination = 60;
constexpr int kMaxExtensionHeaders = 8;

uint8_t u8(ByteSpan p, size_t at) { return std::to_integer<uint8_t>(p[at]); }
uint16_t be16(ByteSpan p, size_t at) { return static_cast<uint16_t>(u8(p, at) << 8 | u8(p, at + 1)); }
uint32_t be32(ByteSpan p, size_t at) { return uint32_t{be16(p, at)} << 16 | be16(p, at + 2); }
void put16(MutableByteSpan p, size_t at, uint16_t v) {
  p[at] = std::byte{static_cast<uint8_t>(v >> 8)};
  p[at + 1] = std::byte{static_cast<uint8_t>(v)};
}
void put32(MutableByteSpan p, size_t at, uint32_t v) {
  put16(p, at, static_cast<uint16_t>(v >> 16));
  put16(p, at + 2, static_cast<uint16_t>(v));
}

// What the reply is built from: the invoking packet up to its IP total
// length, and where its upper-layer header starts.
struct Invoking {
  ByteSpan ip;
  IpAddress source, destination;
  size_t header = 0;        // the IP header: IHL * 4, or 40
  uint8_t protocol = 0;     // the upper-layer protocol
  size_t transport_at = 0;  // where its header starts
  bool more_fragments = false;  // a first fragment: the segment goes on in others
};

bool is_extension_header(uint8_t next) {
  return next == kHopByHop || next == kRouting || next == kFragment || next == kAuthHeader || next == kDestination;
}

// The IPv6 header chain up to the upper-layer header. nullopt for a chain
// that leaves the packet or goes on too long, and for a later fragment,
// which RFC 4443 section 2.4 (e) and RFC 1122 section 3.2.2 leave
// unanswered (it does not carry the upper-layer header to judge).
std::optional<Invoking> walk_v6(Invoking in) {
  uint8_t next = u8(in.ip, 6);
  size_t at = kIpv6Header;
  for (int i = 0; is_extension_header(next); ++i) {
    if (i == kMaxExtensionHeaders || at + 8 > in.ip.size()) return std::nullopt;
    const uint8_t type = next;
    next = u8(in.ip, at);
    if (type == kFragment) {
      if (be16(in.ip, at + 2) >> 3 != 0) return std::nullopt;  // RFC 8200 section 4.5: offset
      in.more_fragments = in.more_fragments || (u8(in.ip, at + 3) & 1) != 0;
      at += 8;
    } else {
      const size_t length = u8(in.ip, at + 1);
      at += type == kAuthHeader ? (length + 2) * 4 : (length + 1) * 8;
    }
  }
  if (at > in.ip.size()) return std::nullopt;
  in.protocol = next;
  in.transport_at = at;
  return in;
}

std::optional<Invoking> read_invoking(ByteSpan packet) {
  const auto inner = parse_inner(packet);  // version, IHL, total length
  if (!inner) return std::nullopt;
  Invoking in{packet.first(inner->length), inner->source, inner->destination};
  if (!inner->source.is_v4()) {
    in.header = kIpv6Header;
    return walk_v6(in);
  }
  in.header = (u8(in.ip, 0) & 0x0f) * size_t{4};
  in.protocol = u8(in.ip, 9);
  in.transport_at = in.header;
  const uint16_t fragment = be16(in.ip, 6);  // RFC 791 section 3.1: flags, offset
  if ((fragment & 0x1fff) != 0) return std::nullopt;  // a later fragment: RFC 1122 section 3.2.2
  in.more_fragments = (fragment & 0x2000) != 0;
  return in;
}

// RFC 1122 section 3.2.2 (and its section 3.2.1.3 for the addresses): no
// ICMP error for a source that does not name a single host ("a zero
// address, a loopback address, a broadcast address, a multicast address,
// or a Class E address"), nor to a broadcast or multicast destination; the
// reserved class E is no unicast destination either. RFC 4443 section
// 2.4 (e) for IPv6: not for the unspecified, loopback or a multicast
// source, nor a multicast destination.
bool addresses_allow_reply(const IpAddress& source, const IpAddress& destination) {
  const auto& s = source.bytes;
  if (source.is_v4()) return s[0] != 0 && s[0] != 127 && s[0] < 224 && destination.bytes[0] < 224;
  const bool unspecified_or_loopback = std::all_of(s.begin(), s.begin() + 15, [](uint8_t b) { return b == 0; }) &&
                                       (s[15] == 0 || s[15] == 1);
  return !unspecified_or_loopback && s[0] != 0xff && destination.bytes[0] != 0xff;
}

// ICMP error messages (RFC 1122 section 3.2.2: destination unreachable,
// source quench, redirect, time exceeded, parameter problem; RFC 4443
// section 2.1: ICMPv6 types below 128), which are never answered.
bool is_icmp_error(bool v4, uint8_t type) {
  return v4 ? (type == 3 || type == 4 || type == 5 || type == 11 || type == 12) : type < 128;
}

UnreachableReply choose_tcp(const Invoking& in, ByteSpan tcp) {
  if (tcp.size() < kTcpHeader) return UnreachableReply::kNone;
  const size_t data_offset = (u8(tcp, 12) >> 4) * size_t{4};
  if (data_offset < kTcpHeader || data_offset > tcp.size()) return UnreachableReply::kNone;
  const uint8_t flags = u8(tcp, 13);
  if (flags & kRst) return UnreachableReply::kNone;  // RFC 9293 section 3.10.7.1: never answer a reset
  // A first fragment without ACK: the segment's length, and so the reset's
  // ACK, is not known before reassembly. TCP behind IPv6 extension headers:
  // a Routing header would make the destination field other than the
  // address the application talks to (RFC 8200 section 8.1). Both get the
  // ICMP error, which TCP also hears (RFC 1122 section 4.2.3.9).
  if ((in.more_fragments && !(flags & kAck)) || in.transport_at != in.header) return UnreachableReply::kIcmp;
  return UnreachableReply::kTcpReset;
}

UnreachableReply choose(const Invoking& in) {
  if (!addresses_allow_reply(in.source, in.destination)) return UnreachableReply::kNone;
  const ByteSpan transport = in.ip.subspan(in.transport_at);
  const bool v4 = in.source.is_v4();
  if (in.protocol == kTcp) return choose_tcp(in, transport);
  if (in.protocol != (v4 ? kIcmp : kIcmpv6)) return UnreachableReply::kIcmp;
  // Informational messages such as echo requests are answered (RFC 1122
  // section 3.2.2 names only errors); a cut header cannot be judged.
  if (transport.size() < kIcmpHeader || is_icmp_error(v4, u8(transport, 0))) return UnreachableReply::kNone;
  return UnreachableReply::kIcmp;
}

// The reply's IP header, from `source` to `destination`, carrying
// `payload` bytes of `protocol`. Returns its size.
size_t write_ip(MutableByteSpan out, const IpAddress& source, const IpAddress& destination, uint8_t protocol,
                size_t payload) {
  const bool v4 = source.is_v4();
  const size_t header = v4 ? kIpv4Header : kIpv6Header;
  std::fill_n(out.begin(), header, std::byte{0});
  const size_t addresses = v4 ? 12 : 8, size = source.size();  // both of the same family
  const auto to_byte = [](uint8_t b) { return std::byte{b}; };
  std::transform(source.bytes.begin(), source.bytes.begin() + size, out.begin() + addresses, to_byte);
  std::transform(destination.bytes.begin(), destination.bytes.begin() + size, out.begin() + addresses + size, to_byte);
  if (!v4) {  // RFC 8200 section 3: version 6, class 0, flow label 0
    out[0] = std::byte{0x60};
    put16(out, 4, static_cast<uint16_t>(payload));
    out[6] = std::byte{protocol};
    out[7] = std::byte{kHopLimit};
    return header;
  }
  // RFC 791 section 3.1: version 4, IHL 5, identification 0 with DF set
  // (RFC 6864 section 4.1: an atomic datagram's ID carries no meaning).
  out[0] = std::byte{0x45};
  put16(out, 2, static_cast<uint16_t>(header + payload));
  put16(out, 6, kDontFragment);
  out[8] = std::byte{kHopLimit};
  out[9] = std::byte{protocol};
  put16(out, 10, checksum_finish(checksum_add(out.first(header))));
  return header;
}

// The pseudo-header sum of the reply whose IP header lies at the start of
// `out` (RFC 9293 section 3.1; RFC 8200 section 8.1).
uint64_t pseudo_sum(MutableByteSpan out, bool v4, uint8_t protocol, size_t length) {
  return pseudo_header_sum(v4 ? out.subspan(12, 8) : out.subspan(8, 32), protocol, static_cast<uint32_t>(length));
}

// A segment to a connection that does not exist (RFC 9293 section
// 3.10.7.1, the CLOSED state; section 3.5.2, "Reset Generation"), from the
// segment's destination to its source, so that the sender accepts it:
// with ACK, <SEQ=SEG.ACK><CTL=RST>; without, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
// <CTL=RST,ACK>.
UnreachableResult write_reset(const Invoking& in, MutableByteSpan out) {
  const bool v4 = in.source.is_v4();
  if (out.size() < (v4 ? kIpv4Header : kIpv6Header) + kTcpHeader) return {};
  const ByteSpan segment = in.ip.subspan(in.transport_at);  // cut at the IP total length
  const size_t ip = write_ip(out, in.destination, in.source, kTcp, kTcpHeader);
  const MutableByteSpan tcp = out.subspan(ip, kTcpHeader);
  std::fill(tcp.begin(), tcp.end(), std::byte{0});  // window 0, urgent pointer 0, no options
  put16(tcp, 0, be16(segment, 2));
  put16(tcp, 2, be16(segment, 0));
  const uint8_t flags = u8(segment, 13);
  if (flags & kAck) {
    put32(tcp, 4, be32(segment, 8));
    tcp[13] = std::byte{kRst};
  } else {
    // SEG.LEN counts SYN and FIN, one each (RFC 9293 section 3.4).
    const size_t data = segment.size() - (u8(segment, 12) >> 4) * size_t{4};
    const size_t length = data + ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);
    put32(tcp, 8, be32(segment, 4) + static_cast<uint32_t>(length));
    tcp[13] = std::byte{kRst | kAck};
  }
  tcp[12] = std::byte{(kTcpHeader / 4) << 4};
  put16(tcp, 16, checksum_finish(checksum_add(tcp, pseudo_sum(out, v4, kTcp, kTcpHeader))));
  return {UnreachableReply::kTcpReset, ip + kTcpHeader};
}

// Destination unreachable, code 0 both ways: the gateway has no path left
// to the site's prefix, the case RFC 1812 section 4.3.3.1 gives code 0
// (network unreachable) and RFC 4443 section 3.1 code 0 (no route to
// destination, "lack of a matching entry in the forwarding node's routing
// table"). The host codes (IPv4 1, IPv6 3 "address unreachable") are for
// one host on a reachable network (RFC 1812 section 5.2.7.1); here the
// whole site is cut off.
UnreachableResult write_icmp(const Invoking& in, const std::optional<IpAddress>& icmp_source, MutableByteSpan out) {
  const bool v4 = in.source.is_v4();
  const size_t ip_header = v4 ? kIpv4Header : kIpv6Header;
  const size_t room = std::min(v4 ? kMaxIcmpv4Reply : kMaxUnreachableReply, out.size());
  const size_t least = std::min(in.ip.size(), in.header + kQuoteBeyondHeader);
  if (room < ip_header + kIcmpHeader + least) return {};
  // RFC 1812 section 4.3.2.3; RFC 4443 section 2.4 (c): as much as fits.
  const size_t quote = std::min(in.ip.size(), room - ip_header - kIcmpHeader);
  const IpAddress& from = icmp_source && icmp_source->family == in.source.family ? *icmp_source : in.destination;
  const size_t ip = write_ip(out, from, in.source, v4 ? kIcmp : kIcmpv6, kIcmpHeader + quote);
  const MutableByteSpan icmp = out.subspan(ip, kIcmpHeader + quote);
  std::fill_n(icmp.begin(), kIcmpHeader, std::byte{0});  // code 0, checksum 0, unused 0
  icmp[0] = std::byte{v4 ? uint8_t{3} : uint8_t{1}};     // RFC 792; RFC 4443 section 3.1
  std::copy_n(in.ip.begin(), quote, icmp.begin() + kIcmpHeader);
  // RFC 792: the ICMP message alone; RFC 4443 section 2.3: with the
  // pseudo-header.
  const uint64_t pseudo = v4 ? 0 : pseudo_sum(out, v4, kIcmpv6, icmp.size());
  put16(icmp, 2, checksum_finish(checksum_add(icmp, pseudo)));
  return {UnreachableReply::kIcmp, ip + icmp.size()};
}

}  // namespace

UnreachableResult make_unreachable_reply(ByteSpan packet, std::optional<IpAddress> icmp_source, MutableByteSpan out) {
  const auto in = read_invoking(packet);
  if (!in) return {};
  switch (choose(*in)) {
    case UnreachableReply::kTcpReset:
      return write_reset(*in, out);
    case UnreachableReply::kIcmp:
      return write_icmp(*in, icmp_source, out);
    case UnreachableReply::kNone:
      break;
  }
  return {};
}

}  // namespace cordon::wire
