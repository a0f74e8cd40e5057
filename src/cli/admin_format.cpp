// Tables and JSON for `cordon admin` (admin_format.hpp).
#include "cli/admin_format.hpp"

#include <time.h>

#include <algorithm>

#include <fmt/format.h>

namespace cordon::cli {
namespace {

using json = nlohmann::json;

std::string id_or_dash(HostId id) { return id.value == 0 ? "-" : id.to_string(); }
json id_or_null(HostId id) { return id.value == 0 ? json(nullptr) : json(id.to_string()); }

template <typename T>
std::string join(const std::vector<T>& items, std::string_view sep = ",") {
  std::string out;
  for (const T& item : items) {
    if (!out.empty()) out += sep;
    if constexpr (std::is_same_v<T, std::string>) {
      out += item;
    } else {
      out += item.to_string();
    }
  }
  return out.empty() ? "-" : out;
}

template <typename T>
json string_list(const std::vector<T>& items) {
  json out = json::array();
  for (const T& item : items) {
    if constexpr (std::is_same_v<T, std::string>) {
      out.push_back(item);
    } else {
      out.push_back(item.to_string());
    }
  }
  return out;
}

std::string coordinators_text(const admin::HostInfo& h) {
  if (h.registry == h.rendezvous && h.rendezvous == h.courier) return id_or_dash(h.registry);
  return fmt::format("registry {} rendezvous {} courier {}", id_or_dash(h.registry), id_or_dash(h.rendezvous),
                     id_or_dash(h.courier));
}

// `network show`'s "admin host" line.
std::string admin_host_text(const admin::NetworkInfo& i) {
  if (!i.admin_host) return "none";
  const std::string host = fmt::format("{} '{}'", i.admin_host->to_string(), i.admin_host_name);
  if (i.admin_courier.value == 0) {
    return host + ", a client without a courier: updates cannot leave it (give it one with `cordon admin host set`)";
  }
  if (i.admin_courier == *i.admin_host) return host + " (its own courier)";
  return fmt::format("{} (courier {})", host, i.admin_courier.to_string());
}

std::string pair_text(const std::pair<HostId, HostId>& p) {
  return fmt::format("{} - {}", p.first.to_string(), p.second.to_string());
}

}  // namespace

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l += std::string(widths[i] - cells[i].size() + 2, ' ');
    }
    out += l + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string format_time(int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  const time_t t = static_cast<time_t>(unix_seconds);
  tm utc{};
  ::gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &utc);
  return buf;
}

json to_json(const admin::NetworkInfo& info) {
  return json{{"number", info.spec.number},
              {"name", info.spec.name},
              {"ipv4", info.spec.ipv4.to_string()},
              {"ipv6", info.spec.ipv6 ? json(info.spec.ipv6->to_string()) : json(nullptr)},
              {"created_at", info.created_at},
              {"schema_version", info.schema_version},
              {"rekey_period", info.rekey_period},
              {"hosts", info.hosts},
              {"coordinators", info.coordinators},
              {"users", info.users},
              {"groups", info.groups},
              {"links", info.links},
              {"dirty_hosts", info.dirty_hosts},
              {"admin_host", info.admin_host ? json(info.admin_host->to_string()) : json(nullptr)},
              {"admin_courier", id_or_null(info.admin_courier)}};
}

namespace {

// Each as {"prefix", "peer"}: the peer is null when none was named.
json ipsec_json(const std::vector<admin::IpsecSubnet>& subnets) {
  json out = json::array();
  for (const admin::IpsecSubnet& s : subnets) {
    out.push_back(json{{"prefix", s.prefix.to_string()}, {"peer", s.peer.empty() ? json(nullptr) : json(s.peer)}});
  }
  return out;
}

// A gateway's subnets in the host table: the tunneled ones, then the
// IPsec ones marked "ipsec:".
std::string subnets_text(const admin::HostInfo& h) {
  std::string out = h.subnets.empty() ? std::string() : join(h.subnets);
  for (const admin::IpsecSubnet& s : h.ipsec_subnets) out += (out.empty() ? "ipsec:" : ",ipsec:") + s.to_string();
  return out.empty() ? "-" : out;
}

}  // namespace

json to_json(const admin::HostInfo& h, bool detailed) {
  json j{{"id", h.id.to_string()},
         {"name", h.name},
         {"role", keys::role_name(h.role)},
         {"tunnel_v4", h.tunnel_v4 ? json(h.tunnel_v4->to_string()) : json(nullptr)},
         {"tunnel_v6", h.tunnel_v6 ? json(h.tunnel_v6->to_string()) : json(nullptr)},
         {"endpoints", string_list(h.endpoints)},
         {"registry", id_or_null(h.registry)},
         {"rendezvous", id_or_null(h.rendezvous)},
         {"courier", id_or_null(h.courier)},
         {"subnets", string_list(h.subnets)},
         {"ipsec_subnets", ipsec_json(h.ipsec_subnets)},
         {"keyset_version", h.keyset_version},
         {"exported", h.exported},
         {"pending_update", admin::dirty_kind_name(h.dirty)},
         {"host_key_rotation_pending", h.host_key_rotation_pending},
         {"created_at", h.created_at}};
  if (detailed) {
    j["users"] = h.users;
    j["groups"] = h.groups;
    j["peers"] = string_list(h.peers);
  }
  return j;
}

json to_json(const admin::UserInfo& u) {
  return json{{"host", u.host.to_string()},
              {"host_name", u.host_name},
              {"name", u.name},
              {"password", u.generated_password ? "generated" : "chosen"},
              {"kdf", {{"alg", "argon2id13"}, {"opslimit", u.kdf.opslimit}, {"memlimit", u.kdf.memlimit}}},
              {"created_at", u.created_at}};
}

json to_json(const admin::GroupInfo& g) {
  json members = json::array();
  for (const auto& [id, name] : g.members) members.push_back(json{{"id", id.to_string()}, {"name", name}});
  return json{{"name", g.name}, {"members", members}, {"linked_groups", g.linked_groups}};
}

json to_json(const admin::LinkInfo& l) {
  return json{{"a", l.a.to_string()},
              {"b", l.b.to_string()},
              {"a_name", l.a_name},
              {"b_name", l.b_name},
              {"reasons", l.reasons},
              {"created_at", l.created_at},
              {"rotated_at", l.rotated_at ? json(*l.rotated_at) : json(nullptr)}};
}

json to_json(const admin::FilterRuleInfo& r) {
  json out{{"number", r.number},
           {"position", r.position},
           {r.target.kind == admin::FilterTarget::Kind::kHost ? "host" : "group", r.target.name},
           {"rule", r.text},
           {"traffic", admin::filter_traffic_name(r.traffic)},
           {"exported", r.exported.empty() ? json(nullptr) : json(r.exported)},
           {"created_at", r.created_at}};
  if (r.host) out["host_id"] = r.host->to_string();
  return out;
}

json to_json(const admin::ReachInfo& r) {
  json prefixes = json::array();
  for (const Prefix& p : r.prefixes) prefixes.push_back(p.to_string());
  return json{{"gateway", r.gateway_name},
              {"gateway_id", r.gateway.to_string()},
              {r.who.kind == admin::FilterTarget::Kind::kHost ? "host" : "group", r.who.name},
              {"subnets", prefixes}};
}

json to_json(const admin::LinkChange& c) {
  json added = json::array();
  json removed = json::array();
  for (const auto& [a, b] : c.added) added.push_back(json::array({a.to_string(), b.to_string()}));
  for (const auto& [a, b] : c.removed) removed.push_back(json::array({a.to_string(), b.to_string()}));
  json out{{"added", added}, {"removed", removed}, {"unchanged", c.unchanged}};
  if (c.already_linked) out["already_linked"] = *c.already_linked;
  return out;
}

json to_json(const admin::ExportedKeySet& k) {
  return json{{"host", k.host.to_string()}, {"host_name", k.host_name}, {"user", k.user},
              {"version", k.version},       {"path", k.path},           {"peers", k.peers},
              {"rotated_links", k.rotated_links}};
}

json to_json(const admin::BuildResult& r) {
  json packages = json::array();
  for (const auto& p : r.packages) {
    packages.push_back(json{{"host", p.host.to_string()},
                            {"host_name", p.host_name},
                            {"version", p.version},
                            {"kind", admin::dirty_kind_name(p.kind)},
                            {"new_host_key", p.new_host_key},
                            {"urgent", p.urgent},
                            {"via", id_or_null(p.via)},
                            {"peers", p.peers},
                            {"path", p.path.empty() ? json(nullptr) : json(p.path)}});
  }
  json awaiting = json::array();
  for (const auto& [id, name] : r.awaiting_keyset) awaiting.push_back(json{{"id", id.to_string()}, {"name", name}});
  return json{{"packages", packages}, {"awaiting_keyset", awaiting}};
}

json to_json(const admin::PendingUpdate& p) {
  return json{{"host", p.host.to_string()},
              {"host_name", p.host_name},
              {"kind", admin::dirty_kind_name(p.kind)},
              {"has_keyset", p.exported},
              {"urgent", p.urgent}};
}

json to_json(const admin::AuditEntry& e) {
  return json{
      {"id", e.id}, {"time", e.time}, {"operation", e.operation}, {"arguments", e.arguments}, {"result", e.result}};
}

std::string format_network(const admin::NetworkInfo& i) {
  return fmt::format(
      "network     {} (0x{:04x}) '{}'\n"
      "ipv4        {}\n"
      "ipv6        {}\n"
      "created     {}\n"
      "hosts       {} ({} coordinators)\n"
      "users       {}\n"
      "groups      {}\n"
      "links       {}\n"
      "rekey       {}\n"
      "admin host  {}\n"
      "pending     {} host(s) need an update (`cordon admin updates build`)\n"
      "schema      version {}\n",
      i.spec.number, i.spec.number, i.spec.name, i.spec.ipv4.to_string(), i.spec.ipv6 ? i.spec.ipv6->to_string() : "-",
      format_time(i.created_at), i.hosts, i.coordinators, i.users, i.groups, i.links,
      format_rekey_period(i.rekey_period), admin_host_text(i), i.dirty_hosts, i.schema_version);
}

std::string format_rekey_period(int64_t seconds) {
  return seconds == 0 ? std::string("off") : fmt::format("every {} s", seconds);
}

std::string format_host(const admin::HostInfo& h, bool detailed) {
  std::string out = fmt::format(
      "host         {} '{}'\n"
      "role         {}\n"
      "tunnel       {} {}\n"
      "endpoints    {}\n",
      h.id.to_string(), h.name, keys::role_name(h.role), h.tunnel_v4 ? h.tunnel_v4->to_string() : "-",
      h.tunnel_v6 ? h.tunnel_v6->to_string() : "", join(h.endpoints, " "));
  if (h.role == keys::Role::kClient) {
    out += fmt::format("registry     {}\nrendezvous   {}\ncourier      {}\n", id_or_dash(h.registry),
                       id_or_dash(h.rendezvous), id_or_dash(h.courier));
  } else {
    out += fmt::format("subnets      {}\n", join(h.subnets, " "));
    out += fmt::format("ipsec        {}\n", join(h.ipsec_subnets, " "));
  }
  if (detailed) {
    out += fmt::format("users        {}\ngroups       {}\npeers        {} ({})\n", join(h.users, " "),
                       join(h.groups, " "), h.peers.size(), join(h.peers, " "));
  }
  out += fmt::format("key set      {}\npending      {}{}\n",
                     h.exported ? fmt::format("version {}", h.keyset_version) : std::string("never exported"),
                     admin::dirty_kind_name(h.dirty), h.host_key_rotation_pending ? " (host key rotation)" : "");
  return out;
}

std::string format_hosts(const std::vector<admin::HostInfo>& hosts) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : hosts) {
    rows.push_back({h.id.to_string(), h.name, std::string(keys::role_name(h.role)),
                    h.tunnel_v4 ? h.tunnel_v4->to_string() : "-", h.tunnel_v6 ? h.tunnel_v6->to_string() : "-",
                    join(h.endpoints), h.role == keys::Role::kClient ? coordinators_text(h) : subnets_text(h),
                    h.exported ? std::to_string(h.keyset_version) : "-", std::string(admin::dirty_kind_name(h.dirty))});
  }
  return format_table(
      {"ID", "NAME", "ROLE", "TUNNEL", "TUNNEL6", "ENDPOINTS", "COORDINATOR/SUBNETS", "VERSION", "PENDING"}, rows);
}

std::string format_users(const std::vector<admin::UserInfo>& users) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& u : users) {
    rows.push_back({u.host.to_string(), u.host_name, u.name, u.generated_password ? "generated" : "chosen",
                    fmt::format("argon2id {}x{}KiB", u.kdf.opslimit, u.kdf.memlimit / 1024),
                    format_time(u.created_at)});
  }
  return format_table({"HOST", "HOST NAME", "USER", "PASSWORD", "KDF", "CREATED"}, rows);
}

std::string format_groups(const std::vector<admin::GroupInfo>& groups) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : groups) {
    std::vector<std::string> names;
    for (const auto& m : g.members) names.push_back(m.second);
    rows.push_back({g.name, join(names), join(g.linked_groups)});
  }
  return format_table({"GROUP", "MEMBERS", "LINKED GROUPS"}, rows);
}

std::string format_links(const std::vector<admin::LinkInfo>& links) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : links) {
    rows.push_back({l.a.to_string(), l.a_name, l.b.to_string(), l.b_name, join(l.reasons), format_time(l.created_at),
                    l.rotated_at ? format_time(*l.rotated_at) : "-"});
  }
  return format_table({"HOST A", "NAME A", "HOST B", "NAME B", "BECAUSE", "CREATED", "ROTATED"}, rows);
}

std::string format_filter_rules(const std::vector<admin::FilterRuleInfo>& rules) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rules) {
    const bool host = r.target.kind == admin::FilterTarget::Kind::kHost;
    rows.push_back({std::to_string(r.number), (host ? "host " : "group ") + r.target.name,
                    admin::filter_traffic_name(r.traffic),
                    r.exported.empty() ? r.text + "  (names no host: not sent)" : r.text});
  }
  return format_table({"RULE", "FOR", "TRAFFIC", "TEXT"}, rows);
}

namespace {
std::string reach_who(const admin::ReachInfo& r) {
  return (r.who.kind == admin::FilterTarget::Kind::kHost ? "host " : "group ") + r.who.name;
}
std::string reach_prefixes(const admin::ReachInfo& r) {
  std::vector<std::string> texts;
  for (const Prefix& p : r.prefixes) texts.push_back(p.to_string());
  return join(texts);
}
}  // namespace

std::string format_reach(const std::vector<admin::ReachInfo>& limits) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : limits) rows.push_back({r.gateway_name, reach_who(r), reach_prefixes(r)});
  return format_table({"GATEWAY", "FOR", "REACHES"}, rows);
}

std::string format_reach_one(const admin::ReachInfo& r) {
  return fmt::format("{} reaches only {} of {}'s tunneled subnets\n", reach_who(r),
                     reach_prefixes(r), r.gateway_name);
}

std::string format_link_change(const admin::LinkChange& c) {
  std::string out;
  for (const auto& p : c.added) out += "linked " + pair_text(p) + " (new link key)\n";
  for (const auto& p : c.removed)
    out += "unlinked " + pair_text(p) + " (its key leaves both hosts at the next update)\n";
  if (c.already_linked) {
    out += *c.already_linked + "\n";
  } else if (c.added.empty() && c.removed.empty()) {
    out += "no host pair changed\n";
  }
  return out;
}

std::string format_build(const admin::BuildResult& r) {
  std::string out;
  if (!r.packages.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : r.packages) {
      rows.push_back({p.host.to_string(), p.host_name, std::to_string(p.version),
                      std::string(admin::dirty_kind_name(p.kind)) + (p.new_host_key ? " +host key" : ""),
                      std::to_string(p.peers), p.path.empty() ? "-" : p.path});
    }
    out += format_table({"HOST", "NAME", "VERSION", "KIND", "PEERS", "PACKAGE"}, rows);
  } else {
    out += "no update packages to build\n";
  }
  for (const auto& [id, name] : r.awaiting_keyset) {
    out += fmt::format("note: {} '{}' has no key set yet; export one with `cordon admin keyset export --host {}`\n",
                       id.to_string(), name, id.to_string());
  }
  return out;
}

std::string format_pending(const std::vector<admin::PendingUpdate>& pending) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : pending) {
    rows.push_back({p.host.to_string(), p.host_name, std::string(admin::dirty_kind_name(p.kind)),
                    p.exported ? "update" : "needs key set"});
  }
  return format_table({"HOST", "NAME", "KIND", "DELIVERY"}, rows);
}

std::string format_audit(const std::vector<admin::AuditEntry>& entries) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : entries) {
    rows.push_back({std::to_string(e.id), format_time(e.time), e.operation, e.arguments, e.result});
  }
  return format_table({"#", "TIME", "OPERATION", "ARGUMENTS", "RESULT"}, rows);
}

json to_json(const admin::AdminHostChange& c) {
  json out{{"admin_host", c.current ? json(c.current->to_string()) : json(nullptr)},
           {"previous", c.previous ? json(c.previous->to_string()) : json(nullptr)},
           {"admin_courier", id_or_null(c.courier)},
           {"dirty_hosts", c.dirty_hosts}};
  out["links"] = to_json(c.links);
  return out;
}

std::string format_admin_host_change(const admin::AdminHostChange& c) {
  if (c.current == c.previous && c.links.added.empty() && c.links.removed.empty()) {
    return fmt::format("administration host: already {}; nothing was changed\n",
                       c.current ? c.current->to_string() : std::string("none"));
  }
  std::string out;
  if (!c.current) {
    out = "administration host: none; key sets no longer name one";
  } else {
    out = fmt::format("administration host: {} (its courier {})", c.current->to_string(), id_or_dash(c.courier));
  }
  out += fmt::format("; {} host(s) need an update: run `cordon admin updates build` and deliver the packages\n",
                     c.dirty_hosts);
  for (const auto& p : c.links.added) out += "linked " + pair_text(p) + " (courier; new link key)\n";
  for (const auto& p : c.links.removed) {
    out += "unlinked " + pair_text(p) + " (its key leaves both hosts at the next update)\n";
  }
  return out;
}

json to_json(const SentPackage& s) {
  return json{{"host", s.package.host.to_string()},
              {"host_name", s.package.host_name},
              {"version", s.package.version},
              {"kind", admin::dirty_kind_name(s.package.kind)},
              {"new_host_key", s.package.new_host_key},
              {"urgent", s.package.urgent},
              {"via", s.package.via.to_string()},
              {"state", s.state}};
}

std::string format_sent(const std::vector<SentPackage>& sent) {
  std::vector<std::vector<std::string>> rows;
  for (const SentPackage& s : sent) {
    const admin::OutgoingPackage& p = s.package;
    rows.push_back({p.host.to_string(), p.host_name, std::to_string(p.version),
                    std::string(admin::dirty_kind_name(p.kind)) + (p.new_host_key ? " +host key" : ""),
                    p.urgent ? "yes" : "no", s.state});
  }
  return format_table({"HOST", "NAME", "VERSION", "KIND", "URGENT", "STATE"}, rows);
}

std::string delivery_state_text(const admin::DeliveryStatus& s) {
  std::string text;
  switch (s.state) {
    case admin::DeliveryState::kBuilt:
      text = "built";
      break;
    case admin::DeliveryState::kWaiting:
      text = fmt::format("waiting at the administration host (next hop {})", id_or_dash(s.next_hop));
      break;
    case admin::DeliveryState::kInTransit:
      text = "in transit";
      break;
    case admin::DeliveryState::kHeld:
      text = fmt::format("held by courier {}", s.courier.to_string());
      break;
    case admin::DeliveryState::kApplied:
      text = fmt::format("applied v{} at {}", s.confirmed_version, format_time(s.confirmed_at));
      break;
    case admin::DeliveryState::kFailed:
      text = fmt::format("failed: {}", s.reason.empty() ? "no reason given" : s.reason);
      break;
    case admin::DeliveryState::kRefusedByCourier:
      text = fmt::format("refused by courier {}: {}", s.courier.to_string(), s.reason.empty() ? "-" : s.reason);
      break;
  }
  if (s.unverified_receipt) text += " (and an unverified receipt, not believed)";
  return text;
}

json to_json(const admin::DeliveryStatus& s) {
  json out{{"host", s.host.to_string()},
           {"host_name", s.host_name},
           {"version", s.version},
           {"kind", admin::dirty_kind_name(s.kind)},
           {"new_host_key", s.new_host_key},
           {"urgent", s.urgent},
           {"via", id_or_null(s.via)},
           {"state", admin::delivery_state_name(s.state)},
           {"text", delivery_state_text(s)},
           {"built_at", s.built_at},
           {"sent_at", s.sent_at ? json(*s.sent_at) : json(nullptr)},
           {"unverified_receipt", s.unverified_receipt}};
  if (s.state == admin::DeliveryState::kWaiting) out["next_hop"] = id_or_null(s.next_hop);
  if (s.state == admin::DeliveryState::kHeld || s.state == admin::DeliveryState::kRefusedByCourier) {
    out["courier"] = s.courier.to_string();
  }
  if (s.state == admin::DeliveryState::kApplied) {
    out["confirmed_version"] = s.confirmed_version;
    out["confirmed_at"] = s.confirmed_at;
  }
  if (s.state == admin::DeliveryState::kFailed || s.state == admin::DeliveryState::kRefusedByCourier) {
    out["reason"] = s.reason;
  }
  return out;
}

std::string format_delivery_report(const admin::DeliveryReport& r) {
  std::string out;
  if (r.packages.empty()) {
    out = "no packages to follow: `cordon admin updates build` keeps each package it builds\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const admin::DeliveryStatus& s : r.packages) {
      rows.push_back({s.host.to_string(), s.host_name, std::to_string(s.version), delivery_state_text(s)});
    }
    out = format_table({"HOST", "NAME", "VERSION", "STATE"}, rows);
  }
  out += fmt::format("{} applied, {} pending, {} failed", r.applied, r.pending, r.failed);
  if (r.unverified_receipts > 0) {
    out += fmt::format("; {} unverified receipt(s), not believed (their tags do not verify under the host keys in "
                       "the database)",
                       r.unverified_receipts);
  }
  return out + "\n";
}

}  // namespace cordon::cli
