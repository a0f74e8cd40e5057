// cordon up, cordon check: both start from the config file. In managed mode
// (host.keyset) `cordon up` unlocks the key set (daemon/managed.hpp) and
// `cordon check` checks that it is installed.
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "daemon/keyset_store.hpp"
#include "daemon/logging.hpp"

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
  daemon::ConfigResult result = daemon::load_config(config_path);
  if (!result) {
    print_errors(config_path, result.error());
    return kExitError;
  }
  daemon::init_logging(log_level.value_or(result->log_level));
  return daemon::run_daemon(std::move(*result), daemon::RunOptions{log_level, accept_new_keys});
}

int run_check(const std::string& config_path) {
  daemon::ConfigResult result = daemon::load_config(config_path);
  if (!result) {
    print_errors(config_path, result.error());
    return kExitError;
  }
  if (result->managed()) {
    // The peers are in the encrypted body: without the password, check what
    // can be checked, that the key set is there and readable.
    const daemon::KeysetStore store(*result->keyset);
    auto header = store.header();
    if (!header) {
      fmt::print(stderr, "{}: host.keyset: {}\n", config_path, header.error().message);
      return kExitError;
    }
    fmt::print("{}: ok (managed mode: key set {} for host {}, version {}, user {}; peers come from it once "
               "unlocked)\n",
               config_path, store.path(), header.value().host.to_string(), header.value().version,
               header.value().user);
    return kExitOk;
  }
  const size_t peers = result->node.peers.size();
  fmt::print("{}: ok ({} peer{})\n", config_path, peers, peers == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace cordon::cli
