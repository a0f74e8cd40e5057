// The IPsec device's edge of the IPsec thread (docs/ipsec.md, "How traffic
// flows"), batched with the same offloads as the workers' tunnel side
// (docs/design.md, "Offloads: the worker's data path"):
//
//   read()   a TSO/USO super-packet from the device is cut by
//            offload::split into MTU-sized inner packets, each in a slot
//            with the room ESP or AH needs before and after it, so that
//            DataPath::seal works in place;
//   write()  opened inner packets of one receive batch go through
//            offload::Coalescer and leave, at flush(), as GRO super-packets
//            with a virtio-net header: one TUN write per TCP flow and batch
//            instead of one per packet.
//
// Without offloads (`offloads = false`, or a kernel that grants none) the
// device is read and written one plain packet at a time, as before.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/offload/gro.hpp"
#include "core/offload/virtio_net.hpp"
#include "os/linux/tun.hpp"

namespace cordon::daemon {

struct IpsecTunCounters {
  uint64_t super_packets = 0;  // reads that held more than one inner packet
  uint64_t segments = 0;       // inner packets those became
  uint64_t split_drops = 0;    // reads the splitter refused (offload::SplitDrop)
  uint64_t coalesced = 0;      // inner packets written inside a super-packet
  uint64_t coalesced_writes = 0;
  uint64_t write_errors = 0;
};

class IpsecTun {
 public:
  // `queue` outlives this object. `headroom` and `tailroom` are kept free
  // around every packet read() returns.
  IpsecTun(os::TunDeviceQueue& queue, size_t mtu, size_t headroom, size_t tailroom);

  static constexpr size_t kSlots = 64;  // inner packets per read()

  // Reads until the slots are full or the device is empty; returns how many
  // inner packets are ready: packet(i) for i below that. A super-packet
  // larger than the free slots is finished by the next call.
  size_t read();
  // Slot i: its whole buffer and the packet's length after headroom().
  std::span<std::byte> slot(size_t i) { return slots_[i]; }
  size_t length(size_t i) const { return sizes_[i]; }
  size_t headroom() const { return headroom_; }
  // True while a super-packet is only partly cut into slots.
  bool pending() const { return super_segments_ != 0; }

  // An opened inner packet; its bytes stay valid until flush().
  void write(std::span<const std::byte> inner);
  void flush();

  bool offloads() const { return offload_; }
  const IpsecTunCounters& counters() const { return counters_; }

 private:
  size_t read_plain();
  void split_pending(size_t& count);
  void write_one(std::span<const std::byte> packet);

  os::TunDeviceQueue& queue_;
  size_t mtu_;
  size_t headroom_;
  bool offload_;
  std::vector<std::byte> storage_;
  std::vector<std::span<std::byte>> slots_;
  std::vector<size_t> sizes_;
  // The super-packet being cut: its header, bytes, and the next segment.
  std::vector<std::byte> super_;
  std::array<std::byte, offload::kVirtioNetHeaderSize> super_header_bytes_{};
  offload::VirtioNetHeader super_header_{};
  size_t super_length_ = 0;
  size_t super_next_ = 0;
  size_t super_segments_ = 0;
  std::optional<offload::Coalescer> coalescer_;
  IpsecTunCounters counters_;
};

}  // namespace cordon::daemon
