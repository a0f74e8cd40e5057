// Groups of hosts and their membership (admin.hpp). A group link (links.cpp)
// joins every member of one group with every member of the other, so a
// membership change adds or drops those pairs; as in the ViPNet technology description,
// the membership change itself is also a "keys" change for the member.
#include <set>

#include "admin/filter_rules.hpp"
#include "admin/internal.hpp"
#include "admin/reach.hpp"

namespace cordon::admin {
namespace {

// The groups linked with `group` (itself included when linked to itself).
std::vector<int64_t> linked_groups(Database& db, int64_t group) {
  std::vector<int64_t> out;
  Statement& st = db.cached("SELECT b FROM group_links WHERE a = ?1 UNION SELECT a FROM group_links WHERE b = ?1");
  st.bind(1, group);
  while (st.step()) out.push_back(st.int64(0));
  return out;
}

// Every pair that `host`'s membership in `group` asks for.
std::vector<std::pair<HostId, HostId>> membership_pairs(Database& db, int64_t group, HostId host) {
  std::set<std::pair<HostId, HostId>> pairs;
  for (int64_t other : linked_groups(db, group)) {
    for (HostId peer : group_members(db, other)) {
      if (peer != host) pairs.insert(ordered(host, peer));
    }
  }
  return {pairs.begin(), pairs.end()};
}

}  // namespace

std::vector<HostId> group_members(Database& db, int64_t group) {
  std::vector<HostId> out;
  Statement& st = db.cached("SELECT host FROM group_members WHERE group_id = ?1 ORDER BY host");
  st.bind(1, group);
  while (st.step()) out.push_back(host_from_sql(st.int64(0)));
  return out;
}

void Admin::add_group(const std::string& name) {
  run_command(db_, batch_, "group add", "name=" + name, [&] {
    check_name(name, "group name");
    Statement& st = db_.cached("SELECT 1 FROM host_groups WHERE name = ?1");
    st.bind(1, name);
    if (st.step()) throw AdminError(fmt::format("group '{}' already exists; choose another name", name));
    st.reset();
    refuse_name_in_filter_rules(db_, name);
    db_.cached("INSERT INTO host_groups (name) VALUES (?1)").bind(1, name).run();
  });
}

LinkChange Admin::remove_group(const std::string& name) {
  return run_command(db_, batch_, "group remove", "name=" + name, [&] {
    const UrgentMarks urgent(db_);  // memberships removed: a revocation (dirty.hpp)
    const int64_t group = resolve_group(db_, name);
    std::set<std::pair<HostId, HostId>> pairs;
    for (int64_t other : linked_groups(db_, group)) {
      for (const auto& p : group_link_pairs(db_, group, other)) pairs.insert(p);
    }
    const std::vector<HostId> old_members = group_members(db_, group);
    forget_in_filter_rules(db_, {name});
    mark_reach_hosts_dirty(db_);  // before its limits go with it
    db_.cached("DELETE FROM host_groups WHERE id = ?1").bind(1, group).run();
    LinkChange change;
    for (const auto& [a, b] : pairs) reconcile_link(db_, a, b, change);
    for (HostId h : old_members) mark_dirty(db_, h, DirtyKind::kKeys);
    return change;
  });
}

LinkChange Admin::add_member(const std::string& group_name, const std::string& host_ref) {
  return run_command(db_, batch_, "group member add", fmt::format("group={} host={}", group_name, host_ref), [&] {
    const int64_t group = resolve_group(db_, group_name);
    const HostId host = resolve_host(db_, host_ref);
    Statement& st = db_.cached("SELECT 1 FROM group_members WHERE group_id = ?1 AND host = ?2");
    st.bind(1, group).bind(2, sql_id(host));
    if (st.step()) {
      throw AdminError(fmt::format("host {} is already in group '{}'", host_label(db_, host), group_name));
    }
    st.reset();
    db_.cached("INSERT INTO group_members (group_id, host) VALUES (?1, ?2)").bind(1, group).bind(2, sql_id(host)).run();
    LinkChange change;
    for (const auto& [a, b] : membership_pairs(db_, group, host)) ensure_link(db_, a, b, false, change);
    // A group membership change is a keys change (dirty.hpp); rules for
    // the group, or naming it, change for their hosts.
    mark_dirty(db_, host, DirtyKind::kKeys);
    mark_rule_hosts_dirty(db_);
    mark_reach_hosts_dirty(db_);
    return change;
  });
}

LinkChange Admin::remove_member(const std::string& group_name, const std::string& host_ref) {
  return run_command(db_, batch_, "group member remove", fmt::format("group={} host={}", group_name, host_ref), [&] {
    const UrgentMarks urgent(db_);  // a revocation (dirty.hpp)
    const int64_t group = resolve_group(db_, group_name);
    const HostId host = resolve_host(db_, host_ref);
    const auto pairs = membership_pairs(db_, group, host);
    db_.cached("DELETE FROM group_members WHERE group_id = ?1 AND host = ?2")
        .bind(1, group)
        .bind(2, sql_id(host))
        .run();
    if (db_.changes() == 0) {
      throw AdminError(fmt::format("host {} is not in group '{}'", host_label(db_, host), group_name));
    }
    LinkChange change;
    for (const auto& [a, b] : pairs) reconcile_link(db_, a, b, change);
    mark_dirty(db_, host, DirtyKind::kKeys);
    mark_rule_hosts_dirty(db_);
    mark_reach_hosts_dirty(db_);
    return change;
  });
}

std::vector<GroupInfo> Admin::list_groups() {
  return run_query(db_, batch_, [&] {
    std::vector<GroupInfo> out;
    std::vector<int64_t> ids;
    Statement st = db_.prepare("SELECT id, name FROM host_groups ORDER BY name");
    while (st.step()) {
      ids.push_back(st.int64(0));
      out.push_back(GroupInfo{st.text(1), {}, {}});
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      Statement m = db_.prepare(
          "SELECT h.id, h.name FROM group_members m JOIN hosts h ON h.id = m.host WHERE m.group_id = ?1 ORDER BY h.id");
      m.bind(1, ids[i]);
      while (m.step()) out[i].members.emplace_back(host_from_sql(m.int64(0)), m.text(1));
      Statement l = db_.prepare(
          "SELECT g.name FROM host_groups g WHERE g.id IN "
          "(SELECT b FROM group_links WHERE a = ?1 UNION SELECT a FROM group_links WHERE b = ?1) ORDER BY g.name");
      l.bind(1, ids[i]);
      while (l.step()) out[i].linked_groups.push_back(l.text(0));
    }
    return out;
  });
}

}  // namespace cordon::admin
