// The open-traffic policy (os/linux/nft_ruleset.hpp) this host runs,
// built from the administrator's central open rules (from the key set),
// its config's [open] table and what it knows of itself and its peers
// (docs/firewall.md). Pure: the daemon loads the result through
// open_firewall.hpp.
//
//   forwards           the host has tunneled subnets (a gateway)
//   protected_sources  this host's tunnel networks and its peers' allowed
//                      prefixes (other hosts' tunnel addresses, other
//                      gateways' subnets), less its own tunneled subnets;
//                      a prefix inside another is left out (nft(8) refuses
//                      overlapping elements in one set)
//   lans               [open].lans, each subnet one this host tunnels
//   rules              the central open rules, then [open].rules (first
//                      match wins); a rule for both paths judges input
//                      only on a host that forwards nothing, and a central
//                      forward rule on such a host is left out (noted)
//   snat, forward_ports          as written
//   udp_ports, tcp_ports         what the daemon listens on
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "daemon/config.hpp"
#include "os/linux/nft_ruleset.hpp"

namespace cordon::daemon {

// What the daemon knows once it runs.
struct OpenRuntime {
  std::string tun_interface;
  std::vector<uint16_t> udp_ports, tcp_ports;
};

struct ProtectedSources {
  std::vector<Prefix> prefixes;
  // A peer prefix left out, and why (for the log): a default route, or one
  // that holds a peer's endpoint, would make the underlay's own packets
  // look spoofed.
  std::vector<std::string> left_out;
};
ProtectedSources protected_sources(const DaemonConfig& config);

// Where a rule of the policy comes from, for the status: "central 7" (the
// administrator's rule number) or "local", and its text as written.
struct OpenRuleLabel {
  std::string origin;
  std::string text;
};

// The policy for the config (config.open_firewall() must be true), or the
// first error: `FILE:LINE:COL: open.rules[2]: why; what to do` for an entry
// at fault, `KEYSET: open filter rule 7: why; ...` for a central rule.
struct BuiltPolicy {
  os::OpenPolicy policy;
  std::vector<OpenRuleLabel> labels;  // one per policy.rules entry
  std::vector<std::string> notes;     // for the log
};
cordon::Result<BuiltPolicy, std::string> build_open_policy(const DaemonConfig& config, const OpenRuntime& runtime);

}  // namespace cordon::daemon
