// Dirty tracking: which hosts need an update package, and of what kind.
//
// Following the ViPNet technology description ("Updating Keys and Host
// Links"), changes come in two kinds (docs/administration.md, "Updates,
// and their two kinds"):
//  - new keys ("keys"): hosts or users added or deleted, links edited,
//    users added to or removed from hosts or groups, a client's transport
//    server (Cordon: courier) changed; Cordon adds key rotation and a
//    rotated host key;
//  - host links only ("address book"): roles, host addresses, connection
//    parameters (Cordon: endpoints, tunnel addresses, registry/rendezvous,
//    tunneled subnets, names); Cordon adds filter rules (a rule for the
//    host or its groups added or removed, a group a rule names changed)
//    and IPsec subnets (docs/ipsec.md), but not an IPsec subnet's peer
//    name, which no key set carries.
// Every change marks the affected hosts in the same transaction as the
// change itself; a host marked both ways is "keys" (the stronger mark wins).
//
// Served links (docs/protocol.md, "Served links"): a coordinator's key set
// lists the clients it serves as registry and the hosts each is linked
// with. A link of such a client added or removed, a client's registry
// changed (old and new registry), or a served client removed changes what
// the coordinator knows, not its own keys: the coordinator gets an
// "address book" mark, like the other changes that touch only what a host
// knows of others (its own links, and so its keys, are unchanged). When the
// coordinator is an end of the changed link itself, the link's own "keys"
// mark wins.
// Urgent marks (docs/couriers.md, item flag "urgent"): a revocation (a
// host compromised; a link, a group membership or a user removed; a user
// key rotated) marks every host it dirties urgent too, so that couriers
// forward its package ahead of routine items. The command opens an
// UrgentMarks scope around its work; every mark made inside sets
// hosts.urgent as well.
// `updates build` turns each mark into one package and clears it.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/keys/update_package.hpp"
#include "core/types.hpp"

namespace cordon::admin {

class Database;

// Values are stored in hosts.dirty; ordered so that MAX() merges marks.
enum class DirtyKind : uint8_t { kNone = 0, kAddressBook = 1, kKeys = 2 };

std::string_view dirty_kind_name(DirtyKind kind);  // "none", "address-book", "keys"
// The package kind a mark turns into. Precondition: kind != kNone.
keys::UpdateKind update_kind(DirtyKind kind);

// Marks one host (no-op for an unknown ID).
void mark_dirty(Database& db, HostId host, DirtyKind kind);
// Marks every host linked with `host` (their address books list it).
void mark_peers_dirty(Database& db, HostId host, DirtyKind kind);
// Marks the registry of `client`, if it has one: its served links change
// (a link of the client added or removed).
void mark_registry_dirty(Database& db, HostId client, DirtyKind kind);
// Marks the registries of `host` and of every host linked with it: call
// before `host` and its links are deleted, which changes the served links
// of each of those clients.
void mark_peer_registries_dirty(Database& db, HostId host, DirtyKind kind);
// Marks every host of the network (key rotation of everything).
void mark_all_dirty(Database& db, DirtyKind kind);
// Marks every coordinator (a network setting only coordinators carry: the
// revoked hosts).
void mark_coordinators_dirty(Database& db, DirtyKind kind);

// While one is alive, every mark above also marks its host urgent.
class UrgentMarks {
 public:
  explicit UrgentMarks(Database& db);
  ~UrgentMarks();
  UrgentMarks(const UrgentMarks&) = delete;
  UrgentMarks& operator=(const UrgentMarks&) = delete;

 private:
  Database& db_;
  bool previous_;
};

}  // namespace cordon::admin
