#include "os/linux/addresses.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

namespace cordon::os {
namespace {

// Frees getifaddrs' list on every path (docs/design.md, practice 10).
struct IfaddrsList {
  ifaddrs* head = nullptr;
  ~IfaddrsList() {
    if (head != nullptr) ::freeifaddrs(head);
  }
};

}  // namespace

Result<std::vector<InterfaceAddress>> interface_addresses() {
  IfaddrsList list;
  if (::getifaddrs(&list.head) < 0) return sys_error("getifaddrs");
  std::vector<InterfaceAddress> out;
  for (const ifaddrs* a = list.head; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    InterfaceAddress entry;
    // Own construction (not IpAddress::v4/v6) keeps this layer free of calls
    // into the core; the layout is documented in core/types.hpp.
    if (a->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      entry.address.family = IpAddress::Family::kV4;
      std::memcpy(entry.address.bytes.data(), &sin->sin_addr, 4);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      entry.address.family = IpAddress::Family::kV6;
      std::memcpy(entry.address.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    entry.interface = a->ifa_name != nullptr ? a->ifa_name : "";
    entry.up = (a->ifa_flags & IFF_UP) != 0;
    entry.loopback = (a->ifa_flags & IFF_LOOPBACK) != 0;
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace cordon::os
