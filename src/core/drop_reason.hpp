// Every dropped packet has a named reason and a counter (docs/design.md,
// decision 9). The names are stable: they appear in logs, `cordon status`
// and metrics, so never rename one.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cordon {

// X(enumerator, stable name, meaning)
#define CORDON_DROP_REASONS(X)                                                          \
  /* underlay -> tunnel */                                                               \
  X(kTooShort, "too_short", "datagram shorter than header and tag")                      \
  X(kBadHeader, "bad_header", "unknown format (2 or 3), or a malformed relayed datagram") \
  X(kUnknownPeer, "unknown_peer", "no link with the sender host number")                \
  X(kRevokedHost, "revoked_host", "from or to a host removed as compromised (docs/couriers.md)") \
  X(kSuiteMismatch, "suite_mismatch", "sender uses another AEAD suite than configured") \
  X(kUnknownGeneration, "unknown_generation", "key generation not held")                \
  X(kRetiredGeneration, "retired_generation", "counter at or after the peer's switch away from this generation") \
  X(kStale, "stale", "counter time older than the time window")                         \
  X(kFuture, "future", "counter time ahead of the time window")                         \
  X(kTooOld, "too_old", "counter behind the replay window")                             \
  X(kReplay, "replay", "counter already seen")                                          \
  X(kAuthFailure, "auth_failure", "tag does not verify")                                \
  X(kBadInner, "bad_inner", "decrypted payload is not a well-formed IP packet")         \
  X(kDisallowedSource, "disallowed_source", "inner source outside the peer's prefixes") \
  X(kFiltered, "filtered", "a protected-traffic rule drops it, or a reload's rules cut its connection") \
  X(kConntrackFull, "conntrack_full", "no room in the connection table for a new connection") \
  X(kOutOfReach, "out_of_reach", "to or from a tunneled subnet of this gateway the peer may not reach") \
  /* tunnel -> underlay */                                                               \
  X(kNoRoute, "no_route", "no peer's allowed prefixes cover the destination")            \
  X(kNoEndpoint, "no_endpoint", "peer's underlay endpoint not known yet")               \
  X(kTooBig, "too_big", "packet larger than the buffer allows")                         \
  X(kNonceReservation, "nonce_reservation", "counter floor not yet persisted")          \
  X(kCryptoError, "crypto_error", "the crypto library failed")                         \
  X(kSessionDown, "session_down", "a site link's session is not up: answered with a reset or an ICMP error; or shut down here") \
  /* coordinators (docs/protocol.md, "Coordinators") */                                 \
  X(kBadControl, "bad_control", "control message truncated, oversized or malformed")     \
  X(kUnknownControl, "unknown_control", "control message of an unknown type")           \
  X(kChannelAuth, "channel_auth", "control channel message whose inner seal does not verify") \
  X(kBadChannel, "bad_channel", "control channel message truncated, malformed or of an unknown type") \
  X(kNotCoordinator, "not_coordinator", "coordinator message from a host that is not one") \
  X(kUnlinkedRecord, "unlinked_record", "status or record about a host not linked or not served") \
  X(kControlBacklog, "control_backlog", "control messages arrive faster than they are handled") \
  X(kNoRelayRoute, "no_relay_route", "no path to a relayed datagram's destination")      \
  X(kHopLimit, "hop_limit", "relayed datagram out of hops")                             \
  X(kRelaySource, "relay_source", "a client's relayed datagram names another source")   \
  X(kMisrouted, "misrouted", "relayed datagram for another host reached a client")        \
  /* restarts and replays (docs/protocol.md, "Replay protection") */                     \
  X(kOldControl, "old_control", "probe, status report, direct probe ack or courier message not live: nothing answered or moved") \
  X(kUnmatchedAck, "unmatched_ack", "probe ack or status ack for nothing this host sent and still waits for") \
  X(kUnlinkedRelay, "unlinked_relay", "a served client's relayed datagram to a host it has no link with") \
  X(kNotRegistry, "not_registry", "host records from a coordinator that is not this client's registry")

enum class DropReason : uint8_t {
#define CORDON_X(e, name, what) e,
  CORDON_DROP_REASONS(CORDON_X)
#undef CORDON_X
  kCount
};

constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

constexpr std::string_view drop_reason_name(DropReason r) {
  constexpr std::array<std::string_view, kDropReasonCount> names = {
#define CORDON_X(e, name, what) name,
      CORDON_DROP_REASONS(CORDON_X)
#undef CORDON_X
  };
  return names[static_cast<size_t>(r)];
}

constexpr std::string_view drop_reason_meaning(DropReason r) {
  constexpr std::array<std::string_view, kDropReasonCount> meanings = {
#define CORDON_X(e, name, what) what,
      CORDON_DROP_REASONS(CORDON_X)
#undef CORDON_X
  };
  return meanings[static_cast<size_t>(r)];
}

// Relaxed atomic counters, one per reason; workers bump them concurrently.
class DropCounters {
 public:
  void add(DropReason r, uint64_t n = 1) {
    counts_[static_cast<size_t>(r)].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t get(DropReason r) const {
    return counts_[static_cast<size_t>(r)].load(std::memory_order_relaxed);
  }
  std::array<uint64_t, kDropReasonCount> snapshot() const {
    std::array<uint64_t, kDropReasonCount> out{};
    for (size_t i = 0; i < kDropReasonCount; ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
    return out;
  }

 private:
  std::array<std::atomic<uint64_t>, kDropReasonCount> counts_{};
};

}  // namespace cordon
