#include "core/node_auth.hpp"

#include <algorithm>
#include <vector>

namespace cordon {
namespace {

using link::ReplayWindow;

// The time window (docs/design.md, decision 6): the counter's clock part must lie
// within +-window of ours. The old side also allows for the sender's anchor
// slack, since a counter may lag its sender's clock by that much.
std::optional<DropReason> time_check(uint64_t counter, uint64_t now_units, uint64_t window) {
  if (counter > now_units && counter - now_units > window) return DropReason::kFuture;
  if (counter < now_units && now_units - counter > window + link::kAnchorSlack) return DropReason::kStale;
  return std::nullopt;
}

// Decrypts in place. When other candidate links may still need the
// ciphertext, a failed attempt puts it back from a per-thread copy (allocated
// once per thread, not per packet).
bool open_keeping_ciphertext(crypto::Aead& aead, std::span<const std::byte, crypto::kNonceSize> nonce,
                             std::span<const std::byte> aad, std::span<std::byte> body,
                             std::span<const std::byte, wire::kTagSize> tag, bool keep) {
  if (!keep) return aead.open(nonce, aad, body, tag);
  thread_local std::vector<std::byte> saved;
  saved.assign(body.begin(), body.end());
  if (aead.open(nonce, aad, body, tag)) return true;
  std::copy(saved.begin(), saved.end(), body.begin());
  return false;
}

}  // namespace

DropReason replay_reason(ReplayWindow::Verdict v) {
  return v == ReplayWindow::Verdict::kReplay ? DropReason::kReplay : DropReason::kTooOld;
}

AuthResult authenticate(unsigned worker, const Now& now, const Snapshot& s, const wire::Header& h,
                        std::span<const uint32_t> candidates, std::span<const std::byte> aad,
                        std::span<std::byte> sealed, std::span<const std::byte, wire::kTagSize> tag) {
  const uint64_t now_units = wire::counter_units(now.real_ns);
  const uint64_t counter = wire::rebuild_counter(h.wire_counter, now_units);
  const auto nonce = wire::make_nonce(counter);
  AuthResult out;
  out.counter = counter;
  // Usually one candidate; several only when peers from different networks
  // share a host number. The first failure reason is the one counted.
  for (uint32_t index : candidates) {
    link::Peer& peer = *s.peers[index].peer;
    std::optional<DropReason> failure;
    const link::Generation* g = peer.rx_generation(h.generation);
    if (h.suite != peer.suite()) {
      failure = DropReason::kSuiteMismatch;
    } else if (!g) {
      failure = DropReason::kUnknownGeneration;
    } else if (g->number() != 0 && counter >= g->rx_until()) {
      // The peer said it seals nothing more with this generation from there
      // on (docs/protocol.md, "Key generations"): refused before decryption.
      failure = DropReason::kRetiredGeneration;
    } else if (auto t = time_check(counter, now_units, s.time_window_units)) {
      failure = t;
    } else if (auto v = peer.replay_check(counter); v != ReplayWindow::Verdict::kFresh) {
      failure = replay_reason(v);
    } else if (crypto::Aead* aead = g->rx(worker); !aead) {
      failure = DropReason::kCryptoError;
    } else if (!open_keeping_ciphertext(*aead, nonce, aad, sealed, tag, candidates.size() > 1)) {
      failure = DropReason::kAuthFailure;
    }
    if (!failure) {
      out.peer = &peer;
      out.generation = g;
      out.zero_after_switch = g->number() == 0 && counter >= g->rx_until();
      return out;
    }
    if (!out.failure) out.failure = failure, out.failed_peer = &peer;
  }
  return out;
}

}  // namespace cordon
