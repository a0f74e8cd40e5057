// Site-link sessions in the node (link/session.hpp; docs/site-links.md,
// "Sessions"): heartbeats in the control channel, loss, the secondary's
// recovery tries, administration commands, and the gate that tells workers
// what to do with traffic while a session is down.
#include <algorithm>
#include <array>
#include <cstring>

#include "core/node_impl.hpp"
#include "core/wire/unreachable.hpp"

namespace cordon {
void Node::Impl::update_gate(link::Peer& peer) {
  const auto& session = peer.session();
  if (!session || session->open()) return peer.set_gate(link::Peer::Gate::kOpen);
  peer.set_gate(session->state() == link::SessionState::kShutdown ? link::Peer::Gate::kShut
                                                                   : link::Peer::Gate::kDown);
}

void Node::Impl::ensure_session(const PeerEntry& e, const Now& now) {
  auto& session = e.peer->session();
  if (!e.session) {
    session.reset();
  } else if (!session) {
    session = std::make_unique<link::SiteSession>(*e.session, now.mono_ns);
  } else {
    session->configure(*e.session, now.mono_ns);
  }
  update_gate(*e.peer);
  session_check_mono_ns = INT64_MIN;  // walk at the next tick
}

void Node::Impl::session_event(const PeerEntry& e, std::string_view event, link::SessionReason reason,
                               int64_t wait_ns) {
  session_events.push_back(SessionLogEvent{e.peer->id(), event, link::session_reason_name(reason), wait_ns});
}

// Every session's timers, walked when one is due and at least once a
// second (a session comes up when its peer is heard, which the walk reads
// from the peer's stamps); returns when to walk next.
int64_t Node::Impl::run_sessions(const Snapshot& s, const Now& now) {
  if (now.mono_ns < session_check_mono_ns) return session_check_mono_ns;
  int64_t next = now.mono_ns + kNsPerSecond;
  for (const PeerEntry& e : s.peers) {
    auto& session = e.peer->session();
    if (!session) continue;
    const int64_t heard = e.peer->timers().last_rx_mono_ns.load(std::memory_order_relaxed);
    const link::SiteSession::Step step = session->step(now.mono_ns, heard);
    if (step.up) session_event(e, "session_up", link::SessionReason::kNone);
    if (step.lost) session_event(e, "session_lost", *step.lost);
    if (step.retry) session_event(e, "session_retry", link::SessionReason::kNone, step.retry_wait_ns);
    if (step.send_heartbeat) send_channel(s, now, e, wire::Heartbeat{++heartbeat_sequence});
    if (step.up || step.lost) update_gate(*e.peer);
    next = std::min(next, step.next_ns);
  }
  session_check_mono_ns = next;
  return next;
}

bool Node::Impl::handle_session(const Snapshot& s, const PeerEntry& e, const InboxItem& item, const Now& now) {
  if (!item.channel) return false;
  const wire::ChannelMessage& m = *item.channel;
  const bool heartbeat = std::holds_alternative<wire::Heartbeat>(m);
  if (!heartbeat && !std::holds_alternative<wire::HeartbeatAck>(m) &&
      !std::holds_alternative<wire::SessionShutdown>(m)) {
    return false;
  }
  auto& session = e.peer->session();
  if (!session || !item.live) {
    // Not a site link here, or a copy from before this start: nothing to do.
    if (!session) e.peer->stats().drops.add(DropReason::kUnknownControl);
    return true;
  }
  if (std::holds_alternative<wire::SessionShutdown>(m)) {
    const uint64_t losses = session->losses();
    session->peer_shutdown(now.mono_ns);
    if (session->losses() != losses) session_event(e, "session_lost", link::SessionReason::kPeerShutdown);
    update_gate(*e.peer);
    session_check_mono_ns = INT64_MIN;
    return true;
  }
  if (session->heard(now.mono_ns)) {
    session_event(e, "session_up", link::SessionReason::kNone);
    update_gate(*e.peer);
  }
  session_check_mono_ns = std::min(session_check_mono_ns, now.mono_ns + e.session->heartbeat_ns);
  if (heartbeat && session->may_answer(now.mono_ns)) {
    send_channel(s, now, e, wire::HeartbeatAck{std::get<wire::Heartbeat>(m).sequence});
  }
  return true;
}

// Section 2.1.7 of the P³ functional specification: connections through a
// lost session are ended at once, TCP with a reset and other protocols with
// an ICMP destination unreachable. Cordon keeps no table of them: each is
// ended by the first packet it sends after the loss, answered here.
void Node::Impl::reflect(link::Peer& peer, TxSlot& slot, std::span<const std::byte> packet,
                         const std::optional<IpAddress>& icmp_source) {
  slot.verdict = Verdict::kDrop;
  slot.reason = DropReason::kSessionDown;
  peer.stats().drops.add(DropReason::kSessionDown);
  std::array<std::byte, wire::kMaxUnreachableReply> scratch;  // `packet` lies in slot.buffer
  const wire::UnreachableResult reply = wire::make_unreachable_reply(packet, icmp_source, scratch);
  if (reply.kind == wire::UnreachableReply::kNone || reply.length > slot.buffer.size()) return;
  std::memcpy(slot.buffer.data(), scratch.data(), reply.length);
  slot.wire = slot.buffer.first(reply.length);
  slot.verdict = Verdict::kReflect;
}

std::optional<SessionStatusView> session_status(const PeerEntry& e) {
  const auto& session = e.peer->session();
  if (!session || !e.session) return std::nullopt;
  SessionStatusView v;
  v.state = link::session_state_name(session->state());
  v.reason = link::session_reason_name(session->last_reason());
  v.since_mono_ns = session->since_ns();
  if (session->next_try_ns() != 0 && !session->open()) {
    v.next_try_mono_ns = session->next_try_ns();
    v.retry_wait_ns = session->retry_wait_ns();
  }
  v.initiator = e.session->initiator;
  v.heartbeat_ns = e.session->heartbeat_ns;
  v.fail_ns = e.session->fail_ns;
  v.losses = session->losses();
  v.tries = session->tries();
  v.heartbeats = session->heartbeats_sent();
  return v;
}

bool Node::session_command(HostId peer, SessionCommand command, const Now& now) {
  Impl& impl = *impl_;
  const Snapshot& s = *impl.snapshot();
  const PeerEntry* e = s.find(peer);
  if (!e || !e->peer->session()) return false;
  link::SiteSession& session = *e->peer->session();
  if (command == SessionCommand::kShutdown) {
    if (session.state() != link::SessionState::kShutdown) {
      // Tell the peer first, while the session still lets the message out.
      impl.send_channel(s, now, *e, wire::SessionShutdown{});
      session.shutdown(now.mono_ns);
      impl.session_event(*e, "session_shutdown", link::SessionReason::kAdminShutdown);
    }
  } else if (session.state() == link::SessionState::kShutdown) {
    session.start(now.mono_ns);
    impl.session_event(*e, "session_started", link::SessionReason::kNone);
  }
  Impl::update_gate(*e->peer);
  impl.session_check_mono_ns = INT64_MIN;
  return true;
}

}  // namespace cordon
