#include "daemon/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace cordon::daemon {

bool set_log_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str answers `off` for any name it does not know.
  if (parsed == spdlog::level::off && level != "off") return false;
  spdlog::set_level(parsed);
  return true;
}

bool init_logging(const std::string& level) {
  auto logger = spdlog::get("cordon");
  if (!logger) logger = spdlog::stderr_color_mt("cordon");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  return set_log_level(level);
}

}  // namespace cordon::daemon
