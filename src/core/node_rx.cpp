// Underlay -> tunnel. A chain of checks, cheapest first, each ending in a
// named drop (docs/design.md, practice 5; after WireGuard's receive.c):
//   header -> link -> suite -> generation -> time window -> replay pre-check
//   -> decrypt -> replay accept (+ roaming) -> timer hooks (link/timers.hpp)
//   -> keepalive / control message / inner packet -> source
// A relayed datagram (format 1) passes the same checks for its hop first
// (node_relay.cpp), then either its inner datagram comes here or it is
// forwarded.
#include <algorithm>

#include "core/node_auth.hpp"
#include "core/node_impl.hpp"
#include "core/wire/inner_packet.hpp"

namespace cordon {
namespace {

using link::ReplayWindow;

// Probes and their acks never move an endpoint: they test paths, and a
// coordinator must not move a client off its TCP tunnel because a UDP probe
// got through (docs/protocol.md, "TCP tunnel"). The control thread decides.
bool may_roam(std::span<const std::byte> body) {
  if (body.empty()) return true;
  const auto type = static_cast<wire::ControlType>(std::to_integer<uint8_t>(body[0]));
  return type != wire::ControlType::kProbe && type != wire::ControlType::kProbeAck;
}

DropReason control_drop(wire::ControlError e) {
  return e == wire::ControlError::kUnknownType ? DropReason::kUnknownControl : DropReason::kBadControl;
}

}  // namespace

// A control channel datagram (wire/channel.hpp): the outer seal verified,
// so the peer holds this generation's data key; the inner seal proves it
// holds the control key too. Only then is the message parsed and queued.
void Node::Impl::receive_channel(const Snapshot& s, link::Peer& peer, const AuthKey& key, std::span<std::byte> body,
                                 const Inbox::Header& h, RxSlot& slot) {
  link::PeerStats& st = peer.stats();
  const auto envelope = wire::split_envelope(body);
  if (!envelope) return drop(slot, DropReason::kBadChannel, st.drops);
  auto inner = key.generation->make_control_rx();
  if (!inner) return drop(slot, DropReason::kCryptoError, st.drops);
  if (!inner->open(wire::make_nonce(key.counter), key.header, envelope->sealed, envelope->tag)) {
    return drop(slot, DropReason::kChannelAuth, st.drops);
  }
  if (!wire::check_channel(envelope->sealed)) return drop(slot, DropReason::kBadChannel, st.drops);
  post(s, h, envelope->sealed, peer, slot);
  crypto::wipe(envelope->sealed);  // an offer carries key material: no copy stays in the receive buffer
}

void Node::Impl::receive(unsigned worker, const Now& now, const Snapshot& s, RxSlot& slot) {
  slot.inner = {};
  slot.wire = {};
  const auto parsed = wire::parse_header(slot.data);
  if (!parsed.header) {
    return drop(slot, parsed.error == wire::HeaderError::kTooShort ? DropReason::kTooShort : DropReason::kBadHeader,
                drops);
  }
  const wire::Header& h = *parsed.header;
  if (h.format == wire::Format::kRelayed) return receive_relayed(worker, now, s, h, slot);
  const auto it = s.by_sender_host.find(h.sender_host);
  if (it == s.by_sender_host.end()) {
    return drop(slot, s.revoked_number(h.sender_host) ? DropReason::kRevokedHost : DropReason::kUnknownPeer, drops);
  }

  const auto aad = slot.data.first(wire::kHeaderSize);
  const auto body = slot.data.subspan(wire::kHeaderSize, slot.data.size() - wire::kOverhead);
  const auto tag = std::span<const std::byte, wire::kTagSize>(slot.data.last(wire::kTagSize));
  const AuthResult auth = authenticate(worker, now, s, h, it->second, aad, body, tag);
  if (!auth.peer) {
    if (*auth.failure == DropReason::kUnknownGeneration) post_unknown_generation(s, *auth.failed_peer, slot.from);
    return drop(slot, *auth.failure, auth.failed_peer->stats().drops);
  }
  link::Peer& peer = *auth.peer;
  // Authentic from here on. Record the counter; a duplicate decrypted by
  // another worker at the same moment loses here.
  const bool roam = may_roam(body);
  const auto accepted = peer.replay_accept(auth.counter, slot.from, roam, live_from);
  if (accepted.verdict != ReplayWindow::Verdict::kFresh) {
    return drop(slot, replay_reason(accepted.verdict), peer.stats().drops);
  }
  // A session shut down here hears nothing until it is started again.
  if (peer.gate() == link::Peer::Gate::kShut) return drop(slot, DropReason::kSessionDown, peer.stats().drops);
  if (accepted.live && roam) link::on_live_rx_from(peer, now);
  note_heard(s, peer, slot.from);
  link::on_authenticated_rx(peer, now);
  if (auth.zero_after_switch && !is_probe(body)) post_zero_after_switch(s, peer, auth.counter, slot.from);
  deliver_payload(worker, now, s, peer, AuthKey{auth.generation, auth.counter, aad}, body, HostId{}, accepted.live,
                  slot);
}

void Node::Impl::post_zero_after_switch(const Snapshot& s, link::Peer& peer, uint64_t counter, const Endpoint& from) {
  Inbox::Header h{peer.id(), from, HostId{}, false, InboxItem::Kind::kZeroAfterSwitch, counter};
  // If the inbox is full the next such datagram tries again.
  (void)inbox.post(h, {}, inbox_share(s.peers.size()));
}

void Node::Impl::note_heard(const Snapshot& s, link::Peer& peer, const Endpoint& from) {
  if (!peer.first_heard()) return;
  (void)inbox.post(Inbox::Header{peer.id(), from, HostId{}, false, InboxItem::Kind::kHeard, 0}, {},
                   inbox_share(s.peers.size()));
}

void Node::Impl::post_unknown_generation(const Snapshot& s, link::Peer& peer, const Endpoint& from) {
  if (peer.tx_generation()->number() != 0) return;  // only a host that lost its generations asks
  (void)inbox.post(Inbox::Header{peer.id(), from, HostId{}, false, InboxItem::Kind::kUnknownGeneration, 0}, {},
                   inbox_share(s.peers.size()));
}

void Node::Impl::deliver_payload(unsigned worker, const Now& now, const Snapshot& s, link::Peer& peer,
                                 const AuthKey& key, std::span<std::byte> body, HostId via, bool live, RxSlot& slot) {
  link::PeerStats& st = peer.stats();
  if (!body.empty() && body[0] == wire::kKeepaliveByte) {
    st.keepalives_received.fetch_add(1, std::memory_order_relaxed);
    slot.verdict = Verdict::kConsumed;
    return;
  }
  if (is_probe(body)) {
    return post(s, Inbox::Header{peer.id(), slot.from, via, live, InboxItem::Kind::kProbe}, {}, peer, slot);
  }
  if (!body.empty() && body[0] == std::byte{wire::kChannelControlType}) {
    return receive_channel(s, peer, key, body, Inbox::Header{peer.id(), slot.from, via, live, InboxItem::Kind::kChannel},
                           slot);
  }
  if (!body.empty() && wire::is_control_byte(body[0])) {
    // Checked here, parsed by the control thread (node_inbox.cpp).
    const auto checked = wire::check_control(body);
    if (!checked) return drop(slot, control_drop(checked.error()), st.drops);
    // A courier message need not raise the replay window: a burst of
    // segments spreads over the workers and arrives out of order. Dated
    // after this start is enough; what a late repeat could carry is an item
    // version a host applies once (docs/couriers.md).
    const bool courier = body[0] == std::byte{static_cast<uint8_t>(wire::ControlType::kCourier)};
    return post(s, Inbox::Header{peer.id(), slot.from, via, courier ? key.counter >= live_from : live}, body, peer,
                slot);
  }
  const auto inner = wire::parse_inner(body);
  if (!inner) return drop(slot, DropReason::kBadInner, st.drops);
  const auto owner = s.routes.lookup(inner->source);
  if (!owner || s.peers[*owner].peer.get() != &peer) return drop(slot, DropReason::kDisallowedSource, st.drops);
  if (!s.reachable(s.peers[*owner], inner->destination)) return drop(slot, DropReason::kOutOfReach, st.drops);
  const auto packet = body.first(inner->length);
  if (const auto r = filtered(worker, now, s, filter::Direction::kIn, peer.id(), packet)) return drop(slot, *r, st.drops);
  st.rx_packets.fetch_add(1, std::memory_order_relaxed);
  st.rx_bytes.fetch_add(inner->length, std::memory_order_relaxed);
  link::on_data_received(peer, now);
  slot.inner = packet;
  slot.verdict = Verdict::kDeliver;
}

}  // namespace cordon
