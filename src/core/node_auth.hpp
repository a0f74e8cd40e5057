// The checks every received datagram's (or hop's) seal goes through, shared
// by the direct path (node_rx.cpp) and relayed datagrams (node_relay.cpp):
//   suite -> generation (held, not retired) -> time window -> replay pre-check -> open
#pragma once

#include <optional>
#include <span>

#include "core/node_impl.hpp"

namespace cordon {

struct AuthResult {
  link::Peer* peer = nullptr;  // the candidate whose key opened it
  const link::Generation* generation = nullptr;  // the generation that opened it
  uint64_t counter = 0;        // the rebuilt 64-bit counter
  // Generation 0 at or after the peer's switch away from it: the peer has
  // restarted (link/rekey.hpp, peer_datagram_in_zero).
  bool zero_after_switch = false;
  std::optional<DropReason> failure;
  link::Peer* failed_peer = nullptr;  // where to count `failure`
};

// Tries each candidate peer (indexes into s.peers) and opens `sealed` in
// place with associated data `aad`. The replay window is only checked, not
// updated: the caller accepts the counter once it knows what arrived.
AuthResult authenticate(unsigned worker, const Now& now, const Snapshot& s, const wire::Header& h,
                        std::span<const uint32_t> candidates, std::span<const std::byte> aad,
                        std::span<std::byte> sealed, std::span<const std::byte, wire::kTagSize> tag);

DropReason replay_reason(link::ReplayWindow::Verdict v);

// A generation probe's plaintext (wire/header.hpp, kGenerationProbeByte).
inline bool is_probe(std::span<const std::byte> body) {
  return !body.empty() && body[0] == wire::kGenerationProbeByte;
}

// Ends a received datagram's journey with a named, counted drop.
inline void drop(RxSlot& slot, DropReason r, DropCounters& counters) {
  slot.verdict = Verdict::kDrop;
  slot.reason = r;
  counters.add(r);
}

}  // namespace cordon
