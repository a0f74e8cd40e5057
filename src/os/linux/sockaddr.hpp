// Endpoint <-> sockaddr for the socket adapters (udp.cpp, tcp.cpp).
//
// IPv4 peers reaching a dual-stack IPv6 socket appear as ::ffff:a.b.c.d
// (RFC 4291, section 2.5.5.2); the core sees them as plain IPv4 endpoints.
// The IPv6 scope ID is not kept: link-local underlays are not supported.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "core/types.hpp"

namespace cordon::os {

Endpoint to_endpoint(const sockaddr_storage& ss);

// Fills *ss for a socket of the given family and returns its length. An
// AF_INET6 socket reaches IPv4 peers through their v4-mapped form
// (ipv6(7)). Returns 0 when an AF_INET socket cannot reach the endpoint.
socklen_t to_sockaddr(const Endpoint& e, bool v6_socket, sockaddr_storage* ss);

// "192.0.2.1:443" or "[2001:db8::1]:443", for error messages. Uses
// inet_ntop so that this layer does not call into the core.
std::string endpoint_text(const Endpoint& e);

// The same text held inline, for errors built on the data path without
// allocating (sys_error_of).
struct EndpointChars {
  char text[64] = {};  // "[" + INET6_ADDRSTRLEN (46) + "]:" + 5 digits fits
  size_t size = 0;
  std::string_view view() const { return {text, size}; }
};
EndpointChars endpoint_chars(const Endpoint& e);

}  // namespace cordon::os
