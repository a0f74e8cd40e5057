// cordon status and cordon rekey: ask the daemon over its control socket (daemon/control.hpp).
#include <ctime>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "daemon/control.hpp"
#include "daemon/status_format.hpp"

namespace cordon::cli {

int run_status(const std::string& socket_path, bool json) {
  daemon::ControlReply reply = daemon::control_request(socket_path, {{"command", "status"}});
  if (!reply) {
    fmt::print(stderr, "cordon status: {}\n", reply.error().message);
    return kExitError;
  }
  if (json) {
    fmt::print("{}\n", reply->dump(2));
  } else {
    // Ages are measured against the daemon's clock when it sent "time", so
    // that "12 s ago" is right even if this command's clock differs.
    const auto time = reply->find("time");
    const int64_t now = time != reply->end() && time->is_number_integer()
                            ? time->get<int64_t>()
                            : static_cast<int64_t>(std::time(nullptr));
    fmt::print("{}", daemon::format_status(*reply, now));
  }
  return kExitOk;
}

int run_rekey(const std::string& socket_path, const std::string& peer) {
  daemon::ControlReply reply = daemon::control_request(socket_path, {{"command", "rekey"}, {"peer", peer}});
  if (!reply) {
    fmt::print(stderr, "cordon rekey: {}\n", reply.error().message);
    return kExitError;
  }
  fmt::print("rekey of the link with {} started; `cordon status` shows its generation\n", peer);
  return kExitOk;
}

}  // namespace cordon::cli
