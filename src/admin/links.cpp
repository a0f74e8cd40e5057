// Links: host pairs and their link keys (admin.hpp).
//
// Every link has a symmetric key of its own, made when the two hosts are
// linked (the ViPNet technology description, "ViPNet hosts,
// links and keys"; docs/design.md, "Vocabulary"). A pair is linked
// while something asks for it (schema.cpp): an explicit `link add`, a
// client's coordinator assignment, the administration courier's link with
// every other coordinator (admin_host.cpp), or a group link; every change
// funnels through ensure_link/reconcile_link so that the four stay
// consistent and
// every added or dropped key marks both hosts "keys".
#include <algorithm>
#include <set>

#include "admin/internal.hpp"

namespace cordon::admin {
namespace {

bool coordinator_requires(Database& db, HostId a, HostId b) {
  Statement& st = db.cached(
      "SELECT 1 FROM hosts WHERE (id = ?1 AND ?2 IN (registry, rendezvous, courier)) "
      "OR (id = ?2 AND ?1 IN (registry, rendezvous, courier))");
  st.bind(1, sql_id(a)).bind(2, sql_id(b));
  return st.step();
}

// The group links that ask for the pair, as "G-H" names.
std::vector<std::string> group_reasons(Database& db, HostId a, HostId b) {
  std::vector<std::string> out;
  Statement& st = db.cached(
      "SELECT ga.name, gb.name FROM group_links gl "
      "JOIN host_groups ga ON ga.id = gl.a JOIN host_groups gb ON gb.id = gl.b "
      "WHERE (EXISTS (SELECT 1 FROM group_members WHERE group_id = gl.a AND host = ?1) "
      "   AND EXISTS (SELECT 1 FROM group_members WHERE group_id = gl.b AND host = ?2)) "
      "   OR (EXISTS (SELECT 1 FROM group_members WHERE group_id = gl.a AND host = ?2) "
      "   AND EXISTS (SELECT 1 FROM group_members WHERE group_id = gl.b AND host = ?1))");
  st.bind(1, sql_id(a)).bind(2, sql_id(b));
  while (st.step()) out.push_back(fmt::format("group {}-{}", st.text(0), st.text(1)));
  return out;
}

std::string describe_pair(Database& db, HostId a, HostId b) {
  return fmt::format("{} and {}", host_label(db, a), host_label(db, b));
}

// The pair is one of the served links of each end's registry, which must
// tell its client about the peer (docs/protocol.md, "Served links"): an
// address-book change for the registry (dirty.hpp).
void mark_served_links_changed(Database& db, HostId a, HostId b) {
  mark_registry_dirty(db, a, DirtyKind::kAddressBook);
  mark_registry_dirty(db, b, DirtyKind::kAddressBook);
}

// The reason "courier" as a sentence part.
std::string courier_text(Database& db, HostId a, HostId b) {
  const std::optional<AdminRoute> route = load_admin_route(db);
  const HostId courier = route ? route->courier : a;
  return fmt::format("{} is the administration courier (linked with every other coordinator, so that updates "
                     "reach them)",
                     host_label(db, courier == a ? a : b));
}

// A reason from link_reasons other than "manual", as a sentence part:
// "'hub' (0x00010001) is the coordinator of 'b' (0x00010002) (...)", "the
// group link red-blue asks for it".
std::string reason_text(Database& db, HostId a, HostId b, const std::string& reason) {
  if (reason.starts_with("group ")) return "the group link " + reason.substr(6) + " asks for it";
  if (reason == "courier") return courier_text(db, a, b);
  Statement& st = db.cached("SELECT 1 FROM hosts WHERE id = ?1 AND ?2 IN (registry, rendezvous, courier)");
  st.bind(1, sql_id(a)).bind(2, sql_id(b));
  const bool b_serves_a = st.step();
  st.reset();
  const HostId client = b_serves_a ? a : b;
  const HostId coordinator = b_serves_a ? b : a;
  return fmt::format("{} is the coordinator of {} (a client is always linked to its coordinators)",
                     host_label(db, coordinator), host_label(db, client));
}

std::pair<int64_t, int64_t> ordered_groups(int64_t a, int64_t b) { return a <= b ? std::pair{a, b} : std::pair{b, a}; }

}  // namespace

void ensure_link(Database& db, HostId a, HostId b, bool manual, LinkChange& change) {
  if (a == b) return;
  const auto [lo, hi] = ordered(a, b);
  Statement& exists = db.cached("SELECT manual FROM links WHERE a = ?1 AND b = ?2");
  exists.bind(1, sql_id(lo)).bind(2, sql_id(hi));
  if (exists.step()) {
    exists.reset();
    if (manual)
      db.cached("UPDATE links SET manual = 1 WHERE a = ?1 AND b = ?2").bind(1, sql_id(lo)).bind(2, sql_id(hi)).run();
    ++change.unchanged;
    return;
  }
  exists.reset();
  const crypto::SecretBytes key = random_key();
  db.cached("INSERT INTO links (a, b, manual, key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, sql_id(lo))
      .bind(2, sql_id(hi))
      .bind(3, int64_t{manual ? 1 : 0})
      .bind_blob(4, key.view())
      .bind(5, now_seconds())
      .run();
  // An edited link is a keys change for both ends (dirty.hpp).
  mark_dirty(db, lo, DirtyKind::kKeys);
  mark_dirty(db, hi, DirtyKind::kKeys);
  mark_served_links_changed(db, lo, hi);
  change.added.emplace_back(lo, hi);
}

std::vector<std::string> link_reasons(Database& db, HostId a, HostId b) {
  const auto [lo, hi] = ordered(a, b);
  std::vector<std::string> reasons;
  Statement& st = db.cached("SELECT manual FROM links WHERE a = ?1 AND b = ?2");
  st.bind(1, sql_id(lo)).bind(2, sql_id(hi));
  if (st.step() && st.int64(0) != 0) reasons.emplace_back("manual");
  st.reset();
  if (coordinator_requires(db, lo, hi)) reasons.emplace_back("coordinator");
  if (courier_requires(db, lo, hi)) reasons.emplace_back("courier");
  for (std::string& g : group_reasons(db, lo, hi)) reasons.push_back(std::move(g));
  return reasons;
}

void reconcile_link(Database& db, HostId a, HostId b, LinkChange& change) {
  if (a == b) return;
  const auto [lo, hi] = ordered(a, b);
  if (!link_reasons(db, lo, hi).empty()) {
    ++change.unchanged;
    return;
  }
  db.cached("DELETE FROM links WHERE a = ?1 AND b = ?2").bind(1, sql_id(lo)).bind(2, sql_id(hi)).run();
  if (db.changes() > 0) {
    // The key leaves both hosts at their next update (docs/administration.md,
    // "Updates, and their two kinds").
    mark_dirty(db, lo, DirtyKind::kKeys);
    mark_dirty(db, hi, DirtyKind::kKeys);
    mark_served_links_changed(db, lo, hi);
    change.removed.emplace_back(lo, hi);
  }
}

std::vector<HostId> linked_hosts(Database& db, HostId host) {
  std::vector<HostId> out;
  Statement& st = db.cached("SELECT b FROM links WHERE a = ?1 UNION SELECT a FROM links WHERE b = ?1 ORDER BY 1");
  st.bind(1, sql_id(host));
  while (st.step()) out.push_back(host_from_sql(st.int64(0)));
  return out;
}

std::vector<std::pair<HostId, HostId>> group_link_pairs(Database& db, int64_t group_a, int64_t group_b) {
  std::vector<std::pair<HostId, HostId>> out;
  Statement st = db.prepare(
      "SELECT ma.host, mb.host FROM group_members ma, group_members mb "
      "WHERE ma.group_id = ?1 AND mb.group_id = ?2 AND ma.host <> mb.host");
  st.bind(1, group_a).bind(2, group_b);
  std::set<std::pair<HostId, HostId>> seen;
  while (st.step()) {
    const auto pair = ordered(host_from_sql(st.int64(0)), host_from_sql(st.int64(1)));
    if (seen.insert(pair).second) out.push_back(pair);
  }
  return out;
}

LinkChange Admin::add_link(const std::string& a, const std::string& b) {
  return run_command(db_, batch_, "link add", fmt::format("a={} b={}", a, b), [&] {
    const HostId ha = resolve_host(db_, a, "link: first host");
    const HostId hb = resolve_host(db_, b, "link: second host");
    if (ha == hb) throw AdminError(fmt::format("link: {} cannot be linked with itself", host_label(db_, ha)));
    const std::vector<std::string> reasons = link_reasons(db_, ha, hb);
    if (std::find(reasons.begin(), reasons.end(), "manual") != reasons.end()) {
      throw AdminError(fmt::format("link: {} are already linked", describe_pair(db_, ha, hb)));
    }
    LinkChange change;
    ensure_link(db_, ha, hb, true, change);
    if (!reasons.empty()) {
      change.already_linked = fmt::format(
          "{} were already linked: {}; they keep their link key, so nothing needs delivering (the link now also "
          "stays when that reason goes)",
          describe_pair(db_, ha, hb), reason_text(db_, ha, hb, reasons.front()));
    }
    return change;
  });
}

LinkChange Admin::remove_link(const std::string& a, const std::string& b) {
  return run_command(db_, batch_, "link remove", fmt::format("a={} b={}", a, b), [&] {
    const UrgentMarks urgent(db_);  // a revocation (dirty.hpp)
    const HostId ha = resolve_host(db_, a, "link: first host");
    const HostId hb = resolve_host(db_, b, "link: second host");
    const auto [lo, hi] = ordered(ha, hb);
    Statement& st = db_.cached("SELECT 1 FROM links WHERE a = ?1 AND b = ?2");
    st.bind(1, sql_id(lo)).bind(2, sql_id(hi));
    if (!st.step()) throw AdminError(fmt::format("link: {} are not linked", describe_pair(db_, ha, hb)));
    st.reset();
    db_.cached("UPDATE links SET manual = 0 WHERE a = ?1 AND b = ?2").bind(1, sql_id(lo)).bind(2, sql_id(hi)).run();
    const std::vector<std::string> reasons = link_reasons(db_, lo, hi);
    if (!reasons.empty()) {
      if (reasons.front() == "coordinator") {
        throw AdminError(
            fmt::format("link: {} stay linked because one is the other's coordinator (a client is always "
                        "linked to its coordinators); change it with `cordon admin host set CLIENT "
                        "--coordinator OTHER`",
                        describe_pair(db_, ha, hb)));
      }
      if (reasons.front() == "courier") {
        throw AdminError(fmt::format(
            "link: {} stay linked because {}; change the administration host with `cordon admin network set "
            "--admin-host HOST` (or `none`)",
            describe_pair(db_, ha, hb), courier_text(db_, ha, hb)));
      }
      throw AdminError(fmt::format("link: {} stay linked through {}; remove that group link or a membership",
                                   describe_pair(db_, ha, hb), reasons.front()));
    }
    LinkChange change;
    reconcile_link(db_, lo, hi, change);
    return change;
  });
}

LinkChange Admin::add_group_link(const std::string& group_a, const std::string& group_b) {
  return run_command(db_, batch_, "link add --groups", fmt::format("a={} b={}", group_a, group_b), [&] {
    const auto [ga, gb] = ordered_groups(resolve_group(db_, group_a), resolve_group(db_, group_b));
    Statement& st = db_.cached("SELECT 1 FROM group_links WHERE a = ?1 AND b = ?2");
    st.bind(1, ga).bind(2, gb);
    if (st.step()) throw AdminError(fmt::format("link: groups '{}' and '{}' are already linked", group_a, group_b));
    st.reset();
    db_.cached("INSERT INTO group_links (a, b) VALUES (?1, ?2)").bind(1, ga).bind(2, gb).run();
    LinkChange change;
    for (const auto& [x, y] : group_link_pairs(db_, ga, gb)) ensure_link(db_, x, y, false, change);
    return change;
  });
}

LinkChange Admin::remove_group_link(const std::string& group_a, const std::string& group_b) {
  return run_command(db_, batch_, "link remove --groups", fmt::format("a={} b={}", group_a, group_b), [&] {
    const UrgentMarks urgent(db_);  // a revocation (dirty.hpp)
    const auto [ga, gb] = ordered_groups(resolve_group(db_, group_a), resolve_group(db_, group_b));
    db_.cached("DELETE FROM group_links WHERE a = ?1 AND b = ?2").bind(1, ga).bind(2, gb).run();
    if (db_.changes() == 0) {
      throw AdminError(fmt::format("link: groups '{}' and '{}' are not linked", group_a, group_b));
    }
    LinkChange change;
    for (const auto& [x, y] : group_link_pairs(db_, ga, gb)) reconcile_link(db_, x, y, change);
    return change;
  });
}

std::vector<LinkInfo> Admin::list_links() {
  return run_query(db_, batch_, [&] {
    std::vector<LinkInfo> out;
    Statement st = db_.prepare(
        "SELECT l.a, l.b, ha.name, hb.name, l.manual, l.created_at, l.rotated_at, "
        "EXISTS (SELECT 1 FROM hosts WHERE (id = l.a AND l.b IN (registry, rendezvous, courier)) "
        "                               OR (id = l.b AND l.a IN (registry, rendezvous, courier))), "
        "ha.role, hb.role "
        "FROM links l JOIN hosts ha ON ha.id = l.a JOIN hosts hb ON hb.id = l.b ORDER BY l.a, l.b");
    const bool any_group_links = [&] {
      Statement g = db_.prepare("SELECT EXISTS (SELECT 1 FROM group_links)");
      g.step();
      return g.int64(0) != 0;
    }();
    const std::optional<AdminRoute> route = load_admin_route(db_);
    while (st.step()) {
      LinkInfo l;
      l.a = host_from_sql(st.int64(0));
      l.b = host_from_sql(st.int64(1));
      l.a_name = st.text(2);
      l.b_name = st.text(3);
      if (st.int64(4) != 0) l.reasons.emplace_back("manual");
      l.created_at = st.int64(5);
      if (!st.is_null(6)) l.rotated_at = st.int64(6);
      if (st.int64(7) != 0) l.reasons.emplace_back("coordinator");
      const bool coordinators = st.int64(8) == static_cast<int64_t>(Role::kCoordinator) &&
                                st.int64(9) == static_cast<int64_t>(Role::kCoordinator);
      if (route && coordinators && (l.a == route->courier || l.b == route->courier)) {
        l.reasons.emplace_back("courier");
      }
      if (any_group_links) {
        for (std::string& g : group_reasons(db_, l.a, l.b)) l.reasons.push_back(std::move(g));
      }
      out.push_back(std::move(l));
    }
    return out;
  });
}

}  // namespace cordon::admin
