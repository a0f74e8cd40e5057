// Tunnel -> underlay: route the inner packet to a peer, choose its path
// (direct, or through a relay: docs/protocol.md, "Rendezvous"), take a
// counter, seal in place, and for a relayed path wrap it for the first hop.
// Checks end in named drops like the receive path.
#include <algorithm>

#include "core/node_impl.hpp"
#include "core/wire/inner_packet.hpp"

namespace cordon {
namespace {

void drop(TxSlot& slot, DropReason r, DropCounters& counters) {
  slot.verdict = Verdict::kDrop;
  slot.reason = r;
  counters.add(r);
}

}  // namespace

Node::Impl::Sealed Node::Impl::seal(unsigned slot, const Now& now, HostId self, link::Peer& peer,
                                    std::span<std::byte> buffer, size_t headroom, size_t length, bool channel,
                                    const link::Generation* generation) {
  if (headroom < wire::kHeaderSize || buffer.size() < headroom + length + wire::kTagSize) return DropReason::kTooBig;
  // The counter first, then the generation (link/peer.hpp, tx_generation).
  const uint64_t counter = peer.counter().take(wire::counter_units(now.real_ns));
  if (counter >= confirmed_floor.load(std::memory_order_acquire)) return DropReason::kNonceReservation;
  const link::Generation& g = generation ? *generation : *peer.tx_generation();
  const size_t start = headroom - wire::kHeaderSize;
  wire::Header h;
  h.suite = peer.suite();
  h.generation = g.wire();
  h.lane = wire::lane_of_worker(slot);
  h.sender_host = self.host();
  h.wire_counter = counter & wire::kWireCounterMask;
  const auto header = buffer.subspan(start).first<wire::kHeaderSize>();
  wire::write_header(h, header);
  const auto body = buffer.subspan(headroom, length);
  const auto tag = buffer.subspan(headroom + length).first<wire::kTagSize>();
  const auto nonce = wire::make_nonce(counter);
  if (channel) {
    // The inner seal, with the control key of the same generation
    // (wire/channel.hpp); rare, so a fresh context.
    const auto envelope = wire::split_envelope(body);
    auto inner = g.make_control_tx();
    if (!envelope || !inner || !inner->seal(nonce, header, envelope->sealed, envelope->tag)) {
      return DropReason::kCryptoError;
    }
  }
  crypto::Aead* aead = sealer(slot, g);
  if (!aead || !aead->seal(nonce, header, body, tag)) return DropReason::kCryptoError;
  return std::span<const std::byte>(buffer.subspan(start, length + wire::kOverhead));
}

// Direct when the path is direct (a fixed endpoint not yet found silent, or a direct path found),
// or when no relay is there to carry it; otherwise the relay.
link::Hop Node::Impl::path_to(const Snapshot& s, link::Peer& peer) const {
  const auto direct = peer.endpoint();
  const link::Path path = peer.path();
  if (direct && path.direct()) return link::Hop{&peer, *direct};
  if (path.relay.value != 0) {
    if (const PeerEntry* relay = s.find(path.relay)) {
      if (const auto to = relay->peer->endpoint()) return link::Hop{relay->peer.get(), *to};
    }
  }
  if (direct) return link::Hop{&peer, *direct};
  return link::Hop{};
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
  if (peer.gate() != link::Peer::Gate::kOpen) {
    return reflect(peer, slot, slot.buffer.subspan(slot.headroom, inner->length),
                   inner->source.is_v4() ? s.tunnel_v4 : s.tunnel_v6);
  }
  link::PeerStats& st = peer.stats();
  if (!s.reachable(s.peers[*index], inner->source)) return drop(slot, DropReason::kOutOfReach, st.drops);
  const auto packet = slot.buffer.subspan(slot.headroom, inner->length);
  if (const auto r = filtered(worker, now, s, filter::Direction::kOut, peer.id(), packet)) return drop(slot, *r, st.drops);
  link::on_data_sent(peer, now);
  const link::Hop path = path_to(s, peer);
  if (!path.first_hop) return drop(slot, DropReason::kNoEndpoint, st.drops);
  // Size classes: zero padding after the packet, inside the ciphertext.
  const size_t plain = s.padded(inner->length);
  if (plain != inner->length && slot.buffer.size() - slot.headroom < plain + wire::kTailroom) {
    return drop(slot, DropReason::kTooBig, st.drops);
  }
  std::fill(slot.buffer.begin() + static_cast<ptrdiff_t>(slot.headroom + inner->length),
            slot.buffer.begin() + static_cast<ptrdiff_t>(slot.headroom + plain), std::byte{0});
  const auto datagram = seal_on_path(worker, now, s.self, peer, *path.first_hop, slot.buffer, slot.headroom, plain);
  if (!datagram) return drop(slot, datagram.error(), st.drops);
  if (path.first_hop != &peer) link::on_any_sent(*path.first_hop, now);
  st.tx_packets.fetch_add(1, std::memory_order_relaxed);
  st.tx_bytes.fetch_add(inner->length, std::memory_order_relaxed);
  link::on_any_sent(peer, now);
  slot.to = path.to;
  slot.wire = *datagram;
  slot.verdict = Verdict::kDeliver;
}

}  // namespace cordon
