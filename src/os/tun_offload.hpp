// The tunnel edge with offloads (docs/architecture.md, "Edges"): a queue of
// a TUN device opened with IFF_VNET_HDR, where every packet read or written
// carries a virtio-net header (core/offload/virtio_net.hpp) and a packet
// read may be a TSO/USO super-packet of up to 64 KiB. It sits beside
// TunQueue (tun_queue.hpp): the same object implements both, and a worker
// whose queue has offloads uses this interface for both directions.
//
// read_offloaded() never blocks: it returns the packet's length, 0 when the
// queue is empty. A packet longer than `packet` is cut to it and reported
// with its cut length, as TunQueue::read does; the caller drops it. A read
// error means the queue is gone.
//
// write_offloaded() writes one packet given as parts (writev): their
// concatenation is the virtio-net header followed by the packet. Whole or
// not at all; an error costs that packet only.
#pragma once

#include <cstddef>
#include <span>

#include "os/linux/result.hpp"

namespace cordon::os {

// What the kernel agreed to hand this queue (TUNSETOFFLOAD).
struct TunFeatures {
  bool checksum = false;  // TUN_F_CSUM: packets may carry a partial checksum
  bool tso = false;       // TUN_F_TSO4 | TUN_F_TSO6 (| TUN_F_TSO_ECN)
  bool uso = false;       // TUN_F_USO4 | TUN_F_USO6 (Linux 6.2 and later)
};

class TunOffload {
 public:
  virtual ~TunOffload() = default;

  // One packet: its virtio-net header into `header` (offload::kVirtioNetHeaderSize
  // bytes), the packet into `packet`.
  virtual Result<size_t> read_offloaded(std::span<std::byte> header, std::span<std::byte> packet) = 0;
  virtual Status write_offloaded(std::span<const std::span<const std::byte>> parts) = 0;
  virtual TunFeatures features() const = 0;

 protected:
  TunOffload() = default;
  TunOffload(const TunOffload&) = default;
  TunOffload& operator=(const TunOffload&) = default;
};

}  // namespace cordon::os
