// What the console asks the administration host's daemon about updates,
// with the same Admin calls and control requests as `cordon admin updates
// status` and `updates send` (docs/administration.md, "Delivery by
// couriers"), answering JSON instead of printing.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"

namespace cordon::admin::console {

// `updates status`: the daemon's reports (when it answers) recorded, and
// every kept package's state.
DeliveryReport delivery_report(Admin& admin, const std::string& socket);

// `updates build --send`: builds a package per host that needs one, hands
// every unsent package to the daemon, and says what became of each:
// {"built":[{host,version,kind}],"sent":[{host,version,state}],"awaiting_keyset":[...]}.
nlohmann::json build_and_send(Admin& admin, const std::string& socket);

}  // namespace cordon::admin::console
