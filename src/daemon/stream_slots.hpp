// Who may hold a coordinator's TCP tunnel streams, and what they are called
// (docs/protocol.md, "TCP tunnel", "Streams under flood"). No sockets and no
// clock here: tcp_tunnel.cpp asks, acts, and passes the time in, so the rules
// are tested on their own (tests/unit/tcp_tunnel_test.cpp).
//
// A stream is "pending" from accept until it carries an authentic datagram,
// then "authenticated". Anyone can open a pending stream; only a host of the
// network can authenticate one. So:
//   - pending streams get a pool of their own (Limits::pending) that never
//     grows into the authenticated pool (Limits::authenticated): strangers
//     can never take an authenticated client's slot, and an authenticated
//     stream is never evicted to make room;
//   - one source (an IPv4 address, or an IPv6 /64: what one subscriber
//     usually gets, RFC 6177) holds at most Limits::pending_per_source
//     pending streams;
//   - a new connection is never refused for want of room: it evicts the
//     oldest pending stream of its own source when that source is at its
//     cap, else the oldest pending stream of all when the pool is full. A
//     client's first datagram follows its connect at once, so a genuine
//     stream is pending for one round trip and survives unless a whole
//     pool's worth of connections arrives in between.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/types.hpp"

namespace cordon::daemon {

// What a stream's source counts as for Limits::pending_per_source: the IPv4
// address, or the first 64 bits of an IPv6 one.
using StreamSource = std::array<uint8_t, 16>;
StreamSource stream_source(const IpAddress& address);

// A coordinator's accepted streams now, and what happened to the ones it
// let go of since the daemon started (`cordon status`, "tcp_tunnel").
struct TcpTunnelStats {
  size_t pending = 0;        // accepted, no authentic datagram yet
  size_t authenticated = 0;  // carried an authentic datagram
  uint64_t evicted_same_source = 0;  // pending, evicted by a newer one from its source
  uint64_t evicted_oldest = 0;       // pending, evicted by a newcomer while the pool was full
  uint64_t refused = 0;              // closed at once: no slot could be made
  uint64_t no_first_datagram = 0;    // pending for tcp_tunnel.hpp's kTcpFirstDatagramNs
  uint64_t frame_timeouts = 0;       // a frame begun and not finished within kTcpFrameNs
  uint64_t write_stalls = 0;         // the peer read nothing for kTcpWriteStallNs
  uint64_t idle = 0;                 // authenticated, silent for the poll period
};

class StreamSlots {
 public:
  struct Limits {
    // The clients a coordinator carries over TCP at once; TCP is the
    // exception next to UDP, and each stream holds a socket and buffers.
    size_t authenticated = 1024;
    // Connections waiting for their first datagram. A quarter of the
    // authenticated pool: room for a crowd of clients reconnecting at
    // once after an outage.
    size_t pending = 256;
    // A NAT in front of an office can put several clients behind one
    // address, all reconnecting after an outage; a single attacker address
    // gets no more than this.
    size_t pending_per_source = 8;
  };

  enum class Admit : uint8_t {
    kFree,            // room: nothing to evict
    kEvictSameSource, // the source is at its cap: evict `victim`, its oldest pending stream
    kEvictOldest,     // the pending pool is full: evict `victim`, the oldest pending stream
    kRefuse,          // no pending slots at all (Limits::pending = 0)
  };
  struct Decision {
    Admit admit = Admit::kFree;
    uint32_t victim = 0;
  };

  StreamSlots() = default;
  explicit StreamSlots(const Limits& limits) : limits_(limits) {}

  // What a new connection from `source` costs. The caller evicts the victim
  // (remove()), then add()s the new stream.
  Decision admit(const IpAddress& source) const;
  // A stream the caller accepted; `id` must not be held already.
  void add(uint32_t id, const IpAddress& source);
  // The stream carried an authentic datagram: it moves to the authenticated
  // pool. False when that pool is full: the stream stays pending (and can be
  // evicted) until a slot frees; the caller retries on its next datagram.
  bool authenticated(uint32_t id);
  // The stream is gone (closed, evicted, timed out). Unknown ids are ignored.
  void remove(uint32_t id);

  bool is_pending(uint32_t id) const;
  size_t pending() const { return pending_order_.size(); }
  size_t authenticated_count() const { return authenticated_.size(); }
  const Limits& limits() const { return limits_; }

 private:
  struct Pending {
    StreamSource source;
    uint64_t order = 0;
  };

  Limits limits_;
  uint64_t next_order_ = 0;
  std::unordered_map<uint32_t, Pending> pending_;
  std::map<uint64_t, uint32_t> pending_order_;                 // arrival order -> id: oldest first
  std::map<StreamSource, std::map<uint64_t, uint32_t>> by_source_;  // the same, per source
  std::unordered_set<uint32_t> authenticated_;
};

// Stream numbers: 1, 2, 3, ... up to 2^32 - 1, then from 1 again; never 0
// (the UDP path). A number is handed out again only when no open stream has
// it and it was released at least kQuarantineNs ago, so a datagram still on
// its way for a closed stream (in the workers' outbox, or in a node snapshot
// that named it) can never reach a new stream. A wrap takes 2^32 accepts;
// memory is one entry per number released in the last kQuarantineNs.
class StreamNumbers {
 public:
  // Longer than a stream number outlives its stream anywhere: the outbox is
  // drained on every control-loop turn, and the node forgets a stream when
  // told it closed (core/node.hpp, stream_closed).
  static constexpr int64_t kQuarantineNs = 10 * kNsPerSecond;

  // `last`: the number given before the first; tests start near the end.
  explicit StreamNumbers(uint32_t last = 0) : last_(last) {}
  // nullopt only when every number is open or in quarantine.
  std::optional<uint32_t> next(int64_t now_ns);
  // The stream with this number closed at now_ns.
  void release(uint32_t number, int64_t now_ns);
  size_t in_quarantine() const { return quarantine_.size(); }
  // Tests: the next number tried is last + 1, as if the counter had got there.
  void restart_after(uint32_t last) { last_ = last; }

 private:
  void expire(int64_t now_ns);
  bool taken(uint32_t number) const { return open_.contains(number) || quarantined_.contains(number); }

  uint32_t last_ = 0;
  std::unordered_set<uint32_t> open_;
  std::deque<std::pair<int64_t, uint32_t>> quarantine_;  // (released at, number), oldest first
  std::unordered_set<uint32_t> quarantined_;
};

}  // namespace cordon::daemon
