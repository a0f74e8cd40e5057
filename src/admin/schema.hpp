// The network database schema and its migrations. PRAGMA user_version holds
// the schema version; migration N takes a database from version N-1 to N.
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

// The schema version this program writes and understands.
int64_t latest_schema_version();

}  // namespace cordon::admin
