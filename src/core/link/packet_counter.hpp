// The sending side of one link direction: the 64-bit packet counter that is
// both the replay sequence and the AEAD nonce (docs/protocol.md, "Packet
// counter" and "Nonce uniqueness").
//
// The counter counts packets one by one, so the receiver's bitmap window sees
// consecutive values. It is anchored to the wall clock: when it has fallen
// more than kAnchorSlack behind the clock it jumps forward to the clock. So
// its top bits always tell the receiver roughly when the packet was sent.
// It never moves backwards, whatever the clock does.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/wire/header.hpp"

namespace cordon::link {

// How far the counter may lag the clock before it re-anchors: 1 s. Each
// re-anchor is a jump the receiver's window absorbs with its previous
// segment, so this trades jumps against the slack the receiver must allow
// on the old side of its time window, and against how long a restarted
// receiver waits before a peer's datagrams are dated after its start and so
// may move an endpoint or draw an answer (docs/protocol.md, "After a
// restart"). One jump a second under traffic is cheap; a wait of 16 s after
// every start was not.
constexpr uint64_t kAnchorSlack = wire::kCounterUnitsPerSecond;

class PacketCounter {
 public:
  explicit PacketCounter(uint64_t start) : next_(start) {}

  // Takes the next counter for a packet sent at `now_units`. Lock-free; any
  // number of workers may call it at once.
  uint64_t take(uint64_t now_units) {
    uint64_t cur = next_.load(std::memory_order_relaxed);
    for (;;) {
      const uint64_t use = anchored(cur, now_units);
      // Sequentially consistent, so that a sender's later load of the
      // peer's sending generation is ordered after it (link/peer.hpp,
      // tx_generation); on x86 the locked instruction is the same.
      if (next_.compare_exchange_weak(cur, use + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) return use;
    }
  }

  // The counter take(now_units) would hand out next, if nobody else takes one first.
  uint64_t peek(uint64_t now_units) const { return anchored(next_.load(std::memory_order_relaxed), now_units); }
  // The next counter not yet taken, read after a sequentially consistent
  // store (Peer::send_with): every counter taken before that store is below
  // it. Without re-anchoring: a counter handed out later is at least this.
  uint64_t peek_ordered() const { return next_.load(std::memory_order_seq_cst); }

 private:
  static uint64_t anchored(uint64_t next, uint64_t now_units) {
    return next + kAnchorSlack < now_units ? now_units : next;
  }

 public:

 private:
  std::atomic<uint64_t> next_;
};

}  // namespace cordon::link
