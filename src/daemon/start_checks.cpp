#include "daemon/start_checks.hpp"

#include <spdlog/spdlog.h>

#include "os/linux/machine_id.hpp"

namespace cordon::daemon {
namespace {

CounterKeeper counter_keeper(const DaemonConfig& config) {
  std::optional<std::string> machine = os::read_machine_id();
  if (!machine) {
    spdlog::warn("no machine ID in {}: the counter file cannot tell this machine from a copy of it "
                 "(docs/configuration.md, \"The counter file\"); run systemd-machine-id-setup",
                 os::kMachineIdPath);
  }
  return CounterKeeper(CounterKeeper::Where{counter_file_path(config), legacy_counter_file_path(config),
                                            config.keyset, std::move(machine)});
}

}  // namespace

Result<StartReady, std::string> check_start(DaemonConfig& config, bool accept_new_keys) {
  std::optional<ManagedKeySet> managed;
  if (config.managed()) {
    ManagedUnlock unlocked = unlock_managed(config);
    if (!unlocked) return fail(unlocked.error());
    for (const std::string& warning : unlocked->warnings) spdlog::warn("{}", warning);
    managed.emplace(std::move(unlocked->keys));
    spdlog::info("key set {} unlocked: host {}, version {}, user {}", *config.keyset, config.node.self.to_string(),
                 managed->version, managed->user);
  }
  CounterKeeper counters = counter_keeper(config);
  auto floors = counters.open(config.node, accept_new_keys);
  if (!floors) return fail(floors.error());
  return StartReady{std::move(managed), std::move(counters), std::move(floors).value()};
}

}  // namespace cordon::daemon
