// The entries of the config's [open] table (docs/firewall.md): one line of
// text each, parsed into the items of the open-traffic policy
// (os/linux/nft_ruleset.hpp). Pure: no system calls.
//
//   rules          allow|drop [input|forward|both] [iif NAME] [from PREFIX]
//                  [to PREFIX] [proto tcp|udp|icmp|icmpv6|NUMBER] [dport P[-Q]]
//   lans           NAME PREFIX [PREFIX...]
//   snat           oif NAME from PREFIX[,PREFIX...] [to ADDRESS]
//   forward_ports  proto tcp|udp dport PORT to ADDRESS:PORT [iif NAME]
//                  [from PREFIX]
//
// A rule's path comes right after the action, as `in`/`out` do in a
// [filter] rule (docs/gateways.md, "Rules"); without it the rule takes
// both paths. The keywords after that come in any order, each at most
// once. A prefix may be written as an address (a single host) and must
// have no bits set after its length. An error names the word at fault:
// `word 6 ("80-22"): the port range runs backwards`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "os/linux/nft_ruleset.hpp"

namespace cordon::daemon {

template <typename T>
using Parsed = cordon::Result<T, std::string>;

Parsed<os::OpenRule> parse_open_rule(std::string_view text);
Parsed<os::Lan> parse_lan(std::string_view text);
Parsed<os::SourceNat> parse_source_nat(std::string_view text);
Parsed<os::PortForward> parse_port_forward(std::string_view text);

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
