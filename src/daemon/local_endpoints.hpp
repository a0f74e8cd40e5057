// This host's local endpoints: the underlay addresses it can be reached at
// on its own networks, each with the daemon's UDP port. A client reports
// them to its registry, which passes them to its linked hosts so that two
// hosts behind the same NAT find each other directly (docs/protocol.md,
// "Registry" and "Rendezvous", step 1).
//
// Which addresses count (pure; the daemon reads the list every
// kLocalEndpointsCheckNs through os::interface_addresses):
//   - a daemon bound to one address (host.listen_address) reports only it;
//   - otherwise every address of an interface that is up, except the
//     loopback interface and the Cordon TUN device (its addresses are inside
//     the tunnel), and except addresses no peer can send to: unspecified,
//     loopback, multicast and IPv6 link-local (fe80::/10: it needs a scope
//     ID, which an endpoint does not carry);
//   - a socket bound to 0.0.0.0 is IPv4 only, so it reports no IPv6 address;
//   - sorted (IPv4 first) and without duplicates, so that the same set
//     always compares equal, and at most wire::kMaxLocalEndpoints (8).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "os/linux/addresses.hpp"

namespace cordon::daemon {

// How often the daemon looks at its addresses. A change reaches the
// registry at the next tick, so a roaming laptop is found within seconds.
constexpr int64_t kLocalEndpointsCheckNs = 2 * kNsPerSecond;

struct LocalEndpointRules {
  std::string tun_interface;  // the Cordon device, e.g. "cordon0"
  IpAddress listen_address;   // host.listen_address
  uint16_t port = 0;          // the bound UDP port
};

std::vector<Endpoint> local_endpoints(std::span<const os::InterfaceAddress> addresses,
                                      const LocalEndpointRules& rules);

// Remembers the last set handed to the node.
class LocalEndpointTracker {
 public:
  // The new set when it differs from the last one (always the first time).
  std::optional<std::vector<Endpoint>> update(std::vector<Endpoint> current);

 private:
  std::optional<std::vector<Endpoint>> last_;
};

}  // namespace cordon::daemon
