// `cordon admin console` and `cordon admin console-user` (docs/console.md):
//
//   admin console --listen ADDR:PORT [--cert FILE --key FILE] [-i IFACE | -s SOCKET]
//   admin console-user add NAME [--password-file F] ; console-user remove NAME ; console-user list
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace cordon::cli {

// `db` is the --db option's value, read when a command runs.
void add_console_commands(CLI::App* admin_app, const std::string& db);
// The console command that was given, run; nullopt when none was.
std::optional<int> dispatch_console_commands();

}  // namespace cordon::cli
