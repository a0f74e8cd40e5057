// `cordon admin status` and its --json (live_status.hpp).
#include <map>

#include <fmt/format.h>

#include "admin/live_status.hpp"
#include "core/drop_reason.hpp"

namespace cordon::admin {
namespace {

using nlohmann::json;

json or_null(int64_t unix_s) { return unix_s > 0 ? json(unix_s) : json(nullptr); }
json or_null(const std::optional<Endpoint>& e) { return e ? json(e->to_string()) : json(nullptr); }

class Names {
 public:
  explicit Names(const LiveStatus& s) {
    for (const LiveHost& h : s.hosts) names_.emplace(h.id.value, h.name);
  }
  std::string operator()(HostId id) const {
    const auto it = names_.find(id.value);
    return it != names_.end() ? it->second : id.to_string();
  }

 private:
  std::map<uint32_t, std::string> names_;
};

json peers_json(const std::vector<courier::PeerPath>& peers, const Names& name) {
  json out = json::array();
  for (const courier::PeerPath& p : peers) {
    out.push_back({{"host", p.host.to_string()}, {"name", name(p.host)}, {"path", path_kind_name(p.path)}});
  }
  return out;
}

json report_json(const LiveReport& r, const Names& name) {
  const courier::StatusReport& s = r.report;
  json drops = json::object();
  for (const auto& [reason, count] : s.drops) drops[std::string(drop_reason_name(reason))] = count;
  json links = json::array();
  for (const courier::CoordinatorLink& l : s.links) {
    links.push_back({{"host", l.host.to_string()},
                     {"name", name(l.host)},
                     {"state", reachability_name(l.state)},
                     {"path", path_kind_name(l.path)}});
  }
  json clients = json::array();
  for (const courier::ClientState& c : s.clients) {
    clients.push_back({{"host", c.host.to_string()},
                       {"name", name(c.host)},
                       {"state", reachability_name(c.state)},
                       {"public_endpoint", or_null(c.public_endpoint)},
                       {"transport", c.tcp ? "tcp" : "udp"},
                       {"last_heard", or_null(c.last_heard_s)},
                       {"relayed_packets", c.relayed_packets},
                       {"peers", peers_json(c.peers, name)}});
  }
  return {{"host", s.coordinator.to_string()},
          {"name", r.name},
          {"time", s.time_s},
          {"age", r.age_s},
          {"stale", r.stale},
          {"relay", {{"packets", s.relay_packets}, {"bytes", s.relay_bytes}}},
          {"drops", std::move(drops)},
          {"links", std::move(links)},
          {"clients", std::move(clients)}};
}

json host_json(const LiveHost& h, const Names& name) {
  json subnets = json::array();
  for (const Prefix& p : h.subnets) subnets.push_back(p.to_string());
  json ipsec = json::array();
  for (const IpsecSubnet& s : h.ipsec_subnets) ipsec.push_back(s.to_string());
  return {{"host", h.id.to_string()},
          {"name", h.name},
          {"role", keys::role_name(h.role)},
          {"subnets", std::move(subnets)},
          {"ipsec_subnets", std::move(ipsec)},
          {"state", reachability_name(h.state)},
          {"reported_by", h.reported_by ? json(name(*h.reported_by)) : json(nullptr)},
          {"transport", h.reported_by && h.role == keys::Role::kClient ? json(h.tcp ? "tcp" : "udp") : json(nullptr)},
          {"last_heard", or_null(h.last_heard_s)},
          {"relayed_packets", h.relayed_packets},
          {"public_endpoint", or_null(h.public_endpoint)},
          {"peers", peers_json(h.peers, name)}};
}

std::string ago(int64_t now_s, int64_t then_s) {
  if (then_s <= 0) return "never";
  const int64_t d = std::max<int64_t>(0, now_s - then_s);
  if (d < 120) return fmt::format("{}s ago", d);
  if (d < 7200) return fmt::format("{}m ago", d / 60);
  return fmt::format("{}h ago", d / 3600);
}

std::string paths_text(const LiveHost& h, const Names& name) {
  std::string out;
  for (const courier::PeerPath& p : h.peers) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", name(p.host), path_kind_name(p.path));
  }
  return out.empty() ? "-" : out;
}

}  // namespace

json live_status_json(const LiveStatus& status) {
  const Names name(status);
  json coordinators = json::array();
  for (const LiveReport& r : status.reports) coordinators.push_back(report_json(r, name));
  json hosts = json::array();
  for (const LiveHost& h : status.hosts) hosts.push_back(host_json(h, name));
  return {{"self", status.self ? json(status.self->to_string()) : json(nullptr)},
          {"now", status.now_s},
          {"daemon_error", status.daemon_error.empty() ? json(nullptr) : json(status.daemon_error)},
          {"problems", status.problems},
          {"coordinators", std::move(coordinators)},
          {"hosts", std::move(hosts)}};
}

std::string format_live_status(const LiveStatus& status) {
  const Names name(status);
  std::string out;
  if (!status.daemon_error.empty()) {
    out += fmt::format("warning: no live state: {}; every host is shown as unknown\n", status.daemon_error);
  }
  for (const std::string& p : status.problems) out += fmt::format("warning: {}\n", p);
  size_t reachable = 0, unreachable = 0;
  for (const LiveHost& h : status.hosts) {
    reachable += h.state == Reachability::kReachable;
    unreachable += h.state == Reachability::kUnreachable;
  }
  out += fmt::format("{} host{}: {} reachable, {} unreachable, {} unknown; {} coordinator report{}\n",
                     status.hosts.size(), status.hosts.size() == 1 ? "" : "s", reachable, unreachable, status.hosts.size() - reachable - unreachable,
                     status.reports.size(), status.reports.size() == 1 ? "" : "s");
  if (!status.reports.empty()) {
    out += fmt::format("\n{:<16} {:<10} {:>7} {:>14} {:>10}\n", "COORDINATOR", "REPORT", "CLIENTS", "RELAYED",
                       "DROPS");
    for (const LiveReport& r : status.reports) {
      uint64_t drops = 0;
      for (const auto& [reason, count] : r.report.drops) drops += count;
      out += fmt::format("{:<16} {:<10} {:>7} {:>14} {:>10}\n", r.name,
                         r.stale ? fmt::format("stale {}", ago(status.now_s, r.report.time_s))
                                 : ago(status.now_s, r.report.time_s),
                         r.report.clients.size(), r.report.relay_packets, drops);
    }
  }
  out += fmt::format("\n{:<16} {:<11} {:<11} {:<12} {:<9} {:<22} {:<10} {}\n", "HOST", "ROLE", "STATE", "REPORTED BY",
                     "TRANSPORT", "PUBLIC ENDPOINT", "HEARD", "PATHS");
  for (const LiveHost& h : status.hosts) {
    const bool client = h.role == keys::Role::kClient;
    out += fmt::format("{:<16} {:<11} {:<11} {:<12} {:<9} {:<22} {:<10} {}\n", h.name,
                       h.subnets.empty() && h.ipsec_subnets.empty() ? std::string(keys::role_name(h.role))
                                                                    : "gateway",
                       reachability_name(h.state), h.reported_by ? name(*h.reported_by) : "-",
                       client && h.reported_by ? (h.tcp ? "tcp" : "udp") : "-",
                       h.public_endpoint ? h.public_endpoint->to_string() : "-",
                       h.reported_by ? ago(status.now_s, h.last_heard_s) : "-", client ? paths_text(h, name) : "-");
  }
  return out;
}

}  // namespace cordon::admin
