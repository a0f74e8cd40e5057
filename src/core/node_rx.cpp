// Underlay -> tunnel. A chain of checks, cheapest first, each ending in a
// named drop (STYLE.md, after WireGuard's receive.c):
//   header -> link -> suite -> generation -> time window -> replay pre-check
//   -> decrypt -> replay accept (+ roaming) -> keepalive? -> inner packet -> source
#include <algorithm>

#include "core/node_impl.hpp"
#include "core/wire/inner_packet.hpp"

namespace cordon {
namespace {

using link::ReplayWindow;

void drop(RxSlot& slot, DropReason r, DropCounters& counters) {
  slot.verdict = Verdict::kDrop;
  slot.reason = r;
  counters.add(r);
}

DropReason replay_reason(ReplayWindow::Verdict v) {
  return v == ReplayWindow::Verdict::kReplay ? DropReason::kReplay : DropReason::kTooOld;
}

// The time window (DESIGN.md, decision 6): the counter's clock part must lie
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

void Node::Impl::receive(unsigned worker, const Now& now, const Snapshot& s, RxSlot& slot) {
  slot.inner = {};
  const auto parsed = wire::parse_header(slot.data);
  if (!parsed.header) {
    return drop(slot, parsed.error == wire::HeaderError::kTooShort ? DropReason::kTooShort : DropReason::kBadHeader,
                drops);
  }
  const wire::Header& h = *parsed.header;
  const auto it = s.by_sender_host.find(h.sender_host);
  if (it == s.by_sender_host.end()) return drop(slot, DropReason::kUnknownPeer, drops);

  const uint64_t now_units = wire::counter_units(now.real_ns);
  const uint64_t counter = wire::rebuild_counter(h.wire_counter, now_units);
  const auto nonce = wire::make_nonce(counter);
  const auto aad = slot.data.first(wire::kHeaderSize);
  const auto body = slot.data.subspan(wire::kHeaderSize, slot.data.size() - wire::kOverhead);
  const auto tag = std::span<const std::byte, wire::kTagSize>(slot.data.last(wire::kTagSize));

  // Usually one candidate; several only when peers from different networks
  // share a host number. The first failure reason is the one counted.
  std::optional<DropReason> first_failure;
  link::Peer* first_peer = nullptr;
  for (uint32_t index : it->second) {
    link::Peer& peer = *s.peers[index].peer;
    std::optional<DropReason> failure;
    if (h.suite != peer.suite()) {
      failure = DropReason::kSuiteMismatch;
    } else if (h.generation != peer.generation() % wire::kGenerationModulus) {
      failure = DropReason::kUnknownGeneration;
    } else if (auto t = time_check(counter, now_units, s.time_window_units)) {
      failure = t;
    } else if (auto v = peer.replay_check(counter); v != ReplayWindow::Verdict::kFresh) {
      failure = replay_reason(v);
    } else if (!open_keeping_ciphertext(peer.rx(worker), nonce, aad, body, tag, it->second.size() > 1)) {
      failure = DropReason::kAuthFailure;
    }
    if (failure) {
      if (!first_failure) first_failure = failure, first_peer = &peer;
      continue;
    }
    // Authentic from here on. Record the counter; a duplicate decrypted by
    // another worker at the same moment loses here.
    if (auto v = peer.replay_accept(counter, slot.from); v != ReplayWindow::Verdict::kFresh) {
      return drop(slot, replay_reason(v), peer.stats().drops);
    }
    link::PeerStats& st = peer.stats();
    st.last_rx_real_ns.store(now.real_ns, std::memory_order_relaxed);
    if (!body.empty() && body[0] == wire::kKeepaliveByte) {
      st.keepalives_received.fetch_add(1, std::memory_order_relaxed);
      slot.verdict = Verdict::kConsumed;
      return;
    }
    const auto inner = wire::parse_inner(body);
    if (!inner) return drop(slot, DropReason::kBadInner, st.drops);
    const auto owner = s.routes.lookup(inner->source);
    if (!owner || s.peers[*owner].peer.get() != &peer) return drop(slot, DropReason::kDisallowedSource, st.drops);
    st.rx_packets.fetch_add(1, std::memory_order_relaxed);
    st.rx_bytes.fetch_add(inner->length, std::memory_order_relaxed);
    slot.inner = body.first(inner->length);
    slot.verdict = Verdict::kDeliver;
    return;
  }
  drop(slot, *first_failure, first_peer->stats().drops);
}

}  // namespace cordon
