// The compiled protected-traffic ruleset (docs/gateways.md, "The
// protected-traffic filter"): immutable once built, published with the peer
// snapshot and read by the workers without a lock. Only its hit counters
// change, one row per worker so that no two workers write one line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/filter/flow.hpp"
#include "core/filter/rule.hpp"

namespace cordon::filter {

// Rule numbers count from 0 in ruleset order; kDefaultRule is the default
// (allow: protected traffic between linked hosts passes unless a rule says
// otherwise).
inline constexpr int32_t kDefaultRule = -1;

struct Match {
  Action action = Action::kAllow;
  int32_t rule = kDefaultRule;
};

// Whether rule `r` matches a packet of flow `f` travelling in direction `d`
// to or from the peer `peer`. A flow without its transport header (a later
// fragment) matches no rule that names ports or an ICMP type.
bool matches(const Rule& r, Direction d, uint32_t peer, const Flow& f);

class Ruleset {
 public:
  // Rules in order, first match wins. `origins` says where each came from
  // ("central N", "local"), for status. Counters of rules whose text is
  // unchanged from `previous` carry over. `slots` is the number of counter
  // rows: the workers and the control thread.
  Ruleset(std::vector<Rule> rules, std::vector<std::string> origins, uint64_t version, unsigned slots,
          const Ruleset* previous);

  Match evaluate(Direction d, uint32_t peer, const Flow& f) const;
  void count(unsigned slot, int32_t rule) const {
    if (rule < 0 || slot >= slots_) return;
    auto& c = hits_[static_cast<size_t>(slot) * rules_.size() + static_cast<size_t>(rule)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t hits(int32_t rule) const;

  bool empty() const { return rules_.empty(); }
  std::span<const Rule> rules() const { return rules_; }
  const std::string& origin(size_t rule) const { return origins_[rule]; }
  const std::string& text(size_t rule) const { return texts_[rule]; }
  uint64_t version() const { return version_; }

 private:
  static size_t bucket_of(Direction d, uint8_t protocol);
  static constexpr size_t kProtocolClasses = 5;  // tcp, udp, icmp, icmpv6, other

  std::vector<Rule> rules_;
  std::vector<std::string> origins_;
  std::vector<std::string> texts_;
  uint64_t version_ = 0;
  unsigned slots_ = 0;
  // Per direction and protocol class, the numbers of the rules that could
  // match, in order: a packet walks only its own list.
  std::vector<uint32_t> buckets_[2 * kProtocolClasses];
  std::unique_ptr<std::atomic<uint64_t>[]> hits_;  // [slot][rule]
};

}  // namespace cordon::filter
