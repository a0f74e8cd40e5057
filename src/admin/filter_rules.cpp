// The administrator's filter rules (admin.hpp; docs/gateways.md, "Central
// rules"; docs/firewall.md, "Central open rules"). A rule is stored as
// written, for one host or one group, and filters protected or open
// traffic. The names after `peer` in a protected rule are resolved when a
// key set or package is made, so a group's rules follow its membership.
// Hosts receive the text with peers by host ID (filter_rules.hpp); an open
// rule names no peer and goes as written.
#include "admin/filter_rules.hpp"

#include <algorithm>
#include <tuple>

#include "admin/dirty.hpp"
#include "admin/internal.hpp"
#include "core/filter/rule.hpp"
#include "os/linux/open_rule_text.hpp"

namespace cordon::admin {
namespace {

// Reads a stored rule's words without resolving its names.
const filter::PeerResolver kAnyone = [](std::string_view) { return std::optional(std::vector<uint32_t>{1}); };

// The hosts a name after `peer` stands for: a host (by ID or name) or a
// group's members. kNobody (host ID 0, never a host's) stands for a name
// that names no host: an unknown name when exporting, an empty group.
constexpr uint32_t kNobody = 0;

// When adding, an unknown name and a name that is both a host's and a
// group's are refused (`ambiguous` says which); when exporting, a name that
// no longer resolves names nobody.
filter::PeerResolver resolver(Database& db, bool adding, std::string& ambiguous) {
  return [&db, adding, &ambiguous](std::string_view name) -> std::optional<std::vector<uint32_t>> {
    const std::optional<HostId> host = find_host(db, name);
    const std::optional<int64_t> group = find_group(db, name);
    if (host && group) {
      ambiguous = std::string(name);
      return std::nullopt;
    }
    if (host) return std::vector<uint32_t>{host->value};
    if (group) {
      std::vector<uint32_t> ids;
      for (HostId h : group_members(db, *group)) ids.push_back(h.value);
      if (ids.empty()) ids.push_back(kNobody);
      return ids;
    }
    if (adding) return std::nullopt;
    return std::vector<uint32_t>{kNobody};
  };
}

// The hosts a target stands for now.
std::vector<HostId> target_hosts(Database& db, std::optional<int64_t> host, std::optional<int64_t> group) {
  if (host) return {host_from_sql(*host)};
  return group ? group_members(db, *group) : std::vector<HostId>{};
}

// How filter_rules.kind holds an open rule's.
const char* const kOpenKind = filter_traffic_name(FilterTraffic::kOpen);

FilterRuleInfo read_rule(Database& db, const Statement& st) {
  FilterRuleInfo r;
  r.number = st.int64(0);
  r.traffic = st.text(7) == kOpenKind ? FilterTraffic::kOpen : FilterTraffic::kProtected;
  r.position = st.int64(1);
  if (!st.is_null(2)) {
    r.host = host_from_sql(st.int64(2));
    r.target = FilterTarget{FilterTarget::Kind::kHost, st.text(5)};
  } else {
    r.target = FilterTarget{FilterTarget::Kind::kGroup, st.text(6)};
  }
  r.text = st.text(3);
  r.created_at = st.int64(4);
  r.exported = r.traffic == FilterTraffic::kOpen ? r.text : exported_rule_text(db, r.text).value_or("");
  return r;
}

constexpr const char* kRuleSelect =
    "SELECT r.id, r.position, r.host, r.rule, r.created_at, h.name, g.name, r.kind FROM filter_rules r "
    "LEFT JOIN hosts h ON h.id = r.host LEFT JOIN host_groups g ON g.id = r.group_id ";

}  // namespace

std::optional<std::string> exported_rule_text(Database& db, std::string_view text) {
  std::string ambiguous;
  auto rule = filter::parse_rule(text, resolver(db, false, ambiguous));
  if (!rule) return std::nullopt;  // checked when added; a name now both a host's and a group's
  filter::Rule r = std::move(rule.value());
  if (r.peer_names.empty()) return r.to_string();
  r.peers.erase(std::remove(r.peers.begin(), r.peers.end(), kNobody), r.peers.end());
  if (r.peers.empty()) return std::nullopt;
  r.peer_names.clear();
  for (uint32_t id : r.peers) r.peer_names.push_back(HostId{id}.to_string());
  return r.to_string();
}

std::vector<StoredFilterRule> load_filter_rules(Database& db) {
  std::vector<StoredFilterRule> out;
  Statement st = db.prepare("SELECT id, host, group_id, rule, kind FROM filter_rules ORDER BY position, id");
  while (st.step()) {
    StoredFilterRule r;
    r.number = st.int64(0);
    if (!st.is_null(1)) r.host = host_from_sql(st.int64(1));
    if (!st.is_null(2)) r.group = st.int64(2);
    r.text = st.text(3);
    if (st.text(4) == kOpenKind) r.kind = keys::FilterRuleKind::kOpen;
    out.push_back(std::move(r));
  }
  for (StoredFilterRule& r : out) {
    r.exported = r.kind == keys::FilterRuleKind::kOpen ? std::optional(r.text) : exported_rule_text(db, r.text);
    if (r.group) r.members = group_members(db, *r.group);
  }
  return out;
}

std::vector<keys::FilterRuleEntry> filter_rules_for(const std::vector<StoredFilterRule>& rules, HostId host) {
  std::vector<keys::FilterRuleEntry> out;
  for (const StoredFilterRule& r : rules) {
    if (!r.exported) continue;
    const bool mine = r.host ? *r.host == host : std::binary_search(r.members.begin(), r.members.end(), host);
    if (!mine) continue;
    out.push_back(keys::FilterRuleEntry{static_cast<uint32_t>(r.number), r.kind, *r.exported});
  }
  return out;
}

void mark_rule_hosts_dirty(Database& db) {
  Statement st = db.prepare("SELECT host, group_id FROM filter_rules");
  std::vector<std::pair<std::optional<int64_t>, std::optional<int64_t>>> targets;
  while (st.step()) {
    targets.emplace_back(st.is_null(0) ? std::nullopt : std::optional(st.int64(0)),
                         st.is_null(1) ? std::nullopt : std::optional(st.int64(1)));
  }
  for (const auto& [host, group] : targets) {
    for (HostId h : target_hosts(db, host, group)) mark_dirty(db, h, DirtyKind::kAddressBook);
  }
}

namespace {

// Rewrites the peer list of every protected rule through `map` (a name to its new
// name, or nullopt to drop it); a rule left with no peers is removed.
template <typename Map>
void rewrite_peers(Database& db, Map&& map) {
  std::vector<std::tuple<int64_t, std::optional<int64_t>, std::optional<int64_t>, std::string>> rules;
  {
    Statement st = db.prepare("SELECT id, host, group_id, rule FROM filter_rules WHERE kind = 'protected'");
    while (st.step()) {
      rules.emplace_back(st.int64(0), st.is_null(1) ? std::nullopt : std::optional(st.int64(1)),
                         st.is_null(2) ? std::nullopt : std::optional(st.int64(2)), st.text(3));
    }
  }
  for (const auto& [number, host, group, text] : rules) {
    auto rule = filter::parse_rule(text, kAnyone);
    if (!rule) continue;
    filter::Rule r = std::move(rule.value());
    std::vector<std::string> names;
    for (const std::string& name : r.peer_names) {
      if (auto mapped = map(name)) names.push_back(*mapped);
    }
    if (names == r.peer_names) continue;
    for (HostId h : target_hosts(db, host, group)) mark_dirty(db, h, DirtyKind::kAddressBook);
    if (names.empty()) {
      db.cached("DELETE FROM filter_rules WHERE id = ?1").bind(1, number).run();
      continue;
    }
    r.peer_names = std::move(names);
    db.cached("UPDATE filter_rules SET rule = ?1 WHERE id = ?2").bind(1, r.to_string()).bind(2, number).run();
  }
}

}  // namespace

void refuse_name_in_filter_rules(Database& db, std::string_view name) {
  Statement st = db.prepare("SELECT id, rule FROM filter_rules WHERE kind = 'protected' ORDER BY id");
  while (st.step()) {
    auto rule = filter::parse_rule(st.text(1), kAnyone);
    if (!rule) continue;
    const auto& names = rule.value().peer_names;
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw AdminError(fmt::format("filter rule {} names '{}' after `peer` for another host or group; choose "
                                   "another name",
                                   st.int64(0), name));
    }
  }
}

void rename_in_filter_rules(Database& db, std::string_view old_name, std::string_view new_name) {
  rewrite_peers(db, [&](const std::string& name) {
    return std::optional<std::string>(name == old_name ? std::string(new_name) : name);
  });
}

void forget_in_filter_rules(Database& db, const std::vector<std::string>& names) {
  rewrite_peers(db, [&](const std::string& name) -> std::optional<std::string> {
    if (std::find(names.begin(), names.end(), name) != names.end()) return std::nullopt;
    return name;
  });
}

namespace {

// Refuses (AdminError) a rule text that would not parse on a host; a
// protected rule's names after `peer` must stand for hosts now.
void check_rule_text(Database& db, const std::string& text, FilterTraffic traffic) {
  if (text.size() > keys::kMaxFilterRuleSize) {
    throw AdminError(fmt::format("the rule is {} bytes; at most {}", text.size(), keys::kMaxFilterRuleSize));
  }
  if (traffic == FilterTraffic::kOpen) {
    if (auto rule = os::parse_open_rule(text); !rule) {
      throw AdminError(fmt::format("bad open rule: {}; see docs/firewall.md, \"Rules\"", rule.error()));
    }
    return;
  }
  std::string ambiguous;
  auto rule = filter::parse_rule(text, resolver(db, true, ambiguous));
  if (rule) return;
  if (!ambiguous.empty()) {
    throw AdminError(fmt::format("'{}' names both a host and a group; name the host by its ID "
                                 "(see `cordon admin host list`) or rename the group",
                                 ambiguous));
  }
  throw AdminError(fmt::format("bad rule: {}; see docs/gateways.md, \"Rules\"", rule.error()));
}

// The position a new rule takes: just before rule `before` (which must
// filter the same traffic), moving the later ones down, or last.
int64_t new_position(Database& db, std::optional<int64_t> before, FilterTraffic traffic) {
  if (!before) {
    Statement& last = db.cached("SELECT COALESCE(MAX(position), 0) + 1 FROM filter_rules");
    last.step();
    const int64_t position = last.int64(0);
    last.reset();
    return position;
  }
  Statement& at = db.cached("SELECT position, kind FROM filter_rules WHERE id = ?1");
  at.bind(1, *before);
  if (!at.step()) throw AdminError(fmt::format("--before: no rule {}; see `cordon admin filter list`", *before));
  const int64_t position = at.int64(0);
  const std::string kind = at.text(1);
  at.reset();
  if (kind != filter_traffic_name(traffic)) {
    throw AdminError(fmt::format("--before: rule {} is for {} traffic and this one for {}; the two kinds are "
                                 "applied apart, so name a rule of the same kind (`cordon admin filter list`)",
                                 *before, kind, filter_traffic_name(traffic)));
  }
  db.cached("UPDATE filter_rules SET position = position + 1 WHERE position >= ?1").bind(1, position).run();
  return position;
}

}  // namespace

FilterRuleInfo Admin::add_filter_rule(const FilterTarget& target, const std::string& text,
                                      std::optional<int64_t> before, FilterTraffic traffic) {
  const std::string args =
      fmt::format("{}={} rule={}{}{}", target.kind == FilterTarget::Kind::kHost ? "host" : "group", target.name, text,
                  before ? fmt::format(" before={}", *before) : "", traffic == FilterTraffic::kOpen ? " open" : "");
  return run_command(db_, batch_, "filter add", args, [&] {
    std::optional<int64_t> host, group;
    if (target.kind == FilterTarget::Kind::kHost) {
      host = sql_id(resolve_host(db_, target.name, "--host"));
    } else {
      group = resolve_group(db_, target.name);
    }
    check_rule_text(db_, text, traffic);
    const int64_t position = new_position(db_, before, traffic);
    Statement& insert = db_.cached(
           "INSERT INTO filter_rules (position, host, group_id, rule, created_at, kind) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id");
    insert.bind(1, position)
        .bind(2, host)
        .bind(3, group)
        .bind(4, text)
        .bind(5, now_seconds())
        .bind(6, std::string_view(filter_traffic_name(traffic)))
        .step();
    const int64_t number = insert.int64(0);
    insert.reset();
    for (HostId h : target_hosts(db_, host, group)) mark_dirty(db_, h, DirtyKind::kAddressBook);
    Statement st = db_.prepare(std::string(kRuleSelect) + "WHERE r.id = ?1");
    st.bind(1, number);
    st.step();
    return read_rule(db_, st);
  });
}

FilterRuleInfo Admin::remove_filter_rule(int64_t number) {
  return run_command(db_, batch_, "filter remove", fmt::format("number={}", number), [&] {
    Statement st = db_.prepare(std::string(kRuleSelect) + "WHERE r.id = ?1");
    st.bind(1, number);
    if (!st.step()) throw AdminError(fmt::format("no rule {}; see `cordon admin filter list`", number));
    FilterRuleInfo removed = read_rule(db_, st);
    Statement& target = db_.cached("SELECT host, group_id FROM filter_rules WHERE id = ?1");
    target.bind(1, number);
    target.step();
    const auto host = target.is_null(0) ? std::nullopt : std::optional(target.int64(0));
    const auto group = target.is_null(1) ? std::nullopt : std::optional(target.int64(1));
    target.reset();
    for (HostId h : target_hosts(db_, host, group)) mark_dirty(db_, h, DirtyKind::kAddressBook);
    db_.cached("DELETE FROM filter_rules WHERE id = ?1").bind(1, number).run();
    return removed;
  });
}

std::vector<FilterRuleInfo> Admin::list_filter_rules(const std::optional<std::string>& host_ref) {
  return run_query(db_, batch_, [&] {
    std::optional<HostId> host;
    if (host_ref) host = resolve_host(db_, *host_ref, "--host");
    std::vector<FilterRuleInfo> out;
    Statement st = db_.prepare(std::string(kRuleSelect) +
                               "WHERE ?1 IS NULL OR r.host = ?1 OR r.group_id IN "
                               "(SELECT group_id FROM group_members WHERE host = ?1) ORDER BY r.position, r.id");
    st.bind(1, host ? std::optional(sql_id(*host)) : std::nullopt);
    while (st.step()) out.push_back(read_rule(db_, st));
    return out;
  });
}

}  // namespace cordon::admin
