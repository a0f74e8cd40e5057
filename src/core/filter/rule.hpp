// A protected-traffic rule (docs/gateways.md, "Rules"): what traffic between
// this host and its peers, after opening and before sealing, it allows or
// drops. One line of text, the same in a host's config and in
// `cordon admin filter add`:
//
//   allow|drop [in|out] [peer NAME[,NAME...]] [from PREFIX] [to PREFIX]
//              [proto tcp|udp|icmp|icmpv6|NUMBER] [sport P[-Q]] [dport P[-Q]]
//              [icmp-type N]
//
// `in` is traffic a peer sends to this host (or through it, to a tunneled
// host), `out` the other way; with neither the rule takes both. `from` and
// `to` are the inner packet's source and destination as it travels.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace cordon::filter {

enum class Action : uint8_t { kAllow, kDrop };
enum class Direction : uint8_t { kIn = 1, kOut = 2 };
inline constexpr uint8_t kBothDirections = 3;

struct PortRange {
  uint16_t low = 0;
  uint16_t high = 0;
  bool contains(uint16_t port) const { return port >= low && port <= high; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct Rule {
  Action action = Action::kAllow;
  uint8_t directions = kBothDirections;  // bit set of Direction
  std::vector<std::string> peer_names;    // as written; empty = any peer
  std::vector<uint32_t> peers;            // their host IDs, sorted, unique
  std::optional<Prefix> source;
  std::optional<Prefix> destination;
  std::optional<uint8_t> protocol;
  std::optional<PortRange> source_ports;
  std::optional<PortRange> destination_ports;
  std::optional<uint8_t> icmp_type;

  bool takes(Direction d) const { return (directions & static_cast<uint8_t>(d)) != 0; }
  // The rule's text in canonical order, peers by the names written.
  std::string to_string() const;
};

// Resolves a name after `peer` (a [[peer]] name, a host ID such as
// 0x00010002, or an administrator's host or group name) to host IDs;
// nullopt when nothing has that name.
using PeerResolver = std::function<std::optional<std::vector<uint32_t>>(std::string_view name)>;

// Parses one rule. The error names the word and says what is wrong, e.g.
// `word 5 ("dport"): port range 80-22 runs backwards`.
Result<Rule, std::string> parse_rule(std::string_view text, const PeerResolver& resolve);

}  // namespace cordon::filter
