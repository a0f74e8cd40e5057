// The host side of network administration (docs/administration.md):
//
//   cordon keyset install FILE [--password-file F] [--state-dir D]
//   cordon keyset show [--state-dir D]
//   cordon passwd [--state-dir D] [--password-file OLD] [--new-password-file NEW]
//   cordon update apply FILE [--password-file F] [--state-dir D] [-s SOCKET | -i IFACE]
//
// The key set lives at <state_dir>/keyset (daemon/keyset_store.hpp). Every
// refusal leaves the installed key set as it was and exits 1.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace cordon::cli {

struct KeysetOptions {
  std::string state_dir;                     // default /var/lib/cordon
  std::optional<std::string> password_file;  // else the terminal
};

int run_keyset_install(const std::string& file, const KeysetOptions& options);
int run_keyset_show(const KeysetOptions& options);
int run_passwd(const KeysetOptions& options, const std::optional<std::string>& new_password_file);
// `control_socket`: the daemon to ask for a reload after the update is
// stored.
int run_update_apply(const std::string& file, const KeysetOptions& options, const std::string& control_socket);

// Adds `keyset`, `passwd` and `update` to `app`; after parsing,
// dispatch_keyset_commands runs the one that was given (nullopt: none of
// them).
void add_keyset_commands(CLI::App& app);
std::optional<int> dispatch_keyset_commands();

}  // namespace cordon::cli
