// Host numbers and tunnel addresses (docs/administration.md, "Concepts"):
//  - a host number is given (--id) or the lowest free number >= 1; numbers
//    of compromised hosts are never given out again;
//  - the tunnel address is the network prefix's base + the host number when
//    that fits inside the prefix and is free (so 0x0001000a gets
//    10.77.0.10), otherwise the lowest free one; the network and broadcast
//    addresses of an IPv4 prefix are skipped;
//  - an address carries the network prefix's length (10.77.0.5/16).
// Addresses are stored as offsets from the prefix base.
#pragma once

#include <cstdint>
#include <optional>

#include "core/types.hpp"

namespace cordon::admin {

class Database;

// The highest usable offset in `network` (IPv4: size - 2; IPv6: size - 1,
// capped at 2^62); 0 if the prefix is too small to hold a host.
uint64_t max_offset(const Prefix& network);
// base + offset with the network's length. Precondition: offset <= max_offset.
Prefix address_at(const Prefix& network, uint64_t offset);
// True if every bit past the prefix length is zero.
bool host_bits_zero(const Prefix& prefix);
// The prefix with its host bits cleared (10.1.2.3/24 -> 10.1.2.0/24).
Prefix masked(const Prefix& prefix);

// The lowest free host number (no host and no compromised host uses it).
// Throws AdminError when all 65535 are taken.
uint16_t next_host_number(Database& db, uint16_t network);

// A free offset for `column` ("tunnel_v4" or "tunnel_v6"): `preferred` if
// valid and free, else the lowest free one. Throws when the prefix is full.
uint64_t allocate_offset(Database& db, const char* column, const Prefix& network, uint64_t preferred);

}  // namespace cordon::admin
