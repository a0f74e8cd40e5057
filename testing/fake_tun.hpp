// FakeTun: the tunnel device of a simulated host, and the test packets that
// travel through it.
//
// A real TUN device has two sides. The kernel queues packets that local
// applications route into the tunnel (the node reads them), and the node
// writes decrypted packets back (the kernel delivers them). FakeTun keeps one
// queue for each side:
//
//   test --inject()--> [outbound] --read()--> node        (to be encrypted)
//   node --write()--> [delivered] --take_delivered()--> test  (decrypted)
//
// It is an os::TunQueue (os/tun_queue.hpp), so the simulation host runs the
// production worker on it (daemon/workers.hpp): the batch read copies each
// packet into the worker's buffer at its offset and, as the kernel does,
// cuts a packet longer than the room to it.
//
// Test packets are real IPv4 or IPv6 datagrams carrying UDP, so the core's
// inner-packet checks see what they would see from a kernel. The UDP payload
// carries a marker, a stream number and a sequence number, followed by a
// filler derived from both; parse_test_packet() checks every byte and both
// checksums, so a packet that arrives intact is the packet that was sent, and
// tests can count each (stream, sequence) to prove exactly-once delivery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/types.hpp"
#include "os/tun_queue.hpp"

namespace cordon::testing {

// RFC 1071 Internet checksum of `data` (odd lengths padded with a zero byte),
// as the 16-bit one's complement of the one's complement sum.
uint16_t internet_checksum(ByteSpan data);

// The checksum to store in an IPv4 header (RFC 791, section 3.1) whose
// checksum field is zero.
uint16_t ipv4_header_checksum(ByteSpan header);

constexpr size_t kIpv4HeaderSize = 20;
constexpr size_t kIpv6HeaderSize = 40;
constexpr size_t kUdpHeaderSize = 8;
// marker (8) + stream (4) + sequence (8)
constexpr size_t kTestPayloadMinSize = 20;
constexpr size_t kMinTestPacketV4 = kIpv4HeaderSize + kUdpHeaderSize + kTestPayloadMinSize;  // 48
constexpr size_t kMinTestPacketV6 = kIpv6HeaderSize + kUdpHeaderSize + kTestPayloadMinSize;  // 68

struct TestPacketSpec {
  IpAddress src;  // both addresses must be of the same family
  IpAddress dst;
  uint16_t src_port = 40000;
  uint16_t dst_port = 40001;
  uint32_t stream = 0;  // who sent it: tests give each sender its own stream
  uint64_t seq = 0;
  size_t size = 0;  // whole IP packet in bytes; 0 = the smallest test packet
};

// Builds an IPv4 (RFC 791) or IPv6 (RFC 8200) packet with a UDP (RFC 768)
// datagram inside, both checksums computed. A size below the minimum of the
// family is raised to it; above 65535 (v4) it is capped.
std::vector<std::byte> make_test_packet(const TestPacketSpec& spec);

struct TestPacketInfo {
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t stream = 0;
  uint64_t seq = 0;
  size_t size = 0;
};

// Checks a packet built by make_test_packet, byte by byte: IP version and
// lengths, the IPv4 header checksum, the UDP checksum, the marker and the
// filler. Returns nullopt if anything differs.
std::optional<TestPacketInfo> parse_test_packet(ByteSpan packet);

class FakeTun final : public os::TunQueue {
 public:
  // os::TunQueue, the worker's side.
  os::Result<size_t> read(std::span<const std::span<std::byte>> buffers, std::span<size_t> sizes,
                          size_t offset) override;
  os::Status write(std::span<const std::byte> packet) override;

  // Test side: an application sends `packet` into the tunnel.
  void inject(std::vector<std::byte> packet);
  size_t pending() const { return outbound_.size(); }

  // The next packet to encrypt, oldest first, as a copy of its own.
  std::optional<std::vector<std::byte>> read();
  uint64_t truncated() const { return truncated_; }  // packets cut to the reader's room

  // Test side: what the node has written since the last call.
  std::vector<std::vector<std::byte>> take_delivered();
  size_t delivered_pending() const { return delivered_.size(); }
  uint64_t delivered_total() const { return delivered_total_; }

  // The device went away with its queues (the packets were never read).
  void clear_outbound() { outbound_.clear(); }

 private:
  std::deque<std::vector<std::byte>> outbound_;
  std::deque<std::vector<std::byte>> delivered_;
  uint64_t delivered_total_ = 0;
  uint64_t truncated_ = 0;
};

}  // namespace cordon::testing
