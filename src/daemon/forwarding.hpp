// IP forwarding for a gateway (docs/design.md, "Gateways"). A host that
// tunnels LAN prefixes forwards packets between its LAN interfaces and the
// tunnel, so while it has tunneled subnets of a family the kernel's
// forwarding switch for that family is on (net.ipv4.ip_forward,
// net.ipv6.conf.all.forwarding). The value found before is restored when
// the daemon stops, or when a reload takes the family's last subnet away.
//
// Before a switch is changed, the value found is written to
// <state_dir>/forwarding, and removed once it is restored. A daemon that
// crashed leaves the file behind; the next start then takes the original
// value from it instead of the 1 that the crash left.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "daemon/file_store.hpp"
#include "os/linux/result.hpp"

namespace cordon::daemon {

class Forwarding {
 public:
  static constexpr const char* kIpv4 = "net.ipv4.ip_forward";
  static constexpr const char* kIpv6 = "net.ipv6.conf.all.forwarding";
  static constexpr const char* kRecordName = "forwarding";  // in state_dir

  // How the switches are read and written (os/linux/sysctl.hpp in the
  // daemon; a map in the tests).
  struct Switches {
    std::function<os::Result<std::string>(std::string_view name)> get;
    std::function<os::Status(std::string_view name, std::string_view value)> set;
  };

  Forwarding(Switches switches, FileStore& files, std::string state_dir);
  ~Forwarding();  // restores
  Forwarding(const Forwarding&) = delete;
  Forwarding& operator=(const Forwarding&) = delete;

  // Turns forwarding on for the families of `subnets` and restores the
  // others. Returns one line per change for the log; an error names the
  // switch and what to do, and leaves the switches it could not change.
  struct Applied {
    std::vector<std::string> changes;
    std::vector<std::string> errors;
  };
  Applied apply(const std::vector<Prefix>& subnets);
  // Restores every switch this daemon changed.
  Applied restore() { return apply({}); }

 private:
  std::string record_path() const;
  void load_record(Applied& out);
  bool store_record(Applied& out);

  Switches switches_;
  FileStore& files_;
  std::string state_dir_;
  bool loaded_ = false;
  std::map<std::string, std::string> original_;  // switch -> value found before the first change
};

}  // namespace cordon::daemon
