#include "admin/live_status.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "admin/internal.hpp"
#include "core/drop_reason.hpp"

namespace cordon::admin {
namespace {

using nlohmann::json;

// One entry of the daemon's "reports" list, verified; nullopt (and a
// problem) when it cannot be believed.
std::optional<courier::StatusReport> verified_report(Database& db, const json& entry,
                                                     const std::map<uint32_t, std::string>& names,
                                                     std::vector<std::string>& problems) {
  const std::string claimed = entry.is_object() ? entry.value("coordinator", "") : "";
  const auto payload = entry.is_object() && entry.contains("payload") && entry["payload"].is_string()
                           ? from_hex(entry["payload"].get<std::string>())
                           : std::nullopt;
  const auto host = HostId::parse(claimed);
  if (!host || !payload) {
    problems.push_back("the daemon's answer has a status report without a coordinator ID or hex payload; set aside");
    return std::nullopt;
  }
  if (!names.count(host->value)) {
    problems.push_back(fmt::format("a status report from {}, which is not a host of this network; set aside", claimed));
    return std::nullopt;
  }
  const auto key = current_host_key(db, *host);
  auto report = key ? courier::verify_status_report(*payload, *key) : std::nullopt;
  if (!report || report->coordinator != *host) {
    problems.push_back(fmt::format(
        "the status report from {} ({}) does not verify under its host key: forged on the way, or made before its "
        "host key was rotated (it reports again within a minute after installing the new key set); set aside",
        names.at(host->value), claimed));
    return std::nullopt;
  }
  return report;
}

std::string name_of(const std::map<uint32_t, std::string>& names, HostId id) {
  const auto it = names.find(id.value);
  return it != names.end() ? it->second : id.to_string();
}

// What a fresh report says about its clients, and about the coordinator
// itself (reachable: it reported).
void apply_report(const LiveReport& r, std::map<uint32_t, LiveHost*>& by_id) {
  if (const auto self = by_id.find(r.report.coordinator.value); self != by_id.end()) {
    self->second->state = r.stale ? Reachability::kUnreachable : Reachability::kReachable;
    self->second->reported_by = r.report.coordinator;
    self->second->last_heard_s = r.report.time_s;
  }
  if (r.stale) return;
  for (const courier::ClientState& c : r.report.clients) {
    const auto it = by_id.find(c.host.value);
    if (it == by_id.end()) continue;
    LiveHost& h = *it->second;
    // A client that moved registry is reported by both for a while: the
    // one that heard from it last wins.
    if (h.reported_by && h.reported_by != r.report.coordinator && h.last_heard_s > c.last_heard_s) continue;
    h.state = c.state;
    h.reported_by = r.report.coordinator;
    h.tcp = c.tcp;
    h.last_heard_s = c.last_heard_s;
    h.relayed_packets = c.relayed_packets;
    h.public_endpoint = c.public_endpoint;
    h.peers = c.peers;
  }
}

}  // namespace

json network_request() { return json{{"command", "courier"}, {"action", "network"}}; }

LiveStatus live_status(Admin& admin, const std::optional<json>& reply, std::string daemon_error, int64_t now_s) {
  LiveStatus out;
  out.now_s = now_s;
  out.daemon_error = std::move(daemon_error);
  std::map<uint32_t, std::string> names;
  for (const HostInfo& h : admin.list_hosts()) {
    LiveHost live;
    live.id = h.id;
    live.name = h.name;
    live.role = h.role;
    live.subnets = h.subnets;
    live.ipsec_subnets = h.ipsec_subnets;
    names.emplace(h.id.value, h.name);
    out.hosts.push_back(std::move(live));
  }
  std::sort(out.hosts.begin(), out.hosts.end(), [](const auto& a, const auto& b) { return a.id.value < b.id.value; });
  if (reply && reply->is_object() && reply->contains("error")) {
    out.daemon_error = fmt::format("the daemon refused: {}", reply->value("error", ""));
  } else if (reply && reply->is_object()) {
    if (const auto self = HostId::parse(reply->value("self", ""))) out.self = *self;
    if (reply->contains("now") && (*reply)["now"].is_number_integer()) out.now_s = (*reply)["now"].get<int64_t>();
    const json reports = reply->value("reports", json::array());
    for (const json& entry : reports.is_array() ? reports : json::array()) {
      auto report = verified_report(admin.database(), entry, names, out.problems);
      if (!report) continue;
      LiveReport r{std::move(*report), "", 0, false};
      r.name = name_of(names, r.report.coordinator);
      r.age_s = std::max<int64_t>(0, out.now_s - r.report.time_s);
      r.stale = r.age_s > kStaleReportSeconds;
      out.reports.push_back(std::move(r));
    }
  } else if (reply) {
    out.daemon_error = "the daemon's answer is not a JSON object";
  }
  std::map<uint32_t, LiveHost*> by_id;
  for (LiveHost& h : out.hosts) by_id.emplace(h.id.value, &h);
  for (const LiveReport& r : out.reports) apply_report(r, by_id);
  return out;
}

}  // namespace cordon::admin
