// The text of open-traffic items (docs/firewall.md), one line each, as the
// config's [open] table and the administrator's central open rules
// (`cordon admin filter add --open`) write them, parsed into the items of
// the open-traffic policy (nft_ruleset.hpp). Pure: no system calls.
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

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "os/linux/nft_ruleset.hpp"

namespace cordon::os {

template <typename T>
using Parsed = cordon::Result<T, std::string>;

Parsed<OpenRule> parse_open_rule(std::string_view text);
Parsed<Lan> parse_lan(std::string_view text);
Parsed<SourceNat> parse_source_nat(std::string_view text);
Parsed<PortForward> parse_port_forward(std::string_view text);

}  // namespace cordon::os
