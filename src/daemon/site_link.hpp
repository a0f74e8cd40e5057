// `cordon sitelink primary|secondary --config FILE` (docs/site-links.md):
// a site-link file (site_config.hpp) becomes the daemon's configuration,
// and the daemon asks this module what to do with session events and
// administration commands.
//
//   primary    listens on `address`:`port`; every remote is a secondary
//              with no endpoint (it is learnt when the secondary connects),
//              its subnets routed to it; this side is the key master and
//              rekeys every `rekey_wait`; sessions wait for their
//              secondary (core link/session.hpp).
//   secondary  sends from `address`, to its primary at N/address:N/port;
//              the primary's subnets are routed to it; the backup
//              primary's session stands by until the primary is lost.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/node.hpp"
#include "daemon/config.hpp"
#include "daemon/site_config.hpp"

namespace cordon::daemon {

// The daemon configuration for `site`, with every remote's key file read.
// `on_backup`: a secondary whose backup primary is in use. Errors name the
// file, the line and the keyword.
ConfigResult site_daemon_config(const SiteConfig& site, bool on_backup);

// Reads and parses the file, then site_daemon_config.
ConfigResult load_site_daemon_config(const std::string& path, SiteRole role, bool on_backup);

// Logs each session event with its reason code (docs/site-links.md,
// "Session events").
void log_session_events(const std::vector<SessionLogEvent>& events, const SiteSettings& site);

// True when `events` lose the primary a secondary uses and a backup
// primary is configured: the daemon then moves to the backup.
bool wants_failover(const std::vector<SessionLogEvent>& events, const SiteSettings& site);

// The sessions an administration request names: "peer" (a host ID or a
// remote's number), "group" (a primary's group) or "all". The error says
// what is wrong and what to write.
cordon::Result<std::vector<HostId>, std::string> site_targets(const nlohmann::json& request,
                                                              const SiteSettings& site);

// A key array command's options (docs/site-links.md, "Administration"):
// "arrays" data, control or both (the default), and for flush-array
// "renew" (generate new arrays at once).
struct ArrayRequest {
  Node::ArrayCommand command = Node::ArrayCommand::kNew;
  uint8_t kinds = link::kBothArrays;
};
cordon::Result<ArrayRequest, std::string> array_request_of(const nlohmann::json& request);
// Why an array command did nothing on a session, and what to do.
std::string array_result_text(Node::ArrayResult result);

// The name a remote goes by in status and logs: "remote N".
std::string remote_name(uint32_t number);

}  // namespace cordon::daemon
