// Loading the network for export (snapshot.hpp).
#include "admin/snapshot.hpp"

#include <algorithm>
#include <set>

#include "admin/addressing.hpp"
#include "admin/internal.hpp"

namespace cordon::admin {
namespace {

constexpr const char* kEntryColumns = "id, name, role, tunnel_v4, tunnel_v6, registry, rendezvous, courier";

keys::AddressBookEntry read_entry(const Statement& st, const NetworkSpec& net) {
  keys::AddressBookEntry e;
  e.id = host_from_sql(st.int64(0));
  e.name = st.text(1);
  e.role = static_cast<Role>(st.int64(2));
  if (!st.is_null(3)) e.tunnel_v4 = address_at(net.ipv4, static_cast<uint64_t>(st.int64(3)));
  if (!st.is_null(4) && net.ipv6) e.tunnel_v6 = address_at(*net.ipv6, static_cast<uint64_t>(st.int64(4)));
  if (!st.is_null(5)) e.registry = host_from_sql(st.int64(5));
  if (!st.is_null(6)) e.rendezvous = host_from_sql(st.int64(6));
  if (!st.is_null(7)) e.courier = host_from_sql(st.int64(7));
  return e;
}

}  // namespace

void Snapshot::add_link(HostId a, HostId b, std::span<const std::byte> key, bool a_subject, bool b_subject) {
  const auto index = static_cast<uint32_t>(keys_.size());
  keys_.emplace_back(key);
  if (a_subject) links_[a.value].push_back(Link{b, index});
  if (b_subject) links_[b.value].push_back(Link{a, index});
}

Snapshot Snapshot::load_all(Database& db, const NetworkSpec& net) {
  Snapshot s;
  {
    Statement st = db.prepare(fmt::format("SELECT {} FROM hosts", kEntryColumns));
    while (st.step()) {
      keys::AddressBookEntry e = read_entry(st, net);
      const uint32_t id = e.id.value;
      s.entries_.emplace(id, std::move(e));
    }
  }
  {
    Statement st = db.prepare("SELECT host, endpoint FROM endpoints ORDER BY host, position");
    while (st.step()) {
      auto it = s.entries_.find(host_from_sql(st.int64(0)).value);
      if (it == s.entries_.end()) continue;
      if (auto e = Endpoint::parse(st.text(1))) it->second.endpoints.push_back(*e);
    }
  }
  // Tunneled subnets, then IPsec subnets, as load_routed_subnets lists them.
  for (const char* sql : {"SELECT host, prefix FROM subnets ORDER BY host, position",
                          "SELECT host, prefix FROM ipsec_subnets ORDER BY host, position"}) {
    Statement st = db.prepare(sql);
    while (st.step()) {
      auto it = s.entries_.find(host_from_sql(st.int64(0)).value);
      if (it == s.entries_.end()) continue;
      if (auto p = Prefix::parse(st.text(1))) it->second.subnets.push_back(*p);
    }
  }
  {
    Statement count = db.prepare("SELECT COUNT(*) FROM links");
    count.step();
    s.keys_.reserve(static_cast<size_t>(count.int64(0)));
    Statement st = db.prepare("SELECT a, b, key FROM links");
    while (st.step()) s.add_link(host_from_sql(st.int64(0)), host_from_sql(st.int64(1)), st.blob(2), true, true);
  }
  // Every host is a subject: each client goes to its registry's list.
  for (const auto& [id, e] : s.entries_) {
    if (e.registry.value == 0) continue;
    keys::ServedClient served{e.id, {}};
    if (const auto it = s.links_.find(id); it != s.links_.end()) {
      for (const Link& l : it->second) served.peers.push_back(l.peer);
    }
    std::sort(served.peers.begin(), served.peers.end());
    s.served_[e.registry.value].push_back(std::move(served));
  }
  s.load_settings(db);
  for (auto& [coordinator, clients] : s.served_) {
    std::sort(clients.begin(), clients.end(),
              [](const keys::ServedClient& x, const keys::ServedClient& y) { return x.client < y.client; });
  }
  return s;
}

Snapshot Snapshot::load_for(Database& db, const NetworkSpec& net, const std::vector<HostId>& hosts) {
  Snapshot s;
  const std::set<HostId> subjects(hosts.begin(), hosts.end());
  std::set<HostId> needed = subjects;
  // Each link once, even when both ends are subjects.
  std::set<std::pair<HostId, HostId>> seen;
  for (HostId h : subjects) {
    Statement& st =
        db.cached("SELECT a, b, key FROM links WHERE a = ?1 UNION ALL SELECT a, b, key FROM links WHERE b = ?1");
    st.bind(1, sql_id(h));
    while (st.step()) {
      const HostId a = host_from_sql(st.int64(0));
      const HostId b = host_from_sql(st.int64(1));
      if (!seen.emplace(a, b).second) continue;
      s.add_link(a, b, st.blob(2), subjects.count(a) > 0, subjects.count(b) > 0);
      needed.insert(a);
      needed.insert(b);
    }
  }
  for (HostId h : needed) {
    Statement& st = db.cached(
        "SELECT id, name, role, tunnel_v4, tunnel_v6, registry, rendezvous, courier FROM hosts "
        "WHERE id = ?1");
    st.bind(1, sql_id(h));
    if (!st.step()) continue;
    keys::AddressBookEntry e = read_entry(st, net);
    st.reset();
    e.endpoints = load_endpoints(db, h);
    e.subnets = load_routed_subnets(db, h);
    s.entries_.emplace(h.value, std::move(e));
  }
  for (HostId h : subjects) s.load_served(db, h);
  s.load_settings(db);
  return s;
}

void Snapshot::load_settings(Database& db) {
  rules_ = load_filter_rules(db);
  reach_ = load_reach(db);
  rekey_period_ = load_rekey_period(db);
  if (const std::optional<AdminRoute> route = load_admin_route(db)) {
    admin_host_ = route->host;
    admin_courier_ = route->courier;
  }
  Statement st = db.prepare("SELECT id FROM compromised_hosts ORDER BY id");
  while (st.step()) revoked_.push_back(host_from_sql(st.int64(0)));
}

void Snapshot::load_served(Database& db, HostId coordinator) {
  std::vector<keys::ServedClient> clients;
  Statement& st = db.cached("SELECT id FROM hosts WHERE registry = ?1 ORDER BY id");
  st.bind(1, sql_id(coordinator));
  while (st.step()) clients.push_back(keys::ServedClient{host_from_sql(st.int64(0)), {}});
  st.reset();
  if (clients.empty()) return;
  // linked_hosts() returns them sorted by ID.
  for (keys::ServedClient& c : clients) c.peers = linked_hosts(db, c.client);
  served_[coordinator.value] = std::move(clients);
}

// docs/gateways.md, "Reach": the subject's copy of a limited gateway's
// entry lists only what it reaches; a gateway's body lists each peer it
// limits. `book.entries.back()` is the peer just added.
void Snapshot::apply_reach(keys::KeySetBody& body, HostId subject, const std::vector<Prefix>& own_subnets) const {
  if (reach_.empty()) return;
  keys::AddressBookEntry& peer = body.book.entries.back();
  if (!peer.subnets.empty()) {
    if (auto limit = reach_of(reach_, subject, peer.id, peer.subnets)) peer.subnets = std::move(*limit);
  }
  if (!own_subnets.empty()) {
    if (auto limit = reach_of(reach_, peer.id, subject, own_subnets)) {
      body.reach.push_back(keys::ReachLimit{peer.id, std::move(*limit)});
    }
  }
}

size_t Snapshot::peer_count(HostId host) const {
  const auto it = links_.find(host.value);
  return it == links_.end() ? 0 : it->second.size();
}

keys::KeySetBody Snapshot::body_for(HostId host) const {
  keys::KeySetBody body;
  const auto self = entries_.find(host.value);
  if (self == entries_.end()) throw AdminError(fmt::format("no host {} in the network", host.to_string()));
  std::vector<Link> links;
  if (const auto it = links_.find(host.value); it != links_.end()) links = it->second;
  std::sort(links.begin(), links.end(), [](const Link& x, const Link& y) { return x.peer < y.peer; });
  body.book.entries.reserve(links.size() + 1);
  body.book.entries.push_back(self->second);
  body.links.reserve(links.size());
  for (const Link& l : links) {
    const auto peer = entries_.find(l.peer.value);
    if (peer == entries_.end()) continue;
    body.book.entries.push_back(peer->second);
    body.links.push_back(keys::LinkKeyEntry{l.peer, keys_[l.key]});
    apply_reach(body, host, self->second.subnets);
  }
  // Only a coordinator serves clients; a registry column never names a
  // client (hosts.cpp), so this only guards the key-set rule (keyset.hpp).
  if (const auto it = served_.find(host.value); it != served_.end() && self->second.role == Role::kCoordinator) {
    body.served = it->second;
  }
  body.rules = filter_rules_for(rules_, host);
  if (rekey_period_ != keys::kDefaultRekeyPeriod) body.rekey_period = static_cast<uint32_t>(rekey_period_);
  body.admin_host = admin_host_;
  body.admin_courier = admin_courier_;
  // A coordinator refuses revoked hosts outright (registry, relay, TCP
  // tunnel); a client never hears of them, since no address book lists them.
  if (self->second.role == Role::kCoordinator) body.revoked = revoked_;
  return body;
}

}  // namespace cordon::admin
