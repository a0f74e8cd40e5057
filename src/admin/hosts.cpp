// Hosts: add, set, remove, list, show, compromise (admin.hpp); their
// subnets are checked and stored in subnets.cpp.
#include <algorithm>
#include <set>

#include "admin/addressing.hpp"
#include "admin/filter_rules.hpp"
#include "admin/internal.hpp"

namespace cordon::admin {
namespace {

constexpr const char* kHostColumns =
    "id, name, role, tunnel_v4, tunnel_v6, registry, rendezvous, courier, keyset_version, exported, dirty, "
    "next_host_key IS NOT NULL, created_at";

HostInfo read_host_row(const Statement& st, const NetworkSpec& net) {
  HostInfo h;
  h.id = host_from_sql(st.int64(0));
  h.name = st.text(1);
  h.role = static_cast<Role>(st.int64(2));
  if (!st.is_null(3)) h.tunnel_v4 = address_at(net.ipv4, static_cast<uint64_t>(st.int64(3)));
  if (!st.is_null(4) && net.ipv6) h.tunnel_v6 = address_at(*net.ipv6, static_cast<uint64_t>(st.int64(4)));
  if (!st.is_null(5)) h.registry = host_from_sql(st.int64(5));
  if (!st.is_null(6)) h.rendezvous = host_from_sql(st.int64(6));
  if (!st.is_null(7)) h.courier = host_from_sql(st.int64(7));
  h.keyset_version = static_cast<uint64_t>(st.int64(8));
  h.exported = st.int64(9) != 0;
  h.dirty = static_cast<DirtyKind>(st.int64(10));
  h.host_key_rotation_pending = st.int64(11) != 0;
  h.created_at = st.int64(12);
  return h;
}

std::optional<int64_t> optional_id(HostId id) {
  return id.value == 0 ? std::nullopt : std::optional<int64_t>(sql_id(id));
}

// The registry, rendezvous and courier a CoordinatorChoice names, on top of
// `current`. Each must be an existing coordinator.
struct Coordinators {
  HostId registry, rendezvous, courier;
  friend bool operator==(const Coordinators&, const Coordinators&) = default;
};

HostId resolve_coordinator(Database& db, const std::string& ref, std::string_view option) {
  const HostId id = resolve_host(db, ref, option);
  if (host_role(db, id) != Role::kCoordinator) {
    throw AdminError(fmt::format("{}: host {} is a client; a client's {} must be a coordinator", option,
                                 host_label(db, id), option.substr(2)));
  }
  return id;
}

Coordinators apply_choice(Database& db, Coordinators c, const CoordinatorChoice& choice) {
  if (choice.coordinator) {
    const HostId id = resolve_coordinator(db, *choice.coordinator, "--coordinator");
    c = {id, id, id};
  }
  if (choice.registry) c.registry = resolve_coordinator(db, *choice.registry, "--registry");
  if (choice.rendezvous) c.rendezvous = resolve_coordinator(db, *choice.rendezvous, "--rendezvous");
  if (choice.courier) c.courier = resolve_coordinator(db, *choice.courier, "--courier");
  return c;
}

std::vector<HostId> distinct_coordinators(const Coordinators& c) {
  std::vector<HostId> out;
  for (HostId id : {c.registry, c.rendezvous, c.courier}) {
    if (id.value != 0 && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

void check_endpoints(const std::vector<Endpoint>& endpoints) {
  if (endpoints.size() > keys::kMaxEndpoints) {
    throw AdminError(
        fmt::format("--endpoint: {} endpoints; a host has at most {}", endpoints.size(), keys::kMaxEndpoints));
  }
  for (const Endpoint& e : endpoints) {
    if (e.port == 0)
      throw AdminError(fmt::format("--endpoint {}: port 0 is not a port; give the UDP port", e.to_string()));
  }
}

void write_endpoints(Database& db, HostId id, const std::vector<Endpoint>& endpoints) {
  db.cached("DELETE FROM endpoints WHERE host = ?1").bind(1, sql_id(id)).run();
  int64_t position = 0;
  for (const Endpoint& e : endpoints) {
    db.cached("INSERT INTO endpoints (host, position, endpoint) VALUES (?1, ?2, ?3)")
        .bind(1, sql_id(id))
        .bind(2, position++)
        .bind(3, e.to_string())
        .run();
  }
}

void check_name_free(Database& db, std::string_view name, std::optional<HostId> self) {
  Statement& st = db.cached("SELECT id FROM hosts WHERE name = ?1");
  st.bind(1, name);
  if (st.step() && (!self || host_from_sql(st.int64(0)) != *self)) {
    throw AdminError(fmt::format("--name: a host named '{}' already exists ({}); choose another name", name,
                                 host_from_sql(st.int64(0)).to_string()));
  }
}

HostId choose_id(Database& db, const NetworkSpec& net, const std::optional<HostId>& wanted) {
  if (!wanted) return HostId{(uint32_t{net.number} << 16) | next_host_number(db, net.number)};
  if (wanted->network() != net.number) {
    throw AdminError(fmt::format("--id {}: that ID is in network {}, but this is network {} (0x{:04x}HHHH)",
                                 wanted->to_string(), wanted->network(), net.number, net.number));
  }
  Statement& st = db.cached("SELECT name FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(*wanted));
  if (st.step()) {
    throw AdminError(fmt::format("--id {}: host ID already used by host '{}'; choose another ID or leave --id out",
                                 wanted->to_string(), st.text(0)));
  }
  Statement& retired = db.cached("SELECT name FROM compromised_hosts WHERE id = ?1");
  retired.bind(1, sql_id(*wanted));
  if (retired.step()) {
    throw AdminError(
        fmt::format("--id {}: that ID belonged to the compromised host '{}' and is never reused; "
                    "choose another ID",
                    wanted->to_string(), retired.text(0)));
  }
  return *wanted;
}

// Clients whose registry, rendezvous or courier is `host`.
std::vector<HostId> clients_of(Database& db, HostId host) {
  std::vector<HostId> out;
  Statement& st = db.cached(
      "SELECT id FROM hosts WHERE registry = ?1 UNION SELECT id FROM hosts WHERE rendezvous = ?1 "
      "UNION SELECT id FROM hosts WHERE courier = ?1");
  st.bind(1, sql_id(host));
  while (st.step()) out.push_back(host_from_sql(st.int64(0)));
  return out;
}

void refuse_if_serving(Database& db, HostId host, std::string_view action) {
  const std::vector<HostId> clients = clients_of(db, host);
  if (clients.empty()) return;
  throw AdminError(
      fmt::format("cannot {} {}: it is the coordinator of {} client(s), e.g. {}; give them another "
                  "coordinator first (`cordon admin host set CLIENT --coordinator OTHER`)",
                  action, host_label(db, host), clients.size(), host_label(db, clients.front())));
}

Coordinators load_coordinators(Database& db, HostId id) {
  Statement& st = db.cached("SELECT registry, rendezvous, courier FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(id));
  Coordinators c;
  if (st.step()) {
    if (!st.is_null(0)) c.registry = host_from_sql(st.int64(0));
    if (!st.is_null(1)) c.rendezvous = host_from_sql(st.int64(1));
    if (!st.is_null(2)) c.courier = host_from_sql(st.int64(2));
  }
  return c;
}

void store_coordinators(Database& db, HostId id, const Coordinators& c) {
  db.cached("UPDATE hosts SET registry = ?1, rendezvous = ?2, courier = ?3 WHERE id = ?4")
      .bind(1, optional_id(c.registry))
      .bind(2, optional_id(c.rendezvous))
      .bind(3, optional_id(c.courier))
      .bind(4, sql_id(id))
      .run();
}

std::string describe_spec(const HostSpec& spec) {
  std::string out = fmt::format("name={} role={}", spec.name, keys::role_name(spec.role));
  if (spec.id) out += " id=" + spec.id->to_string();
  if (spec.admin_host) out += " admin-host";
  for (const Endpoint& e : spec.endpoints) out += " endpoint=" + e.to_string();
  if (spec.coordinators.coordinator) out += " coordinator=" + *spec.coordinators.coordinator;
  if (spec.coordinators.registry) out += " registry=" + *spec.coordinators.registry;
  if (spec.coordinators.rendezvous) out += " rendezvous=" + *spec.coordinators.rendezvous;
  if (spec.coordinators.courier) out += " courier=" + *spec.coordinators.courier;
  for (const Prefix& p : spec.subnets) out += " subnet=" + p.to_string();
  for (const IpsecSubnet& s : spec.ipsec_subnets) out += " ipsec-subnet=" + s.to_string();
  return out;
}

std::string describe_change(const std::string& ref, const HostChange& c) {
  std::string out = "host=" + ref;
  if (c.name) out += " name=" + *c.name;
  if (c.role) out += fmt::format(" role={}", keys::role_name(*c.role));
  if (c.endpoints) {
    if (c.endpoints->empty()) out += " endpoints=none";
    for (const Endpoint& e : *c.endpoints) out += " endpoint=" + e.to_string();
  }
  if (c.clear_coordinators) out += " coordinators=none";
  if (c.coordinators.coordinator) out += " coordinator=" + *c.coordinators.coordinator;
  if (c.coordinators.registry) out += " registry=" + *c.coordinators.registry;
  if (c.coordinators.rendezvous) out += " rendezvous=" + *c.coordinators.rendezvous;
  if (c.coordinators.courier) out += " courier=" + *c.coordinators.courier;
  if (c.subnets) {
    if (c.subnets->empty()) out += " subnets=none";
    for (const Prefix& p : *c.subnets) out += " subnet=" + p.to_string();
  }
  if (c.ipsec_subnets) {
    if (c.ipsec_subnets->empty()) out += " ipsec-subnets=none";
    for (const IpsecSubnet& s : *c.ipsec_subnets) out += " ipsec-subnet=" + s.to_string();
  }
  return out;
}

}  // namespace

std::vector<Endpoint> load_endpoints(Database& db, HostId id) {
  return load_parsed<Endpoint>(db, "SELECT endpoint FROM endpoints WHERE host = ?1 ORDER BY position", id);
}

HostInfo load_host(Database& db, const NetworkSpec& net, HostId id) {
  Statement& st = db.cached(
      "SELECT id, name, role, tunnel_v4, tunnel_v6, registry, rendezvous, courier, keyset_version, exported, dirty, "
      "next_host_key IS NOT NULL, created_at FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(id));
  if (!st.step()) throw AdminError(fmt::format("no host {} in the network", id.to_string()));
  HostInfo h = read_host_row(st, net);
  st.reset();
  h.endpoints = load_endpoints(db, id);
  h.subnets = load_subnets(db, id);
  h.ipsec_subnets = load_ipsec_subnets(db, id);
  return h;
}

HostInfo Admin::add_host(const HostSpec& spec) {
  return run_command(db_, batch_, "host add", describe_spec(spec), [&] {
    check_name(spec.name, "--name: host name");
    check_name_free(db_, spec.name, std::nullopt);
    refuse_name_in_filter_rules(db_, spec.name);
    check_endpoints(spec.endpoints);
    check_routed_subnets(spec.subnets, spec.ipsec_subnets, spec.role);
    if (spec.role == Role::kCoordinator && spec.coordinators.any()) {
      throw AdminError(
          "--coordinator/--registry/--rendezvous/--courier: only a client has coordinators; leave them out for a "
          "coordinator");
    }
    const Coordinators coords = apply_choice(db_, Coordinators{}, spec.coordinators);
    const HostId id = choose_id(db_, network_, spec.id);
    check_routed_subnets_free(db_, network_, id, spec.subnets, spec.ipsec_subnets);
    const uint64_t v4 = allocate_offset(db_, "tunnel_v4", network_.ipv4, id.host());
    std::optional<int64_t> v6;
    if (network_.ipv6) v6 = static_cast<int64_t>(allocate_offset(db_, "tunnel_v6", *network_.ipv6, id.host()));
    const crypto::SecretBytes host_key = random_key();

    db_.cached(
           "INSERT INTO hosts (id, number, name, role, tunnel_v4, tunnel_v6, registry, rendezvous, courier, "
           "host_key, dirty, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
        .bind(1, sql_id(id))
        .bind(2, int64_t{id.host()})
        .bind(3, spec.name)
        .bind(4, static_cast<int64_t>(spec.role))
        .bind(5, static_cast<int64_t>(v4))
        .bind(6, v6)
        .bind(7, optional_id(coords.registry))
        .bind(8, optional_id(coords.rendezvous))
        .bind(9, optional_id(coords.courier))
        .bind_blob(10, host_key.view())
        .bind(11, static_cast<int64_t>(DirtyKind::kKeys))
        .bind(12, now_seconds())
        .run();
    if (!spec.endpoints.empty()) write_endpoints(db_, id, spec.endpoints);
    if (!spec.subnets.empty()) write_subnets(db_, id, spec.subnets);
    if (!spec.ipsec_subnets.empty()) write_ipsec_subnets(db_, id, spec.ipsec_subnets);
    // A client is always linked to its coordinators (docs/administration.md,
    // "Concepts"; `link remove` refuses to drop that link).
    LinkChange change;
    for (HostId c : distinct_coordinators(coords)) ensure_link(db_, id, c, false, change);
    const std::optional<AdminRoute> route = load_admin_route(db_);
    if (spec.admin_host) {
      check_admin_host_candidate(db_, id, "--admin-host");
      db_.cached("UPDATE network SET admin_host = ?1 WHERE id = 1").bind(1, sql_id(id)).run();
      sync_admin_route(db_, route, change);
    } else if (route && spec.role == Role::kCoordinator) {
      // A new coordinator is linked with the administration courier (the
      // whole reconciliation is not needed: no link loses a reason).
      ensure_link(db_, route->courier, id, false, change);
    }
    return load_host(db_, network_, id);
  });
}

HostInfo Admin::set_host(const std::string& ref, const HostChange& change) {
  return run_command(db_, batch_, "host set", describe_change(ref, change), [&] {
    const HostId id = resolve_host(db_, ref);
    const HostInfo before = load_host(db_, network_, id);
    const std::optional<AdminRoute> route_before = load_admin_route(db_);
    DirtyKind self_kind = DirtyKind::kNone;   // this host's own update
    DirtyKind peers_kind = DirtyKind::kNone;  // its peers' (their address books list it)
    auto touch = [](DirtyKind& k, DirtyKind v) { k = std::max(k, v); };

    if (change.name && *change.name != before.name) {
      check_name(*change.name, "--name: host name");
      check_name_free(db_, *change.name, id);
      refuse_name_in_filter_rules(db_, *change.name);
      rename_in_filter_rules(db_, before.name, *change.name);
      db_.cached("UPDATE hosts SET name = ?1 WHERE id = ?2").bind(1, *change.name).bind(2, sql_id(id)).run();
      touch(self_kind, DirtyKind::kAddressBook);
      touch(peers_kind, DirtyKind::kAddressBook);
    }

    const Role role = change.role.value_or(before.role);
    if (role != before.role) {
      // Roles changed: an address-book update only (dirty.hpp).
      if (role == Role::kClient) refuse_if_serving(db_, id, "make a client of");
      db_.cached("UPDATE hosts SET role = ?1 WHERE id = ?2")
          .bind(1, static_cast<int64_t>(role))
          .bind(2, sql_id(id))
          .run();
      touch(self_kind, DirtyKind::kAddressBook);
      touch(peers_kind, DirtyKind::kAddressBook);
    }

    if (change.endpoints) {
      check_endpoints(*change.endpoints);
      if (*change.endpoints != before.endpoints) {
        write_endpoints(db_, id, *change.endpoints);
        touch(self_kind, DirtyKind::kAddressBook);
        touch(peers_kind, DirtyKind::kAddressBook);
      }
    }

    // Tunneled and IPsec subnets travel together (subnets.cpp); an IPsec
    // subnet's peer name stays in the database, so renaming it alone
    // sends no update.
    const std::vector<Prefix> subnets = change.subnets.value_or(before.subnets);
    const std::vector<IpsecSubnet> ipsec = change.ipsec_subnets.value_or(before.ipsec_subnets);
    check_routed_subnets(subnets, ipsec, role);
    if (subnets != before.subnets || ipsec != before.ipsec_subnets) {
      check_routed_subnets_free(db_, network_, id, subnets, ipsec);
      if (subnets != before.subnets) write_subnets(db_, id, subnets);
      if (ipsec != before.ipsec_subnets) write_ipsec_subnets(db_, id, ipsec);
    }
    if (routed_prefixes(subnets, ipsec) != routed_prefixes(before.subnets, before.ipsec_subnets)) {
      touch(self_kind, DirtyKind::kAddressBook);
      touch(peers_kind, DirtyKind::kAddressBook);
    }

    // Coordinators: a coordinator has none; a client keeps its own unless
    // told otherwise.
    const Coordinators old_coords{before.registry, before.rendezvous, before.courier};
    Coordinators coords = old_coords;
    if (role == Role::kCoordinator) {
      if (change.coordinators.any()) {
        throw AdminError(
            "--coordinator/--registry/--rendezvous/--courier: only a client has coordinators; this host is a "
            "coordinator");
      }
      coords = {};
    } else {
      if (change.clear_coordinators) coords = {};
      coords = apply_choice(db_, coords, change.coordinators);
      for (HostId c : distinct_coordinators(coords)) {
        if (c == id) throw AdminError("--coordinator: a host cannot be its own coordinator");
      }
    }
    LinkChange links;
    if (!(coords == old_coords)) {
      store_coordinators(db_, id, coords);
      // A client's courier changed: new keys; its registry or rendezvous
      // are connection parameters: address book only (dirty.hpp).
      touch(self_kind, coords.courier != old_coords.courier ? DirtyKind::kKeys : DirtyKind::kAddressBook);
      touch(peers_kind, DirtyKind::kAddressBook);
      if (coords.registry != old_coords.registry) {
        // The old registry no longer lists this client's served links and
        // the new one does (docs/protocol.md, "Served links"; dirty.hpp).
        mark_dirty(db_, old_coords.registry, DirtyKind::kAddressBook);
        mark_dirty(db_, coords.registry, DirtyKind::kAddressBook);
      }
      for (HostId c : distinct_coordinators(coords)) ensure_link(db_, id, c, false, links);
      for (HostId c : distinct_coordinators(old_coords)) reconcile_link(db_, id, c, links);
    }

    // The administration host needs a courier when it is a client; a role
    // or courier change may move the administration courier, and a role
    // change adds or drops a coordinator to link it with.
    if (role != before.role || coords.courier != old_coords.courier) {
      if (load_admin_host(db_) == id) check_admin_host_candidate(db_, id, "host set");
      sync_admin_route(db_, route_before, links);
    }

    mark_dirty(db_, id, self_kind);
    mark_peers_dirty(db_, id, peers_kind);
    return load_host(db_, network_, id);
  });
}

void Admin::remove_host(const std::string& ref) {
  run_command(db_, batch_, "host remove", "host=" + ref, [&] {
    const HostId id = resolve_host(db_, ref);
    refuse_if_serving(db_, id, "remove");
    if (load_admin_host(db_) == id) {
      throw AdminError(fmt::format(
          "cannot remove {}: it is the administration host; designate another first (`cordon admin network set "
          "--admin-host HOST`, or `none`)",
          host_label(db_, id)));
    }
    // Peers lose the link and its key: a removed host is a keys change
    // for them (dirty.hpp).
    mark_peers_dirty(db_, id, DirtyKind::kKeys);
    // Its registry drops it from its served clients, and the registries of
    // its peers drop it from their served links (dirty.hpp). The links go
    // by ON DELETE CASCADE, not through reconcile_link, so mark them here.
    mark_peer_registries_dirty(db_, id, DirtyKind::kAddressBook);
    forget_in_filter_rules(db_, {load_host(db_, network_, id).name, id.to_string()});
    db_.cached("DELETE FROM hosts WHERE id = ?1").bind(1, sql_id(id)).run();
  });
}

std::vector<HostId> Admin::compromise_host(const std::string& ref) {
  return run_command(db_, batch_, "host compromise", "host=" + ref, [&] {
    // Every host this dirties gets its package ahead of routine ones.
    const UrgentMarks urgent(db_);
    const HostId id = resolve_host(db_, ref);
    const std::vector<HostId> peers = linked_hosts(db_, id);
    const std::optional<AdminRoute> route_before = load_admin_route(db_);
    // Before its registry column and links change: the served links of its
    // registry and of its peers' registries lose it (dirty.hpp).
    mark_peer_registries_dirty(db_, id, DirtyKind::kAddressBook);
    // Clients it served lose that coordinator (their courier changes: keys).
    for (HostId client : clients_of(db_, id)) {
      Coordinators c = load_coordinators(db_, client);
      for (HostId* slot : {&c.registry, &c.rendezvous, &c.courier}) {
        if (*slot == id) *slot = HostId{};
      }
      store_coordinators(db_, client, c);
      mark_dirty(db_, client, DirtyKind::kKeys);
    }
    // Every peer's next package drops the link and its key; the host's own
    // keys die with it, and its ID is retired so that nothing encrypted for
    // the old host can ever be read as the new one's.
    mark_peers_dirty(db_, id, DirtyKind::kKeys);
    Statement& name = db_.cached("SELECT name FROM hosts WHERE id = ?1");
    name.bind(1, sql_id(id));
    name.step();
    const std::string host_name = name.text(0);
    name.reset();
    forget_in_filter_rules(db_, {host_name, id.to_string()});
    db_.cached("INSERT INTO compromised_hosts (id, name, time) VALUES (?1, ?2, ?3)")
        .bind(1, sql_id(id))
        .bind(2, host_name)
        .bind(3, now_seconds())
        .run();
    db_.cached("DELETE FROM hosts WHERE id = ?1").bind(1, sql_id(id)).run();
    // Every coordinator's key set lists the revoked hosts (core/keys/keyset.hpp,
    // section 4), which it then refuses outright. The administration host
    // (network.admin_host: SET NULL) or courier may have gone with it.
    mark_coordinators_dirty(db_, DirtyKind::kAddressBook);
    LinkChange links;
    sync_admin_route(db_, route_before, links);
    return peers;
  });
}

std::vector<HostInfo> Admin::list_hosts() {
  return run_query(db_, batch_, [&] {
    std::vector<HostInfo> hosts;
    Statement st = db_.prepare(fmt::format("SELECT {} FROM hosts ORDER BY id", kHostColumns));
    while (st.step()) hosts.push_back(read_host_row(st, network_));
    // Endpoints and subnets in one pass each, merged by host ID (both sorted).
    auto merge = [&](const char* sql, auto add) {
      Statement q = db_.prepare(sql);
      size_t i = 0;
      while (q.step()) {
        const HostId host = host_from_sql(q.int64(0));
        while (i < hosts.size() && hosts[i].id < host) ++i;
        if (i < hosts.size() && hosts[i].id == host) add(hosts[i], q.text(1));
      }
    };
    merge("SELECT host, endpoint FROM endpoints ORDER BY host, position", [](HostInfo& h, const std::string& t) {
      if (auto e = Endpoint::parse(t)) h.endpoints.push_back(*e);
    });
    merge("SELECT host, prefix FROM subnets ORDER BY host, position", [](HostInfo& h, const std::string& t) {
      if (auto p = Prefix::parse(t)) h.subnets.push_back(*p);
    });
    merge("SELECT host, prefix || COALESCE('=' || peer, '') FROM ipsec_subnets ORDER BY host, position",
          [](HostInfo& h, const std::string& t) {
            if (auto s = IpsecSubnet::parse(t)) h.ipsec_subnets.push_back(*s);
          });
    return hosts;
  });
}

HostInfo Admin::show_host(const std::string& ref) {
  return run_query(db_, batch_, [&] {
    const HostId id = resolve_host(db_, ref);
    HostInfo h = load_host(db_, network_, id);
    Statement users = db_.prepare("SELECT name FROM users WHERE host = ?1 ORDER BY name");
    users.bind(1, sql_id(id));
    while (users.step()) h.users.push_back(users.text(0));
    Statement groups = db_.prepare(
        "SELECT g.name FROM group_members m JOIN host_groups g ON g.id = m.group_id WHERE m.host = ?1 "
        "ORDER BY g.name");
    groups.bind(1, sql_id(id));
    while (groups.step()) h.groups.push_back(groups.text(0));
    h.peers = linked_hosts(db_, id);
    return h;
  });
}

}  // namespace cordon::admin
