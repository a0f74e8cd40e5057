// The `cordon` subcommands. main.cpp parses the command line (CLI11) and
// calls one of these; each returns the process exit code:
//   0 success, 1 bad input or a runtime error, 2 a usage error (CLI11).
#pragma once

#include <optional>
#include <string>

namespace cordon::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// cordon up FILE|-c FILE [--log-level L] [--accept-new-keys]
int run_up(const std::string& config_path, const std::optional<std::string>& log_level, bool accept_new_keys);

// cordon check FILE|-c FILE [--accept-new-keys]
int run_check(const std::string& config_path, bool accept_new_keys);

// cordon genkey [--out FILE [--force]]
int run_genkey(const std::optional<std::string>& out, bool force);

// cordon status [-i IFACE | -s SOCKET] [--json]
int run_status(const std::string& socket_path, bool json);
// cordon rekey PEER: the daemon's "rekey" command (daemon/control.hpp).
int run_rekey(const std::string& socket_path, const std::string& peer);

}  // namespace cordon::cli
