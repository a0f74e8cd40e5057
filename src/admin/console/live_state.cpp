// The network's live state (live_state.hpp).
#include "admin/console/live_state.hpp"

#include <fmt/format.h>

#include "admin/live_status.hpp"
#include "daemon/control.hpp"

namespace cordon::admin::console {
namespace {

using json = nlohmann::json;

std::optional<HostId> host_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return std::nullopt;
  return HostId::parse(j[key].get<std::string>());
}

std::optional<int64_t> int_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return std::nullopt;
  return j[key].get<int64_t>();
}

std::string text_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return {};
  return j[key].get<std::string>();
}

const json& array_of(const json& j, const char* key) {
  static const json empty = json::array();
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return empty;
  return j[key];
}

HostState parse_state(const std::string& s) {
  if (s == "reachable") return HostState::kReachable;
  if (s == "unreachable") return HostState::kUnreachable;
  return HostState::kUnknown;
}

PathKind parse_path(const std::string& s) {
  if (s == "direct") return PathKind::kDirect;
  if (s == "relayed") return PathKind::kRelayed;
  if (s == "tcp") return PathKind::kTcp;
  if (s == "none") return PathKind::kNone;
  return PathKind::kUnknown;
}

std::pair<HostId, HostId> ordered(HostId a, HostId b) { return a < b ? std::pair{a, b} : std::pair{b, a}; }

// Two coordinators may report one host: a reachable report wins over an
// unreachable one, and either over none.
void merge_state(HostLive& into, HostState s) {
  if (s == HostState::kReachable || into.state == HostState::kUnknown) into.state = s;
}

void merge_path(LiveState& out, HostId a, HostId b, PathKind p) {
  if (p == PathKind::kUnknown || a == b) return;
  PathKind& have = out.paths[ordered(a, b)];
  if (have == PathKind::kUnknown || have == PathKind::kNone) have = p;
}

void parse_client(LiveState& out, HostId coordinator, const json& c) {
  const auto id = host_of(c, "host");
  if (!id) return;
  HostLive& live = out.hosts[*id];
  const HostState s = parse_state(text_of(c, "state"));
  merge_state(live, s);
  if (s == HostState::kReachable || !live.reported_by) {
    live.reported_by = coordinator;
    live.public_endpoint = text_of(c, "public_endpoint");
    live.transport = text_of(c, "transport");
    live.last_heard = int_of(c, "last_heard");
  }
  if (s != HostState::kUnknown) {
    merge_path(out, coordinator, *id,
               s == HostState::kUnreachable ? PathKind::kNone
                                            : (text_of(c, "transport") == "tcp" ? PathKind::kTcp : PathKind::kDirect));
  }
  for (const json& p : array_of(c, "peers")) {
    if (const auto peer = host_of(p, "host")) merge_path(out, *id, *peer, parse_path(text_of(p, "path")));
  }
}

void parse_coordinator(LiveState& out, const json& c) {
  const auto id = host_of(c, "host");
  if (!id) return;
  HostLive& live = out.hosts[*id];
  live.stale = c.is_object() && c.contains("stale") && c["stale"].is_boolean() && c["stale"].get<bool>();
  live.report_time = int_of(c, "time");
  merge_state(live, live.stale ? HostState::kUnreachable : HostState::kReachable);
  if (c.contains("relay") && c["relay"].is_object()) live.relay = c["relay"];
  if (c.contains("drops") && c["drops"].is_object()) live.drops = c["drops"];
  if (live.stale) return;  // an old report says nothing of now
  for (const json& l : array_of(c, "links")) {
    const auto peer = host_of(l, "host");
    if (!peer) continue;
    merge_path(out, *id, *peer, parse_path(text_of(l, "path")));
    if (!out.hosts.contains(*peer) || out.hosts[*peer].state == HostState::kUnknown) {
      // What one coordinator says of another, until that one's own report.
      const HostState s = parse_state(text_of(l, "state"));
      if (s != HostState::kUnknown) out.hosts[*peer].state = s;
    }
  }
  for (const json& client : array_of(c, "clients")) parse_client(out, *id, client);
}

}  // namespace

const char* host_state_name(HostState s) {
  switch (s) {
    case HostState::kReachable: return "reachable";
    case HostState::kUnreachable: return "unreachable";
    case HostState::kUnknown: break;
  }
  return "unknown";
}

const char* path_name(PathKind p) {
  switch (p) {
    case PathKind::kDirect: return "direct";
    case PathKind::kRelayed: return "relayed";
    case PathKind::kTcp: return "tcp";
    case PathKind::kNone: return "none";
    case PathKind::kUnknown: break;
  }
  return "unknown";
}

HostState LiveState::state_of(HostId h) const {
  const auto it = hosts.find(h);
  return it == hosts.end() ? HostState::kUnknown : it->second.state;
}

PathKind LiveState::path_of(HostId a, HostId b) const {
  const auto it = paths.find(ordered(a, b));
  return it == paths.end() ? PathKind::kUnknown : it->second;
}

LiveState parse_live_state(const json& status) {
  LiveState out;
  if (!status.is_object()) {
    out.why = "the live status is not a JSON object";
    return out;
  }
  for (const json& p : array_of(status, "problems")) {
    if (p.is_string()) out.problems.push_back(p.get<std::string>());
  }
  if (const std::string error = text_of(status, "daemon_error"); !error.empty()) {
    out.why = error;
    return out;
  }
  if (!status.contains("coordinators") || !status["coordinators"].is_array()) {
    out.why = "the live status has no \"coordinators\" list";
    return out;
  }
  out.answered = true;
  out.self = host_of(status, "self");
  out.now = int_of(status, "now").value_or(0);
  // Coordinators' own reports first: they decide the coordinators' states.
  for (const json& c : status["coordinators"]) {
    if (const auto id = host_of(c, "host")) {
      const bool stale = c.contains("stale") && c["stale"].is_boolean() && c["stale"].get<bool>();
      out.hosts[*id].state = stale ? HostState::kUnreachable : HostState::kReachable;
    }
  }
  for (const json& c : status["coordinators"]) parse_coordinator(out, c);
  return out;
}

std::optional<json> ask_network(const std::string& socket, std::string* error) {
  const daemon::ControlReply reply = daemon::control_request(socket, admin::network_request());
  if (reply) return *reply;
  *error = reply.error().message;
  return std::nullopt;
}

LiveState live_state(Admin& admin, const std::optional<json>& reply, const std::string& error, int64_t now) {
  return parse_live_state(admin::live_status_json(admin::live_status(admin, reply, error, now)));
}

}  // namespace cordon::admin::console
