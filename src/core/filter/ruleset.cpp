#include "core/filter/ruleset.hpp"

#include <algorithm>
#include <unordered_map>

namespace cordon::filter {
namespace {

bool ports_match(const std::optional<PortRange>& r, const Flow& f, uint16_t port) {
  return !r || (f.transport && r->contains(port));
}

}  // namespace

bool matches(const Rule& r, Direction d, uint32_t peer, const Flow& f) {
  const Tuple& t = f.tuple;
  if (!r.takes(d)) return false;
  if (!r.peers.empty() && !std::binary_search(r.peers.begin(), r.peers.end(), peer)) return false;
  if (r.protocol && *r.protocol != t.protocol) return false;
  if (r.source && !r.source->contains(t.source)) return false;
  if (r.destination && !r.destination->contains(t.destination)) return false;
  if (!ports_match(r.source_ports, f, t.source_port)) return false;
  if (!ports_match(r.destination_ports, f, t.destination_port)) return false;
  if (r.icmp_type && (!f.transport || f.icmp_type != *r.icmp_type)) return false;
  return true;
}

size_t Ruleset::bucket_of(Direction d, uint8_t protocol) {
  size_t c = 4;
  if (protocol == kTcp) c = 0;
  if (protocol == kUdp) c = 1;
  if (protocol == kIcmp) c = 2;
  if (protocol == kIcmpv6) c = 3;
  return (d == Direction::kIn ? 0 : kProtocolClasses) + c;
}

Ruleset::Ruleset(std::vector<Rule> rules, std::vector<std::string> origins, uint64_t version, unsigned slots,
                 const Ruleset* previous)
    : rules_(std::move(rules)), origins_(std::move(origins)), version_(version), slots_(slots) {
  origins_.resize(rules_.size());
  texts_.reserve(rules_.size());
  for (const Rule& r : rules_) texts_.push_back(r.to_string());
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    for (const Direction d : {Direction::kIn, Direction::kOut}) {
      if (!rules_[i].takes(d)) continue;
      if (rules_[i].protocol) {
        buckets_[bucket_of(d, *rules_[i].protocol)].push_back(i);
        continue;
      }
      for (const uint8_t p : {kTcp, kUdp, kIcmp, kIcmpv6, uint8_t{0}}) buckets_[bucket_of(d, p)].push_back(i);
    }
  }
  hits_ = std::make_unique<std::atomic<uint64_t>[]>(static_cast<size_t>(slots_) * rules_.size());
  if (!previous || slots_ == 0) return;
  // A rule whose text is unchanged keeps its count; of two identical rules,
  // the first takes the first one's.
  std::unordered_multimap<std::string, size_t> old;
  for (size_t i = 0; i < previous->rules_.size(); ++i) old.emplace(previous->texts_[i], i);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const auto it = old.find(texts_[i]);
    if (it == old.end()) continue;
    hits_[i].store(previous->hits(static_cast<int32_t>(it->second)), std::memory_order_relaxed);
    old.erase(it);
  }
}

Match Ruleset::evaluate(Direction d, uint32_t peer, const Flow& f) const {
  for (const uint32_t i : buckets_[bucket_of(d, f.tuple.protocol)]) {
    if (matches(rules_[i], d, peer, f)) return Match{rules_[i].action, static_cast<int32_t>(i)};
  }
  return Match{};
}

uint64_t Ruleset::hits(int32_t rule) const {
  if (rule < 0 || static_cast<size_t>(rule) >= rules_.size()) return 0;
  uint64_t sum = 0;
  for (size_t s = 0; s < slots_; ++s) sum += hits_[s * rules_.size() + static_cast<size_t>(rule)].load(std::memory_order_relaxed);
  return sum;
}

}  // namespace cordon::filter
