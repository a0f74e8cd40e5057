// What `cordon up` checks before it touches the network, in this order;
// `cordon check` runs the same code, so that a config it passes fails `up`
// only on what needs root or the network (the TUN device, the UDP and TCP
// ports, the control socket of a daemon already running):
//
//   1. managed mode (host.keyset): the password, from host.password_file,
//      the systemd credential or the terminal (password_input.hpp), opens
//      the key set, and the node's peers come from it (managed.hpp);
//   2. the counter file reads, and it, a fresh-key record or
//      --accept-new-keys admits every link key (counter_keeper.hpp).
//
// Warnings and progress go to the log (spdlog); the first error stops.
#pragma once

#include <optional>
#include <string>

#include "core/result.hpp"
#include "daemon/config.hpp"
#include "daemon/counter_keeper.hpp"
#include "daemon/managed.hpp"

namespace cordon::daemon {

struct StartReady {
  std::optional<ManagedKeySet> managed;  // managed mode: the opened key set's user key
  CounterKeeper counters;
  CounterKeeper::Start floors;
};

// Fills `config` from the key set in managed mode. Reads files only.
Result<StartReady, std::string> check_start(DaemonConfig& config, bool accept_new_keys);

}  // namespace cordon::daemon
