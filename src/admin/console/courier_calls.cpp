// The console's update calls (courier_calls.hpp).
#include "admin/console/courier_calls.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "admin/delivery.hpp"
#include "daemon/control.hpp"

namespace cordon::admin::console {
namespace {

using json = nlohmann::json;

// Hands the unsent packages over; one row per package.
json send_unsent(Admin& admin, const std::string& socket) {
  const SendBatch batch = admin.unsent_packages();
  json rows = json::array();
  for (const OutgoingPackage& p : batch.unroutable) {
    rows.push_back({{"host", p.host.to_string()}, {"version", p.version},
                    {"state", "not sent: the client has no courier; give it one, or carry it by hand"}});
  }
  if (batch.packages.empty()) return rows;
  const SendDirectory dir(batch.packages, default_send_parent());
  const daemon::ControlReply reply = daemon::control_request(socket, send_request(dir.path()));
  if (!reply) {
    throw AdminError(fmt::format("{}; the {} package(s) stay unsent: start the administration host's daemon, then "
                                 "send again",
                                 reply.error().message, batch.packages.size()));
  }
  const SendReply answer = parse_send_reply(*reply);
  admin.mark_sent(answer.accepted, socket);
  for (const OutgoingPackage& p : batch.packages) {
    std::string state = "not taken: the daemon did not answer for it; send again";
    if (std::find(answer.accepted.begin(), answer.accepted.end(), std::pair{p.host, p.version}) !=
        answer.accepted.end()) {
      state = "sent";
    }
    for (const auto& [file, error] : answer.refused) {
      if (file == p.file_name()) state = "refused: " + error;
    }
    rows.push_back({{"host", p.host.to_string()}, {"version", p.version}, {"state", state}});
  }
  return rows;
}

}  // namespace

DeliveryReport delivery_report(Admin& admin, const std::string& socket) {
  std::optional<CourierReports> reports;
  const daemon::ControlReply reply = daemon::control_request(socket, reports_request());
  if (reply) {
    try {
      reports = parse_courier_reports(*reply);
    } catch (const AdminError&) {
      // Shown as "daemon did not answer": the database's last known states.
    }
  }
  return admin.delivery_status(reports);
}

json build_and_send(Admin& admin, const std::string& socket) {
  (void)admin.unsent_packages();  // no way to send: refuse before building, as `updates build --send`
  const BuildResult built = admin.build_updates("");
  json out = {{"built", json::array()}, {"awaiting_keyset", json::array()}};
  for (const BuiltPackage& p : built.packages) {
    out["built"].push_back(
        {{"host", p.host.to_string()}, {"version", p.version}, {"kind", std::string(dirty_kind_name(p.kind))}});
  }
  for (const auto& [id, name] : built.awaiting_keyset) out["awaiting_keyset"].push_back(id.to_string());
  out["sent"] = send_unsent(admin, socket);
  return out;
}

}  // namespace cordon::admin::console
