#include "daemon/status_format.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>

namespace cordon::daemon {

using nlohmann::json;

std::string key_arrays_text(const json& rekey) {
  if (!rekey.is_object() || !rekey.contains("arrays") || !rekey["arrays"].is_object()) return "off";
  std::string out;
  for (const char* kind : {"data", "control"}) {
    const json a = rekey["arrays"].value(kind, json::object());
    out += out.empty() ? "" : " ";
    out += a.value("id", 0u) == 0 ? fmt::format("{} none", kind)
                                  : fmt::format("{} {}/{}", kind, a.value("left", 0u), a.value("size", 0u));
    if (a.value("delivering", 0u) != 0) {
      out += fmt::format(" (new: {}/{} chunks)", a.value("chunks_acked", 0u), a.value("chunks", 0u));
    }
  }
  return out;
}

namespace {

std::string text(const json& j, const char* key, const char* fallback = "?") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

std::string number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return "?";
  return it->dump();
}

uint64_t unsigned_number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return 0;
  return it->get<uint64_t>();
}

std::string age(const json& j, const char* key, int64_t now_unix) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return "never";
  return human_age(it->get<int64_t>(), now_unix);
}

// "auth_failure=3 replay=1", or "-" when nothing was dropped.
std::string drops(const json& j) {
  auto it = j.find("drops");
  if (it == j.end() || !it->is_object() || it->empty()) return "-";
  std::string out;
  for (const auto& [reason, count] : it->items()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", reason, count.is_number() ? count.dump() : "?");
  }
  return out;
}

// "192.0.2.1:51820 [2001:db8::1]:51820", or "-".
std::string endpoint_list(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->empty()) return "-";
  std::string out;
  for (const json& e : *it) {
    if (!out.empty()) out += ' ';
    out += e.is_string() ? e.get<std::string>() : "?";
  }
  return out;
}

// j[key] when it is an object, else an empty object.
json object_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : json::object();
}

bool flag(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string transfer(const json& peer, const char* bytes_key, const char* packets_key) {
  const uint64_t packets = unsigned_number(peer, packets_key);
  return fmt::format("{} ({} pkt{})", human_bytes(unsigned_number(peer, bytes_key)), packets, packets == 1 ? "" : "s");
}

// Columns padded to their widest cell; the last column is left ragged.
std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out += line + '\n';
  }
  return out;
}

// "direct", "relayed via 0x00010001", "tcp via 0x00010001", "tcp", "none".
std::string path(const json& peer) {
  const std::string kind = text(peer, "path");
  auto via = peer.find("via");
  if (via != peer.end() && via->is_string()) return kind + " via " + via->get<std::string>();
  return kind;
}

// A host with coordinators: a client with a registry, or a coordinator. In
// manual mode every peer is direct and nothing is reported, so the mesh
// lines would only be noise.
bool meshed(const json& status) {
  auto registry = status.find("registry");
  return text(status, "role", "") == "coordinator" || (registry != status.end() && registry->is_string());
}

// A listening coordinator's TCP tunnel slots and what it let go of.
std::string tcp_tunnel_line(const json& status) {
  auto t = status.find("tcp_tunnel");
  if (t == status.end() || !t->is_object()) return "";
  const json evicted = object_at(*t, "evicted");
  const json closed = object_at(*t, "closed");
  return fmt::format("tcp streams  pending {}  authenticated {}  evicted {} (same source {}, oldest {})  refused {}  "
                     "closed: no first datagram {}, frame timeout {}, write stall {}, idle {}\n",
                     number(*t, "pending"), number(*t, "authenticated"),
                     unsigned_number(evicted, "same_source") + unsigned_number(evicted, "oldest"),
                     number(evicted, "same_source"), number(evicted, "oldest"), number(*t, "refused"),
                     number(closed, "no_first_datagram"), number(closed, "frame_timeout"),
                     number(closed, "write_stall"), number(closed, "idle"));
}

// "offloads: tun csum+tso+uso, udp gso+gro; split 3 into 120, coalesced
// 400 into 9, gso fallbacks 0", or "offloads: off".
std::string offloads_line(const json& status) {
  auto it = status.find("offloads");
  if (it == status.end() || !it->is_object()) return "";
  if (!flag(*it, "enabled")) return "offloads: off\n";
  const json tun = object_at(*it, "tun"), udp = object_at(*it, "udp"), split = object_at(*it, "split"),
             coalesced = object_at(*it, "coalesced");
  auto features = [](std::initializer_list<std::pair<const char*, bool>> list) {
    std::string out;
    for (const auto& [name, on] : list) {
      if (!on) continue;
      if (!out.empty()) out += '+';
      out += name;
    }
    return out.empty() ? std::string("none") : out;
  };
  std::string out = fmt::format(
      "offloads: tun {}, udp {}; split {} into {}, coalesced {} into {}, gso fallbacks {}",
      features({{"csum", flag(tun, "checksum")}, {"tso", flag(tun, "tso")}, {"uso", flag(tun, "uso")}}),
      features({{"gso", flag(udp, "gso")}, {"gro", flag(udp, "gro")}}), number(split, "super_packets"),
      number(split, "segments"), number(coalesced, "packets"), number(coalesced, "writes"),
      number(udp, "gso_fallbacks"));
  if (unsigned_number(split, "drops") != 0) {
    out += fmt::format(", split drops {} (last: {})", number(split, "drops"), text(split, "last_drop"));
  }
  return out + '\n';
}

// "workers: 2 picked by lane; datagrams in 310 | 297, packets in 305 | 290":
// how the traffic divides between the workers (docs/design.md, "Lanes").
std::string workers_line(const json& status) {
  auto it = status.find("workers");
  if (it == status.end() || !it->is_object()) return "";
  auto per_worker = [&](const char* key, size_t* count) {
    std::string out;
    auto list = it->find(key);
    if (list == it->end() || !list->is_array()) return std::string("?");
    *count = list->size();
    for (const json& n : *list) {
      if (!out.empty()) out += " | ";
      out += n.is_number_unsigned() ? n.dump() : "?";
    }
    return out;
  };
  size_t count = 0;
  const std::string datagrams = per_worker("datagrams_in", &count);
  const std::string packets = per_worker("packets_in", &count);
  std::string picked;
  if (count > 1) {
    picked = flag(*it, "lanes") ? " picked by lane" : fmt::format(" picked by hash ({})", text(*it, "lanes_off"));
  }
  return fmt::format("workers: {}{}; datagrams in {}, packets in {}\n", count, picked, datagrams, packets);
}

std::string host_lines(const json& status) {
  std::string out;
  if (text(status, "role", "") == "coordinator") {
    auto port = status.find("tcp_port");
    const std::string tcp = port != status.end() && port->is_number_integer()
                                ? fmt::format("port {}, {} streams", port->dump(), number(status, "tcp_streams"))
                                : "off";
    auto relay = status.find("relay");
    const json counters = relay != status.end() && relay->is_object() ? *relay : json::object();
    out += fmt::format("role coordinator  tcp tunnel {}  relayed {}\n", tcp, transfer(counters, "bytes", "packets"));
    out += tcp_tunnel_line(status);
  } else {
    out += fmt::format("role {}  registry {}  rendezvous {}  public endpoint {}  tcp {}\n", text(status, "role"),
                       text(status, "registry", "-"), text(status, "rendezvous", "-"),
                       text(status, "public_endpoint", "(unknown)"), flag(status, "tcp") ? "yes" : "no");
  }
  out += fmt::format("local endpoints: {}\n", endpoint_list(status, "local_endpoints"));
  return out;
}

// "in 12m", or "-" (docs/protocol.md, "Rekey exchange").
std::string until(const json& j, const char* key, int64_t now_unix) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return "-";
  const int64_t t = it->get<int64_t>();
  if (t <= now_unix) return "now";
  const std::string span = human_age(now_unix, t);  // "12 min ago": the same units, forwards
  const size_t ago = span.rfind(" ago");
  return "in " + (ago == std::string::npos ? span : span.substr(0, ago));
}

// Each link's key generation and rekey rounds.
std::string keys_table(const json& peers, int64_t now_unix) {
  std::vector<std::vector<std::string>> rows = {
      {"PEER", "GENERATION", "KEY MASTER", "PHASE", "LAST REKEY", "NEXT REKEY", "DONE", "FAILED", "REFUSED"}};
  for (const json& peer : peers) {
    if (!peer.is_object()) continue;
    auto r = peer.find("rekey");
    if (r == peer.end() || !r->is_object()) continue;
    const bool on = r->value("enabled", false);
    rows.push_back({text(peer, "id"), number(*r, "generation"), r->value("key_master", false) ? "this host" : "peer",
                    on ? text(*r, "phase") : "off", age(*r, "last", now_unix), until(*r, "next", now_unix),
                    std::to_string(unsigned_number(*r, "done")), std::to_string(unsigned_number(*r, "failed")),
                    std::to_string(unsigned_number(*r, "refused"))});
  }
  return render_table(rows);
}

// Each site link's session and its recovery back-off; empty when no peer
// has one.
std::string sessions_table(const json& peers, int64_t now_unix) {
  std::vector<std::vector<std::string>> rows = {
      {"PEER", "NAME", "SESSION", "SINCE", "REASON", "NEXT TRY", "WAIT", "LOSSES", "TRIES", "KEY ARRAYS"}};
  for (const json& peer : peers) {
    if (!peer.is_object()) continue;
    auto s = peer.find("session");
    if (s == peer.end() || !s->is_object()) continue;
    const bool waiting = s->contains("next_try") && (*s)["next_try"].is_number_integer();
    rows.push_back({text(peer, "id"), text(peer, "name", "-"), text(*s, "state"), age(*s, "since", now_unix),
                    text(*s, "reason"), until(*s, "next_try", now_unix),
                    waiting ? std::to_string(unsigned_number(*s, "retry_wait")) + " s" : "-",
                    std::to_string(unsigned_number(*s, "losses")), std::to_string(unsigned_number(*s, "tries")),
                    key_arrays_text(peer.value("rekey", json::object()))});
  }
  return rows.size() == 1 ? std::string() : render_table(rows);
}

std::string mesh_peer_table(const json& peers, int64_t now_unix) {
  std::vector<std::vector<std::string>> rows = {
      {"PEER", "ROLE", "PATH", "REACHABILITY", "LAST STATUS", "PUBLIC ENDPOINT"}};
  for (const json& peer : peers) {
    if (!peer.is_object()) continue;
    rows.push_back({text(peer, "id"), text(peer, "role"), path(peer), text(peer, "reachability"),
                    age(peer, "last_status", now_unix), text(peer, "public_endpoint", "-")});
  }
  return render_table(rows);
}

std::string clients_table(const json& clients, int64_t now_unix) {
  std::vector<std::vector<std::string>> rows = {
      {"CLIENT", "NAME", "STATE", "PUBLIC ENDPOINT", "LAST HEARD", "TCP", "LOCAL ENDPOINTS"}};
  for (const json& c : clients) {
    if (!c.is_object()) continue;
    const std::string name = text(c, "name", "-");
    rows.push_back({text(c, "id"), name.empty() ? "-" : name, text(c, "state"), text(c, "public_endpoint", "-"),
                    age(c, "last_heard", now_unix), flag(c, "tcp") ? "yes" : "no", endpoint_list(c, "local_endpoints")});
  }
  return render_table(rows);
}

std::string routes_table(const json& routes) {
  std::vector<std::vector<std::string>> rows = {{"HOST", "VIA", "COORDINATOR", "METRIC", "STATE"}};
  for (const json& r : routes) {
    if (!r.is_object()) continue;
    rows.push_back({text(r, "host"), text(r, "via"), text(r, "coordinator"), number(r, "metric"), text(r, "state")});
  }
  return render_table(rows);
}

// The coordinator's sections, when it has anything in them.
std::string coordinator_sections(const json& status, int64_t now_unix) {
  std::string out;
  auto clients = status.find("clients");
  if (clients != status.end() && clients->is_array() && !clients->empty()) {
    out += "\nregistered clients:\n" + clients_table(*clients, now_unix);
  }
  auto routes = status.find("routes");
  if (routes != status.end() && routes->is_array() && !routes->empty()) {
    out += "\nroutes:\n" + routes_table(*routes);
  }
  return out;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  constexpr std::array<const char*, 6> kUnits = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string human_age(int64_t then_unix, int64_t now_unix) {
  // Both times come from the status document; a nonsense pair must not overflow.
  int64_t seconds = 0;
  if (__builtin_sub_overflow(now_unix, then_unix, &seconds)) return "?";
  if (seconds <= 0) return "just now";  // clocks of daemon and reader may differ slightly
  if (seconds < 120) return fmt::format("{} s ago", seconds);
  if (seconds < 120 * 60) return fmt::format("{} min ago", seconds / 60);
  if (seconds < 48 * 3600) return fmt::format("{} h ago", seconds / 3600);
  return fmt::format("{} d ago", seconds / 86400);
}

// With rules: "filter: ruleset 2, 3 rules, 5 connections tracked (room for
// 65536)" and a table of what each rule decided. Without, nothing: protected
// traffic between linked hosts passes (docs/gateways.md).
std::string filter_section(const json& status) {
  const json f = object_at(status, "filter");
  auto rules = f.find("rules");
  if (rules == f.end() || !rules->is_array() || rules->empty()) return "";
  std::string out = fmt::format("\nfilter: ruleset {}, {} rules, {} connections tracked (room for {})\n",
                                number(f, "version"), rules->size(), number(f, "connections"),
                                number(f, "max_connections"));
  std::vector<std::vector<std::string>> rows = {{"RULE", "FROM", "DECIDED", "TEXT"}};
  for (const json& r : *rules) {
    if (!r.is_object()) continue;
    rows.push_back({number(r, "number"), text(r, "origin"), number(r, "hits"), text(r, "text")});
  }
  return out + render_table(rows);
}

namespace {

// With the firewall on: "open traffic: table inet cordon in place, 2 rules"
// with the drop counters, and a table of the packets each rule matched
// (docs/firewall.md). Without, nothing.
std::string open_section(const json& status) {
  auto open = status.find("open");
  if (open == status.end() || !open->is_object()) return "";
  const json rules = open->contains("rules") && (*open)["rules"].is_array() ? (*open)["rules"] : json::array();
  if (!flag(*open, "table")) {
    return fmt::format("\nopen traffic: table inet cordon missing ({})\n", text(*open, "error"));
  }
  const json counters = object_at(*open, "counters");
  std::string drops;
  for (const char* name : {"spoofed_protected", "spoofed_lan", "input_dropped", "forward_dropped"}) {
    drops += fmt::format("{}{}={}", drops.empty() ? "" : " ", name, number(object_at(counters, name), "packets"));
  }
  std::string out = fmt::format("\nopen traffic: table inet cordon in place, {} rule{}; dropped packets: {}\n",
                                rules.size(), rules.size() == 1 ? "" : "s", drops);
  if (rules.empty()) return out;
  std::vector<std::vector<std::string>> rows = {{"RULE", "ORIGIN", "COUNTER", "PACKETS", "TEXT"}};
  for (const json& r : rules) {
    if (r.is_object()) {
      rows.push_back(
          {number(r, "number"), text(r, "origin"), text(r, "counter"), number(r, "packets"), text(r, "text")});
    }
  }
  return out + render_table(rows);
}

// "courier: 2 items held (3.1 KiB), key set version 4; stored 12, forwarded 10,
// applied 3, refused 0": the courier's spool and counters (docs/couriers.md).
std::string courier_line(const json& status) {
  const auto c = status.find("courier");
  if (c == status.end() || !c->is_object()) return "";
  const json& counters = (*c)["counters"];
  const size_t held = (*c)["items"].size();
  return fmt::format("courier: {} item{} held ({} B), key set version {}; stored {}, forwarded {}, applied {}, "
                     "superseded {}, refused {} in and {} out\n",
                     held, held == 1 ? "" : "s", number(*c, "bytes"), number(*c, "installed"),
                     number(counters, "stored"), number(counters, "forwarded"), number(counters, "applied"),
                     number(counters, "superseded"), number(counters, "refused_in"), number(counters, "refused_out"));
}

// The IPsec gateway (docs/ipsec.md): one line per IKE SA, one per
// CHILD_SA with both directions' SPIs and counters, and its drops.
std::string ipsec_lines(const json& status) {
  const auto g = status.find("ipsec");
  if (g == status.end() || !g->is_object()) return "";
  const json& ikes = (*g)["ike_sas"];
  const json& children = (*g)["child_sas"];
  std::string out = fmt::format("ipsec: {} IKE SA{}, {} CHILD SA{} on {}\n", ikes.size(), ikes.size() == 1 ? "" : "s",
                                children.size(), children.size() == 1 ? "" : "s", text(*g, "interface"));
  for (const json& i : ikes) {
    out += fmt::format("  ike {} {} {} ({}) {}, rekeys {}, child rekeys {}\n", text(i, "connection"), text(i, "state"),
                       text(i, "remote"), text(i, "remote_id"), text(i, "proposal"), number(i, "rekeys"),
                       number(i, "child_rekeys"));
  }
  for (const json& c : children) {
    auto side = [&](const char* key) -> std::string {
      const auto it = c.find(key);
      if (it == c.end()) return "-";
      return fmt::format("{} {} pkts {} B", text(*it, "spi"), number(*it, "packets"), number(*it, "bytes"));
    };
    out += fmt::format("  child {}/{} {}: in {}, out {}\n", text(c, "connection"), text(c, "child"), text(c, "remote"),
                       side("inbound"), side("outbound"));
  }
  const auto d = g->find("drops");
  if (d != g->end() && d->is_object() && !d->empty()) out += fmt::format("  drops: {}\n", d->dump());
  return out;
}

}  // namespace

std::string format_status(const json& status, int64_t now_unix) {
  std::string out = fmt::format("interface {}  host {}  listen port {}  counter floor {}\n",
                                text(status, "interface"), text(status, "host"), number(status, "listen_port"),
                                number(status, "counter_floor"));
  const bool mesh = meshed(status);
  if (mesh) out += host_lines(status);
  out += offloads_line(status);
  out += workers_line(status);
  out += courier_line(status);
  out += ipsec_lines(status);
  out += fmt::format("drops not tied to a peer: {}\n", drops(status));

  auto peers = status.find("peers");
  if (peers == status.end() || !peers->is_array() || peers->empty()) {
    out += "\nno peers\n";
    if (mesh) out += coordinator_sections(status, now_unix);
    return out + filter_section(status) + open_section(status);
  }
  std::vector<std::vector<std::string>> rows = {
      {"PEER", "NAME", "ENDPOINT", "LAST RX", "LAST TX", "RX", "TX", "DROPS"}};
  for (const json& peer : *peers) {
    if (!peer.is_object()) continue;
    rows.push_back({text(peer, "id"), text(peer, "name", "-").empty() ? "-" : text(peer, "name", "-"),
                    text(peer, "endpoint", "(unknown)"), age(peer, "last_rx", now_unix),
                    age(peer, "last_tx", now_unix), transfer(peer, "rx_bytes", "rx_packets"),
                    transfer(peer, "tx_bytes", "tx_packets"), drops(peer)});
  }
  out += '\n' + render_table(rows);
  out += "\nkey generations:\n" + keys_table(*peers, now_unix);
  if (const std::string sessions = sessions_table(*peers, now_unix); !sessions.empty()) {
    out += "\nsite link sessions:\n" + sessions;
  }
  if (mesh) out += '\n' + mesh_peer_table(*peers, now_unix) + coordinator_sections(status, now_unix);
  return out + filter_section(status) + open_section(status);
}

}  // namespace cordon::daemon
