// The administration host and courier (docs/couriers.md, "Who is who";
// admin.hpp, set_admin_host).
//
// network.admin_host names the administration host. Its courier, the
// administration courier, is derived, never stored: the host itself when
// it is a coordinator, its courier when it is a client. Every key set
// carries both (network settings 2 and 3, core/keys/keyset.hpp), so any
// change of either marks every host "address book"; and the database links
// the administration courier with every other coordinator (reason
// "courier", links.cpp), so that updates go from courier to courier over a
// link like any other traffic. Every command that can move either one (a
// designation, a role or courier change, a host added, removed or
// compromised) ends with sync_admin_route().
#include "admin/internal.hpp"

namespace cordon::admin {
namespace {

// The coordinators of the network, by ID.
std::vector<HostId> coordinators(Database& db) {
  std::vector<HostId> out;
  Statement& st = db.cached("SELECT id FROM hosts WHERE role = 2 ORDER BY id");
  while (st.step()) out.push_back(host_from_sql(st.int64(0)));
  st.reset();
  return out;
}

std::string describe_admin_host(const std::optional<std::string>& ref) { return "admin-host=" + ref.value_or("none"); }

}  // namespace

std::optional<HostId> load_admin_host(Database& db) {
  Statement& st = db.cached("SELECT admin_host FROM network WHERE id = 1");
  std::optional<HostId> out;
  if (st.step() && !st.is_null(0)) out = host_from_sql(st.int64(0));
  st.reset();
  return out;
}

std::optional<AdminRoute> load_admin_route(Database& db) {
  Statement& st = db.cached(
      "SELECT h.id, CASE WHEN h.role = 2 THEN h.id ELSE h.courier END FROM network n JOIN hosts h ON h.id = "
      "n.admin_host WHERE n.id = 1");
  std::optional<AdminRoute> out;
  if (st.step() && !st.is_null(1)) out = AdminRoute{host_from_sql(st.int64(0)), host_from_sql(st.int64(1))};
  st.reset();
  return out;
}

void check_admin_host_candidate(Database& db, HostId host, std::string_view what) {
  Statement& st = db.cached("SELECT role, courier FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(host));
  if (!st.step()) throw AdminError(fmt::format("{}: no host {} in the network", what, host.to_string()));
  const bool client_without_courier = static_cast<Role>(st.int64(0)) == Role::kClient && st.is_null(1);
  st.reset();
  if (client_without_courier) {
    throw AdminError(fmt::format(
        "{}: {} is a client without a courier; the administration host's updates leave through its courier. Give "
        "it one first (`cordon admin host set {} --courier COORDINATOR`), or choose a coordinator",
        what, host_label(db, host), host.to_string()));
  }
}

bool courier_requires(Database& db, HostId a, HostId b) {
  const std::optional<AdminRoute> route = load_admin_route(db);
  if (!route || a == b) return false;
  if (a != route->courier && b != route->courier) return false;
  return host_role(db, a == route->courier ? b : a) == Role::kCoordinator;
}

void reconcile_courier_links(Database& db, LinkChange& change) {
  if (const std::optional<AdminRoute> route = load_admin_route(db)) {
    for (HostId c : coordinators(db)) ensure_link(db, route->courier, c, false, change);
  }
  // Links that may have lost their last reason: a courier link has a
  // coordinator at one end at least, even after one host changed role.
  std::vector<std::pair<HostId, HostId>> candidates;
  Statement& st = db.cached(
      "SELECT l.a, l.b FROM links l WHERE l.manual = 0 "
      "AND EXISTS (SELECT 1 FROM hosts WHERE id IN (l.a, l.b) AND role = 2) "
      "AND NOT EXISTS (SELECT 1 FROM hosts WHERE (id = l.a AND l.b IN (registry, rendezvous, courier)) "
      "                                       OR (id = l.b AND l.a IN (registry, rendezvous, courier)))");
  while (st.step()) candidates.emplace_back(host_from_sql(st.int64(0)), host_from_sql(st.int64(1)));
  st.reset();
  for (const auto& [a, b] : candidates) reconcile_link(db, a, b, change);
}

void sync_admin_route(Database& db, const std::optional<AdminRoute>& before, LinkChange& change) {
  const std::optional<AdminRoute> after = load_admin_route(db);
  const bool moved = before.has_value() != after.has_value() ||
                     (before && (before->host != after->host || before->courier != after->courier));
  // Every key set carries both IDs: a network setting, not a key.
  if (moved) mark_all_dirty(db, DirtyKind::kAddressBook);
  reconcile_courier_links(db, change);
}

AdminHostChange Admin::set_admin_host(const std::optional<std::string>& ref) {
  return run_command(db_, batch_, "network set", describe_admin_host(ref), [&] {
    AdminHostChange change;
    change.previous = load_admin_host(db_);
    const std::optional<AdminRoute> before = load_admin_route(db_);
    std::optional<HostId> wanted;
    if (ref) {
      wanted = resolve_host(db_, *ref, "--admin-host");
      check_admin_host_candidate(db_, *wanted, "--admin-host");
    }
    if (wanted != change.previous) {
      db_.cached("UPDATE network SET admin_host = ?1 WHERE id = 1")
          .bind(1, wanted ? std::optional<int64_t>(sql_id(*wanted)) : std::nullopt)
          .run();
    }
    sync_admin_route(db_, before, change.links);
    change.current = wanted;
    if (const std::optional<AdminRoute> route = load_admin_route(db_)) change.courier = route->courier;
    Statement& st = db_.cached("SELECT COUNT(*) FROM hosts WHERE dirty <> 0");
    st.step();
    change.dirty_hosts = st.int64(0);
    st.reset();
    return change;
  });
}

}  // namespace cordon::admin
