// The daemon's event codes: every log record an operator may act on names
// what happened with one of these stable names. In the journal it is the
// field CORDON_EVENT (docs/operations.md, "Events"); the rekey and session
// events of the core (link/rekey.hpp, link/session.hpp) use their own names
// in the same field. Never rename one: alerts and journal queries match them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cordon::daemon {

// X(enumerator, stable name)
#define CORDON_LOG_EVENTS(X)                                        \
  /* the daemon's life */                                           \
  X(kStarted, "started")                                            \
  X(kStartFailed, "start_failed")                                   \
  X(kConfigError, "config_error")                                   \
  X(kStopping, "stopping")                                          \
  X(kReloaded, "reloaded")                                          \
  X(kReloadFailed, "reload_failed")                                 \
  X(kWorkerFailed, "worker_failed")                                 \
  /* state on disk */                                               \
  X(kFloorStoreFailed, "floor_store_failed")                        \
  X(kFloorStored, "floor_stored")                                   \
  /* peers */                                                       \
  X(kPeerUp, "peer_up")                                             \
  X(kPeerMoved, "peer_moved")                                       \
  X(kPeerDrops, "peer_drops")                                       \
  X(kHostDrops, "host_drops")                                       \
  /* site links */                                                  \
  X(kFailover, "failover")                                          \
  X(kFailoverFailed, "failover_failed")                             \
  /* couriers and updates */                                        \
  X(kCourierOff, "courier_off")                                     \
  X(kSpoolFailed, "spool_failed")                                   \
  X(kUpdateApplied, "update_applied")                               \
  X(kUpdateNotApplied, "update_not_applied")                        \
  /* the TCP tunnel, the firewall, the host's addresses */          \
  X(kTcpTunnelOff, "tcp_tunnel_off")                                \
  X(kFirewallError, "firewall_error")                               \
  X(kAddressesUnknown, "addresses_unknown")

enum class LogEvent : uint8_t {
#define CORDON_X(e, name) e,
  CORDON_LOG_EVENTS(CORDON_X)
#undef CORDON_X
  kCount
};

constexpr size_t kLogEventCount = static_cast<size_t>(LogEvent::kCount);

constexpr std::string_view log_event_name(LogEvent e) {
  constexpr std::array<std::string_view, kLogEventCount> names = {
#define CORDON_X(e, name) name,
      CORDON_LOG_EVENTS(CORDON_X)
#undef CORDON_X
  };
  return names[static_cast<size_t>(e)];
}

}  // namespace cordon::daemon
