#include "core/filter/filter.hpp"

namespace cordon::filter {
namespace {

Verdict from_rules(const Ruleset& rules, unsigned slot, Direction d, uint32_t peer, const Flow& f) {
  const Match m = rules.evaluate(d, peer, f);
  rules.count(slot, m.rule);
  if (m.action == Action::kDrop) return Verdict{false, DropReason::kFiltered, m.rule};
  return Verdict{};
}

Verdict from_table(const Ruleset& rules, unsigned slot, ConnTable::Found found) {
  if (found.state != ConnTable::State::kCut) return Verdict{};
  rules.count(slot, found.rule);
  return Verdict{false, DropReason::kFiltered, found.rule};
}

}  // namespace

Verdict judge(const Ruleset& rules, ConnTable& table, unsigned slot, Direction d, uint32_t peer,
              std::span<const std::byte> packet, int64_t now_ns) {
  if (rules.empty()) return Verdict{};
  const auto f = parse_flow(packet);
  if (!f) return Verdict{false, DropReason::kBadInner, kDefaultRule};
  if (!f->transport) return from_rules(rules, slot, d, peer, *f);
  if (f->quoted) {
    const auto related = table.find(peer, *f->quoted, now_ns);
    if (related.state != ConnTable::State::kNone) return from_table(rules, slot, related);
    return from_rules(rules, slot, d, peer, *f);
  }
  const auto tracked = table.touch(peer, d, *f, now_ns);
  if (tracked.state != ConnTable::State::kNone) return from_table(rules, slot, tracked);
  const Match m = rules.evaluate(d, peer, *f);
  rules.count(slot, m.rule);
  if (m.action == Action::kDrop) return Verdict{false, DropReason::kFiltered, m.rule};
  if (!table.insert(peer, d, *f, m.rule, now_ns)) return Verdict{false, DropReason::kConntrackFull, kDefaultRule};
  return Verdict{};
}

}  // namespace cordon::filter
