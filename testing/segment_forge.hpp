// TCP and UDP packets over IPv4 and IPv6 built by hand, with their
// checksums, and super-packets cut back into segments the way the kernel's
// TSO/USO does, for the tests, fuzz target and benchmark of the GRO
// coalescer (core/offload/gro.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cordon::testing {

struct SegmentSpec {
  bool v6 = false;
  bool udp = false;
  std::array<uint8_t, 16> source{}, destination{};  // IPv4 uses the first 4 bytes
  uint16_t source_port = 0, destination_port = 0;
  uint32_t seq = 0, ack = 0;    // TCP
  uint8_t flags = 0x10;         // TCP: ACK
  uint16_t window = 0xffff;     // TCP
  uint16_t urgent = 0;          // TCP
  std::vector<std::byte> options;  // TCP options, a multiple of 4 bytes, at most 40
  uint8_t tos = 0;              // IPv4 TOS, IPv6 traffic class
  uint8_t ttl = 64;             // IPv4 TTL, IPv6 hop limit
  uint16_t id = 0;              // IPv4
  bool dont_fragment = true;    // IPv4
  uint32_t flow_label = 0;      // IPv6
};

// The whole IP packet, every length and checksum filled in.
std::vector<std::byte> forge_segment(const SegmentSpec& spec, std::span<const std::byte> payload);

// The packets a TUN write of `written` (virtio-net header, then the packet)
// delivers: the packet itself without segmentation; otherwise its payload cut
// at gso_size after header_length bytes, each segment with the headers
// copied and then fixed: IP lengths, IPv4 ID + i and header checksum, TCP
// sequence number, PSH and FIN on the last segment only, UDP length, and a
// complete transport checksum. Empty when the header does not decode.
std::vector<std::vector<std::byte>> split_super_packet(std::span<const std::byte> written);

// Fills the TCP or UDP checksum field of a whole IP packet (IPv4 header
// without options, or IPv6 without extension headers), and for IPv4 the
// header checksum.
void fill_checksums(std::span<std::byte> packet);

}  // namespace cordon::testing
