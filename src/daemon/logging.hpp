// Logging: spdlog to stderr (systemd's journal or the terminal collects it).
// Logs name peers by host ID and drops by their stable reason names
// (core/drop_reason.hpp); they never contain key material.
#pragma once

#include <string>

namespace cordon::daemon {

// Installs the stderr logger. `level` is one of trace, debug, info, warn,
// error, critical, off; returns false (and keeps the old level) otherwise.
bool init_logging(const std::string& level);
bool set_log_level(const std::string& level);

}  // namespace cordon::daemon
