// The reply to an inner packet a local application sent towards a site
// whose link is lost. The daemon writes it back into the tunnel device, so
// the local kernel hands it to the application, which fails at once instead
// of timing out:
//
//   TCP (RFC 9293 section 3.10.7.1, "Reset Generation"): a reset from the
//   segment's destination address and port to its source.
//
//     +-----------------------+---------------------------------------------+
//     | IPv4 20 / IPv6 40     | TCP 20: ports swapped, SEQ, ACK, offset 5,  |
//     | TTL / hop limit 64    | RST or RST|ACK, window 0, checksum, urg 0   |
//     +-----------------------+---------------------------------------------+
//
//   Anything else: ICMP destination unreachable, code 0 (RFC 792; RFC 1812
//   section 4.3.3.1) or ICMPv6 destination unreachable, code 0 (RFC 4443
//   section 3.1), quoting the invoking packet from its first byte.
//
//     +-----------------------+------+------+----------+----------+--------------+
//     | IPv4 20 / IPv6 40     | type | code | checksum | unused 4 | quoted packet |
//     +-----------------------+------+------+----------+----------+--------------+
//     IPv4: the whole reply at most 576 bytes (RFC 1812 section 4.3.2.3);
//     IPv6: at most 1280, the minimum MTU (RFC 4443 section 2.4 (c)).
//
// Nothing is sent for what RFC 1122 section 3.2.2 and RFC 4443 section
// 2.4 (e) forbid answering: ICMP errors, later fragments, sources that name
// no single host, multicast or broadcast destinations; nor for a TCP reset
// (RFC 9293 section 3.10.7.1) or a malformed packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/types.hpp"

namespace cordon::wire {

enum class UnreachableReply : uint8_t { kNone, kTcpReset, kIcmp };

struct UnreachableResult {
  UnreachableReply kind = UnreachableReply::kNone;
  size_t length = 0;  // bytes of the reply at the start of `out`; 0 for kNone
};

// The largest reply: an ICMPv6 error filled up to the IPv6 minimum MTU
// (RFC 8200 section 5; RFC 4443 section 2.4 (c)). An ICMPv4 error stops at
// kMaxIcmpv4Reply, a reset at 60 bytes.
inline constexpr size_t kMaxUnreachableReply = 1280;
inline constexpr size_t kMaxIcmpv4Reply = 576;  // RFC 1812 section 4.3.2.3

// `packet`: one inner IPv4 or IPv6 packet as read from the tunnel; bytes
// after its IP total length are padding and ignored.
// `icmp_source`: the address an ICMP error comes from (this gateway's
// tunnel address of the packet's family); when nullopt or of the other
// family, the packet's own destination is used. A reset always comes from
// the packet's destination, the address the application talks to.
// Writes the reply at the start of `out` and returns its kind and length.
// `out` should hold kMaxUnreachableReply bytes: a shorter one cuts the
// ICMP quote, and when even the IP header and 8 bytes past it (RFC 792), or
// the whole reset, do not fit, nothing is written and kNone is returned.
// Never throws, never reads past `packet` nor writes past `out`.
UnreachableResult make_unreachable_reply(std::span<const std::byte> packet, std::optional<IpAddress> icmp_source,
                                         std::span<std::byte> out);

}  // namespace cordon::wire
