// Dirty marks (dirty.hpp).
//
// Every mark is "SET dirty = kind WHERE dirty < kind": the stronger mark
// wins, as MAX() would, and a host already marked at least as strongly is
// not written at all. Building a large network marks each end of every new
// link four times; rewriting rows that do not change was most of its cost.
#include "admin/dirty.hpp"

#include "admin/database.hpp"

namespace cordon::admin {

std::string_view dirty_kind_name(DirtyKind kind) {
  switch (kind) {
    case DirtyKind::kNone:
      return "none";
    case DirtyKind::kAddressBook:
      return "address-book";
    case DirtyKind::kKeys:
      return "keys";
  }
  return "none";
}

keys::UpdateKind update_kind(DirtyKind kind) {
  return kind == DirtyKind::kKeys ? keys::UpdateKind::kKeys : keys::UpdateKind::kAddressBook;
}

void mark_dirty(Database& db, HostId host, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached("UPDATE hosts SET dirty = ?1 WHERE id = ?2 AND dirty < ?1")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(host.value))
      .run();
}

void mark_peers_dirty(Database& db, HostId host, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = ?1 WHERE dirty < ?1 AND id IN "
        "(SELECT b FROM links WHERE a = ?2 UNION SELECT a FROM links WHERE b = ?2)")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(host.value))
      .run();
}

void mark_registry_dirty(Database& db, HostId client, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = ?1 WHERE dirty < ?1 AND id = "
        "(SELECT registry FROM hosts WHERE id = ?2)")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(client.value))
      .run();
}

void mark_peer_registries_dirty(Database& db, HostId host, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = ?1 WHERE dirty < ?1 AND id IN "
        "(SELECT registry FROM hosts WHERE id = ?2 OR id IN "
        "(SELECT b FROM links WHERE a = ?2 UNION SELECT a FROM links WHERE b = ?2))")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(host.value))
      .run();
}

void mark_all_dirty(Database& db, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached("UPDATE hosts SET dirty = ?1 WHERE dirty < ?1").bind(1, static_cast<int64_t>(kind)).run();
}

}  // namespace cordon::admin
