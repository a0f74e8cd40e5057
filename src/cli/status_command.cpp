// cordon status: asks the daemon over its control socket (daemon/control.hpp).
#include <ctime>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "daemon/control.hpp"
#include "daemon/status_format.hpp"

namespace cordon::cli {

int run_status(const std::string& socket_path, bool json) {
  daemon::ControlReply reply = daemon::control_request(socket_path, {{"command", "status"}});
  if (!reply.document) {
    fmt::print(stderr, "cordon status: {}\n", reply.error);
    return kExitError;
  }
  if (json) {
    fmt::print("{}\n", reply.document->dump(2));
  } else {
    fmt::print("{}", daemon::format_status(*reply.document, static_cast<int64_t>(std::time(nullptr))));
  }
  return kExitOk;
}

}  // namespace cordon::cli
