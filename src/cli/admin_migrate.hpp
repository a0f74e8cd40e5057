// `cordon admin network migrate --to postgresql://...` (docs/administration.md,
// "PostgreSQL"): its options and its run, wired by admin_commands.cpp.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace cordon::cli {

// Adds --to to `command`; the returned function runs the migration of the
// database `db` (the --db value) and prints it (JSON with `json`).
std::function<int()> add_network_migrate(CLI::App* command, const std::string& db, const bool& json);

}  // namespace cordon::cli
