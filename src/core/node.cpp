// Node: construction, configuration snapshots, reload and status. The data
// path is in node_rx.cpp and node_tx.cpp, the timers in node_timers.cpp.
#include "core/node.hpp"

#include <algorithm>

#include "core/coord/registry.hpp"
#include "core/coord/rendezvous.hpp"
#include "core/filter/filter.hpp"
#include "core/node_impl.hpp"

namespace cordon {

Node::Impl::Impl(unsigned workers, uint64_t persisted_floor, std::vector<ReceiveFloor> receive_floors,
                 uint64_t boot_random, uint64_t live_from)
    : workers(workers), live_from(live_from), boot_floor(persisted_floor), confirmed_floor(persisted_floor),
      boot_receive_floors(std::move(receive_floors)), reclaimer(workers),
      relayed(std::make_unique<RelayTally[]>(workers)),
      registry(std::make_unique<coord::Registry>(*this)),
      rendezvous(std::make_unique<coord::Rendezvous>(*this, boot_random)) {
  conntrack_secret = boot_random * 0x9e3779b97f4a7c15ull + 1;
}
Node::Impl::~Impl() = default;

Node::Node(NodeConfig config, unsigned workers, uint64_t persisted_floor, const Now& now,
           std::vector<ReceiveFloor> receive_floors)
    : impl_(std::make_unique<Impl>(std::max(workers, 1u), persisted_floor, std::move(receive_floors),
                                   config.boot_random, wire::counter_units(now.real_ns))) {
  impl_->random = config.random;
  impl_->current.publish(impl_->build(std::move(config), now, nullptr), impl_->reclaimer);
  impl_->role(*impl_->snapshot()).configure(*impl_->snapshot(), now);
}

Node::~Node() = default;

HostId Node::self() const { return impl_->snapshot()->self; }
unsigned Node::workers() const { return impl_->workers; }

// Every counter ever used lies below the confirmed floor, so a new counter
// starting at or above it, or at the clock if that is later, repeats nothing.
uint64_t Node::Impl::counter_start(const Now& now) const {
  return std::max(confirmed_floor.load(std::memory_order_relaxed), wire::counter_units(now.real_ns));
}

std::unique_ptr<const Snapshot> Node::Impl::build(NodeConfig config, const Now& now, const Snapshot* previous) {
  auto s = std::make_unique<Snapshot>();
  s->self = config.self;
  s->role = config.role;
  s->mesh = std::move(config.mesh);
  s->tunneled_subnets = config.tunneled_subnets;
  s->size_classes = config.size_classes;
  for (HostId id : config.revoked) {
    s->revoked_ids.push_back(id.value);
    s->revoked_numbers.push_back(id.host());
  }
  std::sort(s->revoked_ids.begin(), s->revoked_ids.end());
  std::sort(s->revoked_numbers.begin(), s->revoked_numbers.end());
  for (const IpAddress& a : config.tunnel_addresses) {
    std::optional<IpAddress>& slot = a.is_v4() ? s->tunnel_v4 : s->tunnel_v6;
    if (!slot) slot = a;
  }
  std::sort(s->size_classes.begin(), s->size_classes.end());
  for (const ServedClientConfig& c : s->mesh.served) {
    std::vector<uint32_t>& linked = s->served_links[c.client.value];
    for (HostId p : c.peers) linked.push_back(p.value);
    std::sort(linked.begin(), linked.end());
  }
  s->filter = build_filter(config.filter, previous);
  s->conntrack = conntrack.get();
  s->time_window_units = wire::counter_units(std::clamp<int64_t>(config.time_window_ns, 0, kMaxTimeWindowNs));
  for (PeerConfig& pc : config.peers) {
    std::shared_ptr<link::Peer> peer;
    // One lookup per peer, so a reload is linear in the number of peers.
    if (previous && previous->self == config.self) {
      const PeerEntry* e = previous->find(pc.id);
      if (e && e->peer->same_keys(pc.link_key, pc.suite)) peer = e->peer;
    }
    if (!peer) {
      peer = link::Peer::create(config.self, pc.id, pc.link_key, pc.suite, workers, counter_start(now));
      if (!peer) {
        drops.add(DropReason::kCryptoError);
        continue;
      }
      peer->set_endpoint(pc.endpoint);
      for (const ReceiveFloor& f : boot_receive_floors) {
        if (f.peer == pc.id && f.key == peer->fingerprint()) peer->set_receive_floor(f.counter);
      }
    } else if (pc.endpoint) {
      // A reload that names an endpoint moves the peer there; one that names
      // none keeps what was learnt.
      peer->set_endpoint(pc.endpoint);
    }
    const auto index = static_cast<uint32_t>(s->peers.size());
    s->by_sender_host[pc.id.host()].push_back(index);
    s->by_id[pc.id.value] = index;
    if (!pc.session || !pc.session->standby) {
      for (const Prefix& p : pc.allowed_prefixes) s->routes.insert(p, index);
    }
    const bool fixed = pc.endpoint.has_value();
    // The lower host ID is the key master unless the configuration says
    // (a site link's primary: docs/protocol.md, "Rekey exchange").
    const bool master = pc.key_master.value_or(config.self.value < pc.id.value);
    s->peers.push_back(PeerEntry{std::move(peer), std::move(pc.name), std::move(pc.allowed_prefixes), pc.keepalive_ns,
                                 pc.role, fixed, pc.rendezvous, std::move(pc.reach), pc.rekey_period_ns, master,
                                 pc.session, pc.key_arrays});
    ensure_rekey(*s, s->peers.back(), now);
    ensure_session(s->peers.back(), now);
  }
  return s;
}

// docs/gateways.md, "Reach": the administrator may limit which of a
// gateway's LAN prefixes a peer reaches; the gateway enforces it on both
// directions, since the peer's own routes are only the peer's word.
bool Snapshot::reachable(const PeerEntry& e, const IpAddress& address) const {
  if (!e.reach) return true;
  const auto inside = [&](const std::vector<Prefix>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(), [&](const Prefix& p) { return p.contains(address); });
  };
  return !inside(tunneled_subnets) || inside(*e.reach);
}

std::shared_ptr<const filter::Ruleset> Node::Impl::build_filter(FilterConfig& config, const Snapshot* previous) {
  const filter::Ruleset* old = previous ? previous->filter.get() : nullptr;
  if (old && old->rules().size() == config.rules.size()) {
    bool same = true;
    for (size_t i = 0; same && i < config.rules.size(); ++i) {
      same = old->text(i) == config.rules[i].to_string() && old->rules()[i].peers == config.rules[i].peers &&
             (i < config.origins.size() ? config.origins[i] : std::string()) == old->origin(i);
    }
    if (same) return previous->filter;
  }
  auto rules = std::make_shared<const filter::Ruleset>(std::move(config.rules), std::move(config.origins),
                                                       ++filter_version, workers + 1, old);
  if (!rules->empty() && !conntrack) {
    conntrack = std::make_unique<filter::ConnTable>(config.max_connections, conntrack_secret);
  }
  return rules;
}

std::optional<DropReason> Node::Impl::filtered(unsigned slot, const Now& now, const Snapshot& s, filter::Direction d,
                                               HostId peer, std::span<const std::byte> packet) const {
  if (s.filter->empty()) return std::nullopt;
  const auto v = filter::judge(*s.filter, *s.conntrack, slot, d, peer.value, packet, now.mono_ns);
  if (v.pass) return std::nullopt;
  return v.reason;
}

// A reload that changes the rules judges every tracked connection again
// once the new snapshot is out (filter/conntrack.hpp, recheck).
void Node::reconfigure(NodeConfig config, const Now& now) {
  const filter::Ruleset* rules_before = impl_->snapshot()->filter.get();
  auto next = impl_->build(std::move(config), now, impl_->snapshot());
  const filter::Ruleset* rules_after = next->filter.get();
  // Paths first, so that workers never see the new peers without them.
  impl_->role(*next).configure(*next, now);
  impl_->current.publish(std::move(next), impl_->reclaimer);
  if (rules_after != rules_before && impl_->conntrack) impl_->conntrack->recheck(*rules_after, now.mono_ns);
  impl_->keepalive_check_mono_ns = INT64_MIN;  // new peers, keepalive intervals, endpoints
  impl_->floor_check_mono_ns = INT64_MIN;
  impl_->reclaim();
}

void Node::set_local_endpoints(std::vector<Endpoint> endpoints, const Now& now) {
  impl_->rendezvous->set_local_endpoints(std::move(endpoints), now);
}

void Node::stream_opened(HostId coordinator, uint32_t stream, const Now& /*now*/) {
  impl_->rendezvous->stream_opened(*impl_->snapshot(), coordinator, stream);
}

void Node::stream_closed(uint32_t stream, const Now& /*now*/) {
  const auto s = impl_->snapshot();
  impl_->role(*s).stream_closed(*s, stream);
}

bool Node::control_pending() const { return impl_->inbox.pending(); }

// Each batch is one quiescent-state bracket (publish.hpp): the snapshot and
// relay routes loaded inside it stay alive until leave().
void Node::process_wire(unsigned worker, const Now& now, std::span<RxSlot> batch) {
  impl_->reclaimer.enter(worker);
  const Snapshot& s = *impl_->snapshot();
  for (RxSlot& slot : batch) impl_->receive(worker, now, s, slot);
  impl_->reclaimer.leave(worker);
}

void Node::process_tun(unsigned worker, const Now& now, std::span<TxSlot> batch) {
  impl_->reclaimer.enter(worker);
  const Snapshot& s = *impl_->snapshot();
  for (TxSlot& slot : batch) impl_->send(worker, now, s, slot);
  impl_->reclaimer.leave(worker);
}

namespace {

PeerStatus peer_status(const Snapshot& s, const Node::Impl& impl, const PeerEntry& e) {
  const link::Peer& p = *e.peer;
  const link::PeerStats& st = p.stats();
  PeerStatus out;
  out.id = p.id();
  out.name = e.name;
  out.suite = p.suite();
  out.endpoint = p.endpoint();
  out.allowed_prefixes = e.allowed_prefixes;
  out.reach = e.reach;
  out.last_rx_real_ns = p.timers().last_rx_real_ns.load(std::memory_order_relaxed);
  out.last_tx_real_ns = p.timers().last_tx_real_ns.load(std::memory_order_relaxed);
  out.rx_bytes = st.rx_bytes.load(std::memory_order_relaxed);
  out.rx_packets = st.rx_packets.load(std::memory_order_relaxed);
  out.tx_bytes = st.tx_bytes.load(std::memory_order_relaxed);
  out.tx_packets = st.tx_packets.load(std::memory_order_relaxed);
  out.keepalives_sent = st.keepalives_sent.load(std::memory_order_relaxed);
  out.keepalives_received = st.keepalives_received.load(std::memory_order_relaxed);
  out.roams = st.roams.load(std::memory_order_relaxed);
  out.failovers = st.failovers.load(std::memory_order_relaxed);
  out.relayed_packets = st.relayed.load(std::memory_order_relaxed);
  out.drops = st.drops.snapshot();
  impl.fill_mesh_peer_status(s, e, out);
  out.rekey = rekey_status(e);
  out.session = session_status(e);
  return out;
}

// Status reads no clock: it lists what the table holds, which may include
// connections expired since the last sweep of their bucket (Node::tick).
FilterStatus filter_status(const Snapshot& s, filter::ConnTable* table) {
  FilterStatus out;
  const filter::Ruleset& rules = *s.filter;
  out.version = rules.version();
  for (size_t i = 0; i < rules.rules().size(); ++i) {
    out.rules.push_back(FilterRuleStatus{rules.text(i), rules.origin(i), rules.rules()[i].action,
                                         rules.hits(static_cast<int32_t>(i))});
  }
  if (table) {
    out.connections = table->size();
    out.capacity = table->capacity();
    out.tracked = table->list(kStatusConnections, INT64_MIN);
  }
  return out;
}

}  // namespace

NodeStatus Node::status() const {
  const auto s = impl_->snapshot();
  NodeStatus out;
  out.self = s->self;
  for (const PeerEntry& e : s->peers) out.peers.push_back(peer_status(*s, *impl_, e));
  impl_->fill_mesh_status(*s, out);
  out.drops = impl_->drops.snapshot();
  out.counter_floor = impl_->confirmed_floor.load(std::memory_order_relaxed);
  out.filter = filter_status(*s, impl_->conntrack.get());
  out.control_queued = impl_->inbox.queued();
  out.control_queue_limit = kMaxInbox;
  return out;
}

}  // namespace cordon
