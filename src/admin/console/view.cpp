// The console's JSON documents (view.hpp).
#include "admin/console/view.hpp"

#include <map>
#include <set>
#include <string_view>

namespace cordon::admin::console {
namespace {

using json = nlohmann::json;

json id_or_null(HostId h) { return h.value == 0 ? json(nullptr) : json(h.to_string()); }

template <typename T>
json texts(const std::vector<T>& items) {
  json out = json::array();
  for (const T& x : items) out.push_back(x.to_string());
  return out;
}

// Host ID -> the groups it belongs to.
std::map<HostId, std::vector<std::string>> groups_by_host(Admin& admin) {
  std::map<HostId, std::vector<std::string>> out;
  for (const GroupInfo& g : admin.list_groups()) {
    for (const auto& [id, name] : g.members) out[id].push_back(g.name);
  }
  return out;
}

json host_node(const HostInfo& h, const LiveState& live, const std::optional<HostId>& admin_host,
               const std::vector<std::string>& groups) {
  json j = {{"id", h.id.to_string()},
            {"name", h.name},
            {"role", std::string(keys::role_name(h.role))},
            {"gateway", !h.subnets.empty() || !h.ipsec_subnets.empty()},
            {"subnets", texts(h.subnets)},
            {"ipsec_subnets", texts(h.ipsec_subnets)},
            {"endpoints", texts(h.endpoints)},
            {"tunnel_v4", h.tunnel_v4 ? json(h.tunnel_v4->to_string()) : json(nullptr)},
            {"registry", id_or_null(h.registry)},
            {"courier", id_or_null(h.courier)},
            {"admin_host", admin_host && *admin_host == h.id},
            {"groups", groups},
            {"update_due", std::string(dirty_kind_name(h.dirty))},
            {"keyset_version", h.keyset_version},
            {"state", host_state_name(live.state_of(h.id))}};
  const auto it = live.hosts.find(h.id);
  if (it != live.hosts.end()) {
    const HostLive& l = it->second;
    j["reported_by"] = l.reported_by ? json(l.reported_by->to_string()) : json(nullptr);
    j["public_endpoint"] = l.public_endpoint.empty() ? json(nullptr) : json(l.public_endpoint);
    j["transport"] = l.transport.empty() ? json(nullptr) : json(l.transport);
    j["last_heard"] = l.last_heard ? json(*l.last_heard) : json(nullptr);
    j["report_time"] = l.report_time ? json(*l.report_time) : json(nullptr);
    j["stale"] = l.stale;
    if (!l.relay.is_null()) j["relay"] = l.relay;
    if (!l.drops.is_null()) j["drops"] = l.drops;
  }
  return j;
}

json link_edge(const LinkInfo& l, const LiveState& live) {
  return {{"a", l.a.to_string()},
          {"b", l.b.to_string()},
          {"a_name", l.a_name},
          {"b_name", l.b_name},
          {"reasons", l.reasons},
          {"created_at", l.created_at},
          {"path", path_name(live.path_of(l.a, l.b))}};
}

bool names_host(std::string_view arguments, const HostInfo& h) {
  const std::string id = h.id.to_string();
  size_t at = 0;
  while (at < arguments.size()) {
    size_t end = arguments.find(' ', at);
    if (end == std::string_view::npos) end = arguments.size();
    std::string_view word = arguments.substr(at, end - at);
    if (const size_t eq = word.find('='); eq != std::string_view::npos) word.remove_prefix(eq + 1);
    if (word == id || word == h.name) return true;
    at = end + 1;
  }
  return false;
}

json live_json(const LiveState& live) {
  return {{"answered", live.answered},
          {"why", live.why},
          {"problems", live.problems},
          {"self", live.self ? json(live.self->to_string()) : json(nullptr)},
          {"now", live.now}};
}

}  // namespace

json delivery_json(const DeliveryStatus& s) {
  return {{"host", s.host.to_string()},
          {"host_name", s.host_name},
          {"version", s.version},
          {"kind", std::string(dirty_kind_name(s.kind))},
          {"urgent", s.urgent},
          {"via", id_or_null(s.via)},
          {"state", std::string(delivery_state_name(s.state))},
          {"next_hop", id_or_null(s.next_hop)},
          {"courier", id_or_null(s.courier)},
          {"reason", s.reason},
          {"built_at", s.built_at},
          {"sent_at", s.sent_at ? json(*s.sent_at) : json(nullptr)},
          {"unverified_receipt", s.unverified_receipt}};
}

json audit_json(const AuditEntry& e) {
  return {{"id", e.id}, {"time", e.time}, {"operation", e.operation}, {"arguments", e.arguments}, {"result", e.result}};
}

json state_json(Admin& admin, const LiveState& live) {
  const NetworkInfo info = admin.network_info();
  const auto groups = groups_by_host(admin);
  json hosts = json::array();
  for (const HostInfo& h : admin.list_hosts()) {
    const auto g = groups.find(h.id);
    hosts.push_back(host_node(h, live, info.admin_host, g == groups.end() ? std::vector<std::string>{} : g->second));
  }
  json links = json::array();
  for (const LinkInfo& l : admin.list_links()) links.push_back(link_edge(l, live));
  return {{"network",
           {{"number", info.spec.number},
            {"name", info.spec.name},
            {"admin_host", info.admin_host ? json(info.admin_host->to_string()) : json(nullptr)}}},
          {"live", live_json(live)},
          {"hosts", std::move(hosts)},
          {"links", std::move(links)}};
}

json lists_json(Admin& admin, const DeliveryReport& delivery) {
  json users = json::array();
  for (const UserInfo& u : admin.list_users(std::nullopt)) {
    users.push_back({{"host", u.host.to_string()},
                     {"host_name", u.host_name},
                     {"name", u.name},
                     {"password", u.generated_password ? "generated" : "chosen"},
                     {"created_at", u.created_at}});
  }
  json groups = json::array();
  for (const GroupInfo& g : admin.list_groups()) {
    json members = json::array();
    for (const auto& [id, name] : g.members) members.push_back({{"id", id.to_string()}, {"name", name}});
    groups.push_back({{"name", g.name}, {"members", std::move(members)}, {"linked_groups", g.linked_groups}});
  }
  json links = json::array();
  for (const LinkInfo& l : admin.list_links()) links.push_back(link_edge(l, LiveState{}));
  json audit = json::array();
  for (const AuditEntry& e : admin.audit_log(kAuditRows)) audit.push_back(audit_json(e));
  json updates = json::array();
  for (const DeliveryStatus& s : delivery.packages) updates.push_back(delivery_json(s));
  return {{"users", std::move(users)},
          {"groups", std::move(groups)},
          {"links", std::move(links)},
          {"audit", std::move(audit)},
          {"updates", std::move(updates)},
          {"daemon_answered", delivery.daemon_answered}};
}

json host_json(Admin& admin, const std::string& ref, const LiveState& live, const DeliveryReport& delivery) {
  const HostInfo h = admin.show_host(ref);
  const NetworkInfo info = admin.network_info();
  json j = host_node(h, live, info.admin_host, h.groups);
  j["users"] = h.users;
  json links = json::array();
  for (const LinkInfo& l : admin.list_links()) {
    if (l.a == h.id || l.b == h.id) links.push_back(link_edge(l, live));
  }
  j["links"] = std::move(links);
  json updates = json::array();
  for (const DeliveryStatus& s : delivery.packages) {
    if (s.host == h.id) updates.push_back(delivery_json(s));
  }
  j["updates"] = std::move(updates);
  // The audit rows that name the host, by ID or by name, as a whole value
  // of an argument ("a=alpha", "host=0x00010002").
  json audit = json::array();
  const std::vector<AuditEntry> rows = admin.audit_log(kAuditRows);
  for (auto it = rows.rbegin(); it != rows.rend() && audit.size() < kHostAuditRows; ++it) {
    if (names_host(it->arguments, h)) audit.push_back(audit_json(*it));
  }
  j["audit"] = std::move(audit);
  return j;
}

}  // namespace cordon::admin::console
