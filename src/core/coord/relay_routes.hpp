// The relay routes a coordinator's workers forward other coordinators'
// clients' datagrams by (docs/protocol.md, "Routing between coordinators"):
// destination host ID -> the neighbour coordinator to hand the datagram to.
//
// Published by the control thread like the snapshot (publish.hpp) and read
// by workers per relayed datagram. A table is immutable once published, so
// a change makes a new table; to keep that cheap when a coordinator learns
// the routes of 90,000 clients (docs/design.md, "A network of 100,000
// clients"), the table is split into kShards shards by a hash of the
// destination, and a new table shares every shard a change does not touch.
// Publishing k changes costs O(kShards + k x shard size), not a walk over
// every route.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace cordon::coord {

class RelayRoutes {
 public:
  static constexpr unsigned kShardBits = 10;
  static constexpr size_t kShards = size_t{1} << kShardBits;

  // One destination's route after a change: `via` 0 means none.
  struct Change {
    uint32_t destination = 0;
    uint32_t via = 0;
  };

  RelayRoutes() = default;

  // The neighbour to hand a datagram for `destination` to; 0 when none.
  uint32_t find(uint32_t destination) const {
    const Shard* shard = shards_[shard_of(destination)].get();
    if (!shard) return 0;
    const auto it = lower_bound(*shard, destination);
    return it != shard->end() && it->first == destination ? it->second : 0;
  }

  // A new table: this one with `changes` applied (for a destination named
  // twice, the later change wins). Shards no change touches are shared.
  std::unique_ptr<const RelayRoutes> with(std::span<const Change> changes) const;

  size_t size() const { return size_; }

 private:
  using Shard = std::vector<std::pair<uint32_t, uint32_t>>;  // sorted by destination

  // Host IDs are (network << 16 | host) and hosts are numbered from 1, so
  // the low bits alone would fill the shards unevenly across networks:
  // Fibonacci hashing spreads them.
  static size_t shard_of(uint32_t destination) { return (destination * 0x9E3779B1u) >> (32 - kShardBits); }
  static Shard::const_iterator lower_bound(const Shard& shard, uint32_t destination) {
    return std::lower_bound(shard.begin(), shard.end(), destination,
                            [](const std::pair<uint32_t, uint32_t>& e, uint32_t d) { return e.first < d; });
  }

  std::array<std::shared_ptr<const Shard>, kShards> shards_;
  size_t size_ = 0;
};

}  // namespace cordon::coord
