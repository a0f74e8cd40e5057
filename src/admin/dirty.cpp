// Dirty marks (dirty.hpp).
//
// Every mark is "SET dirty = kind WHERE dirty < kind": the stronger mark
// wins, as MAX() would, and a host already marked at least as strongly is
// not written at all. Building a large network marks each end of every new
// link four times; rewriting rows that do not change was most of its cost.
// Inside an UrgentMarks scope the same statements also raise
// hosts.urgent; outside it (?3 = 0) the urgent clause never matches.
#include "admin/dirty.hpp"

#include "admin/database.hpp"

namespace cordon::admin {
namespace {

int64_t urgent(const Database& db) { return db.urgent_marks() ? 1 : 0; }

}  // namespace

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
  db.cached(
        "UPDATE hosts SET dirty = MAX(dirty, ?1), urgent = MAX(urgent, ?3) WHERE id = ?2 AND "
        "(dirty < ?1 OR urgent < ?3)")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(host.value))
      .bind(3, urgent(db))
      .run();
}

void mark_peers_dirty(Database& db, HostId host, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = MAX(dirty, ?1), urgent = MAX(urgent, ?3) WHERE (dirty < ?1 OR urgent < ?3) "
        "AND id IN (SELECT b FROM links WHERE a = ?2 UNION SELECT a FROM links WHERE b = ?2)")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(host.value))
      .bind(3, urgent(db))
      .run();
}

void mark_registry_dirty(Database& db, HostId client, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = MAX(dirty, ?1), urgent = MAX(urgent, ?3) WHERE (dirty < ?1 OR urgent < ?3) "
        "AND id = (SELECT registry FROM hosts WHERE id = ?2)")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(client.value))
      .bind(3, urgent(db))
      .run();
}

void mark_peer_registries_dirty(Database& db, HostId host, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = MAX(dirty, ?1), urgent = MAX(urgent, ?3) WHERE (dirty < ?1 OR urgent < ?3) "
        "AND id IN (SELECT registry FROM hosts WHERE id = ?2 OR id IN "
        "(SELECT b FROM links WHERE a = ?2 UNION SELECT a FROM links WHERE b = ?2))")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, static_cast<int64_t>(host.value))
      .bind(3, urgent(db))
      .run();
}

void mark_all_dirty(Database& db, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached("UPDATE hosts SET dirty = MAX(dirty, ?1), urgent = MAX(urgent, ?2) WHERE dirty < ?1 OR urgent < ?2")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, urgent(db))
      .run();
}

void mark_coordinators_dirty(Database& db, DirtyKind kind) {
  if (kind == DirtyKind::kNone) return;
  db.cached(
        "UPDATE hosts SET dirty = MAX(dirty, ?1), urgent = MAX(urgent, ?2) WHERE role = 2 AND "
        "(dirty < ?1 OR urgent < ?2)")
      .bind(1, static_cast<int64_t>(kind))
      .bind(2, urgent(db))
      .run();
}

UrgentMarks::UrgentMarks(Database& db) : db_(db), previous_(db.urgent_marks()) { db_.set_urgent_marks(true); }
UrgentMarks::~UrgentMarks() { db_.set_urgent_marks(previous_); }

}  // namespace cordon::admin
