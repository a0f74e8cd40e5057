// TUN device: IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, one queue per worker
// (docs/design.md, "The data path"), with IFF_VNET_HDR when offloads are
// on. Each queue is a TunQueue (os/tun_queue.hpp) that reads and writes
// whole IP packets, and with offloads a TunOffload (os/tun_offload.hpp)
// whose packets carry a virtio-net header.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"
#include "os/tun_offload.hpp"
#include "os/tun_queue.hpp"

namespace cordon::os {

// One queue's fd. read() issues one read(2) per packet: a TUN fd returns
// exactly one packet per call. On a device with offloads (`features` set),
// read() and write() add and strip an empty virtio-net header, so the plain
// interface still works (a super-packet read that way is dropped as cut);
// the worker uses the TunOffload side.
class TunDeviceQueue final : public TunQueue, public TunOffload {
 public:
  TunDeviceQueue(Fd fd, std::string device, std::optional<TunFeatures> features)
      : fd_(std::move(fd)), device_(std::move(device)), features_(features) {}

  int fd() const { return fd_.get(); }  // non-blocking
  bool offloads() const { return features_.has_value(); }

  // On an error after k > 0 packets, returns k; the next call reports it.
  Result<size_t> read(std::span<const std::span<std::byte>> buffers, std::span<size_t> sizes,
                      size_t offset) override;
  Status write(std::span<const std::byte> packet) override;

  // TunOffload; only on a device opened with offloads.
  Result<size_t> read_offloaded(std::span<std::byte> header, std::span<std::byte> packet) override;
  Status write_offloaded(std::span<const std::span<const std::byte>> parts) override;
  TunFeatures features() const override { return features_.value_or(TunFeatures{}); }

 private:
  // One packet into buf: its length, 0 when none is ready (EAGAIN).
  Result<size_t> read_one(std::span<std::byte> buf) const;

  Fd fd_;
  std::string device_;  // for messages
  std::optional<TunFeatures> features_;  // set: IFF_VNET_HDR
};

class TunDevice {
 public:
  // Creates (or attaches to) the device `name` with `queues` queues. The
  // caller sets MTU, addresses and state through Netlink. Fails clearly when
  // /dev/net/tun is missing or the caller lacks CAP_NET_ADMIN. With
  // `offloads`, the queues carry virtio-net headers and the kernel is asked
  // for checksum, TSO and USO offloads; what it grants is features().
  static Result<TunDevice> open(const std::string& name, unsigned queues, bool offloads = false);

  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  unsigned queue_count() const { return static_cast<unsigned>(queues_.size()); }
  int queue_fd(unsigned q) const { return queues_[q]->fd(); }
  // Offloads in force: nullopt when the device has no virtio-net headers.
  std::optional<TunFeatures> offloads() const { return features_; }
  // Queue q, for worker q. The object stays where it is while the device
  // lives, moves included. Const: a queue keeps no state of the device's.
  TunDeviceQueue& queue(unsigned q) const { return *queues_[q]; }

 private:
  std::string name_;
  int ifindex_ = 0;
  std::optional<TunFeatures> features_;
  std::vector<std::unique_ptr<TunDeviceQueue>> queues_;
};

}  // namespace cordon::os
