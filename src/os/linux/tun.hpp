// TUN device: IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, one queue per worker
// (DESIGN.md, "Performance"). Reads and writes whole IP packets.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

class TunDevice {
 public:
  // Creates (or attaches to) the device `name` with `queues` queues. The
  // caller sets MTU, addresses and state through Netlink. Fails clearly when
  // /dev/net/tun is missing or the caller lacks CAP_NET_ADMIN.
  static Result<TunDevice> open(const std::string& name, unsigned queues);

  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  unsigned queue_count() const { return static_cast<unsigned>(queues_.size()); }
  int queue_fd(unsigned q) const { return queues_[q].get(); }  // non-blocking

  // Reads one packet from queue q into buf. Returns its length, 0 when
  // nothing is ready (EAGAIN), or an error. The kernel silently truncates a
  // packet longer than buf, so pass more than the MTU: a result equal to
  // buf.size() then means a packet that did not fit.
  Result<size_t> read(unsigned q, std::span<std::byte> buf) const;
  // Writes one packet to queue q.
  Status write(unsigned q, std::span<const std::byte> packet) const;

 private:
  std::string name_;
  int ifindex_ = 0;
  std::vector<Fd> queues_;
};

}  // namespace cordon::os
