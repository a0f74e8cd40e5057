// TUN device: IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, one queue per worker
// (docs/design.md, "The data path"). Each queue is a TunQueue
// (os/tun_queue.hpp) that reads and writes whole IP packets.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"
#include "os/tun_queue.hpp"

namespace cordon::os {

// One queue's fd. read() issues one read(2) per packet: a TUN fd returns
// exactly one packet per call (batch reads arrive with the offloads).
class TunDeviceQueue final : public TunQueue {
 public:
  TunDeviceQueue(Fd fd, std::string device) : fd_(std::move(fd)), device_(std::move(device)) {}

  int fd() const { return fd_.get(); }  // non-blocking

  // On an error after k > 0 packets, returns k; the next call reports it.
  Result<size_t> read(std::span<const std::span<std::byte>> buffers, std::span<size_t> sizes,
                      size_t offset) override;
  Status write(std::span<const std::byte> packet) override;

 private:
  // One packet into buf: its length, 0 when none is ready (EAGAIN).
  Result<size_t> read_one(std::span<std::byte> buf) const;

  Fd fd_;
  std::string device_;  // for messages
};

class TunDevice {
 public:
  // Creates (or attaches to) the device `name` with `queues` queues. The
  // caller sets MTU, addresses and state through Netlink. Fails clearly when
  // /dev/net/tun is missing or the caller lacks CAP_NET_ADMIN.
  static Result<TunDevice> open(const std::string& name, unsigned queues);

  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  unsigned queue_count() const { return static_cast<unsigned>(queues_.size()); }
  int queue_fd(unsigned q) const { return queues_[q]->fd(); }
  // Queue q, for worker q. The object stays where it is while the device
  // lives, moves included. Const: a queue keeps no state of the device's.
  TunDeviceQueue& queue(unsigned q) const { return *queues_[q]; }

 private:
  std::string name_;
  int ifindex_ = 0;
  std::vector<std::unique_ptr<TunDeviceQueue>> queues_;
};

}  // namespace cordon::os
