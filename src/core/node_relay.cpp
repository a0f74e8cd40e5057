// Relayed datagrams (docs/protocol.md, "Relayed datagrams"): receiving one,
// forwarding it at a coordinator, and wrapping a datagram for a relay.
//
// Receive: hop header -> hop link (sender host number) -> the usual seal
// checks on the routing block (node_auth.hpp) -> replay accept -> then
//   destination == this host: open the inner datagram with the source's key;
//   otherwise, at a coordinator: hops -> source -> next hop -> reseal -> forward.
#include <algorithm>

#include "core/node_auth.hpp"
#include "core/node_impl.hpp"

namespace cordon {
using link::ReplayWindow;

void Node::Impl::receive_relayed(unsigned worker, const Now& now, const Snapshot& s, const wire::Header& hop,
                                 RxSlot& slot) {
  auto parts = wire::split_relayed(slot.data);
  if (!parts) return drop(slot, DropReason::kTooShort, drops);
  const auto it = s.by_sender_host.find(hop.sender_host);
  if (it == s.by_sender_host.end()) {
    return drop(slot, s.revoked_number(hop.sender_host) ? DropReason::kRevokedHost : DropReason::kUnknownPeer, drops);
  }
  const AuthResult auth = authenticate(worker, now, s, hop, it->second, parts->aad, parts->routing, parts->tag);
  if (!auth.peer) return drop(slot, *auth.failure, auth.failed_peer->stats().drops);
  link::Peer& hop_peer = *auth.peer;
  // The hop came straight from the previous hop: it may roam like any
  // authentic datagram of that link.
  const auto hop_accepted = hop_peer.replay_accept(auth.counter, slot.from, true, live_from);
  if (hop_accepted.verdict != ReplayWindow::Verdict::kFresh) {
    return drop(slot, replay_reason(hop_accepted.verdict), hop_peer.stats().drops);
  }
  if (hop_accepted.live) link::on_live_rx_from(hop_peer, now);
  note_heard(s, hop_peer, slot.from);
  link::on_authenticated_rx(hop_peer, now);
  if (auth.zero_after_switch) post_zero_after_switch(s, hop_peer, auth.counter, slot.from);
  link::PeerStats& hop_stats = hop_peer.stats();
  const auto routing = wire::read_routing_block(parts->routing);
  if (!routing) return drop(slot, DropReason::kBadHeader, hop_stats.drops);
  if (routing->destination != s.self) {
    if (s.role != keys::Role::kCoordinator) return drop(slot, DropReason::kMisrouted, hop_stats.drops);
    return forward(worker, now, s, hop_peer, *parts, *routing, slot);
  }

  // For this host: the inner datagram is an ordinary one from the source,
  // which only the source's link key opens.
  const auto inner = parts->inner;
  const auto parsed = wire::parse_header(inner);
  if (!parsed.header || parsed.header->format != wire::Format::kDirect) {
    return drop(slot, parsed.error == wire::HeaderError::kTooShort ? DropReason::kTooShort : DropReason::kBadHeader,
                drops);
  }
  const auto src = s.by_id.find(routing->source.value);
  if (src == s.by_id.end() || parsed.header->sender_host != routing->source.host()) {
    return drop(slot, DropReason::kUnknownPeer, drops);
  }
  const uint32_t candidate[] = {src->second};
  const auto body = inner.subspan(wire::kHeaderSize, inner.size() - wire::kOverhead);
  const auto tag = std::span<const std::byte, wire::kTagSize>(inner.last(wire::kTagSize));
  const AuthResult end = authenticate(worker, now, s, *parsed.header, candidate, inner.first(wire::kHeaderSize),
                                      body, tag);
  if (!end.peer) return drop(slot, *end.failure, end.failed_peer->stats().drops);
  // Came through a coordinator: the source's endpoint stays where it is.
  // Whether the message may draw an answer is the source's datagram's
  // business: the hop's counter says nothing about when the source sent it.
  const auto accepted = end.peer->replay_accept(end.counter, slot.from, false, live_from);
  if (accepted.verdict != ReplayWindow::Verdict::kFresh) {
    return drop(slot, replay_reason(accepted.verdict), end.peer->stats().drops);
  }
  note_heard(s, *end.peer, slot.from);
  link::on_authenticated_rx(*end.peer, now);
  if (end.zero_after_switch && !is_probe(body)) post_zero_after_switch(s, *end.peer, end.counter, slot.from);
  const AuthKey key{end.generation, end.counter, inner.first(wire::kHeaderSize)};
  deliver_payload(worker, now, s, *end.peer, key, body, hop_peer.id(), accepted.live, slot);
}

void Node::Impl::forward(unsigned worker, const Now& now, const Snapshot& s, link::Peer& hop_peer,
                         const wire::RelayedParts& parts, const wire::RoutingBlock& routing, RxSlot& slot) {
  link::PeerStats& hop_stats = hop_peer.stats();
  if (routing.hops == 0) return drop(slot, DropReason::kHopLimit, hop_stats.drops);
  if (s.revoked(routing.source) || s.revoked(routing.destination)) {
    return drop(slot, DropReason::kRevokedHost, hop_stats.drops);
  }
  const PeerEntry* from = s.find(hop_peer.id());
  // A client relays only its own traffic; coordinators pass on others'.
  if (from && from->role != keys::Role::kCoordinator && routing.source != hop_peer.id()) {
    return drop(slot, DropReason::kRelaySource, hop_stats.drops);
  }
  // A client this coordinator serves reaches only the hosts its served
  // links name (docs/protocol.md, "Relayed datagrams"); datagrams from a
  // neighbour coordinator were checked by the source's own coordinator.
  if (const auto served = s.served_links.find(routing.source.value);
      from && from->role != keys::Role::kCoordinator && served != s.served_links.end() &&
      !std::binary_search(served->second.begin(), served->second.end(), routing.destination.value)) {
    return drop(slot, DropReason::kUnlinkedRelay, hop_stats.drops);
  }
  // Next hop: the destination itself when it is our peer with a known
  // endpoint, otherwise the neighbour coordinator the routes name.
  link::Peer* next = nullptr;
  std::optional<Endpoint> to;
  if (const PeerEntry* dst = s.find(routing.destination)) {
    to = dst->peer->endpoint();
    if (to) next = dst->peer.get();
  }
  if (!next) {
    if (const uint32_t r = relay_routes()->find(routing.destination.value); r != 0) {
      if (const PeerEntry* via = s.find(HostId{r})) {
        to = via->peer->endpoint();
        if (to) next = via->peer.get();
      }
    }
  }
  if (!next || next == &hop_peer) return drop(slot, DropReason::kNoRelayRoute, hop_stats.drops);

  wire::RoutingBlock out = routing;
  out.hops = static_cast<uint8_t>(routing.hops - 1);
  if (const auto sealed = seal_hop(worker, now, s.self, *next, parts, out); !sealed) {
    return drop(slot, sealed.error(), next->stats().drops);
  }
  relayed[worker].add(slot.data.size());
  hop_stats.relayed.fetch_add(1, std::memory_order_relaxed);
  slot.to = *to;
  slot.wire = slot.data;
  slot.verdict = Verdict::kForward;
}

Status<DropReason> Node::Impl::seal_hop(unsigned slot, const Now& now, HostId self, link::Peer& next,
                                        const wire::RelayedParts& parts, const wire::RoutingBlock& routing) {
  const uint64_t counter = next.counter().take(wire::counter_units(now.real_ns));
  if (counter >= confirmed_floor.load(std::memory_order_acquire)) return DropReason::kNonceReservation;
  const link::Generation& g = *next.tx_generation();  // after the counter (link/peer.hpp)
  wire::Header h;
  h.format = wire::Format::kRelayed;
  h.suite = next.suite();
  h.generation = g.wire();
  // The source's lane travels on with its datagram, so every hop and the
  // destination keep one flow on one worker (docs/design.md, "Lanes").
  h.lane = wire::lane_of(parts.inner);
  h.sender_host = self.host();
  h.wire_counter = counter & wire::kWireCounterMask;
  wire::write_header(h, parts.aad.first<wire::kHeaderSize>());
  wire::write_routing_block(routing, parts.routing);
  crypto::Aead* aead = sealer(slot, g);
  if (!aead || !aead->seal(wire::make_nonce(counter), parts.aad, parts.routing, parts.tag)) {
    return DropReason::kCryptoError;
  }
  return Ok{};
}

Node::Impl::Sealed Node::Impl::seal_on_path(unsigned slot, const Now& now, HostId self, link::Peer& peer,
                                            link::Peer& first_hop, std::span<std::byte> buffer, size_t headroom,
                                            size_t length, bool channel, const link::Generation* generation) {
  auto datagram = seal(slot, now, self, peer, buffer, headroom, length, channel, generation);
  if (!datagram || &first_hop == &peer) return datagram;
  const wire::RoutingBlock routing{peer.id(), self, wire::kInitialHops};
  return wrap(slot, now, self, first_hop, buffer, headroom - wire::kHeaderSize, datagram->size(), routing);
}

Node::Impl::Sealed Node::Impl::wrap(unsigned slot, const Now& now, HostId self, link::Peer& relay,
                                    std::span<std::byte> buffer, size_t start, size_t length,
                                    const wire::RoutingBlock& routing) {
  if (start < wire::kHeaderSize || buffer.size() < start + length + wire::kRoutingBlockSize + wire::kTagSize) {
    return DropReason::kTooBig;
  }
  const auto datagram = buffer.subspan(start - wire::kHeaderSize, length + wire::kRelayExtra);
  const auto parts = wire::split_relayed(datagram);
  if (!parts) return DropReason::kTooShort;
  if (auto sealed = seal_hop(slot, now, self, relay, *parts, routing); !sealed) return sealed.error();
  return std::span<const std::byte>(datagram);
}

}  // namespace cordon
