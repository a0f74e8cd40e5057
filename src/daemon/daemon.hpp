// `cordon up`: the daemon's composition root. It only wires the parts
// together (docs/design.md, practice 13):
//
//   config.hpp            the TOML file (and SIGHUP reloads, reload.hpp)
//   start_checks.hpp      key set unlock and counter file, shared with
//                         `cordon check`
//   tunnel_interface.hpp  TUN device, addresses, routes (rtnetlink)
//   underlay.hpp          one UDP socket per worker, SO_REUSEPORT
//   counter_keeper.hpp    the counter file (floor, its keys, receive floors)
//                         and which link keys may start or be adopted
//   workers.hpp           the data path, one thread per worker
//   stream_outbox.hpp     workers' datagrams for TCP tunnel streams
//   tcp_tunnel.hpp        the TCP tunnel's streams, on the control thread
//   local_endpoints.hpp   this host's addresses, reported to its registry
//   open_firewall.hpp     [open]: table inet cordon (open_policy.hpp builds
//                         its policy from the config and the peers)
//   control.hpp           the control socket for `cordon status`
//   activity_log.hpp      what changed, logged from the control thread
//
// The calling (main) thread becomes the control thread: signals, the control
// socket, Node::tick deadlines (and at once when workers queue control
// messages), counter floor persistence, reloads, local endpoints and the
// TCP tunnel.
#pragma once

#include <optional>
#include <string>

#include "daemon/config.hpp"

namespace cordon::daemon {

struct RunOptions {
  // `cordon up --log-level`: overrides host.log_level, also across reloads.
  std::optional<std::string> log_level;
  // `cordon up --accept-new-keys`: start link keys that have no counter floor
  // record (daemon/key_admission.hpp); the operator vouches that they were
  // never used elsewhere. Applies to this start only, not to reloads.
  bool accept_new_keys = false;
};

// Runs until SIGTERM or SIGINT. Returns the process exit code: 0 after a
// clean stop, 1 when start-up fails or a worker hits an unrecoverable error
// (the reason is logged). Call it before starting any other thread: it
// blocks the signals it handles, and threads inherit that mask.
// `config` is taken by value so that the caller's copy of the link keys can
// be moved in rather than left behind.
int run_daemon(DaemonConfig config, const RunOptions& options = {});

}  // namespace cordon::daemon
