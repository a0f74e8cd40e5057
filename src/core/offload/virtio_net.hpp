// The virtio-net header that precedes every packet on a TUN queue opened
// with IFF_VNET_HDR (Virtual I/O Device (VIRTIO) Version 1.1, section 5.1.6
// "Device Operation", struct virtio_net_hdr; the Linux UAPI header
// linux/virtio_net.h). Cordon uses the 10-byte form without num_buffers.
//
// It tells what the kernel left undone for a packet read from the TUN, and
// what Cordon leaves undone for a packet it writes:
//   - flags kNeedsChecksum: the transport checksum field holds only the
//     pseudo-header sum; the sum over bytes [checksum_start, end) is still
//     to be folded in and stored at checksum_start + checksum_offset;
//   - gso_type other than kNone: the packet is a super-packet whose payload
//     (after header_length bytes of IP and transport headers) is to be cut
//     into segments of gso_size bytes (TSO for TCP, USO for UDP).
//
// Fields are little endian: the daemon sets TUNSETVNETLE (os/linux/tun.cpp),
// so the layout does not depend on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace cordon::offload {

constexpr size_t kVirtioNetHeaderSize = 10;

// virtio_net_hdr.flags
constexpr uint8_t kNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kDataValid = 2;      // VIRTIO_NET_HDR_F_DATA_VALID

// virtio_net_hdr.gso_type (the low 7 bits; kGsoEcn is a flag on top).
enum class GsoType : uint8_t {
  kNone = 0,    // VIRTIO_NET_HDR_GSO_NONE
  kTcpV4 = 1,   // VIRTIO_NET_HDR_GSO_TCPV4
  kUdp = 3,     // VIRTIO_NET_HDR_GSO_UDP (IP fragmentation offload: refused)
  kTcpV6 = 4,   // VIRTIO_NET_HDR_GSO_TCPV6
  kUdpL4 = 5,   // VIRTIO_NET_HDR_GSO_UDP_L4 (USO, one UDP datagram per segment)
};
constexpr uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN: the sender set CWR

struct VirtioNetHeader {
  uint8_t flags = 0;
  GsoType gso_type = GsoType::kNone;
  bool ecn = false;  // kGsoEcn was set
  uint16_t header_length = 0;   // hdr_len: IP plus transport headers
  uint16_t gso_size = 0;        // payload bytes per segment
  uint16_t checksum_start = 0;  // csum_start: where the summed bytes begin
  uint16_t checksum_offset = 0; // csum_offset: the checksum field, from checksum_start

  bool operator==(const VirtioNetHeader&) const = default;
};

// Reads the first kVirtioNetHeaderSize bytes; nullopt when `bytes` is
// shorter or gso_type is not one of GsoType's values.
std::optional<VirtioNetHeader> decode_virtio_net(std::span<const std::byte> bytes);
// Writes kVirtioNetHeaderSize bytes at the start of `out` (which must hold them).
void encode_virtio_net(const VirtioNetHeader& header, std::span<std::byte> out);

}  // namespace cordon::offload
