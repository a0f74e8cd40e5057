#include "core/coord/routes.hpp"

#include <algorithm>

namespace cordon::coord {
namespace {

// The best of one host's routes: lowest metric, then lowest neighbour ID.
const Route* pick(const std::map<uint32_t, Route>& by_via) {
  const Route* best = nullptr;
  for (const auto& [via, route] : by_via) {
    if (!best || route.record.metric < best->record.metric) best = &route;  // map order breaks ties by via
  }
  return best;
}

bool same_best(const Route* a, const Route* b) {
  if (!a || !b) return a == b;
  return a->via == b->via && a->record == b->record;
}

}  // namespace

bool RouteTable::learn(const wire::HostRecord& record, HostId via, const Now& now) {
  auto& by_via = routes_[record.host.value];
  const Route* before_ptr = pick(by_via);
  const std::optional<Route> before = before_ptr ? std::optional<Route>(*before_ptr) : std::nullopt;
  if (record.metric + 1 >= wire::kMetricUnreachable) {
    if (by_via.erase(via.value)) forget_via(via.value);
  } else {
    Route r;
    r.record = record;
    r.record.metric = static_cast<uint8_t>(record.metric + 1);
    r.via = via;
    r.learned_mono_ns = now.mono_ns;
    r.record_real_ns = now.real_ns - int64_t{record.age_s} * kNsPerSecond;
    const auto [it, added] = by_via.insert_or_assign(via.value, std::move(r));
    if (added) ++through_[via.value];
    oldest_learned_mono_ns_ = std::min(oldest_learned_mono_ns_, now.mono_ns);
  }
  const Route* after = pick(by_via);
  const bool changed = !same_best(before ? &*before : nullptr, after);
  if (by_via.empty()) routes_.erase(record.host.value);
  return changed;
}

void RouteTable::forget_via(uint32_t via) {
  const auto it = through_.find(via);
  if (it != through_.end() && --it->second == 0) through_.erase(it);
}

std::vector<HostId> RouteTable::expire(int64_t now_mono_ns, int64_t lifetime_ns, const std::vector<HostId>& gone) {
  std::vector<HostId> changed;
  // Nothing to remove: no route is old enough and none goes through a
  // neighbour in `gone`.
  const bool any_gone = std::any_of(gone.begin(), gone.end(), [&](HostId g) { return through_.count(g.value) != 0; });
  if (!any_gone && (routes_.empty() || now_mono_ns - oldest_learned_mono_ns_ <= lifetime_ns)) return changed;
  int64_t oldest = INT64_MAX;
  for (auto host = routes_.begin(); host != routes_.end();) {
    auto& by_via = host->second;
    const Route* before = pick(by_via);
    const HostId before_via = before ? before->via : HostId{};
    bool removed_best = false;
    for (auto it = by_via.begin(); it != by_via.end();) {
      bool drop = now_mono_ns - it->second.learned_mono_ns > lifetime_ns;
      for (HostId g : gone) drop = drop || it->first == g.value;
      if (drop) {
        removed_best = removed_best || it->first == before_via.value;
        forget_via(it->first);
        it = by_via.erase(it);
      } else {
        oldest = std::min(oldest, it->second.learned_mono_ns);
        ++it;
      }
    }
    if (removed_best) changed.push_back(HostId{host->first});
    host = by_via.empty() ? routes_.erase(host) : std::next(host);
  }
  oldest_learned_mono_ns_ = oldest;
  return changed;
}

const Route* RouteTable::best(HostId host) const {
  const auto it = routes_.find(host.value);
  return it == routes_.end() ? nullptr : pick(it->second);
}

std::vector<const Route*> RouteTable::all_best() const {
  std::vector<const Route*> out;
  out.reserve(routes_.size());
  for (const auto& [host, by_via] : routes_) {
    if (const Route* r = pick(by_via)) out.push_back(r);
  }
  return out;
}

}  // namespace cordon::coord
