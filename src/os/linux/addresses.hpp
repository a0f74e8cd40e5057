// This host's own unicast addresses, as getifaddrs(3) lists them, for the
// local endpoints a client reports to its registry (docs/protocol.md,
// "Registry"). Which of them count is the daemon's decision
// (daemon/local_endpoints.hpp); this layer only reads the kernel's list.
#pragma once

#include <string>
#include <vector>

#include "core/types.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

struct InterfaceAddress {
  std::string interface;  // "eth0"
  IpAddress address;
  bool up = false;        // IFF_UP
  bool loopback = false;  // IFF_LOOPBACK
};

// Every IPv4 and IPv6 address on every interface, in the kernel's order.
// Interfaces without an address, and other families (AF_PACKET), are left out.
Result<std::vector<InterfaceAddress>> interface_addresses();

}  // namespace cordon::os
