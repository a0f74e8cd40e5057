#include "daemon/local_endpoints.hpp"

#include <algorithm>

#include "core/wire/control.hpp"

namespace cordon::daemon {
namespace {

bool unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()),
                     [](uint8_t b) { return b == 0; });
}

// Addresses a peer cannot send a datagram to (RFC 1122 3.2.1.3 for IPv4
// loopback; RFC 4291 2.5.3, 2.5.6 and 2.7 for IPv6 loopback, link-local and
// multicast).
bool unreachable(const IpAddress& a) {
  if (unspecified(a)) return true;
  if (a.is_v4()) {
    return a.bytes[0] == 127 || (a.bytes[0] & 0xf0) == 0xe0;  // 127/8, 224/4
  }
  const bool loopback = std::all_of(a.bytes.begin(), a.bytes.begin() + 15, [](uint8_t b) { return b == 0; }) &&
                        a.bytes[15] == 1;
  const bool link_local = a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;  // fe80::/10
  const bool multicast = a.bytes[0] == 0xff;
  return loopback || link_local || multicast;
}

bool before(const Endpoint& a, const Endpoint& b) {
  if (a.address.family != b.address.family) return a.address.is_v4();
  if (a.address.bytes != b.address.bytes) return a.address.bytes < b.address.bytes;
  return a.port < b.port;
}

}  // namespace

std::vector<Endpoint> local_endpoints(std::span<const os::InterfaceAddress> addresses,
                                      const LocalEndpointRules& rules) {
  if (!unspecified(rules.listen_address)) return {Endpoint{rules.listen_address, rules.port}};
  const bool v4_only = rules.listen_address.is_v4();  // an AF_INET socket (0.0.0.0)
  std::vector<Endpoint> out;
  for (const os::InterfaceAddress& a : addresses) {
    if (!a.up || a.loopback || a.interface == rules.tun_interface) continue;
    if (v4_only && !a.address.is_v4()) continue;
    if (unreachable(a.address)) continue;
    out.push_back(Endpoint{a.address, rules.port});
  }
  std::sort(out.begin(), out.end(), before);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > wire::kMaxLocalEndpoints) out.resize(wire::kMaxLocalEndpoints);
  return out;
}

std::optional<std::vector<Endpoint>> LocalEndpointTracker::update(std::vector<Endpoint> current) {
  if (last_ && *last_ == current) return std::nullopt;
  last_ = current;
  return current;
}

}  // namespace cordon::daemon
