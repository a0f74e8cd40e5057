// The config's [open] table (docs/firewall.md): each entry parsed by
// os/linux/open_rule_text.hpp, with its text and where it stands in the
// file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "os/linux/nft_ruleset.hpp"
#include "os/linux/open_rule_text.hpp"

namespace cordon::daemon {

using os::parse_lan;
using os::parse_open_rule;
using os::parse_port_forward;
using os::parse_source_nat;

// An entry as parsed, with its text and where it stands in the file.
template <typename T>
struct OpenEntry {
  T item;
  std::string text;
  uint32_t line = 0, column = 0;
};

// The [open] table. Its presence turns the firewall on; every list may be
// empty.
struct OpenConfig {
  std::vector<OpenEntry<os::OpenRule>> rules;
  std::vector<OpenEntry<os::Lan>> lans;
  std::vector<OpenEntry<os::SourceNat>> snat;
  std::vector<OpenEntry<os::PortForward>> forward_ports;
};

}  // namespace cordon::daemon
