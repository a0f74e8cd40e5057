// libFuzzer target for the protected-traffic rule parser
// (core/filter/rule.hpp): any text, from a config file or `cordon admin`.
//
// Asserts, besides "no crash, hang or leak": a rule that parses prints a
// canonical text that parses again to the same canonical text, and that
// text keeps the rule's meaning (same action, directions, peers, prefixes,
// protocol, ports and ICMP type).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/filter/rule.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::optional<std::vector<uint32_t>> resolve(std::string_view name) {
  if (name == "a") return std::vector<uint32_t>{1};
  if (name == "g") return std::vector<uint32_t>{3, 2};
  if (auto id = HostId::parse(name)) return std::vector<uint32_t>{id->value};
  return std::nullopt;
}

bool same_meaning(const filter::Rule& a, const filter::Rule& b) {
  return a.action == b.action && a.directions == b.directions && a.peers == b.peers && a.source == b.source &&
         a.destination == b.destination && a.protocol == b.protocol && a.source_ports == b.source_ports &&
         a.destination_ports == b.destination_ports && a.icmp_type == b.icmp_type;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rule = filter::parse_rule(text, resolve);
  if (!rule) {
    check(!rule.error().empty());
    return 0;
  }
  const std::string canonical = rule->to_string();
  auto again = filter::parse_rule(canonical, resolve);
  check(again.ok());
  check(again->to_string() == canonical);
  check(same_meaning(*rule, *again));
  return 0;
}
