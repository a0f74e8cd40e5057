#include "core/coord/relay_routes.hpp"

namespace cordon::coord {

std::unique_ptr<const RelayRoutes> RelayRoutes::with(std::span<const Change> changes) const {
  auto next = std::make_unique<RelayRoutes>(*this);  // shares every shard
  // Grouped by shard, each destination's last change kept: a stable sort
  // keeps the changes to one destination in the order given.
  std::vector<std::pair<size_t, Change>> sorted;
  sorted.reserve(changes.size());
  for (const Change& c : changes) sorted.emplace_back(shard_of(c.destination), c);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.destination < b.second.destination;
  });
  for (size_t i = 0; i < sorted.size();) {
    const size_t index = sorted[i].first;
    const Shard* old = shards_[index].get();
    Shard shard = old ? *old : Shard{};
    for (; i < sorted.size() && sorted[i].first == index; ++i) {
      const Change& c = sorted[i].second;
      if (i + 1 < sorted.size() && sorted[i + 1].second.destination == c.destination) continue;  // a later one wins
      const auto it = lower_bound(shard, c.destination);
      const bool present = it != shard.end() && it->first == c.destination;
      if (c.via == 0) {
        if (present) {
          shard.erase(it);
          --next->size_;
        }
      } else if (present) {
        shard[static_cast<size_t>(it - shard.begin())].second = c.via;
      } else {
        shard.insert(it, {c.destination, c.via});
        ++next->size_;
      }
    }
    next->shards_[index] = shard.empty() ? nullptr : std::make_shared<const Shard>(std::move(shard));
  }
  return next;
}

}  // namespace cordon::coord
