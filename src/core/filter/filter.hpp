// The protected-traffic filter on the data path (docs/gateways.md, "The
// protected-traffic filter"): judges one inner packet after opening (in)
// or before sealing (out), with the ruleset and the connection table.
#pragma once

#include <cstdint>
#include <span>

#include "core/drop_reason.hpp"
#include "core/filter/conntrack.hpp"
#include "core/filter/ruleset.hpp"

namespace cordon::filter {

struct Verdict {
  bool pass = true;
  DropReason reason = DropReason::kFiltered;  // when !pass
  int32_t rule = kDefaultRule;               // the rule that dropped it
};

// With no rules everything passes and nothing is tracked. Otherwise:
//  1. a packet of a tracked connection passes, unless a reload cut it;
//  2. an ICMP error quoting a tracked connection's packet passes with it;
//  3. anything else is judged by the rules, first match wins, and an
//     allowed packet that starts a connection is tracked; a later fragment
//     (no transport header) and an ICMP error are judged, never tracked.
// `slot` is the worker (or the control thread's slot) for the counters.
Verdict judge(const Ruleset& rules, ConnTable& table, unsigned slot, Direction d, uint32_t peer,
              std::span<const std::byte> packet, int64_t now_ns);

}  // namespace cordon::filter
