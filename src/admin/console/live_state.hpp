// The network's live state as the administration host's daemon reports it
// (its control command {"command":"courier","action":"network"}: what the
// coordinators last reported, docs/console.md, "The map"), reduced to what
// the map colours: each host's state and each host pair's path.
//
// The parser trusts nothing about the shape: a missing or mistyped field
// leaves that host or pair "unknown", and an answer that is not an object
// counts as no answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/types.hpp"

namespace cordon::admin::console {

enum class HostState : uint8_t { kUnknown, kReachable, kUnreachable };
enum class PathKind : uint8_t { kUnknown, kDirect, kRelayed, kTcp, kNone };
const char* host_state_name(HostState s);
const char* path_name(PathKind p);

struct HostLive {
  HostState state = HostState::kUnknown;
  std::optional<HostId> reported_by;         // the coordinator that reported it
  std::string public_endpoint;               // clients: as their coordinator sees them
  std::string transport;                     // "udp" or "tcp"
  std::optional<int64_t> last_heard;         // Unix seconds
  std::optional<int64_t> report_time;        // coordinators: their report's time
  bool stale = false;                        // coordinators: an old report
  nlohmann::json relay, drops;               // coordinators: their counters, as given
};

struct LiveState {
  bool answered = false;
  std::string why;  // when not answered: the reason, for the banner
  std::optional<HostId> self;
  int64_t now = 0;
  std::map<HostId, HostLive> hosts;
  std::map<std::pair<HostId, HostId>, PathKind> paths;  // (lower, higher) ID

  HostState state_of(HostId h) const;
  PathKind path_of(HostId a, HostId b) const;
};

// {"command":"courier","action":"network"}
nlohmann::json network_request();
// The daemon's answer (or an {"error":...} answer) -> the live state.
LiveState parse_live_state(const nlohmann::json& answer);
// Asks the daemon on `socket`; on no answer, why (for the banner).
LiveState fetch_live_state(const std::string& socket);

}  // namespace cordon::admin::console
