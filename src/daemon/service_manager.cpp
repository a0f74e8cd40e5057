#include "daemon/service_manager.hpp"

#include <limits>
#include <string>

#include "os/linux/systemd.hpp"

namespace cordon::daemon {

ServiceManager::ServiceManager() : interval_ns_(os::watchdog_interval_ns()) {}

void ServiceManager::ready(std::string_view status) { os::notify("READY=1\nSTATUS=" + std::string(status)); }

void ServiceManager::reloading() { os::notify("RELOADING=1\nSTATUS=reloading"); }

void ServiceManager::stopping() { os::notify("STOPPING=1\nSTATUS=stopping"); }

void ServiceManager::status(std::string_view status) { os::notify("STATUS=" + std::string(status)); }

int64_t ServiceManager::watchdog(int64_t now_mono_ns) {
  if (interval_ns_ <= 0) return std::numeric_limits<int64_t>::max();
  if (now_mono_ns >= next_ns_) {
    os::notify("WATCHDOG=1");
    // Half the interval, as sd_watchdog_enabled(3) recommends.
    next_ns_ = now_mono_ns + interval_ns_ / 2;
  }
  return next_ns_;
}

}  // namespace cordon::daemon
