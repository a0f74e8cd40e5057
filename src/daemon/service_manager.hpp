// What the daemon tells systemd under a Type=notify unit (docs/operations.md,
// "systemd"; sd_notify(3)):
//   READY=1      once the tunnel passes traffic: the interface is up, the
//                sockets are open and the workers run;
//   RELOADING=1  when a reload starts, READY=1 again when it ends (either way:
//                a failed reload keeps the running configuration);
//   STOPPING=1   when SIGTERM or SIGINT stops it;
//   STATUS=      one line on what runs, shown by `systemctl status`;
//   WATCHDOG=1   from the control thread, at half the unit's WatchdogSec=,
//                so that a control thread that hangs is restarted.
// Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
#pragma once

#include <cstdint>
#include <string_view>

namespace cordon::daemon {

class ServiceManager {
 public:
  // Reads the watchdog interval the unit asks for (0: none).
  ServiceManager();

  void ready(std::string_view status);
  void reloading();
  void stopping();
  void status(std::string_view status);

  // Sends WATCHDOG=1 when due; returns when to call again (monotonic ns),
  // or INT64_MAX without a watchdog.
  int64_t watchdog(int64_t now_mono_ns);

 private:
  int64_t interval_ns_ = 0;
  int64_t next_ns_ = 0;
};

}  // namespace cordon::daemon
