#include "daemon/site_link.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/logging.hpp"

#include "daemon/keyfile.hpp"

namespace cordon::daemon {
namespace {

Prefix host_prefix(const IpAddress& a) { return Prefix{a, static_cast<uint8_t>(a.is_v4() ? 32 : 128)}; }

// The session timers of one remote (core link/session.hpp).
link::SessionTimers session_timers(const SiteConfig& site, const SiteRemote& r, bool on_backup) {
  link::SessionTimers t;
  t.heartbeat_ns = int64_t{r.heartbeat.time} * kNsPerSecond;
  t.fail_ns = int64_t{r.heartbeat.fail} * kNsPerSecond;
  t.initiator = site.role == SiteRole::kSecondary;
  // A secondary uses its primary, or its backup after a failover; the other
  // stands by.
  t.standby = site.role == SiteRole::kSecondary && r.backup != on_backup;
  return t;
}

PeerConfig peer_of(const SiteConfig& site, const SiteRemote& r, bool on_backup) {
  PeerConfig pc;
  pc.id = r.host_id;
  pc.name = remote_name(r.number);
  pc.suite = r.suite;
  pc.allowed_prefixes = r.subnets;
  if (r.tunnel_address) pc.allowed_prefixes.push_back(host_prefix(*r.tunnel_address));
  // Heartbeats hold the session (and a NAT mapping) open; keepalives would
  // only repeat them, and a primary never sends first.
  pc.keepalive_ns = 0;
  // The primary is the key master (the P³ functional specification, 2.1.6).
  pc.key_master = site.role == SiteRole::kPrimary;
  pc.rekey_period_ns = int64_t{r.keying.rekey_wait} * kNsPerSecond;
  // Key arrays (docs/protocol.md, "Key arrays"): the primary delivers them;
  // a secondary holds what it is sent whatever its own file says.
  pc.key_arrays.size = static_cast<uint16_t>(r.keying.array_size);
  pc.key_arrays.data_lifetime_ns = int64_t{r.keying.data_array_time} * kNsPerSecond;
  pc.key_arrays.control_lifetime_ns = int64_t{r.keying.control_array_time} * kNsPerSecond;
  pc.session = session_timers(site, r, on_backup);
  // A secondary connects to its primary; a primary learns where each
  // secondary is from its first authentic datagram.
  if (site.role == SiteRole::kSecondary) pc.endpoint = Endpoint{r.address, r.port};
  return pc;
}

SiteSettings settings_of(const SiteConfig& site, bool on_backup) {
  SiteSettings out;
  out.role = site.role;
  out.on_backup = on_backup;
  for (const SiteRemote& r : site.remotes) {
    out.numbers.emplace_back(r.host_id, r.number);
    if (site.role == SiteRole::kSecondary) (r.backup ? out.backup : out.primary) = r.host_id;
    for (const std::string& g : r.groups) {
      auto it = std::find_if(out.groups.begin(), out.groups.end(), [&](const auto& e) { return e.first == g; });
      if (it == out.groups.end()) it = out.groups.insert(out.groups.end(), {g, {}});
      it->second.push_back(r.host_id);
    }
  }
  if (!out.backup) out.on_backup = false;
  return out;
}

std::string peer_label(HostId id, const SiteSettings& site) {
  for (const auto& [host, number] : site.numbers) {
    if (host == id) return fmt::format("{} ({})", remote_name(number), id.to_string());
  }
  return id.to_string();
}

}  // namespace

std::string remote_name(uint32_t number) { return fmt::format("remote {}", number); }

ConfigResult site_daemon_config(const SiteConfig& site, bool on_backup) {
  DaemonConfig c;
  c.path = site.path;
  c.site = settings_of(site, on_backup);
  c.interface = site.local.interface;
  c.addresses = {site.local.tunnel_address};
  c.state_dir = site.local.state_dir;
  c.control_socket = site.local.control_socket.empty()
                         ? fmt::format("{}/{}.sock", kDefaultControlDir, c.interface)
                         : site.local.control_socket;
  c.listen_address = site.local.address;
  // A primary listens on `port`; a secondary sends from its primary's port
  // number, so that one port crosses its firewall both ways.
  c.listen_port = site.local.port;
  if (site.role == SiteRole::kSecondary) {
    for (const SiteRemote& r : site.remotes) {
      if (!r.backup) c.listen_port = r.port;
    }
  }
  c.node.self = site.local.host_id;
  c.node.size_classes = site.local.size_classes;
  std::vector<ConfigError> errors;
  for (const SiteRemote& r : site.remotes) {
    PeerConfig pc = peer_of(site, r, c.site->on_backup);
    auto key = load_key_file(r.key_file);
    if (!key) {
      errors.push_back(ConfigError{site.path, r.key_file_line, 0, fmt::format("{}/key_file", r.number), key.error()});
      continue;
    }
    pc.link_key = std::move(*key);
    // A gateway forwards between its LAN and the tunnel for the families of
    // the subnets it reaches (forwarding.hpp).
    for (const Prefix& p : r.subnets) c.tunneled_subnets.push_back(p);
    c.node.peers.push_back(std::move(pc));
  }
  if (!errors.empty()) return errors;
  return c;
}

ConfigResult load_site_daemon_config(const std::string& path, SiteRole role, bool on_backup) {
  SiteConfigResult site = load_site_config(path, role);
  if (!site) return site.error();
  return site_daemon_config(*site, on_backup);
}

// Reason codes in every line, as the P³ functional specification asks
// (section 5.1): the event and its reason are the stable names of
// SessionLogEvent.
void log_session_events(const std::vector<SessionLogEvent>& events, const SiteSettings& site) {
  for (const SessionLogEvent& e : events) {
    const std::string who = peer_label(e.peer, site);
    const LogContext context{.event = e.event, .reason = e.reason, .peer = e.peer};
    if (e.event == "session_lost") {
      log_with(spdlog::level::err, context, "site link to {}: {} reason={}; connections through it are ended{}", who,
               e.event, e.reason, site.role == SiteRole::kSecondary ? "; retrying in 5 s" : "");
    } else if (e.event == "session_retry") {
      log_with(spdlog::level::warn, context, "site link to {}: {} after {} s", who, e.event, e.wait_ns / kNsPerSecond);
    } else {
      log_with(spdlog::level::info, context, "site link to {}: {} reason={}", who, e.event, e.reason);
    }
  }
}

bool wants_failover(const std::vector<SessionLogEvent>& events, const SiteSettings& site) {
  if (site.role != SiteRole::kSecondary || site.on_backup || !site.backup || !site.primary) return false;
  return std::any_of(events.begin(), events.end(),
                     [&](const SessionLogEvent& e) { return e.event == "session_lost" && e.peer == *site.primary; });
}

cordon::Result<std::vector<HostId>, std::string> site_targets(const nlohmann::json& request,
                                                              const SiteSettings& site) {
  const auto text = [&](const char* key) -> std::optional<std::string> {
    const auto it = request.find(key);
    if (it == request.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::vector<HostId> out;
  if (const auto all = request.find("all"); all != request.end() && all->is_boolean() && all->get<bool>()) {
    for (const auto& [id, number] : site.numbers) out.push_back(id);
    return out;
  }
  if (const auto group = text("group")) {
    for (const auto& [name, members] : site.groups) {
      if (name == *group) return members;
    }
    std::string known;
    for (const auto& [name, members] : site.groups) known += (known.empty() ? "" : ", ") + name;
    return cordon::fail(fmt::format("no group \"{}\"; the groups are: {}", *group, known.empty() ? "none" : known));
  }
  if (const auto peer = text("peer")) {
    for (const auto& [id, number] : site.numbers) {
      if (std::to_string(number) == *peer || id.to_string() == *peer) return std::vector<HostId>{id};
    }
    if (const auto id = HostId::parse(*peer)) {
      for (const auto& [known, number] : site.numbers) {
        if (known == *id) return std::vector<HostId>{*id};
      }
    }
    return cordon::fail(fmt::format("no remote \"{}\"; name one by its number in the site-link file or its host ID",
                                    *peer));
  }
  return cordon::fail(std::string("name the sessions: \"peer\" (a remote's number or host ID), \"group\" or \"all\""));
}

cordon::Result<ArrayRequest, std::string> array_request_of(const nlohmann::json& request) {
  ArrayRequest out;
  const std::string action = request.value("action", "");
  const auto renew = request.find("renew");
  const bool with_new = renew != request.end() && renew->is_boolean() && renew->get<bool>();
  if (action == "flush-array") out.command = with_new ? Node::ArrayCommand::kFlushAndNew : Node::ArrayCommand::kFlush;
  const auto kinds = request.find("arrays");
  if (kinds == request.end()) return out;
  const std::string which = kinds->is_string() ? kinds->get<std::string>() : "";
  if (which == "data") {
    out.kinds = link::kDataArray;
  } else if (which == "control") {
    out.kinds = link::kControlArray;
  } else if (which != "both") {
    return cordon::fail(std::string("name the key arrays: \"arrays\" is data, control or both"));
  }
  return out;
}

std::string array_result_text(Node::ArrayResult result) {
  switch (result) {
    case Node::ArrayResult::kDone: return "";
    case Node::ArrayResult::kNoPeer: return "no such session, or rekeying is off on it";
    case Node::ArrayResult::kNotKeyMaster:
      return "the primary (the key master) makes the key arrays: run this on the primary";
    case Node::ArrayResult::kNoArrays: return "key arrays are off for this remote (array_size or N/key_array is 0)";
  }
  return "unknown";
}

}  // namespace cordon::daemon
