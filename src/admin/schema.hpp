// The network database schema and its migrations. The schema version is
// SQLite's PRAGMA user_version, or the one row of table cordon_schema in
// PostgreSQL; migration N takes a database from version N-1 to N.
// A migration is only ever appended, never edited once released.
#pragma once

#include <cstdint>
#include <span>

namespace cordon::admin {

struct Migration {
  int64_t version;
  const char* sql;
};

// In order: migrations()[i].version == i + 1.
std::span<const Migration> migrations();

// Every table of the latest schema, each after the tables it refers to
// (but hosts refer to hosts: registry, rendezvous, courier).
std::span<const char* const> schema_tables();

// The schema version this program writes and understands.
int64_t latest_schema_version();

}  // namespace cordon::admin
