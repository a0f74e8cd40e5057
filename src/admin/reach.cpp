// Reach limits (admin.hpp; docs/gateways.md, "Reach"): which prefixes of a
// gateway's tunneled subnets a host or a group's members may reach. They
// reach hosts two ways (reach.hpp): the limited host's copy of the
// gateway's address book entry lists only what it reaches, so it routes and
// accepts no more; and the gateway's key set lists the limit, so the
// gateway drops what the peer sends beyond it.
#include "admin/reach.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "admin/dirty.hpp"
#include "admin/internal.hpp"
#include "core/keys/address_book.hpp"

namespace cordon::admin {
namespace {

bool inside(const Prefix& inner, const Prefix& outer) {
  return inner.address.family == outer.address.family && inner.length >= outer.length &&
         outer.contains(inner.address);
}

// The prefixes of `limit` inside one of `subnets`: a gateway whose subnets
// changed since the limit was set keeps only what still lies in them.
std::vector<Prefix> within(const std::vector<Prefix>& limit, const std::vector<Prefix>& subnets) {
  std::vector<Prefix> out;
  for (const Prefix& p : limit) {
    if (std::any_of(subnets.begin(), subnets.end(), [&](const Prefix& s) { return inside(p, s); })) {
      out.push_back(p);
    }
  }
  return out;
}

struct Target {
  std::optional<int64_t> host, group;
};

Target resolve_target(Database& db, const FilterTarget& who) {
  if (who.kind == FilterTarget::Kind::kHost) return Target{sql_id(resolve_host(db, who.name, "--host")), {}};
  return Target{{}, resolve_group(db, who.name)};
}

std::vector<HostId> target_members(Database& db, const Target& t) {
  if (t.host) return {host_from_sql(*t.host)};
  return group_members(db, *t.group);
}

void mark_pair(Database& db, HostId gateway, const Target& t) {
  mark_dirty(db, gateway, DirtyKind::kAddressBook);
  for (HostId h : target_members(db, t)) mark_dirty(db, h, DirtyKind::kAddressBook);
}

std::string who_label(const FilterTarget& who) {
  return fmt::format("{} '{}'", who.kind == FilterTarget::Kind::kHost ? "host" : "group", who.name);
}

}  // namespace

std::vector<StoredReach> load_reach(Database& db) {
  std::map<std::tuple<int64_t, int64_t, int64_t>, StoredReach> rows;
  Statement st = db.prepare(
      "SELECT gateway, COALESCE(host, 0), COALESCE(group_id, 0), prefix FROM reach ORDER BY gateway, position");
  while (st.step()) {
    StoredReach& r = rows[{st.int64(0), st.int64(1), st.int64(2)}];
    r.gateway = host_from_sql(st.int64(0));
    if (st.int64(1) != 0) r.host = host_from_sql(st.int64(1));
    if (st.int64(2) != 0) r.group = st.int64(2);
    if (auto p = Prefix::parse(st.text(3))) r.prefixes.push_back(*p);
  }
  std::vector<StoredReach> out;
  for (auto& [key, r] : rows) {
    if (r.group) r.members = group_members(db, *r.group);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<std::vector<Prefix>> reach_of(const std::vector<StoredReach>& limits, HostId host, HostId gateway,
                                            const std::vector<Prefix>& subnets) {
  std::optional<std::vector<Prefix>> out;
  for (const StoredReach& r : limits) {
    if (r.gateway != gateway) continue;
    const bool mine = r.host ? *r.host == host : std::binary_search(r.members.begin(), r.members.end(), host);
    if (!mine) continue;
    if (!out) out.emplace();
    for (const Prefix& p : within(r.prefixes, subnets)) {
      if (std::find(out->begin(), out->end(), p) == out->end()) out->push_back(p);
    }
  }
  // In address order, so a key set does not depend on the order of rows.
  if (out) {
    std::sort(out->begin(), out->end(), [](const Prefix& x, const Prefix& y) {
      return std::tie(x.address.family, x.address.bytes, x.length) <
             std::tie(y.address.family, y.address.bytes, y.length);
    });
  }
  return out;
}

void mark_reach_hosts_dirty(Database& db) {
  for (const StoredReach& r : load_reach(db)) {
    mark_dirty(db, r.gateway, DirtyKind::kAddressBook);
    if (r.host) mark_dirty(db, *r.host, DirtyKind::kAddressBook);
    for (HostId h : r.members) mark_dirty(db, h, DirtyKind::kAddressBook);
  }
}

ReachInfo Admin::set_reach(const std::string& gateway_ref, const FilterTarget& who,
                           const std::vector<Prefix>& prefixes) {
  std::string list;
  for (const Prefix& p : prefixes) list += (list.empty() ? "" : ",") + p.to_string();
  const std::string args = fmt::format("gateway={} {}={} subnets={}", gateway_ref,
                                       who.kind == FilterTarget::Kind::kHost ? "host" : "group", who.name, list);
  return run_command(db_, batch_, "reach set", args, [&] {
    const HostId gateway = resolve_host(db_, gateway_ref, "--gateway");
    // IPsec subnets are routed like tunneled ones, and limited alike.
    const std::vector<Prefix> subnets = load_routed_subnets(db_, gateway);
    if (subnets.empty()) {
      throw AdminError(fmt::format("--gateway: {} has no tunneled subnets; give it some with `cordon admin host set "
                                   "{} --subnet PREFIX` (or --ipsec-subnet PREFIX for its IPsec peers)",
                                   host_label(db_, gateway), gateway_ref));
    }
    const Target t = resolve_target(db_, who);
    if (t.host && host_from_sql(*t.host) == gateway) throw AdminError("--host: a gateway always reaches its own LANs");
    if (prefixes.empty()) throw AdminError("--subnet: name at least one prefix the peer may reach");
    for (const Prefix& p : prefixes) {
      if (!keys::is_network_prefix(p)) {
        throw AdminError(fmt::format("--subnet: {} has bits set after the prefix length", p.to_string()));
      }
      if (within({p}, subnets).empty()) {
        std::string have;
        for (const Prefix& s : subnets) have += (have.empty() ? "" : ", ") + s.to_string();
        throw AdminError(fmt::format("--subnet: {} is not inside a tunneled or IPsec subnet of {} ({})", p.to_string(),
                                     host_label(db_, gateway), have));
      }
    }
    db_.cached("DELETE FROM reach WHERE gateway = ?1 AND host IS ?2 AND group_id IS ?3")
        .bind(1, sql_id(gateway))
        .bind(2, t.host)
        .bind(3, t.group)
        .run();
    for (size_t i = 0; i < prefixes.size(); ++i) {
      db_.cached("INSERT INTO reach (gateway, host, group_id, position, prefix) VALUES (?1, ?2, ?3, ?4, ?5)")
          .bind(1, sql_id(gateway))
          .bind(2, t.host)
          .bind(3, t.group)
          .bind(4, static_cast<int64_t>(i))
          .bind(5, prefixes[i].to_string())
          .run();
    }
    mark_pair(db_, gateway, t);
    return ReachInfo{gateway, load_host(db_, network_, gateway).name, who, prefixes};
  });
}

void Admin::clear_reach(const std::string& gateway_ref, const FilterTarget& who) {
  const std::string args = fmt::format("gateway={} {}={}", gateway_ref,
                                       who.kind == FilterTarget::Kind::kHost ? "host" : "group", who.name);
  run_command(db_, batch_, "reach clear", args, [&] {
    const HostId gateway = resolve_host(db_, gateway_ref, "--gateway");
    const Target t = resolve_target(db_, who);
    db_.cached("DELETE FROM reach WHERE gateway = ?1 AND host IS ?2 AND group_id IS ?3")
        .bind(1, sql_id(gateway))
        .bind(2, t.host)
        .bind(3, t.group)
        .run();
    if (db_.changes() == 0) {
      throw AdminError(fmt::format("{} has no reach limit at {}; see `cordon admin reach list`", who_label(who),
                                   host_label(db_, gateway)));
    }
    mark_pair(db_, gateway, t);
  });
}

std::vector<ReachInfo> Admin::list_reach(const std::optional<std::string>& gateway_ref) {
  return run_query(db_, batch_, [&] {
    std::optional<HostId> only;
    if (gateway_ref) only = resolve_host(db_, *gateway_ref, "--gateway");
    std::vector<ReachInfo> out;
    Statement st = db_.prepare(
        "SELECT r.gateway, gw.name, h.name, g.name, r.prefix FROM reach r JOIN hosts gw ON gw.id = r.gateway "
        "LEFT JOIN hosts h ON h.id = r.host LEFT JOIN host_groups g ON g.id = r.group_id "
        "WHERE ?1 IS NULL OR r.gateway = ?1 ORDER BY gw.name, h.name IS NULL, COALESCE(h.name, g.name), r.position");
    st.bind(1, only ? std::optional(sql_id(*only)) : std::nullopt);
    while (st.step()) {
      const FilterTarget who = st.is_null(2) ? FilterTarget{FilterTarget::Kind::kGroup, st.text(3)}
                                             : FilterTarget{FilterTarget::Kind::kHost, st.text(2)};
      const HostId gateway = host_from_sql(st.int64(0));
      if (out.empty() || out.back().gateway != gateway || out.back().who.name != who.name ||
          out.back().who.kind != who.kind) {
        out.push_back(ReachInfo{gateway, st.text(1), who, {}});
      }
      if (auto p = Prefix::parse(st.text(4))) out.back().prefixes.push_back(*p);
    }
    return out;
  });
}

}  // namespace cordon::admin
