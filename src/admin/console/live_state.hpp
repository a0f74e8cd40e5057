// The network's live state as the map colours it: each host's state and
// each host pair's path. It comes from the coordinators' status reports
// that the administration host's daemon keeps (its control command
// {"command":"courier","action":"network"}), checked under each
// coordinator's host key by admin::live_status (admin/live_status.hpp;
// docs/console.md, "The map"), then read from live_status_json.
//
// The reader trusts nothing about the shape: a missing or mistyped field
// leaves that host or pair "unknown", and a document that is not an object
// counts as no answer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"
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
  std::vector<std::string> problems;  // reports set aside (admin::LiveStatus::problems)
  std::optional<HostId> self;
  int64_t now = 0;
  std::map<HostId, HostLive> hosts;
  std::map<std::pair<HostId, HostId>, PathKind> paths;  // (lower, higher) ID

  HostState state_of(HostId h) const;
  PathKind path_of(HostId a, HostId b) const;
};

// admin::live_status_json's document -> the live state.
LiveState parse_live_state(const nlohmann::json& status);

// The daemon's answer to admin::network_request() on `socket`, or nullopt
// with *error saying why there is none. No database access: call it
// without holding the console's database lock.
std::optional<nlohmann::json> ask_network(const std::string& socket, std::string* error);
// The reports in `reply` checked against the database, as the map's state.
LiveState live_state(Admin& admin, const std::optional<nlohmann::json>& reply, const std::string& error,
                     int64_t now);

}  // namespace cordon::admin::console
