#include "core/coord/rendezvous.hpp"

#include <algorithm>

#include "core/node_impl.hpp"

namespace cordon::coord {
namespace {

bool same_location(const wire::HostRecord& a, const wire::HostRecord& b) {
  return a.public_endpoint == b.public_endpoint && a.local == b.local;
}

}  // namespace

void Rendezvous::send_probe(const Snapshot& s, const Now& now, HostId peer, const Via& via) {
  const uint64_t id = probe_prefix_ | ++probe_seq_;
  if (pending_probes_.size() >= kMaxPendingProbes) pending_probes_.erase(pending_probes_.begin());
  pending_probes_[id] = PendingProbe{peer, now.mono_ns};
  link_.send_control(s, now, peer, wire::Probe{id}, via);
}

std::optional<int64_t> Rendezvous::take_probe(HostId peer, uint64_t probe_id) {
  const auto it = pending_probes_.find(probe_id);
  if (it == pending_probes_.end() || it->second.peer != peer) return std::nullopt;
  const int64_t sent = it->second.sent_mono_ns;
  pending_probes_.erase(it);
  return sent;
}

void Rendezvous::expire_probes(const Now& now) {
  while (!pending_probes_.empty() && now.mono_ns - pending_probes_.begin()->second.sent_mono_ns >= kProbeAnswerNs) {
    pending_probes_.erase(pending_probes_.begin());
  }
}

// The awaited range is empty right after an ack (first == seq + 1).
// Unsigned arithmetic: the range may wrap past 2^32.
bool Rendezvous::report_awaited(uint32_t seq) const {
  return report_first_unacked_ != report_seq_ + 1 && seq - report_first_unacked_ <= report_seq_ - report_first_unacked_;
}

void Rendezvous::configure(const Snapshot& s, const Now& now) {
  const bool first = started_mono_ns_ == 0;
  if (first) started_mono_ns_ = now.mono_ns;
  bool gained = false;
  if (registry_ != s.mesh.registry) {  // a new registry has said nothing yet
    registry_ = s.mesh.registry;
    registry_ack_real_ns_ = 0;
    registry_silent_ = false;
  }
  rendezvous_udp_.reset();
  std::unordered_map<uint32_t, PeerState> kept;
  for (const PeerEntry& e : s.peers) {
    link::PathCell& path = e.peer->path_cell();
    if (e.peer->id() == s.mesh.rendezvous) rendezvous_udp_ = e.peer->endpoint();
    // Every client peer falls back to a relay, fixed endpoint or not;
    // without a coordinator to relay through (manual mode) and towards
    // coordinators, whose place is fixed, the path is always direct.
    const bool relayable =
        s.mesh.rendezvous.value != 0 && e.peer->id() != s.mesh.rendezvous && e.role != keys::Role::kCoordinator;
    if (!relayable) {
      path.update([](link::Path) { return link::Path{link::PathKind::kDirect, HostId{}}; });
      continue;
    }
    // Keep the relay while it is still a peer; otherwise our own coordinator.
    // A fixed endpoint starts direct; any other peer starts relayed until a
    // probe proves a direct path.
    path.update([&](link::Path p) {
      if (p.relay.value == 0 || !s.find(p.relay)) p.relay = s.mesh.rendezvous;
      if (p.kind == link::PathKind::kUnset && e.fixed) return p.to_direct();
      return p.direct() ? p : link::Path::relayed(p.relay);
    });
    if (auto it = peers_.find(e.peer->id().value); it != peers_.end()) {
      kept.emplace(it->first, std::move(it->second));
    } else {
      kept.emplace(e.peer->id().value, PeerState{});
      gained = true;
    }
  }
  peers_ = std::move(kept);
  // A reload that brought new peers (an update: docs/couriers.md) reports
  // at once: the registry answers with where they are, so a link added in
  // `cordon admin` carries traffic within seconds, not at the next status
  // interval.
  if (gained && !first && s.mesh.registry.value != 0) report_now(now.mono_ns);
  if (s.mesh.registry.value != 0 && !report_acked_) next_report_mono_ns_ = now.mono_ns;
}

void Rendezvous::report_now(int64_t at_mono_ns) {
  report_acked_ = false;
  report_retry_ns_ = kReportRetryFirstNs;
  next_report_mono_ns_ = at_mono_ns;
}

void Rendezvous::set_local_endpoints(std::vector<Endpoint> endpoints, const Now& now) {
  if (endpoints.size() > wire::kMaxLocalEndpoints) endpoints.resize(wire::kMaxLocalEndpoints);
  if (endpoints == local_) return;
  local_ = std::move(endpoints);
  // The ViPNet technology description: a client reports when its
  // connection parameters change.
  report_now(now.mono_ns);
  next_udp_probe_mono_ns_ = now.mono_ns;
}

void Rendezvous::send_report(const Snapshot& s, const Now& now) {
  wire::StatusReport r{++report_seq_, local_};
  link_.send_control(s, now, s.mesh.registry, r, Via::path());
  send_paths(s, now, path_report(s));
}

void Rendezvous::send_paths(const Snapshot& s, const Now& now, wire::PathReport paths) {
  link_.send_control(s, now, s.mesh.registry, paths, Via::path());
  sent_paths_ = std::move(paths);
  next_path_check_mono_ns_ = now.mono_ns + kPathCheckNs;
}

// The paths to this client's peers, for the administrator's view
// (wire/control.hpp, PathReport).
wire::PathReport Rendezvous::path_report(const Snapshot& s) const {
  wire::PathReport out;
  for (const PeerEntry& e : s.peers) {
    if (out.paths.size() == wire::kMaxPathEntries) break;
    if (e.role == keys::Role::kCoordinator) continue;
    out.paths.emplace_back(e.peer->id(), static_cast<uint8_t>(path_kind(link_.path_to(s, *e.peer), *e.peer)));
  }
  std::sort(out.paths.begin(), out.paths.end(), [](const auto& a, const auto& b) { return a.first.value < b.first.value; });
  return out;
}

void Rendezvous::handle(const Snapshot& s, const InboxItem& item, const Now& now) {
  const bool from_coordinator = is_coordinator(s, item.peer);
  DropCounters& drops = s.find(item.peer)->peer->stats().drops;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::ProbeAck>) {
          const auto sent = take_probe(item.peer, m.probe_id);
          if (!sent) return drops.add(DropReason::kUnmatchedAck);
          probe_ack(s, item, *sent, now);
        } else if constexpr (std::is_same_v<T, wire::StatusReport> || std::is_same_v<T, wire::PathReport>) {
          drops.add(DropReason::kNotCoordinator);  // only coordinators take reports
        } else if (!from_coordinator) {
          drops.add(DropReason::kNotCoordinator);
        } else if constexpr (std::is_same_v<T, wire::StatusAck>) {
          status_ack(s, item, m, now);
        } else if constexpr (std::is_same_v<T, wire::HostRecords>) {
          // Only the client's registry speaks for the hosts it is linked with.
          if (item.peer != s.mesh.registry) return drops.add(DropReason::kNotRegistry);
          records(s, item, m, now);
        } else if constexpr (std::is_same_v<T, wire::ReportRequest>) {
          if (item.peer == s.mesh.registry) report_now(now.mono_ns);
        }
      },
      item.message);
}

// Only an ack of a report sent since this start and not yet acknowledged
// counts: the sequence numbers start from a random value at every start, so
// an ack replayed from before a restart matches nothing (docs/protocol.md,
// "Registry").
void Rendezvous::status_ack(const Snapshot& s, const InboxItem& item, const wire::StatusAck& m, const Now& now) {
  if (item.peer != s.mesh.registry || !report_awaited(m.seq)) {
    return s.find(item.peer)->peer->stats().drops.add(DropReason::kUnmatchedAck);
  }
  report_acked_ = true;
  report_first_unacked_ = report_seq_ + 1;
  registry_ack_real_ns_ = now.real_ns;
  registry_silent_ = false;
  report_retry_ns_ = kReportRetryFirstNs;
  next_report_mono_ns_ = now.mono_ns + s.mesh.status_interval_ns;
  if (m.observed) public_ = m.observed;
  if (item.via.value == 0 && item.from.is_udp() && item.peer == s.mesh.rendezvous) {
    last_udp_reply_mono_ns_ = now.mono_ns;
  }
}

void Rendezvous::records(const Snapshot& s, const InboxItem& item, const wire::HostRecords& m, const Now& now) {
  DropCounters& drops = s.find(item.peer)->peer->stats().drops;
  for (const wire::HostRecord& r : m.records) {
    const auto it = peers_.find(r.host.value);
    if (it == peers_.end()) {
      // A host we are not linked with (or a coordinator, whose place is fixed).
      if (!s.find(r.host)) drops.add(DropReason::kUnlinkedRecord);
      continue;
    }
    PeerState& st = it->second;
    const bool moved = !st.record || !same_location(*st.record, r);
    st.record = r;
    st.record_real_ns = now.real_ns - int64_t{r.age_s} * kNsPerSecond;
    const PeerEntry* e = s.find(r.host);
    // A peer that moved is probed again at once if traffic flows to it. On
    // a direct path too: its NAT gave it a new mapping, and the peer's
    // datagrams from there are dropped by this side's NAT until this side
    // sends to it (both ends of a port-restricted pair must send first);
    // without this the path stays dead until the direct-silence fallback.
    if (!moved || !e) continue;
    if (!e->peer->path().direct()) {
      st.next_probe_mono_ns = now.mono_ns;
    } else if (link::traffic_flows(*e->peer, now)) {
      probe_round(s, *e, st, now, /*direct_only=*/true);
    }
  }
}

// A probe from a peer. Straight from it: that path works one way, so send
// there (the ViPNet technology description: the probed host registers the
// connection and answers directly). Through a relay: probe back directly,
// which opens this side's NAT for the peer's next probe.
void Rendezvous::probed(const Snapshot& s, const InboxItem& item, const Now& now) {
  const PeerEntry* e = s.find(item.peer);
  const auto it = peers_.find(item.peer.value);
  if (!e || it == peers_.end() || e->role == keys::Role::kCoordinator) return;
  if (item.via.value == 0) {
    if (item.from.is_udp()) go_direct(*e, it->second, item.from, now);  // live: handle_control checked
    return;
  }
  it->second.punch_until_mono_ns = now.mono_ns + kProbeFastSpanNs;
  if (!e->peer->path().direct()) probe_round(s, *e, it->second, now, true);
}

void Rendezvous::probe_ack(const Snapshot& s, const InboxItem& item, int64_t sent_mono_ns, const Now& now) {
  const PeerEntry* e = s.find(item.peer);
  if (!e) return;
  if (item.peer == s.mesh.rendezvous) {
    if (item.via.value == 0 && item.from.is_udp()) last_udp_reply_mono_ns_ = now.mono_ns;
    return;
  }
  const auto it = peers_.find(item.peer.value);
  if (it == peers_.end()) return;
  if (item.via.value == 0) {
    // Only a live ack proves the path now: a reordered older one is no
    // evidence about the source it arrived from (docs/protocol.md, "Roaming").
    if (!item.live) return e->peer->stats().drops.add(DropReason::kOldControl);
    if (!item.from.is_udp()) return;
    it->second.round_trip_ns = now.mono_ns - sent_mono_ns;
    go_direct(*e, it->second, item.from, now);
    return;
  }
  // Through the peer's own coordinator while ours is the relay: that one
  // reaches the peer, so it carries the traffic (the ViPNet technology
  // description, "Principles of Establishing Connections").
  if (item.via != e->rendezvous || item.via == s.mesh.rendezvous) return;
  e->peer->path_cell().update([&](link::Path p) { return p.direct() ? p : link::Path::relayed(item.via); });
}

void Rendezvous::go_direct(const PeerEntry& e, PeerState& st, const Endpoint& to, const Now& now) {
  link::on_path_proven(*e.peer, to, now);
  st.probe_started_mono_ns = 0;
  st.optimistic_since_mono_ns = 0;
  st.remembered = to;
  st.remembered_record = st.record;
}

// One round of probes (docs/protocol.md, "Rendezvous"): directly to the
// peer's current (or fixed) endpoint and its reported public and local
// ones, through the peer's coordinator when we are linked with it, and
// through our own.
void Rendezvous::probe_round(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now, bool direct_only) {
  std::vector<Endpoint> targets;
  // Where the peer was last reached, or its fixed endpoint.
  if (const auto ep = e.peer->endpoint(); ep && ep->is_udp()) targets.push_back(*ep);
  if (st.record) {
    const auto& pub = st.record->public_endpoint;
    if (pub && std::find(targets.begin(), targets.end(), *pub) == targets.end()) targets.push_back(*pub);
    for (const Endpoint& l : st.record->local) {
      if (std::find(targets.begin(), targets.end(), l) == targets.end()) targets.push_back(l);
    }
  }
  for (const Endpoint& t : targets) send_probe(s, now, e.peer->id(), Via::direct(t));
  if (direct_only) return;
  if (e.rendezvous.value != 0 && e.rendezvous != s.mesh.rendezvous && s.find(e.rendezvous)) {
    send_probe(s, now, e.peer->id(), Via::through(e.rendezvous));
  }
  if (s.mesh.rendezvous.value != 0) {
    send_probe(s, now, e.peer->id(), Via::through(s.mesh.rendezvous));
  }
}

// While data flows, a direct path owes answers: the tick that first sees
// data sent after the last live datagram straight from the peer starts the
// count, a datagram since then ends it, and kFailoverSilenceNs (or
// kFailoverRoundTrips round trips) without one declares the path broken.
// The path is broken too when the peer is heard through the relay
// kFailoverSilenceNs after its last datagram straight from it: the peer has
// left the direct path, and our answers would take it no further.
bool Rendezvous::direct_failed(const PeerEntry& e, PeerState& st, int64_t last_rx, const Now& now) {
  const int64_t heard = e.peer->timers().last_rx_mono_ns.load(std::memory_order_relaxed);
  if (heard - std::max(last_rx, st.direct_since_mono_ns) >= kFailoverSilenceNs) return true;
  if (!link::data_unanswered(*e.peer)) {
    st.unanswered_since_mono_ns = 0;
    return false;
  }
  if (st.unanswered_since_mono_ns == 0 || last_rx >= st.unanswered_since_mono_ns) {
    st.unanswered_since_mono_ns = now.mono_ns;
    return false;
  }
  const int64_t limit = std::max(kFailoverSilenceNs, kFailoverRoundTrips * st.round_trip_ns);
  return now.mono_ns - st.unanswered_since_mono_ns >= limit;
}

// Traffic moves to the relay at once, and the direct path is probed (the
// remembered path is what just failed: no optimistic return to it).
void Rendezvous::fall_back(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now) {
  link::on_path_lost(*e.peer, s.mesh.rendezvous);
  st.remembered.reset();
  st.optimistic_since_mono_ns = 0;
  st.unanswered_since_mono_ns = 0;
  st.probe_started_mono_ns = now.mono_ns;
  probe_round(s, e, st, now, /*direct_only=*/false);
  st.next_probe_mono_ns = now.mono_ns + kProbeFastNs;
}

// A direct path: an unverified remembered one that got no answer goes back
// to the relay, and so does one that leaves data unanswered, or one silent
// for too long while idle; a silent one is probed.
void Rendezvous::direct_tick(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now) {
  const int64_t last_rx = e.peer->timers().last_direct_rx_mono_ns.load(std::memory_order_relaxed);
  if (st.optimistic_since_mono_ns != 0) {
    if (last_rx > st.optimistic_since_mono_ns) {
      st.optimistic_since_mono_ns = 0;
    } else if (now.mono_ns - st.optimistic_since_mono_ns >= kOptimisticCheckNs) {
      return fall_back(s, e, st, now);
    }
  }
  if (direct_failed(e, st, last_rx, now)) return fall_back(s, e, st, now);
  // Silence counts from when the path went direct (a fixed endpoint is
  // direct from configuration on, before anything is heard).
  const int64_t silence = now.mono_ns - std::max(last_rx, st.direct_since_mono_ns);
  if (silence >= kDirectSilenceFallbackNs) {
    // Idle: the relay carries the next data, whose probes look for the
    // path again (the remembered one first, as before the silence).
    link::on_path_lost(*e.peer, s.mesh.rendezvous);
  } else if (silence >= kDirectSilenceProbeNs && now.mono_ns >= st.next_silence_probe_mono_ns) {
    if (const auto to = e.peer->endpoint()) send_probe(s, now, e.peer->id(), Via::direct(*to));
    st.next_silence_probe_mono_ns = now.mono_ns + kProbeFastNs;
  }
}

void Rendezvous::peer_tick(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now) {
  if (e.peer->path().direct()) {
    if (st.direct_since_mono_ns == 0) st.direct_since_mono_ns = now.mono_ns;
    return direct_tick(s, e, st, now);
  }
  st.direct_since_mono_ns = 0;
  const bool traffic = link::traffic_flows(*e.peer, now);
  if (!traffic && now.mono_ns >= st.punch_until_mono_ns) {
    st.probe_started_mono_ns = 0;
    return;
  }
  // The ViPNet technology description: a peer found directly reachable is
  // contacted directly at once while its location is unchanged.
  if (traffic && st.remembered && st.record && st.remembered_record &&
      same_location(*st.record, *st.remembered_record) && st.optimistic_since_mono_ns == 0 &&
      st.probe_started_mono_ns == 0) {
    link::on_path_remembered(*e.peer, *st.remembered);
    st.optimistic_since_mono_ns = now.mono_ns;
    send_probe(s, now, e.peer->id(), Via::direct(*st.remembered));
    return;
  }
  if (st.probe_started_mono_ns == 0) {
    st.probe_started_mono_ns = now.mono_ns;
    st.next_probe_mono_ns = now.mono_ns;
  }
  if (now.mono_ns < st.next_probe_mono_ns) return;
  probe_round(s, e, st, now, !traffic);
  const bool fast = now.mono_ns - st.probe_started_mono_ns < kProbeFastSpanNs;
  st.next_probe_mono_ns = now.mono_ns + (fast ? kProbeFastNs : kProbeSlowNs);
}

// The rendezvous coordinator over UDP, or over the TCP tunnel when UDP gets
// no replies (docs/protocol.md, "TCP tunnel").
void Rendezvous::rendezvous_tick(const Snapshot& s, const Now& now, TickResult& out) {
  if (s.mesh.rendezvous.value == 0 || !rendezvous_udp_) return;
  const int64_t since_reply = now.mono_ns - std::max(last_udp_reply_mono_ns_, started_mono_ns_);
  // A UDP reply is sought often enough that a working path always has one
  // well inside the fallback time: at most a third of it apart.
  const int64_t third = s.mesh.tcp_fallback_ns > 0 ? s.mesh.tcp_fallback_ns / 3 : kUdpCheckNs;
  const int64_t check = std::max(kNsPerSecond, std::min(kUdpCheckNs, third));
  const int64_t retry = std::max(kNsPerSecond, std::min(tcp_stream_ != 0 ? kUdpRetryOnTcpNs : kUdpRetryNs, third));
  if (now.mono_ns >= next_udp_probe_mono_ns_ &&
      (tcp_stream_ != 0 || last_udp_reply_mono_ns_ == 0 || now.mono_ns - last_udp_reply_mono_ns_ >= check)) {
    // The coordinator's UDP endpoint, even while its traffic is on TCP.
    send_probe(s, now, s.mesh.rendezvous, Via::direct(*rendezvous_udp_));
    next_udp_probe_mono_ns_ = now.mono_ns + retry;
  }
  tcp_wanted_ = s.mesh.tcp_fallback_ns > 0 && since_reply >= s.mesh.tcp_fallback_ns;
  const PeerEntry* r = s.find(s.mesh.rendezvous);
  if (!tcp_wanted_ && tcp_stream_ != 0 && r) {
    // UDP answers again: back to it; the caller closes the stream.
    link::on_stream_left(*r->peer, rendezvous_udp_);
    tcp_stream_ = 0;
  }
  fill_tcp_targets(s, out);
}

void Rendezvous::fill_tcp_targets(const Snapshot& s, TickResult& out) const {
  if (!tcp_wanted_ || !rendezvous_udp_ || s.role == keys::Role::kCoordinator) return;
  Endpoint target = *rendezvous_udp_;
  target.port = s.mesh.tcp_port;
  target.stream = 0;
  out.tcp_targets.push_back(TcpTarget{s.mesh.rendezvous, target});
}

void Rendezvous::stream_opened(const Snapshot& s, HostId coordinator, uint32_t stream) {
  if (s.role == keys::Role::kCoordinator || coordinator != s.mesh.rendezvous || !tcp_wanted_) return;
  const PeerEntry* r = s.find(coordinator);
  if (!r || !rendezvous_udp_) return;
  Endpoint e = *rendezvous_udp_;
  e.port = s.mesh.tcp_port;
  e.stream = stream;
  link::on_stream_opened(*r->peer, e);
  tcp_stream_ = stream;
  report_now(0);  // the registry must hear from us on the new path at once
}

// The rendezvous coordinator goes back to its UDP endpoint; any other peer
// on the stream is forgotten until it is heard from again.
void Rendezvous::stream_closed(const Snapshot& s, uint32_t stream) {
  for (const PeerEntry& e : s.peers) {
    const auto ep = e.peer->endpoint();
    if (!ep || ep->stream != stream) continue;
    link::on_stream_left(*e.peer, e.peer->id() != s.mesh.rendezvous ? std::nullopt : rendezvous_udp_);
  }
  if (stream == tcp_stream_) tcp_stream_ = 0;
}

int64_t Rendezvous::tick(const Snapshot& s, const Now& now, TickResult& out) {
  const bool meshed = s.mesh.registry.value != 0 || s.mesh.rendezvous.value != 0;
  if (!meshed) return INT64_MAX;
  expire_probes(now);
  rendezvous_tick(s, now, out);
  // Reports: at start, when asked or moved, then every status interval;
  // an unacknowledged one is repeated with a doubling gap.
  if (s.mesh.registry.value != 0 && now.mono_ns >= next_report_mono_ns_) {
    if (report_acked_) {
      report_acked_ = false;
      report_retry_ns_ = kReportRetryFirstNs;
    }
    send_report(s, now);
    next_report_mono_ns_ = now.mono_ns + report_retry_ns_;
    report_retry_ns_ = std::min(report_retry_ns_ * 2, kReportRetryMaxNs);
  }
  // A path that changed is told at once, not at the next report.
  if (s.mesh.registry.value != 0 && now.mono_ns >= next_path_check_mono_ns_) {
    next_path_check_mono_ns_ = now.mono_ns + kPathCheckNs;
    if (wire::PathReport paths = path_report(s); paths != sent_paths_) send_paths(s, now, std::move(paths));
  }
  if (const PeerEntry* r = s.find(s.mesh.registry)) {
    // Judged as the registry judges its clients: unheard for the poll period.
    const int64_t heard = r->peer->timers().last_rx_mono_ns.load(std::memory_order_relaxed);
    registry_silent_ = heard != 0 && now.mono_ns - heard >= s.mesh.poll_period_ns;
  }
  for (const PeerEntry& e : s.peers) {
    const auto it = peers_.find(e.peer->id().value);
    if (it != peers_.end()) peer_tick(s, e, it->second, now);
  }
  return now.mono_ns + kMeshTickNs;
}

void Rendezvous::fill_status(const Snapshot& s, NodeStatus& out) const {
  out.role = s.role;
  out.registry = s.mesh.registry;
  out.rendezvous = s.mesh.rendezvous;
  out.public_endpoint = public_;
  out.local_endpoints = local_;
  out.tcp = tcp_stream_ != 0;
}

void Rendezvous::fill_peer_status(const PeerEntry& e, PeerStatus& out) const {
  // The registry speaks for itself: reachable once it acknowledges a
  // report, unreachable when unheard for the poll period it applies to its
  // clients; its last status is its last ack.
  if (registry_.value != 0 && e.peer->id() == registry_) {
    if (registry_ack_real_ns_ == 0 && !registry_silent_) return;
    out.reachability = registry_silent_ ? Reachability::kUnreachable : Reachability::kReachable;
    out.last_status_real_ns = registry_ack_real_ns_;
    return;
  }
  const auto it = peers_.find(e.peer->id().value);
  if (it == peers_.end() || !it->second.record) return;
  const wire::HostRecord& r = *it->second.record;
  out.reachability = r.state == wire::HostState::kReachable ? Reachability::kReachable : Reachability::kUnreachable;
  out.last_status_real_ns = it->second.record_real_ns;
  out.public_endpoint = r.public_endpoint;
  out.local_endpoints = r.local;
}

}  // namespace cordon::coord
