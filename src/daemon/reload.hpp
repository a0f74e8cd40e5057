// SIGHUP: re-read the config file and apply what can change live (Nebula's
// reload shape: build the new configuration whole, then swap it in).
//
// Live: peers (added, removed, new keys, endpoints, prefixes, suites,
// keepalives), the time window and the log level; routes follow the peers'
// prefixes. Everything the daemon set up at start (interface, addresses,
// MTU, port, workers, paths, [metrics]) needs a restart; a reload logs each such
// change and keeps the running value.
//
// Managed mode (host.keyset) reloads the installed key set as well: its
// peers are live; this host's ID and tunnel addresses, which come from the
// key set's address book, and the key set path need a restart.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace cordon::daemon {

// One line per setting that differs and needs a restart, e.g.
// "host.mtu changed (1420 -> 1380) and needs a restart; ...".
std::vector<std::string> restart_only_changes(const DaemonConfig& running, const DaemonConfig& next);

}  // namespace cordon::daemon
