// cordon up, cordon check: both start from the config file, and both run the
// checks `cordon up` makes before it touches the network
// (daemon/start_checks.hpp): in managed mode (host.keyset) the key set must
// unlock with the password, and the counter file must admit every link key.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "daemon/logging.hpp"
#include "daemon/start_checks.hpp"

namespace cordon::cli {
namespace {

// Every error, one per line, then a count, so the whole file can be fixed
// in one pass.
void print_errors(const std::string& path, const std::vector<daemon::ConfigError>& errors) {
  for (const daemon::ConfigError& e : errors) fmt::print(stderr, "{}\n", e.to_string());
  fmt::print(stderr, "{}: {} error{}\n", path, errors.size(), errors.size() == 1 ? "" : "s");
}

}  // namespace

int run_up(const std::string& config_path, const std::optional<std::string>& log_level, bool accept_new_keys) {
  // Before the config: as another user, reading the root-only key files
  // would fail first and hide the real problem.
  if (::geteuid() != 0) {
    fmt::print(stderr, "cordon up must run as root (it creates a TUN device)\n");
    return kExitError;
  }
  // Before the config, so that its errors reach the journal under systemd.
  daemon::init_logging(log_level.value_or("info"));
  daemon::ConfigResult result = daemon::load_config(config_path);
  if (!result) {
    if (!daemon::logging_to_journal()) {
      print_errors(config_path, result.error());
      return kExitError;
    }
    for (const daemon::ConfigError& e : result.error()) {
      daemon::log_event(spdlog::level::err, daemon::LogEvent::kConfigError, "{}", e.to_string());
    }
    daemon::log_event(spdlog::level::err, daemon::LogEvent::kConfigError, "{}: {} error{}; not started (the unit cordon@NAME.service reads "
                      "/etc/cordon/NAME.toml: docs/operations.md, \"systemd\")",
                      config_path, result.error().size(), result.error().size() == 1 ? "" : "s");
    return kExitError;
  }
  daemon::set_log_level(log_level.value_or(result->log_level));
  return daemon::run_daemon(std::move(*result), daemon::RunOptions{log_level, accept_new_keys});
}

int run_check(const std::string& config_path, bool accept_new_keys) {
  daemon::ConfigResult result = daemon::load_config(config_path);
  if (!result) {
    print_errors(config_path, result.error());
    return kExitError;
  }
  // Errors only: what `cordon up` would log on its way (progress, and
  // warnings such as a new key in manual mode) is for its own log.
  daemon::init_logging("error");
  daemon::DaemonConfig& config = *result;
  auto ready = daemon::check_start(config, accept_new_keys);
  if (!ready) {
    fmt::print(stderr, "{}: {}\n", config_path, ready.error());
    return kExitError;
  }
  const size_t peers = config.node.peers.size();
  if (ready->managed) {
    fmt::print("{}: ok (managed mode: key set {} for host {}, version {}, user {}: {} peer{})\n", config_path,
               *config.keyset, config.node.self.to_string(), ready->managed->version, ready->managed->user, peers,
               peers == 1 ? "" : "s");
    return kExitOk;
  }
  fmt::print("{}: ok ({} peer{})\n", config_path, peers, peers == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace cordon::cli
