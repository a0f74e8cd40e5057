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
  if (it == s.by_sender_host.end()) return drop(slot, DropReason::kUnknownPeer, drops);

  const auto aad = slot.data.first(wire::kHeaderSize);
  const auto body = slot.data.subspan(wire::kHeaderSize, slot.data.size() - wire::kOverhead);
  const auto tag = std::span<const std::byte, wire::kTagSize>(slot.data.last(wire::kTagSize));
  const AuthResult auth = authenticate(worker, now, s, h, it->second, aad, body, tag);
  if (!auth.peer) return drop(slot, *auth.failure, auth.failed_peer->stats().drops);
  link::Peer& peer = *auth.peer;
  // Authentic from here on. Record the counter; a duplicate decrypted by
  // another worker at the same moment loses here.
  const bool roam = may_roam(body);
  const auto accepted = peer.replay_accept(auth.counter, slot.from, roam, live_from);
  if (accepted.verdict != ReplayWindow::Verdict::kFresh) {
    return drop(slot, replay_reason(accepted.verdict), peer.stats().drops);
  }
  if (accepted.live && roam) link::on_live_rx_from(peer, now);
  link::on_authenticated_rx(peer, now);
  deliver_payload(worker, now, s, peer, body, HostId{}, accepted.live, slot);
}

void Node::Impl::deliver_payload(unsigned worker, const Now& now, const Snapshot& s, link::Peer& peer, std::span<std::byte> body,
                                 HostId via, bool live, RxSlot& slot) {
  link::PeerStats& st = peer.stats();
  if (!body.empty() && body[0] == wire::kKeepaliveByte) {
    st.keepalives_received.fetch_add(1, std::memory_order_relaxed);
    slot.verdict = Verdict::kConsumed;
    return;
  }
  if (!body.empty() && wire::is_control_byte(body[0])) {
    // Checked here, parsed by the control thread (node_inbox.cpp).
    const auto checked = wire::check_control(body);
    if (!checked) return drop(slot, control_drop(checked.error()), st.drops);
    return post(s, Inbox::Header{peer.id(), slot.from, via, live}, body, peer, slot);
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
