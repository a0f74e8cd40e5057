// Copying a network database between backends: `network migrate` (SQLite
// into PostgreSQL), and the backups of a PostgreSQL database, whose image
// is an SQLite database (docs/administration.md, "PostgreSQL").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cordon::admin {

class Database;

// Rows copied, per table, in schema_tables() order.
using CopiedRows = std::vector<std::pair<std::string, int64_t>>;

// Copies every row of every table of `from` into the empty tables of `to`
// (both at the latest schema version), ids and all, inside transactions
// the caller holds on both. Host references to hosts are filled in once
// every host row is in (a host may name a coordinator added after it).
CopiedRows copy_tables(Database& from, Database& to);

// Into a database opened with Mode::kCreateEmpty, in one transaction: the
// schema, every row of `from`, and an audit row (operation, arguments).
// Nothing is left in `to` if anything fails.
CopiedRows copy_network(Database& from, Database& to, std::string_view operation, const std::string& arguments);

}  // namespace cordon::admin
