// The open-traffic firewall while the daemon runs (docs/firewall.md):
// table inet cordon (os/linux/nftables.hpp) in place from start to exit,
// on the control thread only.
//
//   start     loads the policy; a refusal stops the daemon's start
//   replace   a reload: the new table replaces the old one in one
//             transaction, or the old one stays
//   stop      SIGTERM: deletes the table (the destructor does too)
//
// A daemon killed with SIGKILL leaves its table; the next start replaces
// it whole, as every load does (NftTables::apply), or, when the config
// has no [open] table any more or its policy is refused, deletes it
// (remove_stale).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "daemon/open_policy.hpp"
#include "daemon/status_json.hpp"
#include "os/linux/nftables.hpp"

namespace cordon::daemon {

class OpenFirewall {
 public:
  // Opens libnftables in the calling thread's network namespace and loads
  // `policy`; `labels` say where its rules come from, for the status. On an
  // error no table of Cordon's is left behind.
  static cordon::Result<OpenFirewall, std::string> start(const os::OpenPolicy& policy,
                                                         std::vector<OpenRuleLabel> labels);
  // A start with the firewall off, or whose policy was refused: deletes the
  // table a crashed run left, if there is one (the daemon that loaded it
  // would have deleted it on exit). Returns what it did or why it could not, for the log; nothing
  // when there was no table or no nftables at all.
  static std::optional<std::string> remove_stale();

  ~OpenFirewall();
  OpenFirewall(OpenFirewall&& other) noexcept;
  OpenFirewall& operator=(OpenFirewall&&) = delete;
  OpenFirewall(const OpenFirewall&) = delete;
  OpenFirewall& operator=(const OpenFirewall&) = delete;

  // Replaces the table; on an error the running one stays, as it was.
  cordon::Result<Ok, std::string> replace(const os::OpenPolicy& policy, std::vector<OpenRuleLabel> labels);
  // Deletes the table; later calls do nothing.
  cordon::Result<Ok, std::string> stop();

  // The counters as the kernel has them now.
  OpenStatus status();

 private:
  explicit OpenFirewall(os::NftTables tables) : tables_(std::move(tables)) {}

  std::optional<os::NftTables> tables_;  // empty once stopped or moved from
  std::vector<OpenRuleLabel> labels_;
};

}  // namespace cordon::daemon
