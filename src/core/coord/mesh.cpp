// The mesh's common part: dispatching control messages, sending them on a
// path, probes (answered the same way by every host), and status.
#include "core/coord/mesh.hpp"

#include <algorithm>

namespace cordon::coord {

void Mesh::configure(const Snapshot& s, const Now& now) {
  if (started_mono_ns_ == 0) started_mono_ns_ = now.mono_ns;
  if (s.role == keys::Role::kCoordinator) {
    registry_configure(s, now);
  } else {
    client_configure(s, now);
  }
}

bool Mesh::is_coordinator(const Snapshot& s, HostId id) const {
  const PeerEntry* e = s.find(id);
  return e && e->role == keys::Role::kCoordinator;
}

void Mesh::handle(const Snapshot& s, const InboxItem& item, const Now& now) {
  const PeerEntry* from = s.find(item.peer);
  if (!from) return;  // the peer went away in a reload since the worker queued it
  if (const auto* probe = std::get_if<wire::Probe>(&item.message)) {
    // A probe that is not live may be one captured before this host
    // restarted, replayed from a spoofed source: answering it would reflect
    // traffic there and following it would move the peer (docs/protocol.md,
    // "Replay protection").
    if (!item.live) return from->peer->stats().drops.add(DropReason::kOldControl);
    return answer_probe(s, now, item, *probe);
  }
  if (s.role == keys::Role::kCoordinator) return registry_handle(s, item, now);
  client_handle(s, item, now);
}

// Every host answers a probe the way it came (docs/protocol.md,
// "Rendezvous"): straight back to the source, or through the same relay.
void Mesh::answer_probe(const Snapshot& s, const Now& now, const InboxItem& item, const wire::Probe& probe) {
  wire::ProbeAck ack{probe.probe_id, std::nullopt};
  if (item.via.value == 0) {
    ack.observed = item.from;
    if (!item.from.is_udp()) ack.observed.reset();
    send(s, now, item.peer, ack, item.from.is_udp() ? Via::direct(item.from) : Via::path());
  } else {
    send(s, now, item.peer, ack, Via::through(item.via));
  }
  if (s.role != keys::Role::kCoordinator) return client_probed(s, item, now);
  // A coordinator follows a client whose UDP source changed (a new NAT
  // mapping), unless the client is on the TCP tunnel: a UDP probe from it
  // then only tests UDP (docs/protocol.md, "TCP tunnel").
  if (item.via.value != 0 || !item.from.is_udp()) return;
  const PeerEntry* e = s.find(item.peer);
  const auto ep = e->peer->endpoint();
  if (!ep || (ep->is_udp() && !(*ep == item.from))) {
    if (ep) e->peer->stats().roams.fetch_add(1, std::memory_order_relaxed);
    e->peer->set_endpoint(item.from);
  }
}

void Mesh::send(const Snapshot& s, const Now& now, HostId to, const wire::ControlMessage& m, const Via& via) {
  const PeerEntry* peer = s.find(to);
  if (!peer) return;
  const auto encoded = wire::encode_control(m);
  if (!encoded) return;  // cannot happen for messages built here; nothing to send
  std::vector<std::byte> buffer(wire::kHeadroom + encoded->size() + wire::kTailroom);
  std::copy(encoded->begin(), encoded->end(), buffer.begin() + wire::kHeadroom);

  link::Peer* first_hop = peer->peer.get();
  std::optional<Endpoint> dest;
  switch (via.kind) {
    case Via::Kind::kPath: {
      const Node::Impl::Path p = impl_.path_to(s, *peer->peer);
      first_hop = p.first_hop;
      if (first_hop) dest = p.to;
      break;
    }
    case Via::Kind::kDirect:
      dest = via.endpoint;
      break;
    case Via::Kind::kUdp:  // the rendezvous coordinator's UDP endpoint, even while on TCP
      dest = rendezvous_udp_;
      break;
    case Via::Kind::kRelay: {
      const PeerEntry* relay = s.find(via.relay);
      first_hop = relay ? relay->peer.get() : nullptr;
      if (first_hop) dest = first_hop->endpoint();
      break;
    }
  }
  if (!first_hop || !dest) {
    peer->peer->stats().drops.add(DropReason::kNoEndpoint);
    return;
  }
  DropReason reason{};
  const unsigned slot = impl_.workers;  // the control thread's AEAD contexts
  const auto datagram =
      impl_.seal_on_path(slot, now, s.self, *peer->peer, *first_hop, buffer, wire::kHeadroom, encoded->size(), reason);
  if (!datagram) {
    peer->peer->stats().drops.add(reason);
    return;
  }
  link::PeerStats& st = first_hop->stats();
  st.last_tx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
  st.last_tx_real_ns.store(now.real_ns, std::memory_order_relaxed);
  Outgoing o{*dest, std::vector<std::byte>(datagram->begin(), datagram->end())};
  (out_ ? *out_ : pending_).push_back(std::move(o));
}

void Mesh::send_records(const Snapshot& s, const Now& now, HostId to, const std::vector<wire::HostRecord>& records) {
  for (size_t first = 0; first < records.size();) {
    const size_t n = wire::records_that_fit(records, first);
    if (n == 0) break;
    wire::HostRecords m;
    m.records.assign(records.begin() + static_cast<std::ptrdiff_t>(first),
                     records.begin() + static_cast<std::ptrdiff_t>(first + n));
    send(s, now, to, m, Via::path());
    first += n;
  }
}

int64_t Mesh::tick(const Snapshot& s, const Now& now, TickResult& out) {
  out_ = &out.datagrams;
  for (Outgoing& o : pending_) out.datagrams.push_back(std::move(o));
  pending_.clear();
  const bool meshed = s.role == keys::Role::kCoordinator || s.mesh.registry.value != 0 || s.mesh.rendezvous.value != 0;
  if (s.role == keys::Role::kCoordinator) {
    registry_tick(s, now);
  } else if (meshed) {
    client_tick(s, now, out);
  }
  out_ = nullptr;
  return meshed ? now.mono_ns + kMeshTickNs : INT64_MAX;
}

void Mesh::fill_status(const Snapshot& s, NodeStatus& out) const {
  out.role = s.role;
  out.registry = s.mesh.registry;
  out.rendezvous = s.mesh.rendezvous;
  out.public_endpoint = public_;
  out.local_endpoints = local_;
  out.tcp = tcp_stream_ != 0;
  for (const auto& [id, c] : clients_) {
    RegisteredClient rc;
    rc.id = HostId{id};
    if (const PeerEntry* e = s.find(rc.id)) {
      rc.name = e->name;
      const auto ep = e->peer->endpoint();
      rc.tcp = ep && !ep->is_udp();
    }
    rc.state = c.state;
    rc.public_endpoint = c.public_endpoint;
    rc.local_endpoints = c.local;
    rc.last_heard_real_ns = c.last_heard_real_ns;
    out.clients.push_back(std::move(rc));
  }
  for (const Route* r : routes_.all_best()) {
    out.routes.push_back(RouteStatus{r->record.host, r->via, r->record.coordinator, r->record.metric,
                                     r->record.state == wire::HostState::kReachable ? Reachability::kReachable
                                                                                     : Reachability::kUnreachable});
  }
  out.relay.packets = impl_.relayed_packets.load(std::memory_order_relaxed);
  out.relay.bytes = impl_.relayed_bytes.load(std::memory_order_relaxed);
}

void Mesh::fill_peer_status(const Snapshot& s, const PeerEntry& e, PeerStatus& out) const {
  out.role = e.role;
  const Node::Impl::Path p = impl_.path_to(s, *e.peer);
  if (!p.first_hop) {
    out.path = PathKind::kNone;
  } else if (p.first_hop == e.peer.get()) {
    out.path = p.to.is_udp() ? PathKind::kDirect : PathKind::kTcp;
  } else {
    out.path = p.to.is_udp() ? PathKind::kRelayed : PathKind::kTcp;
    out.via = p.first_hop->id();
  }
  if (const auto it = peers_.find(e.peer->id().value); it != peers_.end() && it->second.record) {
    const wire::HostRecord& r = *it->second.record;
    out.reachability = r.state == wire::HostState::kReachable ? Reachability::kReachable : Reachability::kUnreachable;
    out.last_status_real_ns = it->second.record_real_ns;
    out.public_endpoint = r.public_endpoint;
    out.local_endpoints = r.local;
  }
  if (const auto it = clients_.find(e.peer->id().value); it != clients_.end()) {
    out.reachability = it->second.state;
    out.last_status_real_ns = it->second.last_heard_real_ns;
    out.public_endpoint = it->second.public_endpoint;
    out.local_endpoints = it->second.local;
  }
}

}  // namespace cordon::coord
