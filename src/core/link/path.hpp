// Which way a worker sends to a peer (docs/protocol.md, "Rendezvous"): an
// enum state with its data, packed into one atomic word so that a worker
// reads it with one relaxed load per packet.
//
//   kUnset    nothing decided yet (manual mode, or a peer with no
//             coordinator before configuration): straight to the endpoint
//             when one is known
//   kDirect   straight to the peer's endpoint; `relay` is kept as the
//             coordinator to fall back to when the direct path falls silent
//   kRelayed  through `relay`, a coordinator (straight to the endpoint while
//             the relay has none)
//
// Whether a first hop is reached over UDP or over the TCP tunnel is its
// endpoint's business (Endpoint::stream): status reports "tcp" when the
// first hop's endpoint is a stream, so the two never disagree.
//
// PathCell::update is the one writer. Workers use it only to turn a path
// direct when a live datagram arrives straight from the peer
// (link/timers.hpp, on_live_rx_from); the control thread makes every other
// change (coord/rendezvous.cpp, coord/registry.cpp). update() is a
// compare-and-swap loop over the whole state, so a worker's switch to
// kDirect and the control thread's choice of relay never undo each other.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/types.hpp"

namespace cordon::link {

class Peer;

enum class PathKind : uint8_t { kUnset, kDirect, kRelayed };

struct Path {
  PathKind kind = PathKind::kUnset;
  HostId relay;  // kRelayed: the coordinator carrying the traffic; kDirect: the one to fall back to

  bool direct() const { return kind == PathKind::kDirect; }
  // Straight to the peer, keeping the relay to fall back to.
  Path to_direct() const { return Path{PathKind::kDirect, relay}; }
  // Through `via`; with no relay at all nothing is decided.
  static Path relayed(HostId via) { return via.value == 0 ? Path{} : Path{PathKind::kRelayed, via}; }
  bool operator==(const Path&) const = default;
};

class PathCell {
 public:
  Path load() const { return unpack(word_.load(std::memory_order_relaxed)); }

  // The one writer: replaces the path with change(current) atomically and
  // returns the new path. `change` may run more than once (a concurrent
  // writer won the race), so it must only compute.
  template <typename Change>
  Path update(Change change) {
    uint64_t cur = word_.load(std::memory_order_relaxed);
    for (;;) {
      const Path next = change(unpack(cur));
      const uint64_t want = pack(next);
      if (want == cur || word_.compare_exchange_weak(cur, want, std::memory_order_relaxed)) return next;
    }
  }

 private:
  static uint64_t pack(const Path& p) { return uint64_t{p.relay.value} | uint64_t{static_cast<uint8_t>(p.kind)} << 32; }
  static Path unpack(uint64_t w) {
    return Path{static_cast<PathKind>(static_cast<uint8_t>(w >> 32)), HostId{static_cast<uint32_t>(w)}};
  }

  std::atomic<uint64_t> word_{0};
};

// Where a datagram for a peer goes now: to the peer itself (direct) or to a
// relay, at that first hop's endpoint. first_hop == nullptr: nowhere.
struct Hop {
  Peer* first_hop = nullptr;
  Endpoint to;
};

}  // namespace cordon::link
