#include "daemon/status_json.hpp"

namespace cordon::daemon {
namespace {

nlohmann::json unix_seconds_or_null(int64_t real_ns) {
  if (real_ns == 0) return nullptr;  // PeerStatus: 0 means never
  return real_ns / kNsPerSecond;
}

nlohmann::json endpoint_or_null(const std::optional<Endpoint>& e) {
  return e ? nlohmann::json(e->to_string()) : nlohmann::json(nullptr);
}

nlohmann::json host_or_null(HostId id) { return id.value != 0 ? nlohmann::json(id.to_string()) : nlohmann::json(nullptr); }

nlohmann::json endpoints(const std::vector<Endpoint>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const Endpoint& e : list) out.push_back(e.to_string());
  return out;
}

nlohmann::json tcp_tunnel_to_json(const StatusContext& context) {
  if (context.tcp_port == 0) return nullptr;
  const TcpTunnelStats& t = context.tcp_tunnel;
  return nlohmann::json{
      {"pending", t.pending},
      {"authenticated", t.authenticated},
      {"evicted", {{"same_source", t.evicted_same_source}, {"oldest", t.evicted_oldest}}},
      {"refused", t.refused},
      {"closed",
       {{"no_first_datagram", t.no_first_datagram},
        {"frame_timeout", t.frame_timeouts},
        {"write_stall", t.write_stalls},
        {"idle", t.idle}}},
  };
}

nlohmann::json offloads_to_json(const OffloadStatus& o) {
  return nlohmann::json{
      {"enabled", o.enabled},
      {"tun", {{"vnet_header", o.vnet_header}, {"checksum", o.checksum}, {"tso", o.tso}, {"uso", o.uso}}},
      {"udp",
       {{"gso", o.gso},
        {"gro", o.gro},
        {"gso_messages", o.gso_messages},
        {"gso_datagrams", o.gso_datagrams},
        {"gso_fallbacks", o.gso_fallbacks},
        {"gro_messages", o.gro_messages},
        {"gro_datagrams", o.gro_datagrams}}},
      {"split",
       {{"super_packets", o.super_packets},
        {"segments", o.segments},
        {"drops", o.split_drops},
        {"last_drop", o.last_split_drop.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.last_split_drop)}}},
      {"coalesced", {{"packets", o.coalesced}, {"writes", o.coalesced_writes}}},
  };
}

nlohmann::json workers_to_json(const WorkersStatus& w) {
  return nlohmann::json{
      {"lanes", w.lanes},
      {"lanes_off", w.lanes_off.empty() ? nlohmann::json(nullptr) : nlohmann::json(w.lanes_off)},
      {"datagrams_in", w.datagrams_in},
      {"packets_in", w.packets_in},
  };
}

nlohmann::json prefix_list(const std::vector<Prefix>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const Prefix& p : list) out.push_back(p.to_string());
  return out;
}

// A link's key generations (docs/protocol.md, "Rekey exchange"). The next
// round is on the monotonic clock in the core; it is dated here with the
// context's two clocks.
nlohmann::json rekey_to_json(const RekeyStatusView& r, const StatusContext& context) {
  nlohmann::json next(nullptr);
  if (r.next_mono_ns && context.now_mono_ns != 0) {
    next = unix_seconds_or_null(context.now_real_ns + std::max<int64_t>(0, *r.next_mono_ns - context.now_mono_ns));
  }
  nlohmann::json arrays(nullptr);
  if (r.arrays) {
    arrays = nlohmann::json::object();
    const char* names[] = {"data", "control"};
    for (size_t i = 0; i < 2; ++i) {
      const link::KeyArrayView& a = (*r.arrays)[i];
      nlohmann::json replace(nullptr);
      if (a.replace_mono_ns && context.now_mono_ns != 0) {
        replace = unix_seconds_or_null(context.now_real_ns + std::max<int64_t>(0, *a.replace_mono_ns - context.now_mono_ns));
      }
      arrays[names[i]] = {{"id", a.id},       {"size", a.size},     {"left", a.left},
                          {"delivering", a.delivering}, {"chunks_acked", a.chunks_acked}, {"chunks", a.chunks},
                          {"replace", replace}};
    }
  }
  return nlohmann::json{
      {"enabled", r.enabled},
      {"key_master", r.key_master},
      {"arrays", arrays},
      {"generation", r.generation},
      {"phase", r.phase},
      {"period", r.period_ns / kNsPerSecond},
      {"last", r.last_real_ns ? unix_seconds_or_null(*r.last_real_ns) : nlohmann::json(nullptr)},
      {"next", next},
      {"done", r.done},
      {"failed", r.failed},
      {"refused", r.refused},
  };
}

// A site link's session (docs/site-links.md, "Sessions"); null elsewhere.
// Times on the core's monotonic clock are dated with the context's clocks.
nlohmann::json session_to_json(const std::optional<SessionStatusView>& s, const StatusContext& context) {
  if (!s) return nullptr;
  const auto dated = [&](int64_t mono) -> nlohmann::json {
    if (context.now_mono_ns == 0) return nullptr;
    return unix_seconds_or_null(context.now_real_ns + (mono - context.now_mono_ns));
  };
  return nlohmann::json{
      {"state", s->state},
      {"reason", s->reason},
      {"since", dated(s->since_mono_ns)},
      {"next_try", s->next_try_mono_ns ? dated(std::max(*s->next_try_mono_ns, context.now_mono_ns))
                                       : nlohmann::json(nullptr)},
      {"retry_wait", s->retry_wait_ns / kNsPerSecond},
      {"connects", s->initiator},
      {"heartbeat_time", s->heartbeat_ns / kNsPerSecond},
      {"heartbeat_fail", s->fail_ns / kNsPerSecond},
      {"losses", s->losses},
      {"tries", s->tries},
      {"heartbeats", s->heartbeats},
  };
}

nlohmann::json peer_to_json(const PeerStatus& peer, const StatusContext& context) {
  nlohmann::json prefixes = prefix_list(peer.allowed_prefixes);
  return nlohmann::json{
      {"id", peer.id.to_string()},
      {"name", peer.name},
      {"endpoint", peer.endpoint ? nlohmann::json(peer.endpoint->to_string()) : nlohmann::json(nullptr)},
      {"suite", std::string(crypto::suite_name(peer.suite))},
      {"allowed_prefixes", std::move(prefixes)},
      {"reach", peer.reach ? prefix_list(*peer.reach) : nlohmann::json(nullptr)},
      {"last_rx", unix_seconds_or_null(peer.last_rx_real_ns)},
      {"last_tx", unix_seconds_or_null(peer.last_tx_real_ns)},
      {"rx_bytes", peer.rx_bytes},
      {"rx_packets", peer.rx_packets},
      {"tx_bytes", peer.tx_bytes},
      {"tx_packets", peer.tx_packets},
      {"keepalives_sent", peer.keepalives_sent},
      {"keepalives_received", peer.keepalives_received},
      {"roams", peer.roams},
      {"failovers", peer.failovers},
      {"relayed_packets", peer.relayed_packets},
      {"drops", drops_to_json(peer.drops)},
      {"role", std::string(keys::role_name(peer.role))},
      {"path", std::string(path_kind_name(peer.path))},
      {"via", host_or_null(peer.via)},
      {"reachability", std::string(reachability_name(peer.reachability))},
      {"last_status", unix_seconds_or_null(peer.last_status_real_ns)},
      {"public_endpoint", endpoint_or_null(peer.public_endpoint)},
      {"local_endpoints", endpoints(peer.local_endpoints)},
      {"rekey", rekey_to_json(peer.rekey, context)},
      {"session", session_to_json(peer.session, context)},
  };
}

nlohmann::json client_to_json(const RegisteredClient& client) {
  return nlohmann::json{
      {"id", client.id.to_string()},
      {"name", client.name},
      {"state", std::string(reachability_name(client.state))},
      {"public_endpoint", endpoint_or_null(client.public_endpoint)},
      {"local_endpoints", endpoints(client.local_endpoints)},
      {"last_heard", unix_seconds_or_null(client.last_heard_real_ns)},
      {"tcp", client.tcp},
  };
}

nlohmann::json route_to_json(const RouteStatus& route) {
  return nlohmann::json{
      {"host", route.host.to_string()},
      {"via", route.via.to_string()},
      {"coordinator", route.coordinator.to_string()},
      {"metric", route.metric},
      {"state", std::string(reachability_name(route.state))},
  };
}

nlohmann::json connection_to_json(const filter::Connection& c) {
  return nlohmann::json{
      {"peer", HostId{c.peer}.to_string()},
      {"direction", c.origin == filter::Direction::kIn ? "in" : "out"},
      {"protocol", c.tuple.protocol},
      {"source", c.tuple.source.to_string()},
      {"source_port", c.tuple.source_port},
      {"destination", c.tuple.destination.to_string()},
      {"destination_port", c.tuple.destination_port},
      {"answered", c.answered},
      {"cut", c.cut},
      {"rule", c.rule < 0 ? nlohmann::json(nullptr) : nlohmann::json(c.rule + 1)},
  };
}

// Rules are numbered from 1 here and in `cordon status`; null is the default.
nlohmann::json filter_to_json(const FilterStatus& f) {
  nlohmann::json rules = nlohmann::json::array();
  for (size_t i = 0; i < f.rules.size(); ++i) {
    const FilterRuleStatus& r = f.rules[i];
    rules.push_back(nlohmann::json{{"number", i + 1},
                                   {"text", r.text},
                                   {"origin", r.origin},
                                   {"action", r.action == filter::Action::kDrop ? "drop" : "allow"},
                                   {"hits", r.hits}});
  }
  nlohmann::json tracked = nlohmann::json::array();
  for (const filter::Connection& c : f.tracked) tracked.push_back(connection_to_json(c));
  return nlohmann::json{{"version", f.version},        {"rules", std::move(rules)},
                        {"connections", f.connections}, {"max_connections", f.capacity},
                        {"tracked", std::move(tracked)}};
}

nlohmann::json open_counter_json(const OpenCounter& c) { return {{"packets", c.packets}, {"bytes", c.bytes}}; }

nlohmann::json open_to_json(const OpenStatus& o) {
  if (!o.enabled) return nullptr;
  nlohmann::json counters = nlohmann::json::object();
  for (const OpenCounter& c : o.counters) counters[c.name] = open_counter_json(c);
  nlohmann::json rules = nlohmann::json::array();
  for (size_t i = 0; i < o.rules.size(); ++i) {
    nlohmann::json rule = open_counter_json(o.rules[i]);
    rule["number"] = i + 1;
    rule["counter"] = o.rules[i].name;
    rule["origin"] = o.rules[i].origin;
    rule["text"] = o.rules[i].text;
    rules.push_back(std::move(rule));
  }
  return nlohmann::json{{"table", o.table},
                        {"error", o.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.error)},
                        {"counters", std::move(counters)},
                        {"rules", std::move(rules)}};
}

}  // namespace

nlohmann::json drops_to_json(const std::array<uint64_t, kDropReasonCount>& drops) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    if (drops[i] != 0) out[std::string(drop_reason_name(static_cast<DropReason>(i)))] = drops[i];
  }
  return out;
}

nlohmann::json status_to_json(const NodeStatus& status, const StatusContext& context) {
  nlohmann::json peers = nlohmann::json::array();
  for (const PeerStatus& peer : status.peers) peers.push_back(peer_to_json(peer, context));
  nlohmann::json clients = nlohmann::json::array();
  for (const RegisteredClient& client : status.clients) clients.push_back(client_to_json(client));
  nlohmann::json routes = nlohmann::json::array();
  for (const RouteStatus& route : status.routes) routes.push_back(route_to_json(route));
  return nlohmann::json{
      {"host", status.self.to_string()},
      {"interface", context.interface},
      {"listen_port", context.listen_port},
      {"counter_floor", status.counter_floor},
      {"time", context.now_real_ns / kNsPerSecond},
      {"role", std::string(keys::role_name(status.role))},
      {"registry", host_or_null(status.registry)},
      {"rendezvous", host_or_null(status.rendezvous)},
      {"public_endpoint", endpoint_or_null(status.public_endpoint)},
      {"local_endpoints", endpoints(status.local_endpoints)},
      {"tcp", status.tcp},
      {"tcp_port", context.tcp_port != 0 ? nlohmann::json(context.tcp_port) : nlohmann::json(nullptr)},
      {"tcp_streams", context.tcp_streams},
      {"tcp_tunnel", tcp_tunnel_to_json(context)},
      {"peers", std::move(peers)},
      {"clients", std::move(clients)},
      {"routes", std::move(routes)},
      {"relay", nlohmann::json{{"packets", status.relay.packets}, {"bytes", status.relay.bytes}}},
      {"offloads", offloads_to_json(context.offloads)},
      {"workers", workers_to_json(context.workers)},
      {"drops", drops_to_json(status.drops)},
      {"filter", filter_to_json(status.filter)},
      {"open", open_to_json(context.open)},
      {"control_queue", {{"queued", status.control_queued}, {"limit", status.control_queue_limit}}},
  };
}

}  // namespace cordon::daemon
