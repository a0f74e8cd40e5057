// `network migrate --to postgresql://...` (admin.hpp; docs/administration.md,
// "PostgreSQL").
#include <fmt/format.h>

#include "admin/admin.hpp"
#include "admin/audit.hpp"
#include "admin/copy.hpp"
#include "admin/internal.hpp"

namespace cordon::admin {

MigrationResult Admin::migrate_to(const std::string& uri) {
  if (!is_postgres_uri(uri)) {
    throw AdminError(fmt::format(
        "--to {}: not a PostgreSQL URI; `network migrate` copies the network into PostgreSQL "
        "(postgresql://[USER@]HOST[:PORT]/DATABASE)",
        uri));
  }
  if (db_.backend() != Backend::kSqlite) {
    throw AdminError(fmt::format("network database {} is already in PostgreSQL; `network migrate` copies an "
                                 "SQLite database (pass its file with --db)",
                                 db_.path()));
  }
  if (batch_ != nullptr) throw AdminError("`network migrate` cannot run inside a batch; commit the batch first");
  // The write lock on the SQLite file for the whole copy: no command
  // changes the network between the copy and its audit row.
  Transaction source(db_, Transaction::Kind::kWrite);
  Database target = Database::open(uri, Database::Mode::kCreateEmpty);
  MigrationResult result;
  result.target = target.path();
  result.rows = copy_network(db_, target, "network migrate", "from=" + db_.path() + " to=" + target.path());
  record_audit(db_, "network migrate", "to=" + target.path(), "ok");
  source.commit();
  return result;
}

}  // namespace cordon::admin
