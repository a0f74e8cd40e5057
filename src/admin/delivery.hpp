// Delivery by couriers, the administrator's side (docs/couriers.md,
// "Control commands"; docs/administration.md, "Delivery by couriers"): the
// two control requests `cordon admin updates send` and `updates status`
// make to the administration host's daemon, the directory of packages the
// first one hands over, and the parsing of both answers. Nothing here
// touches the database or a socket, so that each piece is tested alone;
// the facade (admin.hpp) stores and reads the packages, the CLI sends.
//
//   send     {"command":"courier","action":"send","dir":DIR}
//            DIR: one file per package, 0xNNNNHHHH-vVERSION.update, and
//            manifest.json:
//            {"packages":[{"file":F,"via":"0xNNNNHHHH","urgent":B}, ...]}
//            urgent packages first
//   answer   {"accepted":[{"host":"0xNNNNHHHH","version":V}, ...],
//             "refused":[{"file":F,"error":TEXT}, ...]}, or {"error":TEXT}
//   reports  {"command":"courier","action":"reports"}
//   answer   {"self":ID,"admin_host":ID,"reports":[...],"outbox":[...]}
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"

namespace cordon::admin {

nlohmann::json send_request(const std::string& dir);
nlohmann::json reports_request();

// manifest.json for `packages`, in their order.
nlohmann::json send_manifest(const std::vector<OutgoingPackage>& packages);

// A fresh private directory (mkdtemp, mode 0700) holding the packages
// (mode 0600) and manifest.json; removed with everything in it when the
// object goes. Throws AdminError naming the path when it cannot be made.
class SendDirectory {
 public:
  // `parent`: usually default_send_parent().
  SendDirectory(const std::vector<OutgoingPackage>& packages, const std::string& parent);
  ~SendDirectory();
  SendDirectory(const SendDirectory&) = delete;
  SendDirectory& operator=(const SendDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// $TMPDIR when set and not empty, else /tmp.
std::string default_send_parent();

struct SendReply {
  std::vector<std::pair<HostId, uint64_t>> accepted;
  std::vector<std::pair<std::string, std::string>> refused;  // file, error
};
// The daemon's answer to `send`. Throws AdminError with the daemon's own
// words when it refused the whole request ({"error": ...}), or naming the
// field when the answer is malformed.
SendReply parse_send_reply(const nlohmann::json& reply);

// The daemon's answer to `reports`. Throws AdminError naming the field when
// it is malformed (or an {"error": ...} answer).
CourierReports parse_courier_reports(const nlohmann::json& reply);

}  // namespace cordon::admin
