#include "os/linux/sockaddr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace cordon::os {

namespace {

// ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291, section 2.5.5.2).
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const uint8_t* b) { return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), b); }

// Own constructors (not IpAddress::v4/v6): the layout is core/types.hpp's.
IpAddress address_of(IpAddress::Family family, const uint8_t* b) {
  IpAddress a;
  a.family = family;
  std::memcpy(a.bytes.data(), b, family == IpAddress::Family::kV4 ? 4 : 16);
  return a;
}

}  // namespace

Endpoint to_endpoint(const sockaddr_storage& ss) {
  Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(ss);
    e.address = address_of(IpAddress::Family::kV4, reinterpret_cast<const uint8_t*>(&sin.sin_addr));
    e.port = ntohs(sin.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(ss);
    const auto* b = reinterpret_cast<const uint8_t*>(&sin6.sin6_addr);
    e.address = is_v4_mapped(b) ? address_of(IpAddress::Family::kV4, b + 12) : address_of(IpAddress::Family::kV6, b);
    e.port = ntohs(sin6.sin6_port);
  }
  return e;
}

socklen_t to_sockaddr(const Endpoint& e, bool v6_socket, sockaddr_storage* ss) {
  const uint8_t* b = e.address.bytes.data();
  if (v6_socket) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
    *sin6 = sockaddr_in6{};
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    auto* dst = reinterpret_cast<uint8_t*>(&sin6->sin6_addr);
    if (e.address.is_v4()) {
      std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), dst);
      std::memcpy(dst + 12, b, 4);
    } else {
      std::memcpy(dst, b, 16);
    }
    return sizeof(sockaddr_in6);
  }
  if (!e.address.is_v4() && !is_v4_mapped(b)) return 0;
  auto* sin = reinterpret_cast<sockaddr_in*>(ss);
  *sin = sockaddr_in{};
  sin->sin_family = AF_INET;
  sin->sin_port = htons(e.port);
  std::memcpy(&sin->sin_addr, e.address.is_v4() ? b : b + 12, 4);
  return sizeof(sockaddr_in);
}

EndpointChars endpoint_chars(const Endpoint& e) {
  EndpointChars out;
  char address[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(e.address.is_v4() ? AF_INET : AF_INET6, e.address.bytes.data(), address, sizeof(address));
  // Bounded by the sizes above: the text always fits.
  const int n = std::snprintf(out.text, sizeof(out.text), e.address.is_v4() ? "%s:%u" : "[%s]:%u", address,
                              static_cast<unsigned>(e.port));
  out.size = n > 0 ? std::min(static_cast<size_t>(n), sizeof(out.text) - 1) : 0;
  return out;
}

std::string endpoint_text(const Endpoint& e) { return std::string(endpoint_chars(e).view()); }

}  // namespace cordon::os
