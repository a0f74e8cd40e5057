// Tunnel -> underlay: route the inner packet to a peer, take a counter, seal
// in place. Checks end in named drops like the receive path.
#include "core/node_impl.hpp"
#include "core/wire/inner_packet.hpp"

namespace cordon {
namespace {

void drop(TxSlot& slot, DropReason r, DropCounters& counters) {
  slot.verdict = Verdict::kDrop;
  slot.reason = r;
  counters.add(r);
}

// Refreshing the keepalive timer on every packet would make workers write
// the same cache line constantly; a millisecond is precise enough for a 25 s timer.
void note_sent(link::PeerStats& st, const Now& now) {
  if (now.mono_ns - st.last_tx_mono_ns.load(std::memory_order_relaxed) > kNsPerMs) {
    st.last_tx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
    st.last_tx_real_ns.store(now.real_ns, std::memory_order_relaxed);
  }
}

}  // namespace

std::optional<std::span<const std::byte>> Node::Impl::seal(unsigned slot, const Now& now, HostId self,
                                                           link::Peer& peer, std::span<std::byte> buffer,
                                                           size_t headroom, size_t length, DropReason& reason) {
  if (headroom < wire::kHeaderSize || buffer.size() < headroom + length + wire::kTailroom) {
    reason = DropReason::kTooBig;
    return std::nullopt;
  }
  const uint64_t counter = peer.counter().take(wire::counter_units(now.real_ns));
  if (counter >= confirmed_floor.load(std::memory_order_acquire)) {
    reason = DropReason::kNonceReservation;
    return std::nullopt;
  }
  const size_t start = headroom - wire::kHeaderSize;
  wire::Header h;
  h.suite = peer.suite();
  h.generation = static_cast<uint8_t>(peer.generation() % wire::kGenerationModulus);
  h.sender_host = self.host();
  h.wire_counter = counter & wire::kWireCounterMask;
  const auto header = buffer.subspan(start).first<wire::kHeaderSize>();
  wire::write_header(h, header);
  const auto body = buffer.subspan(headroom, length);
  const auto tag = buffer.subspan(headroom + length).first<wire::kTagSize>();
  if (!peer.tx(slot).seal(wire::make_nonce(counter), header, body, tag)) {
    reason = DropReason::kCryptoError;
    return std::nullopt;
  }
  return buffer.subspan(start, length + wire::kOverhead);
}

void Node::Impl::send(unsigned worker, const Now& now, const Snapshot& s, TxSlot& slot) {
  slot.wire = {};
  if (slot.headroom > slot.buffer.size() || slot.length > slot.buffer.size() - slot.headroom) {
    return drop(slot, DropReason::kTooBig, drops);
  }
  const auto inner = wire::parse_inner(slot.buffer.subspan(slot.headroom, slot.length));
  if (!inner) return drop(slot, DropReason::kBadInner, drops);
  const auto index = s.routes.lookup(inner->destination);
  if (!index) return drop(slot, DropReason::kNoRoute, drops);
  link::Peer& peer = *s.peers[*index].peer;
  link::PeerStats& st = peer.stats();
  const auto to = peer.endpoint();
  if (!to) return drop(slot, DropReason::kNoEndpoint, st.drops);
  DropReason reason{};
  const auto datagram = seal(worker, now, s.self, peer, slot.buffer, slot.headroom, inner->length, reason);
  if (!datagram) return drop(slot, reason, st.drops);
  st.tx_packets.fetch_add(1, std::memory_order_relaxed);
  st.tx_bytes.fetch_add(inner->length, std::memory_order_relaxed);
  note_sent(st, now);
  slot.to = *to;
  slot.wire = *datagram;
  slot.verdict = Verdict::kDeliver;
}

}  // namespace cordon
