// Splitting on the way out: a packet read from a TUN queue opened with
// IFF_VNET_HDR may be a TSO or USO super-packet of up to 64 KiB (the
// virtio-net header says so, virtio_net.hpp). The worker cuts it here into
// complete inner packets that each fit the tunnel MTU, just before sealing,
// into the buffers that go to the socket (docs/design.md, "Offloads:
// splitting on the way out").
//
// The rules, from the Linux kernel's software segmentation, which is what
// the packet would have met on a device without the offload
// (tcp_gso_segment, __udp_gso_segment and inet_gso_segment/ipv6_gso_segment):
//   - TCP (RFC 9293): every segment carries a copy of the IP and TCP headers
//     and at most `size` payload bytes, where size is gso_size, or less when
//     the headers plus gso_size would not fit the MTU (smaller segments are
//     valid TCP, RFC 9293 section 3.7.1). Segment i has sequence number
//     seq + i*size (mod 2^32); FIN and PSH stay only on the last segment,
//     CWR only on the first.
//   - UDP (USO, RFC 768): every segment is one datagram of gso_size payload
//     bytes (the last may be shorter), with its own length and checksum.
//     Datagram boundaries are the application's, so a datagram that would
//     not fit the MTU is refused (kBadGsoSize), not cut further.
//   - IPv4 (RFC 791): total length, identification + i (mod 2^16) and the
//     header checksum per segment. IPv6 (RFC 8200): payload length.
//   - Every checksum in a segment is complete: the sender's kernel left the
//     transport checksum to the device (kNeedsChecksum), and Cordon is the
//     device.
//
// Pure: no system calls, no clock, no allocation, no exceptions. The header
// lengths are read from the packet (IPv4 IHL, TCP data offset, UDP 8), not
// taken from virtio-net's hdr_len: the kernel fills hdr_len with the length
// of the linear part of its buffer ("a hint", virtio_net_hdr_from_skb), which
// is not always the header length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/offload/virtio_net.hpp"
#include "core/result.hpp"

namespace cordon::offload {

// Why a packet from the TUN was not split. Each has a counter under the
// name to_string() gives; never rename one.
enum class SplitDrop : uint8_t {
  kNotIp,             // not IPv4/IPv6, or the IP header is cut short or inconsistent (IHL < 5,
                      // total length below the headers), or a TCP data offset below 5
  kTruncated,         // the packet is shorter than its headers say
  kBadChecksumFields, // checksum_start/offset outside the packet (kNeedsChecksum), or not
                      // pointing at the transport checksum of a GSO packet
  kUnsupportedGso,    // kUdp (UFO), GSO over a protocol that doesn't match gso_type, an IPv4
                      // fragment, IPv6 extension headers
  kBadGsoSize,        // gso_size 0 for a GSO packet, headers that leave no room for payload
                      // within the MTU, or a UDP segment that does not fit the MTU
  kTooManySegments,   // more than kMaxSegments
  kOutTooSmall,       // an out buffer holds less than offset + segment length: a caller bug
};
constexpr size_t kSplitDropCount = 7;

// Snake-case names for counters: "not_ip", "truncated", ...
const char* to_string(SplitDrop drop);

// A 64 KiB super-packet cut at the smallest sensible MTU (IPv6's 1280, RFC
// 8200 section 5) gives 52 segments; this bound only stops a gso_size of a
// few bytes from turning one read into tens of thousands of packets.
constexpr size_t kMaxSegments = 1024;

// How many inner packets `packet` (the bytes after the virtio-net header)
// becomes when cut so that each fits in `mtu` bytes. A packet with gso_type
// kNone is 1 (whatever its size: the caller checks it against the MTU).
Result<size_t, SplitDrop> segment_count(const VirtioNetHeader& header, std::span<const std::byte> packet,
                                        size_t mtu);

// Writes segments [first, first + k) of `packet` into out[i] starting at
// byte `offset` (the worker's headroom), their lengths into sizes[i], with
// k = min(out.size(), sizes.size(), segment_count - first); returns k (0
// when first is at or past the count). Every segment is a complete inner
// packet with every checksum complete (IPv4 header checksum, TCP/UDP
// checksum). kNone with kNeedsChecksum: the one packet copied with its
// checksum completed; kNone without it: copied as is.
//
// Preconditions, checked: each out[i] holds offset + sizes[i] bytes (else
// kOutTooSmall, and nothing is written outside it; segments before it are
// written). `out` must not overlap `packet`.
Result<size_t, SplitDrop> split(const VirtioNetHeader& header, std::span<const std::byte> packet, size_t mtu,
                                size_t first, std::span<const std::span<std::byte>> out, std::span<size_t> sizes,
                                size_t offset);

}  // namespace cordon::offload
