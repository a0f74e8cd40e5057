// The console's JSON documents (docs/console.md, "JSON endpoints"): what
// the page draws, built from the network database and the live state.
//
//   state_json   GET /api/state: the network, the live-state banner, every
//                host (a map node) and every link (an edge), coloured;
//   lists_json   GET /api/lists: users, groups, links, the audit log and
//                the delivery status of updates, for the searchable lists;
//   host_json    GET /api/host?id=H: one host's details, its links, its
//                packages' delivery status and its recent audit events.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"
#include "admin/console/live_state.hpp"

namespace cordon::admin::console {

// How many audit rows the lists and a host's details show.
constexpr int64_t kAuditRows = 500;
constexpr size_t kHostAuditRows = 20;

nlohmann::json state_json(Admin& admin, const LiveState& live);
nlohmann::json lists_json(Admin& admin, const DeliveryReport& delivery);
nlohmann::json host_json(Admin& admin, const std::string& ref, const LiveState& live, const DeliveryReport& delivery);

nlohmann::json delivery_json(const DeliveryStatus& s);
nlohmann::json audit_json(const AuditEntry& e);

}  // namespace cordon::admin::console
