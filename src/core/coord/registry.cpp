#include "core/coord/registry.hpp"

#include <algorithm>

#include "core/node_impl.hpp"

namespace cordon::coord {
namespace {

uint32_t age_seconds(int64_t now_mono_ns, int64_t then_mono_ns) {
  if (then_mono_ns <= 0 || now_mono_ns <= then_mono_ns) return 0;
  return static_cast<uint32_t>(std::min<int64_t>((now_mono_ns - then_mono_ns) / kNsPerSecond, UINT32_MAX));
}

}  // namespace

void Registry::configure(const Snapshot& s, const Now& now) {
  const bool first = started_mono_ns_ == 0;
  if (first) started_mono_ns_ = now.mono_ns;
  std::map<uint32_t, ClientEntry> kept;
  auto before = std::move(links_of_);
  links_of_.clear();
  linked_to_.clear();
  for (const ServedClientConfig& c : s.mesh.served) {
    if (!s.find(c.client)) continue;  // served but not linked: nothing to hear from it
    auto it = clients_.find(c.client.value);
    kept.emplace(c.client.value, it != clients_.end() ? it->second : ClientEntry{});
    links_of_[c.client.value] = c.peers;
    for (HostId peer : c.peers) linked_to_[peer.value].push_back(c.client);
  }
  clients_ = std::move(kept);
  if (!first) tell_new_links(s, now, before);
  if (next_exchange_mono_ns_ == 0) next_exchange_mono_ns_ = now.mono_ns + s.mesh.exchange_interval_ns;
  // A coordinator never relays its own traffic: every peer is direct.
  for (const PeerEntry& e : s.peers) e.peer->path_cell().update([](link::Path p) { return p.to_direct(); });
  publish_all_relay_routes();
}

// A reload that links a client with more hosts (an update delivered by a
// courier, or applied by hand) tells it where they are at once, rather than
// at its next status report: a link added in `cordon admin` carries
// traffic within seconds (docs/couriers.md).
void Registry::tell_new_links(const Snapshot& s, const Now& now,
                              const std::unordered_map<uint32_t, std::vector<HostId>>& before) {
  for (const auto& [client, peers] : links_of_) {
    const PeerEntry* e = s.find(HostId{client});
    if (!e || !e->peer->endpoint()) continue;  // it gets them with the answer to its first report
    const auto old = before.find(client);
    std::vector<wire::HostRecord> records;
    for (HostId peer : peers) {
      if (old != before.end() && std::find(old->second.begin(), old->second.end(), peer) != old->second.end()) continue;
      if (auto r = known_record(s, peer, now)) records.push_back(std::move(*r));
    }
    if (!records.empty()) send_records(s, now, HostId{client}, records);
  }
}

std::vector<HostId> Registry::neighbors(const Snapshot& s) const {
  std::vector<HostId> out;
  for (const PeerEntry& e : s.peers) {
    if (e.role == keys::Role::kCoordinator) out.push_back(e.peer->id());
  }
  return out;
}

std::optional<wire::HostRecord> Registry::own_record(const Snapshot& s, HostId client, const Now& now) const {
  const auto it = clients_.find(client.value);
  if (it == clients_.end() || it->second.state == Reachability::kUnknown) return std::nullopt;
  const ClientEntry& c = it->second;
  wire::HostRecord r;
  r.host = client;
  r.state = c.state == Reachability::kReachable ? wire::HostState::kReachable : wire::HostState::kUnreachable;
  r.metric = 0;
  r.coordinator = s.self;
  r.age_s = age_seconds(now.mono_ns, c.last_heard_mono_ns);
  r.public_endpoint = c.public_endpoint;
  r.local = c.local;
  return r;
}

std::optional<wire::HostRecord> Registry::known_record(const Snapshot& s, HostId host, const Now& now) const {
  if (clients_.count(host.value)) return own_record(s, host, now);
  const Route* route = routes_.best(host);
  if (!route) return std::nullopt;
  wire::HostRecord r = route->record;
  r.age_s = static_cast<uint32_t>(std::min<int64_t>(
      int64_t{r.age_s} + age_seconds(now.mono_ns, route->learned_mono_ns), UINT32_MAX));
  return r;
}

void Registry::handle(const Snapshot& s, const InboxItem& item, const Now& now) {
  DropCounters& drops = s.find(item.peer)->peer->stats().drops;
  const bool from_coordinator = is_coordinator(s, item.peer);
  if (const auto* report = std::get_if<wire::StatusReport>(&item.message)) {
    if (!clients_.count(item.peer.value)) return drops.add(DropReason::kUnlinkedRecord);
    // Only a live report draws the ack and the records: one captured before
    // this coordinator restarted and replayed from a spoofed source must not
    // make it reflect every host record there (docs/protocol.md, "Registry").
    if (!item.live) return drops.add(DropReason::kOldControl);
    return take_report(s, item, *report, now);
  }
  if (const auto* paths = std::get_if<wire::PathReport>(&item.message)) {
    const auto client = clients_.find(item.peer.value);
    if (client == clients_.end()) return drops.add(DropReason::kUnlinkedRecord);
    if (!item.live) return drops.add(DropReason::kOldControl);
    client->second.peer_paths.clear();
    for (const auto& [peer, path] : paths->paths) {
      client->second.peer_paths.emplace_back(peer, static_cast<PathKind>(path));
    }
    return;
  }
  if (const auto* records = std::get_if<wire::HostRecords>(&item.message)) {
    if (!from_coordinator) return drops.add(DropReason::kNotCoordinator);
    return take_records(s, item, *records, now);
  }
  // A neighbour that (re)started asks for the whole table.
  if (std::holds_alternative<wire::ReportRequest>(item.message)) {
    if (!from_coordinator) return drops.add(DropReason::kNotCoordinator);
    return send_table(s, now, item.peer);
  }
  // Acks go to clients; a client sending one is wrong.
  if (std::holds_alternative<wire::StatusAck>(item.message)) drops.add(DropReason::kNotCoordinator);
  // A coordinator sends no probes, so no probe ack answers one of its own.
  if (std::holds_alternative<wire::ProbeAck>(item.message)) drops.add(DropReason::kUnmatchedAck);
}

void Registry::take_report(const Snapshot& s, const InboxItem& item, const wire::StatusReport& m, const Now& now) {
  ClientEntry& c = clients_[item.peer.value];
  const auto before = own_record(s, item.peer, now);
  c.local = m.local;
  c.reported = true;
  if (item.via.value == 0 && item.from.is_udp()) c.public_endpoint = item.from;
  c.last_heard_mono_ns = now.mono_ns;
  c.last_heard_real_ns = now.real_ns;
  c.state = Reachability::kReachable;
  wire::StatusAck ack{m.seq, std::nullopt};
  if (item.via.value == 0 && item.from.is_udp()) ack.observed = item.from;
  link_.send_control(s, now, item.peer, ack, Via::path());

  // The reporting client learns where its linked hosts are (the ViPNet
  // technology description, "IP Addresses Server": the server tells the
  // client the state and connection parameters of the hosts it is linked
  // with).
  std::vector<wire::HostRecord> records;
  for (HostId peer : links_of_[item.peer.value]) {
    if (auto r = known_record(s, peer, now)) records.push_back(std::move(*r));
  }
  send_records(s, now, item.peer, records);

  const auto after = own_record(s, item.peer, now);
  const bool moved = !before || before->public_endpoint != after->public_endpoint || before->local != after->local ||
                     before->state != after->state;
  if (moved) announce(s, now, {item.peer}, HostId{});
}

void Registry::take_records(const Snapshot& s, const InboxItem& item, const wire::HostRecords& m, const Now& now) {
  std::vector<HostId> changed;
  for (const wire::HostRecord& r : m.records) {
    // This coordinator is the authority on its own clients, and a record of
    // its own coming back round is a loop.
    if (clients_.count(r.host.value) || r.host == s.self || r.coordinator == s.self) continue;
    if (routes_.learn(r, item.peer, now)) changed.push_back(r.host);
  }
  if (!changed.empty()) {
    announce(s, now, changed, item.peer);
    // Published once by the tick that follows the batch (Node::tick handles
    // the inbox, then ticks the role), and only these hosts' routes: a
    // coordinator among 100,000 clients gets many records messages per tick
    // and knows 90,000 routes (docs/design.md, "A network of 100,000 clients").
    changed_routes_.insert(changed_routes_.end(), changed.begin(), changed.end());
  }
}

// Sends the current record of each host in `hosts` to the served clients
// linked with it and to every neighbour coordinator but `except_neighbor`
// (and never back to the neighbour the route came from: split horizon).
void Registry::announce(const Snapshot& s, const Now& now, const std::vector<HostId>& hosts, HostId except_neighbor) {
  std::map<uint32_t, std::vector<wire::HostRecord>> to_clients;
  std::map<uint32_t, std::vector<wire::HostRecord>> to_neighbors;
  const std::vector<HostId> nbrs = neighbors(s);
  for (HostId h : hosts) {
    std::optional<wire::HostRecord> r = known_record(s, h, now);
    const Route* route = routes_.best(h);
    if (!r) {  // gone: withdraw it everywhere (RFC 1058's infinity)
      r = wire::HostRecord{h, wire::HostState::kUnreachable, wire::kMetricUnreachable, s.self, 0, std::nullopt, {}};
    } else if (const auto it = linked_to_.find(h.value); it != linked_to_.end()) {
      for (HostId client : it->second) to_clients[client.value].push_back(*r);
    }
    for (HostId n : nbrs) {
      if (n == except_neighbor || (route && route->via == n)) continue;
      to_neighbors[n.value].push_back(*r);
    }
  }
  for (auto& [client, records] : to_clients) {
    // A client not heard from since this coordinator started gets the
    // records with the answer to its first report instead.
    const PeerEntry* e = s.find(HostId{client});
    if (e && e->peer->endpoint()) send_records(s, now, HostId{client}, records);
  }
  for (auto& [n, records] : to_neighbors) send_records(s, now, HostId{n}, records);
}

// The sweep over every served client runs once per kMeshTickNs, not on
// every tick: a coordinator ticks once per batch of control messages, and a
// sweep per batch made a status round of n clients cost O(n^2)
// (docs/design.md, "Coordinator CPU").
int64_t Registry::tick(const Snapshot& s, const Now& now, TickResult& /*out*/) {
  if (now.mono_ns >= next_sweep_mono_ns_) {
    next_sweep_mono_ns_ = now.mono_ns + kMeshTickNs;
    sweep_clients(s, now);
  }

  // Neighbours not heard from for the poll period lose their routes.
  std::vector<HostId> gone;
  for (HostId n : neighbors(s)) {
    const int64_t heard = std::max(s.find(n)->peer->timers().last_rx_mono_ns.load(std::memory_order_relaxed),
                                   started_mono_ns_);
    if (now.mono_ns - heard > s.mesh.poll_period_ns) gone.push_back(n);
  }
  const std::vector<HostId> lost = routes_.expire(now.mono_ns, kRouteLifetimeNs, gone);
  if (!lost.empty()) {
    announce(s, now, lost, HostId{});
    changed_routes_.insert(changed_routes_.end(), lost.begin(), lost.end());
  }

  // At start, every neighbour's table; then ours to each every exchange
  // interval (the ViPNet technology description: every 15 minutes).
  if (ask_neighbors_) {
    ask_neighbors_ = false;
    for (HostId n : neighbors(s)) link_.send_control(s, now, n, wire::ReportRequest{}, Via::path());
  }
  if (now.mono_ns >= next_exchange_mono_ns_) {
    next_exchange_mono_ns_ = now.mono_ns + s.mesh.exchange_interval_ns;
    for (HostId n : neighbors(s)) send_table(s, now, n);
  }
  if (!changed_routes_.empty()) publish_changed_relay_routes();
  return std::min(next_sweep_mono_ns_, now.mono_ns + kMeshTickNs);
}

// Folds the workers' "heard" stamps into the client entries, asks clients
// heard from but not reported since this coordinator started for a report,
// and announces those that roamed or changed reachability.
void Registry::sweep_clients(const Snapshot& s, const Now& now) {
  std::vector<HostId> changed;
  for (auto& [id, c] : clients_) {
    const PeerEntry* e = s.find(HostId{id});
    if (!e) continue;
    const link::TimerStamps& t = e->peer->timers();
    const int64_t heard = t.last_rx_mono_ns.load(std::memory_order_relaxed);
    if (heard > c.last_heard_mono_ns) {
      c.last_heard_mono_ns = heard;
      c.last_heard_real_ns = t.last_rx_real_ns.load(std::memory_order_relaxed);
    }
    const bool recent = c.last_heard_mono_ns != 0 && now.mono_ns - c.last_heard_mono_ns < s.mesh.poll_period_ns;
    if (!c.reported) {
      // Heard from, but not since this coordinator started: ask for a report.
      if (recent && now.mono_ns - c.last_request_mono_ns >= kReportRequestGapNs) {
        link_.send_control(s, now, HostId{id}, wire::ReportRequest{}, Via::path());
        c.last_request_mono_ns = now.mono_ns;
      }
      continue;
    }
    bool moved = false;
    if (const auto ep = e->peer->endpoint(); ep && ep->is_udp() && ep != c.public_endpoint) {
      c.public_endpoint = ep;  // it roamed (a new NAT mapping, a new address)
      moved = true;
    }
    const Reachability state = recent ? Reachability::kReachable : Reachability::kUnreachable;
    if (state != c.state) {
      c.state = state;  // the ViPNet technology description: a silent client is announced unreachable
      moved = true;
    }
    if (moved) changed.push_back(HostId{id});
  }
  if (!changed.empty()) announce(s, now, changed, HostId{});
}

void Registry::send_table(const Snapshot& s, const Now& now, HostId neighbor) {
  std::vector<wire::HostRecord> table;
  for (const auto& [id, c] : clients_) {
    if (auto r = own_record(s, HostId{id}, now)) table.push_back(std::move(*r));
  }
  for (const Route* r : routes_.all_best()) {
    if (r->via == neighbor) continue;  // split horizon
    if (auto rec = known_record(s, r->record.host, now)) table.push_back(std::move(*rec));
  }
  send_records(s, now, neighbor, table);
}

// Workers relay towards a host through the neighbour of its best route
// while that route says the host is reachable.
RelayRoutes::Change Registry::relay_route(HostId host) const {
  const Route* r = routes_.best(host);
  const bool usable = r && r->record.state == wire::HostState::kReachable;
  return RelayRoutes::Change{host.value, usable ? r->via.value : 0};
}

void Registry::publish_all_relay_routes() {
  changed_routes_.clear();
  std::vector<RelayRoutes::Change> table;
  for (const Route* r : routes_.all_best()) {
    if (r->record.state == wire::HostState::kReachable) table.push_back({r->record.host.value, r->via.value});
  }
  link_.update_relay_routes(table, true);
}

// Only the hosts whose best route changed since the last publication: every
// other host's relay route is what the published table already holds.
void Registry::publish_changed_relay_routes() {
  std::vector<RelayRoutes::Change> changes;
  changes.reserve(changed_routes_.size());
  for (HostId h : changed_routes_) changes.push_back(relay_route(h));
  changed_routes_.clear();
  link_.update_relay_routes(changes, false);
}

void Registry::send_records(const Snapshot& s, const Now& now, HostId to, const std::vector<wire::HostRecord>& records) {
  for (size_t first = 0; first < records.size();) {
    const size_t n = wire::records_that_fit(records, first);
    if (n == 0) break;
    wire::HostRecords m;
    m.records.assign(records.begin() + static_cast<std::ptrdiff_t>(first),
                     records.begin() + static_cast<std::ptrdiff_t>(first + n));
    link_.send_control(s, now, to, m, Via::path());
    first += n;
  }
}

// A coordinator follows a client whose UDP source changed (a new NAT
// mapping); link::on_client_probe_from keeps a client on the TCP tunnel there.
void Registry::probed(const Snapshot& s, const InboxItem& item, const Now& /*now*/) {
  if (item.via.value != 0 || !item.from.is_udp()) return;
  link::on_client_probe_from(*s.find(item.peer)->peer, item.from);
}

// A coordinator forgets where a client on the stream is until it hears from
// it again.
void Registry::stream_closed(const Snapshot& s, uint32_t stream) {
  for (const PeerEntry& e : s.peers) {
    const auto ep = e.peer->endpoint();
    if (ep && ep->stream == stream) link::on_stream_left(*e.peer, std::nullopt);
  }
}

void Registry::fill_status(const Snapshot& s, NodeStatus& out) const {
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
    rc.peer_paths = c.peer_paths;
    out.clients.push_back(std::move(rc));
  }
  for (const Route* r : routes_.all_best()) {
    out.routes.push_back(RouteStatus{r->record.host, r->via, r->record.coordinator, r->record.metric,
                                     r->record.state == wire::HostState::kReachable ? Reachability::kReachable
                                                                                     : Reachability::kUnreachable});
  }
}

void Registry::fill_peer_status(const PeerEntry& e, PeerStatus& out) const {
  if (const auto it = clients_.find(e.peer->id().value); it != clients_.end()) {
    out.reachability = it->second.state;
    out.last_status_real_ns = it->second.last_heard_real_ns;
    out.public_endpoint = it->second.public_endpoint;
    out.local_endpoints = it->second.local;
  }
}

}  // namespace cordon::coord
