// GRO on the way in: consecutive inner packets of one TCP flow (and, with
// USO, of one UDP flow) become one super-packet per TUN write, with the
// virtio-net header that tells the kernel how to treat it
// (virtio_net.hpp). The kernel's own receive offload does the same for a
// NIC (tcp_gro_receive, udp_gro_receive); the rules below follow it, so
// that the kernel can cut a super-packet back into the very segments that
// arrived (docs/design.md, "Offloads: coalescing on the way in").
//
// A packet joins the open super-packet of its flow (same IP version,
// protocol, addresses and ports) when:
//   - IPv4 (RFC 791 section 3.1): no options, not a fragment (MF = 0,
//     offset 0), total length = the packet's size, a valid header
//     checksum; TOS, TTL, DF and the reserved bit as the first packet's;
//     without DF, its ID is the first's plus its position, as the kernel's
//     segmentation writes them (with DF the ID carries no meaning, RFC 6864
//     section 4.1, and is not compared);
//   - IPv6 (RFC 8200 section 3): next header TCP or UDP (no extension
//     headers), payload length = the packet's size less 40; traffic class,
//     flow label and hop limit as the first packet's;
//   - TCP (RFC 9293 section 3.1): a valid checksum, a non-empty payload, no
//     SYN, RST, URG or CWR; the data offset, ACK number, window, urgent
//     pointer and option bytes as the first packet's; its flags as the
//     first's except that it may add PSH or FIN, which closes the
//     super-packet (a first packet with either stays alone); its sequence
//     number is the next one expected;
//   - UDP (RFC 768): only with GroOptions::udp; a non-zero checksum that
//     verifies, a length field that matches the packet;
//   - its payload is at most the first packet's (gso_size); a shorter one
//     closes the super-packet; the super-packet stays within 65,535 bytes
//     of IP packet and 64 segments (the kernel's limits for one GRO skb).
// A packet of the flow that cannot join closes the open super-packet and,
// if it may itself be joined, opens the next one; so each flow's packets
// leave in the order they came. Everything else (other protocols, later
// fragments, malformed or truncated packets, a failed checksum) leaves
// alone and unchanged.
//
// What a written packet looks like:
//   - a super-packet: the first packet's IP and transport headers with the
//     IPv4 total length and header checksum, or the IPv6 payload length,
//     (and the UDP length) updated, PSH and FIN of the last segment, and
//     the transport checksum field holding the pseudo-header sum over the
//     new length, not complemented; the virtio-net header says
//     kNeedsChecksum from the transport header on, and TCPv4, TCPv6 or
//     UDP_L4 segmentation at gso_size after header_length bytes;
//   - a packet alone: its own bytes, unchanged, after an all-zero
//     virtio-net header (no checksum claim: the kernel checks it as it
//     checks any packet, and drops one with a bad checksum).
//
// Checksums are verified before a packet joins because the super-packet's
// checksum is computed afresh by the kernel (kNeedsChecksum): a corrupted
// segment merged in would come out with a valid checksum. A packet that
// fails is counted in GroTally::bad_checksum and written alone, where the
// kernel drops it as it would have.
//
// Cost: every TCP (and UDP, with GroOptions::udp) packet is summed once;
// flows are found in an open-addressing table of 4 x max_packets slots,
// cleared per batch by a generation number. A flow whose slot is not found
// within 32 probes is not coalesced (its packets leave alone, in order).
// Nothing is allocated after the constructor; nothing throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cordon::offload {

struct GroOptions {
  bool tcp = true;            // coalesce TCP (the TUN has TSO4/TSO6)
  bool udp = false;           // coalesce UDP (the TUN has USO4/USO6)
  size_t max_packets = 1024;  // capacity per batch (storage allocated by the constructor)
};

// One packet to write to the TUN: parts[0] is the virtio-net header
// (kVirtioNetHeaderSize bytes) followed, for a super-packet, by its IP and
// transport headers (in the coalescer's own storage); parts[1..] are the
// segments' payloads, or the one whole packet, pointing into the packets
// add() took. Writing the concatenation of parts (writev) is the packet with
// its header.
struct GroPacket {
  std::span<const std::span<const std::byte>> parts;
};

struct GroTally {
  size_t packets_in = 0;    // packets add() took
  size_t packets_out = 0;   // GroPackets finish() returned
  size_t coalesced = 0;     // packets that joined a super-packet after its first (in - out)
  size_t bad_checksum = 0;  // written alone: an IPv4 header or TCP/UDP checksum failed
};

class Coalescer {
 public:
  explicit Coalescer(GroOptions options);

  // Takes one inner packet (a whole IP packet, its bytes valid and unchanged
  // until finish()'s result is used up). False when the batch is full
  // (max_packets): the caller finishes and starts again.
  bool add(std::span<const std::byte> packet);
  // Ends the batch: the packets to write, each flow's packets in their
  // arrival order (different flows may be reordered relative to each
  // other). Every packet add() took is in exactly one finish(): a finish
  // with nothing added since the last one returns nothing. Valid until the
  // next add() or finish(); the next add() starts a new batch.
  std::span<const GroPacket> finish();
  // Of the last finished batch (all zero for an empty one).
  const GroTally& tally() const { return tally_; }

 private:
  enum class Kind : uint8_t { kOther, kTcp4, kTcp6, kUdp4, kUdp6 };
  // Source and destination address as they lie in the IP header (IPv4
  // fills the first 8 bytes), both ports, and the kind.
  struct FlowKey {
    std::array<std::byte, 32> addresses{};
    uint32_t ports = 0;
    Kind kind = Kind::kOther;
    bool operator==(const FlowKey&) const = default;
  };
  struct Member {  // one packet add() took
    std::span<const std::byte> bytes;
    uint32_t next = 0;  // the next member of its super-packet, or kNoMember
  };
  struct Flow {  // one packet to write, in the making
    FlowKey key;
    uint32_t head = 0, tail = 0;  // members
    uint32_t count = 0;           // members
    uint32_t ip_length = 0;       // of the super-packet so far
    uint32_t next_seq = 0;        // TCP: the sequence number that may join
    uint16_t gso_size = 0;        // the first member's payload
    uint8_t ip_header = 0, transport_header = 0;
    uint8_t last_flags = 0;       // TCP flags of the last member
    bool open = false;            // another member may join
  };
  struct Slot {  // the flow table: a flow's latest Flow, valid in generation `generation`
    uint32_t generation = 0;
    uint32_t flow = 0;
  };
  struct Parsed;  // what add() learns of a packet (gro.cpp)

  static Parsed classify(std::span<const std::byte> packet, const GroOptions& options);
  static void check_transport(std::span<const std::byte> packet, Parsed& parsed);
  void start_batch();
  Slot* find_slot(const FlowKey& key);
  bool joins(const Flow& flow, std::span<const std::byte> packet, const Parsed& parsed) const;
  void append(Flow& flow, uint32_t member, const Parsed& parsed);
  uint32_t open_flow(uint32_t member, const Parsed& parsed);
  std::span<const std::byte> write_headers(const Flow& flow, std::byte* out) const;

  GroOptions options_;
  std::vector<Member> members_;
  std::vector<Flow> flows_;
  std::vector<Slot> slots_;
  std::vector<std::byte> headers_;  // one slot of kHeaderRoom bytes per super-packet
  std::vector<std::span<const std::byte>> parts_;
  std::vector<GroPacket> out_;
  std::array<std::byte, 10> zero_header_{};
  size_t members_used_ = 0, flows_used_ = 0, out_used_ = 0;
  uint32_t generation_ = 1;
  bool finished_ = false;
  GroTally batch_, tally_;
};

}  // namespace cordon::offload
