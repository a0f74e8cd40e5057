// The tunnel edge: one queue of the tunnel device (docs/architecture.md,
// "Edges"). The daemon's implementation is one queue of os::TunDevice
// (linux/tun.hpp, IFF_MULTI_QUEUE), the simulations' is testing::FakeTun;
// the data path (daemon/workers.hpp) sees only this interface.
//
// Packets are whole inner IP packets, without a packet-information prefix.
//
// Sizes and headroom. read() puts packet i at buffers[i][offset, offset +
// sizes[i]). The worker passes offset = wire::kHeadroom and leaves
// wire::kTailroom after the MTU, so the core seals the packet in place:
// the header goes into the headroom, the tag and a relay's routing block
// into the tailroom (core/node.hpp, TxSlot). The room read() may fill is
// buffers[i].size() - offset; give it the MTU. A packet longer than that
// room is cut to it (the kernel does so silently), so a size equal to the
// room means a packet that may not have fitted.
//
// Batches. read() fills at most min(buffers.size(), sizes.size()) packets
// and never blocks: it returns how many it read, 0 when the queue is empty.
// write() hands one packet to the device, whole or not at all.
//
// Errors. A read error means the queue is gone (the device was deleted):
// the worker stops. A write error costs that packet only; the worker counts
// it. Results carry the call's name and errno (os::SysError).
//
// Threads. One worker reads a queue. write() may also be called by the
// control thread for the TCP tunnel's traffic (daemon/tcp_tunnel.hpp): the
// implementations keep no state between calls.
//
// Optional features (offloads through virtio-net headers, batch writes)
// will be separate small interfaces beside this one, not new methods here.
#pragma once

#include <cstddef>
#include <span>

#include "os/linux/result.hpp"  // os::Result, os::SysError: portable, no system header

namespace cordon::os {

class TunQueue {
 public:
  virtual ~TunQueue() = default;

  // Reads packets into buffers[i] at `offset`, their lengths into sizes[i];
  // returns how many.
  virtual Result<size_t> read(std::span<const std::span<std::byte>> buffers, std::span<size_t> sizes,
                              size_t offset) = 0;
  // Writes one inner packet.
  virtual Status write(std::span<const std::byte> packet) = 0;

 protected:
  TunQueue() = default;
  TunQueue(const TunQueue&) = default;
  TunQueue& operator=(const TunQueue&) = default;
};

}  // namespace cordon::os
