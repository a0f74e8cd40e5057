// SQLite's SQL, as the admin code writes it, in PostgreSQL's dialect: the
// one place where the two differ (docs/design.md, decision 17).
#pragma once

#include <string>
#include <string_view>

namespace cordon::admin::detail {

// A query or command: parameters ?N (and bare ?) become $N, and
// `x IS ?N` / `x IS NOT ?N` (SQLite's null-safe comparisons) become
// IS NOT DISTINCT FROM / IS DISTINCT FROM; the scalar MAX(a, b) and
// MIN(a, b) become GREATEST and LEAST. Quoted text is left alone.
std::string postgres_query(std::string_view sql);

// A migration of schema.cpp: INTEGER becomes BIGINT (host IDs use all 32
// bits), an INTEGER PRIMARY KEY (SQLite's rowid alias, AUTOINCREMENT or
// not) an identity column, BLOB bytea; WITHOUT ROWID goes.
std::string postgres_schema(std::string_view sql);

}  // namespace cordon::admin::detail
