// Connection tracking for the protected-traffic filter (docs/gateways.md,
// "Connections"): a connection a rule allowed is remembered, and its packets
// in both directions pass without walking the rules again. A fixed table,
// allocated once: buckets of kWays entries, each bucket under its own spin
// lock, so workers on different connections never wait for each other. A
// full bucket refuses a new connection (counted as `conntrack_full`) rather
// than evict a live one. The hash is keyed with a per-process secret, so a
// peer cannot aim its connections at one bucket.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/filter/flow.hpp"
#include "core/filter/rule.hpp"
#include "core/filter/ruleset.hpp"
#include "core/sync.hpp"

namespace cordon::filter {

// Idle timeouts, after the behaviour NATs must have (RFC 5382, REQ-5: an
// established TCP connection lives at least 2 h 4 min idle, a transitory one
// 4 min; RFC 4787, REQ-5: a UDP mapping at least 2 min, 5 min recommended)
// and the Linux connection tracker's defaults for the rest.
inline constexpr int64_t kTcpEstablishedNs = 7440 * kNsPerSecond;
inline constexpr int64_t kTcpTransitoryNs = 240 * kNsPerSecond;  // unanswered, or closing with FINs
inline constexpr int64_t kTcpResetNs = 10 * kNsPerSecond;
inline constexpr int64_t kUdpUnansweredNs = 30 * kNsPerSecond;
inline constexpr int64_t kUdpAnsweredNs = 300 * kNsPerSecond;
inline constexpr int64_t kIcmpNs = 30 * kNsPerSecond;
inline constexpr int64_t kOtherNs = 600 * kNsPerSecond;

// What a tracked connection looks like from outside the table (status, tests).
struct Connection {
  uint32_t peer = 0;
  Direction origin = Direction::kIn;  // the direction of its first packet
  Tuple tuple;                        // as its first packet travelled
  bool answered = false;
  bool cut = false;  // a reload's rules forbid it: its packets are dropped
  int32_t rule = kDefaultRule;  // the rule that allowed it, or cut it
  int64_t expires_ns = 0;
};

class ConnTable {
 public:
  static constexpr size_t kWays = 8;

  // Room for at least `capacity` connections (rounded up to a power of two
  // number of buckets).
  ConnTable(size_t capacity, uint64_t secret);

  enum class State : uint8_t { kNone, kAllowed, kCut };
  struct Found {
    State state = State::kNone;
    int32_t rule = kDefaultRule;
  };
  // The connection of a packet of `f` with `peer`, travelling in `d`; an
  // allowed one takes the packet into its state and idle timer.
  Found touch(uint32_t peer, Direction d, const Flow& f, int64_t now_ns);
  // The connection an ICMP error's quoted packet belongs to; changes nothing.
  Found find(uint32_t peer, const Tuple& t, int64_t now_ns);
  // Tracks a new connection allowed by `rule`; false when its bucket is full.
  bool insert(uint32_t peer, Direction d, const Flow& f, int32_t rule, int64_t now_ns);

  // After a reload: judges every live connection again with `rules` as if
  // its first packet came now; one they drop is cut, a cut one they allow
  // passes again. Returns how many connections are cut now.
  size_t recheck(const Ruleset& rules, int64_t now_ns);
  // Frees expired entries in up to `buckets` buckets from where the last
  // sweep stopped (the control thread, on its tick).
  void sweep(int64_t now_ns, size_t buckets);

  size_t size() const { return live_.load(std::memory_order_relaxed); }
  size_t capacity() const { return (mask_ + 1) * kWays; }
  size_t bucket_count() const { return mask_ + 1; }
  // Up to `max` live connections, for status.
  std::vector<Connection> list(size_t max, int64_t now_ns);

  // One entry, 64 bytes: the two ends in canonical order (the lower
  // address and port first), so both directions of a connection find it.
  struct Entry {
    std::array<uint8_t, 16> low{}, high{};
    uint32_t peer = 0;
    uint16_t low_port = 0, high_port = 0;
    uint8_t protocol = 0;
    uint8_t family = 0;
    uint8_t origin = 0;  // Direction of the first packet
    uint8_t flags = 0;   // kUsed, kLowStarted, kAnswered, kFinLow, kFinHigh, kReset, kCut
    uint8_t icmp_type = 0;  // of the first packet, for recheck
    int32_t rule = kDefaultRule;
    int64_t expires_ns = 0;
    bool same_connection(const Entry& o) const;
  };
  struct alignas(64) Bucket {
    SpinLock lock;
    Entry entries[kWays] CORDON_GUARDED_BY(lock);
  };

 private:
  Bucket& bucket_for(const Entry& key);
  void free_expired(Bucket& b, int64_t now_ns) CORDON_REQUIRES(b.lock);

  size_t mask_ = 0;
  uint64_t secret_ = 0;
  std::unique_ptr<Bucket[]> buckets_;
  std::atomic<size_t> live_{0};
  size_t sweep_at_ = 0;  // control thread only
};

}  // namespace cordon::filter
