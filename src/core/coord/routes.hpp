// Routes between coordinators (docs/protocol.md, "Routing between
// coordinators"): a distance-vector table in the manner of RFC 1058. Each
// neighbour coordinator advertises host records with a metric (coordinator
// hops to the host's registry); the best route to a host is the lowest
// metric, ties to the lower neighbour host ID, so every coordinator decides
// alike. Pure data structure, driven by the control thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "core/types.hpp"
#include "core/wire/control.hpp"

namespace cordon::coord {

struct Route {
  wire::HostRecord record;  // as learnt, metric included (the neighbour's metric + 1)
  HostId via;               // the neighbour it came from
  int64_t learned_mono_ns = 0;
  int64_t record_real_ns = 0;  // when the record was current (now - age)
};

class RouteTable {
 public:
  // Applies a record from neighbour `via` at `now`. A record with metric
  // kMetricUnreachable - 1 or more (it would reach 15 here) withdraws the
  // route through `via`. Returns true when the best route to the host changed.
  bool learn(const wire::HostRecord& record, HostId via, const Now& now);

  // Removes routes not refreshed within `lifetime_ns`, and every route
  // through a neighbour in `gone`. Returns the hosts whose best route changed.
  // Walks the table only when a route may be removed: the registry calls it
  // on every tick, and a walk over 90,000 routes per tick was quadratic
  // (docs/design.md, "A network of 100,000 clients").
  std::vector<HostId> expire(int64_t now_mono_ns, int64_t lifetime_ns, const std::vector<HostId>& gone = {});

  const Route* best(HostId host) const;
  // Every host's best route.
  std::vector<const Route*> all_best() const;
  size_t size() const { return routes_.size(); }

 private:
  void forget_via(uint32_t via);

  std::map<uint32_t, std::map<uint32_t, Route>> routes_;  // host -> via -> route
  std::map<uint32_t, size_t> through_;                     // via -> how many routes go through it
  int64_t oldest_learned_mono_ns_ = INT64_MAX;             // at most the oldest route's learned_mono_ns
};

}  // namespace cordon::coord
