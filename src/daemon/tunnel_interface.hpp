// The TUN device as the daemon sets it up: queues, MTU, addresses, link up,
// and one route per peer prefix, all through rtnetlink (os/linux/netlink.hpp).
// The device is deleted when this object goes, on every exit path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/node_config.hpp"
#include "core/types.hpp"
#include "os/linux/netlink.hpp"
#include "os/linux/tun.hpp"

namespace cordon::daemon {

class TunnelInterface {
 public:
  // Creates `name` with `queues` queues (with `offloads`: virtio-net headers
  // and the offloads the kernel grants, os/linux/tun.hpp), sets `mtu`, adds `addresses`,
  // brings it up and routes every prefix in `routes` through it. Errors are
  // ready to print: they say which step failed.
  static os::Result<TunnelInterface> open(const std::string& name, unsigned queues, bool offloads, unsigned mtu,
                                          const std::vector<Prefix>& addresses, const std::vector<Prefix>& routes);

  TunnelInterface(TunnelInterface&&) noexcept;
  TunnelInterface& operator=(TunnelInterface&&) = delete;
  ~TunnelInterface();

  const os::TunDevice& device() const { return *tun_; }
  const std::string& name() const { return tun_->name(); }

  // Moves the routes from the current set to `wanted` (a reload): adds the
  // new prefixes, deletes the ones no peer allows any more. Returns one
  // message per failure; the others still happen.
  std::vector<std::string> sync_routes(const std::vector<Prefix>& wanted);

 private:
  TunnelInterface(os::TunDevice tun, os::Netlink netlink);

  std::optional<os::TunDevice> tun_;
  std::optional<os::Netlink> netlink_;
  std::vector<Prefix> routes_;  // the routes this daemon added
};

// Every allowed prefix of every peer, without duplicates.
std::vector<Prefix> peer_routes(const NodeConfig& config);

}  // namespace cordon::daemon
