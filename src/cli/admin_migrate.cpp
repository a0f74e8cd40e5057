// `cordon admin network migrate` (admin_migrate.hpp).
#include "cli/admin_migrate.hpp"

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "admin/admin.hpp"
#include "cli/commands.hpp"

namespace cordon::cli {
namespace {

void print_migration(const admin::MigrationResult& r, const std::string& from, bool json) {
  int64_t total = 0;
  for (const auto& [table, rows] : r.rows) total += rows;
  if (json) {
    nlohmann::json tables = nlohmann::json::object();
    for (const auto& [table, rows] : r.rows) tables[table] = rows;
    fmt::print("{}\n", nlohmann::json{{"from", from}, {"to", r.target}, {"rows", total}, {"tables", tables}}.dump(2));
    return;
  }
  fmt::print("copied the network from {} into {} ({} rows in {} tables, the audit log included)\n", from, r.target,
             total, r.rows.size());
  fmt::print("from now on pass --db {} (the file stays as it was: keep it as a backup or remove it)\n", r.target);
}

}  // namespace

std::function<int()> add_network_migrate(CLI::App* command, const std::string& db, const bool& json) {
  auto to = std::make_shared<std::string>();
  command->add_option("--to", *to, "The empty PostgreSQL database: postgresql://[USER@]HOST[:PORT]/DATABASE")
      ->required();
  return [to, &db, &json] {
    try {
      admin::Admin a = admin::Admin::open(db);
      print_migration(a.migrate_to(*to), db, json);
      return kExitOk;
    } catch (const admin::AdminError& e) {
      fmt::print(stderr, "cordon admin network migrate: {}\n", e.what());
    } catch (const std::exception& e) {
      fmt::print(stderr, "cordon admin network migrate: unexpected error: {}; nothing was changed\n", e.what());
    }
    return kExitError;
  };
}

}  // namespace cordon::cli
