// Relayed datagrams (docs/protocol.md, "Relayed datagrams"): format 1.
//
//   +--------------+---------------------------+------------------+------------+
//   | hop header 8 | inner datagram (format 0) | routing block 12 | hop tag 16 |
//   +--------------+---------------------------+------------------+------------+
//
//   routing block (encrypted under the hop key):
//   +----------------------+-----------------+-----------+--------+
//   | destination host 4   | source host 4   | hops 1    | zero 3 |
//   +----------------------+-----------------+-----------+--------+
//
// The hop AEAD seals the routing block with associated data = hop header ||
// inner datagram, so each hop authenticates the routing information and the
// whole payload with its own link key (docs/design.md, decision 7). The inner
// datagram is opaque to relays: only its two end hosts hold its key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/types.hpp"
#include "core/wire/header.hpp"

namespace cordon::wire {

constexpr uint8_t kInitialHops = 4;  // coordinator hops a relayed datagram may take
// The smallest relayed datagram: hop header, an inner datagram of one
// plaintext byte, routing block, hop tag.
constexpr size_t kMinRelayedSize = kHeaderSize + kOverhead + 1 + kRoutingBlockSize + kTagSize;

struct RoutingBlock {
  HostId destination;
  HostId source;
  uint8_t hops = kInitialHops;
  friend bool operator==(const RoutingBlock&, const RoutingBlock&) = default;
};

void write_routing_block(const RoutingBlock& r, std::span<std::byte, kRoutingBlockSize> out);
// nullopt when the zero bytes are not zero or an ID is 0.
std::optional<RoutingBlock> read_routing_block(std::span<const std::byte, kRoutingBlockSize> in);

// The parts of a relayed datagram, as views into it. nullopt when it is too
// short to hold them (`too_short`).
struct RelayedParts {
  std::span<std::byte> aad;            // hop header || inner datagram
  std::span<std::byte> inner;          // the format-0 datagram
  std::span<std::byte, kRoutingBlockSize> routing;
  std::span<std::byte, kTagSize> tag;
};
std::optional<RelayedParts> split_relayed(std::span<std::byte> datagram);

}  // namespace cordon::wire
