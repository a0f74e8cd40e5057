// Reach limits as key sets carry them (reach.cpp; the commands are in
// admin.hpp). Not part of the facade.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/types.hpp"

namespace cordon::admin {

class Database;

// One limited pair: a gateway and a host or group, with its prefixes.
struct StoredReach {
  HostId gateway;
  std::optional<HostId> host;    // a host's limit, or
  std::optional<int64_t> group;  // a group's, with
  std::vector<HostId> members;   // its members now, sorted
  std::vector<Prefix> prefixes;
};

// Every limit, in a few queries.
std::vector<StoredReach> load_reach(Database& db);

// What `host` reaches of `gateway`'s `subnets` (its current tunneled
// subnets): nullopt when nothing limits it; otherwise the union of its own
// and its groups' limits that still lie inside `subnets` (possibly empty),
// in address order.
std::optional<std::vector<Prefix>> reach_of(const std::vector<StoredReach>& limits, HostId host, HostId gateway,
                                            const std::vector<Prefix>& subnets);

// Marks every gateway and every limited host for an address-book update:
// a group's membership changed, so its limits apply to other hosts.
void mark_reach_hosts_dirty(Database& db);

}  // namespace cordon::admin
