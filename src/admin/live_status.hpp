// The administrator's live view of the network (docs/administration.md,
// "Live status"): the newest status report of each coordinator, which the
// administration host's daemon keeps (docs/couriers.md, "Status
// reports"), checked under the coordinator's host key from the database
// and joined with the database's hosts. `cordon admin status` prints it;
// the console serves it as JSON.
//
//   network  {"command":"courier","action":"network"}
//   answer   {"self":ID,"admin_host":ID,"now":UNIX_S,
//             "reports":[{"coordinator":ID,"version":MS,"payload":HEX}, ...]}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"
#include "core/courier/status_report.hpp"

namespace cordon::admin {

// A report older than this is stale: its coordinator is shown unreachable
// and its clients unknown. Three report periods (daemon/courier_service.hpp,
// kStatusReportNs = 60 s), so that one lost report does not flap the view.
constexpr int64_t kStaleReportSeconds = 180;

nlohmann::json network_request();

// One host as the reports describe it.
struct LiveHost {
  HostId id;
  std::string name;
  keys::Role role = keys::Role::kClient;
  std::vector<Prefix> subnets;  // a gateway's
  std::vector<IpsecSubnet> ipsec_subnets;  // its IPsec peers'
  Reachability state = Reachability::kUnknown;
  std::optional<HostId> reported_by;  // the coordinator whose report says so
  bool tcp = false;
  int64_t last_heard_s = 0;  // 0: never, or not known
  uint64_t relayed_packets = 0;
  std::optional<Endpoint> public_endpoint;
  std::vector<courier::PeerPath> peers;
};

struct LiveReport {
  courier::StatusReport report;
  std::string name;
  int64_t age_s = 0;
  bool stale = false;
};

struct LiveStatus {
  int64_t now_s = 0;
  std::optional<HostId> self;  // the daemon that answered
  std::string daemon_error;    // why no daemon answered (then every host is unknown)
  std::vector<LiveReport> reports;
  std::vector<LiveHost> hosts;  // every host in the database, in host ID order
  // Reports that were set aside (a tag that does not verify, an unknown
  // coordinator, a malformed answer), worded for the administrator.
  std::vector<std::string> problems;
};

// The live status from the daemon's answer to network_request(), or, when
// `reply` is nullopt, the database's hosts with `daemon_error` saying why
// there is no live state. `now_s`: the caller's clock, used when the
// daemon did not say.
LiveStatus live_status(Admin& admin, const std::optional<nlohmann::json>& reply, std::string daemon_error,
                       int64_t now_s);

// `cordon admin status --json` (docs/administration.md, "Live status").
nlohmann::json live_status_json(const LiveStatus& status);
// `cordon admin status`: a summary, the coordinators, then one line per host.
std::string format_live_status(const LiveStatus& status);

}  // namespace cordon::admin
