#include "daemon/metrics_format.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/drop_reason.hpp"

namespace cordon::daemon {
namespace {

using Json = nlohmann::json;
using Labels = std::vector<std::pair<std::string_view, std::string>>;

// One metric family: its HELP and TYPE lines, then its samples. The format
// wants a family's lines together, so samples are collected per family and
// written at the end ("Exposition formats", "Grouping and sorting").
struct Family {
  std::string name, type, help;
  std::string samples;
};

class Writer {
 public:
  Family& family(std::string_view name, std::string_view type, std::string_view help) {
    families_.push_back(Family{std::string(name), std::string(type), std::string(help), {}});
    return families_.back();
  }
  static void sample(Family& f, const Labels& labels, std::string_view value) {
    f.samples += f.name;
    if (!labels.empty()) {
      f.samples += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i != 0) f.samples += ',';
        f.samples += fmt::format("{}=\"{}\"", labels[i].first, escape_label_value(labels[i].second));
      }
      f.samples += '}';
    }
    f.samples += ' ';
    f.samples += value;
    f.samples += '\n';
  }
  // Families without a sample are left out.
  std::string text() const {
    std::string out;
    for (const Family& f : families_) {
      if (f.samples.empty()) continue;
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
      out += f.samples;
    }
    return out;
  }

 private:
  // In the order they were opened. A deque, so that the references family()
  // hands out stay valid while more families are opened.
  std::deque<Family> families_;
};

// Lookups that tolerate a missing or mistyped field: the renderer never
// throws, whatever document it is given.
const Json& field(const Json& j, std::string_view key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}
uint64_t u64(const Json& j) {
  return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0) ? j.get<uint64_t>() : 0;
}
uint64_t u64(const Json& j, std::string_view key) { return u64(field(j, key)); }
std::string str(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}
bool flag(const Json& j, std::string_view key) {
  const Json& v = field(j, key);
  return v.is_boolean() && v.get<bool>();
}
const Json& list(const Json& j, std::string_view key) {
  static const Json kEmpty = Json::array();
  const Json& v = field(j, key);
  return v.is_array() ? v : kEmpty;
}

std::string num(uint64_t v) { return std::to_string(v); }
std::string num(double v) { return fmt::format("{}", v); }

// The families of one kind of peer counter, opened once and filled per peer.
struct PeerCounter {
  const char* name;
  const char* field;
  const char* help;
};
constexpr std::array<PeerCounter, 9> kPeerCounters = {{
    {"cordon_peer_receive_bytes_total", "rx_bytes",
     "Inner IP bytes received from the peer and delivered to the tunnel."},
    {"cordon_peer_receive_packets_total", "rx_packets",
     "Inner IP packets received from the peer and delivered to the tunnel."},
    {"cordon_peer_transmit_bytes_total", "tx_bytes", "Inner IP bytes sent to the peer."},
    {"cordon_peer_transmit_packets_total", "tx_packets", "Inner IP packets sent to the peer."},
    {"cordon_peer_keepalives_received_total", "keepalives_received", "Keepalives received from the peer."},
    {"cordon_peer_keepalives_sent_total", "keepalives_sent", "Keepalives sent to the peer."},
    {"cordon_peer_roams_total", "roams", "Times the peer's endpoint moved."},
    {"cordon_peer_failovers_total", "failovers", "Times a direct path to the peer was given up for the relay."},
    {"cordon_peer_relayed_packets_total", "relayed_packets",
     "Datagrams from the peer this coordinator relayed on to another host."},
}};

// An enum as one series per value, 1 for the current one and 0 for the
// others (the state-set convention of the OpenMetrics specification).
void state_set(Writer& w, Family& f, Labels labels, std::string_view label, std::span<const std::string_view> values,
               const std::string& current) {
  labels.emplace_back(label, "");
  for (std::string_view v : values) {
    labels.back().second = std::string(v);
    w.sample(f, labels, current == v ? "1" : "0");
  }
}

// Unix seconds, or 0 for "never" (the document's null).
std::string timestamp(const Json& peer, std::string_view key) { return num(u64(peer, key)); }

void render_peers(Writer& w, const Json& status) {
  const Json& peers = list(status, "peers");
  Family& info = w.family("cordon_peer_info", "gauge", "A peer of this host (always 1), with its role and AEAD suite.");
  std::vector<Family*> counters;
  for (const PeerCounter& c : kPeerCounters) counters.push_back(&w.family(c.name, "counter", c.help));
  Family& drops = w.family("cordon_peer_drops_total", "counter",
                           "Packets dropped that concern the peer, by drop reason (only reasons that occurred).");
  Family& path = w.family("cordon_peer_path", "gauge",
                          "How traffic to the peer travels now: 1 for the current path kind, 0 for the others.");
  Family& reach = w.family("cordon_peer_reachability", "gauge",
                           "What the registry last said about the peer: 1 for the current state, 0 for the others.");
  Family& last_rx = w.family("cordon_peer_last_receive_timestamp_seconds", "gauge",
                             "Unix time of the last authentic datagram from the peer; 0 if none yet.");
  Family& last_tx = w.family("cordon_peer_last_transmit_timestamp_seconds", "gauge",
                             "Unix time of the last datagram sent to the peer; 0 if none yet.");
  Family& rekeys = w.family("cordon_peer_rekeys_total", "counter",
                            "Rekey rounds completed (done) and failed, and rekey messages refused, since the start.");
  Family& generation = w.family("cordon_peer_key_generation", "gauge", "The key generation this host seals with.");
  static constexpr std::array<std::string_view, 4> kPaths = {"none", "direct", "relayed", "tcp"};
  static constexpr std::array<std::string_view, 3> kReach = {"unknown", "reachable", "unreachable"};
  for (const Json& peer : peers) {
    const Labels id = {{"peer", str(peer, "id")}, {"name", str(peer, "name")}};
    Labels described = id;
    described.emplace_back("role", str(peer, "role"));
    described.emplace_back("suite", str(peer, "suite"));
    w.sample(info, described, "1");
    for (size_t i = 0; i < kPeerCounters.size(); ++i)
      w.sample(*counters[i], id, num(u64(peer, kPeerCounters[i].field)));
    const Json& d = field(peer, "drops");
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      const std::string reason(drop_reason_name(static_cast<DropReason>(r)));
      if (!field(d, reason).is_number()) continue;
      Labels labels = id;
      labels.emplace_back("reason", reason);
      w.sample(drops, labels, num(u64(d, reason)));
    }
    state_set(w, path, id, "path", kPaths, str(peer, "path"));
    state_set(w, reach, id, "state", kReach, str(peer, "reachability"));
    w.sample(last_rx, id, timestamp(peer, "last_rx"));
    w.sample(last_tx, id, timestamp(peer, "last_tx"));
    const Json& rekey = field(peer, "rekey");
    for (const char* result : {"done", "failed", "refused"}) {
      Labels labels = id;
      labels.emplace_back("result", result);
      w.sample(rekeys, labels, num(u64(rekey, result)));
    }
    w.sample(generation, id, num(u64(rekey, "generation")));
  }
}

// Drops no peer can be blamed for: every reason, zeros included, so that
// rate() sees a series from the start.
void render_drops(Writer& w, const Json& status) {
  Family& f = w.family("cordon_drops_total", "counter", "Packets dropped that concern no peer, by drop reason.");
  const Json& d = field(status, "drops");
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    const std::string reason(drop_reason_name(static_cast<DropReason>(r)));
    w.sample(f, {{"reason", reason}}, num(u64(d, reason)));
  }
}

void per_worker(Writer& w, const Json& workers, std::string_view key, const char* name, const char* help) {
  Family& f = w.family(name, "counter", help);
  const Json& values = list(workers, key);
  for (size_t i = 0; i < values.size(); ++i) w.sample(f, {{"worker", std::to_string(i)}}, num(u64(values[i])));
}

void counter(Writer& w, const char* name, const char* help, uint64_t value) {
  Writer::sample(w.family(name, "counter", help), {}, num(value));
}
void gauge(Writer& w, const char* name, const char* help, const std::string& value) {
  Writer::sample(w.family(name, "gauge", help), {}, value);
}

void render_data_path(Writer& w, const Json& status) {
  const Json& workers = field(status, "workers");
  per_worker(w, workers, "datagrams_in", "cordon_worker_datagrams_received_total",
             "Datagrams each worker received from its UDP socket and handed to the core.");
  per_worker(w, workers, "packets_in", "cordon_worker_packets_read_total",
             "Packets each worker read from its TUN queue (after splitting) and handed to the core.");
  const Json& o = field(status, "offloads");
  const Json& tun = field(o, "tun");
  const Json& udp = field(o, "udp");
  Family& on = w.family("cordon_offload_enabled", "gauge", "The offloads in force: 1 on, 0 off.");
  const std::array<std::pair<const char*, bool>, 6> features = {{{"tun_vnet_header", flag(tun, "vnet_header")},
                                                                 {"tun_checksum", flag(tun, "checksum")},
                                                                 {"tun_tso", flag(tun, "tso")},
                                                                 {"tun_uso", flag(tun, "uso")},
                                                                 {"udp_gso", flag(udp, "gso")},
                                                                 {"udp_gro", flag(udp, "gro")}}};
  for (const auto& [name, enabled] : features) w.sample(on, {{"feature", name}}, enabled ? "1" : "0");
  counter(w, "cordon_offload_udp_gso_messages_total", "UDP GSO sends (one message of several datagrams).",
          u64(udp, "gso_messages"));
  counter(w, "cordon_offload_udp_gso_datagrams_total", "Datagrams sent inside UDP GSO messages.",
          u64(udp, "gso_datagrams"));
  counter(w, "cordon_offload_udp_gso_fallbacks_total",
          "UDP GSO sends the kernel refused, sent again one datagram per message.", u64(udp, "gso_fallbacks"));
  counter(w, "cordon_offload_udp_gro_messages_total", "UDP GRO receives (coalesced messages).",
          u64(udp, "gro_messages"));
  counter(w, "cordon_offload_udp_gro_datagrams_total", "Datagrams received inside coalesced UDP GRO messages.",
          u64(udp, "gro_datagrams"));
  const Json& split = field(o, "split");
  counter(w, "cordon_offload_split_super_packets_total", "TSO/USO super-packets read from the TUN device.",
          u64(split, "super_packets"));
  counter(w, "cordon_offload_split_segments_total", "Packets the super-packets were split into.",
          u64(split, "segments"));
  counter(w, "cordon_offload_split_drops_total", "Super-packets from the TUN device that could not be split.",
          u64(split, "drops"));
  const Json& coalesced = field(o, "coalesced");
  counter(w, "cordon_offload_coalesced_packets_total", "Packets written to the TUN device inside coalesced writes.",
          u64(coalesced, "packets"));
  counter(w, "cordon_offload_coalesced_writes_total", "Coalesced writes to the TUN device.", u64(coalesced, "writes"));
  const Json& queue = field(status, "control_queue");
  gauge(w, "cordon_control_queue_messages",
        "Control messages the workers queued that the control thread has not taken yet.", num(u64(queue, "queued")));
  gauge(w, "cordon_control_queue_limit_messages",
        "The most control messages the queue holds; beyond it they are dropped as control_backlog.",
        num(u64(queue, "limit")));
}

// A coordinator's registry, relay and TCP tunnel (docs/coordinators.md).
void render_mesh(Writer& w, const Json& status) {
  const bool coordinator = str(status, "role") == "coordinator";
  if (coordinator) {
    static constexpr std::array<std::string_view, 3> kStates = {"reachable", "unreachable", "unknown"};
    Family& clients =
        w.family("cordon_registered_clients", "gauge", "Clients this coordinator serves as registry, by state.");
    Family& routes = w.family("cordon_coordinator_routes", "gauge", "Routes to other coordinators' clients, by state.");
    for (std::string_view state : kStates) {
      uint64_t c = 0, r = 0;
      for (const Json& client : list(status, "clients")) c += str(client, "state") == state ? 1 : 0;
      for (const Json& route : list(status, "routes")) r += str(route, "state") == state ? 1 : 0;
      w.sample(clients, {{"state", std::string(state)}}, num(c));
      w.sample(routes, {{"state", std::string(state)}}, num(r));
    }
  }
  const Json& relay = field(status, "relay");
  counter(w, "cordon_relay_packets_total", "Relayed datagrams this host forwarded.", u64(relay, "packets"));
  counter(w, "cordon_relay_bytes_total", "Bytes of the relayed datagrams this host forwarded.", u64(relay, "bytes"));
  gauge(w, "cordon_tcp_streams", "TCP tunnel streams open now.", num(u64(status, "tcp_streams")));
  gauge(w, "cordon_tcp_tunnel_in_use", "1 while this client reaches its rendezvous coordinator over the TCP tunnel.",
        flag(status, "tcp") ? "1" : "0");
  const Json& t = field(status, "tcp_tunnel");
  if (!t.is_object()) return;
  Family& streams =
      w.family("cordon_tcp_tunnel_streams", "gauge",
               "The TCP tunnel listener's streams: pending (no authentic datagram yet) and authenticated.");
  for (const char* state : {"pending", "authenticated"}) w.sample(streams, {{"state", state}}, num(u64(t, state)));
  Family& evicted = w.family("cordon_tcp_tunnel_evicted_total", "counter",
                             "Pending TCP tunnel streams evicted by a newer connection, by reason.");
  for (const char* reason : {"same_source", "oldest"}) {
    w.sample(evicted, {{"reason", reason}}, num(u64(field(t, "evicted"), reason)));
  }
  counter(w, "cordon_tcp_tunnel_refused_total", "TCP tunnel connections refused over the stream limit.",
          u64(t, "refused"));
  Family& closed = w.family("cordon_tcp_tunnel_closed_total", "counter", "TCP tunnel streams closed, by reason.");
  for (const char* reason : {"no_first_datagram", "frame_timeout", "write_stall", "idle"}) {
    w.sample(closed, {{"reason", reason}}, num(u64(field(t, "closed"), reason)));
  }
}

void render_filter(Writer& w, const Json& status) {
  const Json& f = field(status, "filter");
  gauge(w, "cordon_filter_connections", "Connections the protected-traffic filter tracks now.",
        num(u64(f, "connections")));
  gauge(w, "cordon_filter_connections_limit", "Room in the filter's connection table (0 until rules exist).",
        num(u64(f, "max_connections")));
  Family& hits = w.family("cordon_filter_rule_hits_total", "counter",
                          "Packets a filter rule dropped, or connections it allowed, by rule number.");
  for (const Json& rule : list(f, "rules")) {
    w.sample(hits,
             {{"rule", num(u64(rule, "number"))}, {"origin", str(rule, "origin")}, {"action", str(rule, "action")}},
             num(u64(rule, "hits")));
  }
  const Json& open = field(status, "open");
  if (!open.is_object()) return;
  Family& packets = w.family("cordon_open_firewall_packets_total", "counter",
                             "Packets counted by the open-traffic firewall's named counters.");
  Family& bytes = w.family("cordon_open_firewall_bytes_total", "counter",
                           "Bytes counted by the open-traffic firewall's named counters.");
  const Json& counters = field(open, "counters");
  if (!counters.is_object()) return;
  for (const auto& [name, value] : counters.items()) {
    w.sample(packets, {{"counter", name}}, num(u64(value, "packets")));
    w.sample(bytes, {{"counter", name}}, num(u64(value, "bytes")));
  }
}

// The IPsec gateway (docs/ipsec.md), from IpsecService::status_json: one
// series per IKE SA and per CHILD_SA direction, labelled by connection
// (and child), so that a rekey, which keeps the names, continues a series.
void render_ipsec(Writer& w, const Json& status) {
  const Json& g = field(status, "ipsec");
  if (!g.is_object()) return;
  gauge(w, "cordon_ipsec_half_open_ike_sas", "IKE SAs between IKE_SA_INIT and IKE_AUTH (cookies engage above the "
        "cookie_threshold).", num(u64(g, "half_open")));
  Family& ike = w.family("cordon_ipsec_ike_sas", "gauge", "Established or negotiating IKE SAs, by connection and state.");
  Family& ike_rekeys = w.family("cordon_ipsec_ike_rekeys_total", "counter", "IKE SA rekeys, by connection.");
  Family& child_rekeys = w.family("cordon_ipsec_child_rekeys_total", "counter", "CHILD_SA rekeys, by connection.");
  Family& retransmits = w.family("cordon_ipsec_retransmits_total", "counter", "IKE requests sent again, by connection.");
  std::map<std::pair<std::string, std::string>, uint64_t> sas;
  std::map<std::string, std::array<uint64_t, 3>> per_connection;
  for (const Json& sa : list(g, "ike_sas")) {
    ++sas[{str(sa, "connection"), str(sa, "state")}];
    auto& c = per_connection[str(sa, "connection")];
    c[0] += u64(sa, "rekeys");
    c[1] += u64(sa, "child_rekeys");
    c[2] += u64(sa, "retransmits");
  }
  for (const auto& [key, n] : sas) w.sample(ike, {{"connection", key.first}, {"state", key.second}}, num(n));
  for (const auto& [name, c] : per_connection) {
    w.sample(ike_rekeys, {{"connection", name}}, num(c[0]));
    w.sample(child_rekeys, {{"connection", name}}, num(c[1]));
    w.sample(retransmits, {{"connection", name}}, num(c[2]));
  }
  Family& bytes = w.family("cordon_ipsec_sa_bytes_total", "counter",
                           "Inner bytes through the CHILD_SAs, by connection, child and direction (in, out).");
  Family& packets = w.family("cordon_ipsec_sa_packets_total", "counter",
                             "Inner packets through the CHILD_SAs, by connection, child and direction (in, out).");
  for (const Json& c : list(g, "child_sas")) {
    for (const auto& [key, direction] : {std::pair{"inbound", "in"}, std::pair{"outbound", "out"}}) {
      const Json& sa = field(c, key);
      if (!sa.is_object()) continue;
      const Labels labels = {{"connection", str(c, "connection")}, {"child", str(c, "child")}, {"direction", direction}};
      w.sample(bytes, labels, num(u64(sa, "bytes")));
      w.sample(packets, labels, num(u64(sa, "packets")));
    }
  }
  Family& drops = w.family("cordon_ipsec_drops_total", "counter",
                           "Packets and IKE messages the IPsec gateway dropped, by drop reason (docs/ipsec.md).");
  const Json& d = field(g, "drops");
  if (d.is_object()) {
    for (const auto& [reason, value] : d.items()) w.sample(drops, {{"reason", reason}}, num(u64(value)));
  }
}

// Managed mode's courier (docs/couriers.md), from CourierService::status_json.
void render_courier(Writer& w, const Json& status) {
  const Json& c = field(status, "courier");
  if (!c.is_object()) return;
  gauge(w, "cordon_courier_items", "Items the courier holds in its spool.",
        num(static_cast<uint64_t>(list(c, "items").size())));
  gauge(w, "cordon_courier_held_bytes", "Bytes of the items the courier holds.", num(u64(c, "bytes")));
  gauge(w, "cordon_courier_keyset_version", "The key set version installed on this host.", num(u64(c, "installed")));
  const Json& n = field(c, "counters");
  counter(w, "cordon_courier_items_stored_total", "Items taken into the spool.", u64(n, "stored"));
  counter(w, "cordon_courier_items_forwarded_total", "Items the next hop stored.", u64(n, "forwarded"));
  counter(w, "cordon_courier_packages_applied_total", "Packages for this host handled (applied or not).",
          u64(n, "applied"));
  counter(w, "cordon_courier_items_superseded_total", "Items dropped for a newer one, or one the host confirmed.",
          u64(n, "superseded"));
  counter(w, "cordon_courier_items_duplicate_total", "Items this hop already held or passed on.", u64(n, "duplicates"));
  Family& refused = w.family("cordon_courier_items_refused_total", "counter",
                             "Items refused: by this host (in) or by the next hop (out).");
  w.sample(refused, {{"direction", "in"}}, num(u64(n, "refused_in")));
  w.sample(refused, {{"direction", "out"}}, num(u64(n, "refused_out")));
  counter(w, "cordon_courier_segments_sent_total", "Courier segments sent.", u64(n, "segments_sent"));
  counter(w, "cordon_courier_segments_resent_total", "Courier segments sent again.", u64(n, "segments_resent"));
  counter(w, "cordon_courier_bad_messages_total", "Malformed courier messages.", u64(n, "bad_messages"));
  counter(w, "cordon_courier_stalled_total", "Transfers given up for want of progress.", u64(n, "stalled"));
}

// The names and meanings of the client libraries' process collector
// (os/linux/process_stats.hpp).
void render_process(Writer& w, const os::ProcessStats& p) {
  Writer::sample(w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."),
                 {}, num(p.cpu_seconds));
  gauge(w, "process_resident_memory_bytes", "Resident memory size in bytes.", num(p.resident_bytes));
  gauge(w, "process_virtual_memory_bytes", "Virtual memory size in bytes.", num(p.virtual_bytes));
  gauge(w, "process_open_fds", "Number of open file descriptors.", num(p.open_fds));
  gauge(w, "process_max_fds", "Maximum number of open file descriptors.", num(p.max_fds));
  gauge(w, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        num(p.start_time_seconds));
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const nlohmann::json& status, const MetricsContext& context) {
  Writer w;
  gauge(w, "cordon_up", "1 while the daemon serves; a failed scrape shows it down.", "1");
  Writer::sample(w.family("cordon_info", "gauge", "This daemon (always 1): host ID, interface, role and version."),
                 {{"host", str(status, "host")},
                  {"interface", str(status, "interface")},
                  {"role", str(status, "role")},
                  {"version", context.version}},
                 "1");
  gauge(w, "cordon_start_time_seconds", "Unix time the daemon started.",
        num(static_cast<uint64_t>(std::max<int64_t>(0, context.start_time_seconds))));
  gauge(w, "cordon_peers", "Peers this host has links with.", num(static_cast<uint64_t>(list(status, "peers").size())));
  render_drops(w, status);
  render_data_path(w, status);
  render_mesh(w, status);
  render_filter(w, status);
  render_courier(w, status);
  render_ipsec(w, status);
  render_peers(w, status);
  if (context.process) render_process(w, *context.process);
  return w.text();
}

}  // namespace cordon::daemon
