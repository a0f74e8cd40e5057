// The inner packets the tunnel carries: IPv4 (RFC 791) and IPv6 (RFC 8200).
// The core only reads what it needs to route and to check the source.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "core/types.hpp"

namespace cordon::wire {

struct InnerPacket {
  IpAddress source;
  IpAddress destination;
  size_t length = 0;  // the IP total length; bytes after it are padding
};

// Checks the version, the header length and that the total length fits in
// `packet`. Returns nullopt for anything else.
std::optional<InnerPacket> parse_inner(std::span<const std::byte> packet);

}  // namespace cordon::wire
