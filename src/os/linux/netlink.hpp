// rtnetlink through libmnl: link state and MTU, addresses, routes. No
// shelling out to `ip` (issue: "Addresses and routes go through rtnetlink").
#pragma once

#include <string>

#include "core/types.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

class Netlink {
 public:
  static Result<Netlink> open();
  Netlink(Netlink&&) noexcept;
  Netlink& operator=(Netlink&&) noexcept;
  ~Netlink();

  Result<int> ifindex(const std::string& name);
  Status set_mtu(int ifindex, unsigned mtu);
  Status set_up(int ifindex, bool up);
  // The length of the device's transmit queue (IFLA_TXQLEN): how many packets
  // the kernel holds for the TUN reader before it drops.
  Status set_tx_queue_len(int ifindex, unsigned packets);
  // Stops the kernel from giving the device an IPv6 link-local address
  // (IN6_ADDR_GEN_MODE_NONE), so it sends no router solicitations or MLD
  // reports into the tunnel. Call before bringing the link up.
  Status disable_ipv6_address_generation(int ifindex);
  // Adds an address with its prefix length (e.g. 10.77.0.1/24); EEXIST is fine.
  Status add_address(int ifindex, const Prefix& address);
  // Adds a route to `dst` through the interface. EEXIST means the main
  // table already has a route for exactly `dst` (same metric), which the
  // caller should report: traffic for `dst` would not enter the tunnel.
  Status add_route(int ifindex, const Prefix& dst);
  Status delete_route(int ifindex, const Prefix& dst);
  // An "unreachable" route for `dst` at `metric` (rtnetlink(7),
  // RTN_UNREACHABLE): with a larger metric than any usual route, it only
  // answers while no other route for `dst` exists, so packets for `dst`
  // are refused (ICMP unreachable) rather than routed elsewhere. EEXIST
  // (the same route already there) is fine.
  Status add_unreachable_route(const Prefix& dst, uint32_t metric);
  Status delete_unreachable_route(const Prefix& dst, uint32_t metric);
  Status delete_link(int ifindex);

 private:
  struct Impl;
  explicit Netlink(Impl* impl);
  Impl* impl_ = nullptr;
};

}  // namespace cordon::os
