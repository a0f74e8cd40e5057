// Node internals shared by node.cpp (configuration and status), node_rx.cpp
// (underlay -> tunnel), node_tx.cpp (tunnel -> underlay) and node_timers.cpp
// (keepalives and the counter floor). Not part of the public API.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/link/peer.hpp"
#include "core/node.hpp"
#include "core/route/prefix_table.hpp"

namespace cordon {

// What the configuration says about a peer, next to its shared state.
struct PeerEntry {
  std::shared_ptr<link::Peer> peer;
  std::string name;
  std::vector<Prefix> allowed_prefixes;
  int64_t keepalive_ns = 0;
};

// An immutable view of the configuration, swapped atomically on reload.
struct Snapshot {
  HostId self;
  uint64_t time_window_units = 0;
  std::vector<PeerEntry> peers;
  std::unordered_map<uint16_t, std::vector<uint32_t>> by_sender_host;  // header hint -> peer indexes
  route::PrefixTable routes;                                            // overlay address -> peer index
};

// Counter-floor tunables (docs/protocol.md, "Nonce uniqueness").
//  - kFloorLead: how far ahead of the clock the persisted floor stays, 16 s;
//    a restart right after a crash starts at most this far ahead.
//  - kFloorReserve: reservation beyond the highest counter in use when the
//    counters run ahead of the clock, 1/16 s at the full counter rate.
//  - kFloorCheckNs: the longest interval between floor checks, 1 s;
//    kFloorCheckAheadNs applies while counters are ahead of the clock.
constexpr uint64_t kFloorLead = 16 * wire::kCounterUnitsPerSecond;
constexpr uint64_t kFloorReserve = wire::kCounterUnitsPerSecond / 16;
constexpr int64_t kFloorCheckNs = kNsPerSecond;
constexpr int64_t kFloorCheckAheadNs = 20 * kNsPerMs;

struct Node::Impl {
  Impl(unsigned workers, uint64_t persisted_floor)
      : workers(workers), boot_floor(persisted_floor), confirmed_floor(persisted_floor) {}

  std::shared_ptr<const Snapshot> snapshot() const { return current.load(std::memory_order_acquire); }
  std::shared_ptr<const Snapshot> build(NodeConfig config, const Now& now, const Snapshot* previous);
  uint64_t counter_start(const Now& now) const;

  // Receive path, one datagram.
  void receive(unsigned worker, const Now& now, const Snapshot& s, RxSlot& slot);
  // Send path, one inner packet.
  void send(unsigned worker, const Now& now, const Snapshot& s, TxSlot& slot);
  // Seals `length` bytes at buffer[headroom] for `peer` in place; returns the datagram.
  std::optional<std::span<const std::byte>> seal(unsigned slot, const Now& now, HostId self, link::Peer& peer,
                                                 std::span<std::byte> buffer, size_t headroom, size_t length,
                                                 DropReason& reason);

  const unsigned workers;  // control slot index == workers
  const uint64_t boot_floor;
  std::atomic<uint64_t> confirmed_floor;
  uint64_t requested_floor = 0;  // control thread only
  std::atomic<std::shared_ptr<const Snapshot>> current;
  DropCounters drops;
};

}  // namespace cordon
