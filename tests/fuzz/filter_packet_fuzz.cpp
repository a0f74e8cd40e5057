// libFuzzer target for the protected-traffic filter's packet path
// (core/filter/filter.hpp): arbitrary inner packets, fragments, options,
// IPv6 extension chains and truncated headers, in both directions, through
// a ruleset and a small connection table.
//
// Input: byte 0 bits 0-1 pick the direction and peer, bits 2-4 advance the
// clock by that many 30 s steps; the rest is the packet.
//
// Asserts, besides "no crash, hang or leak": what parse_flow reads lies in
// the packet; a packet
// the filter cannot read is dropped as bad_inner; a drop by a rule names a
// rule of the ruleset; the table never holds more than its capacity; and
// the same packet judged twice in a row gets the same verdict (tracking
// never turns an allowed packet into a dropped one).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/filter/filter.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::optional<std::vector<uint32_t>> resolve(std::string_view name) {
  if (auto id = HostId::parse(name)) return std::vector<uint32_t>{id->value};
  return std::nullopt;
}

const filter::Ruleset& rules() {
  static const auto* r = [] {
    std::vector<filter::Rule> out;
    for (const char* text : {"drop in peer 0x00010002 proto tcp dport 22", "allow in proto tcp dport 443",
                             "allow in proto icmp icmp-type 8", "drop in from 10.0.0.0/8 proto udp sport 53",
                             "allow out to fd00::/8 proto icmpv6", "drop in proto 47", "drop in"}) {
      out.push_back(filter::parse_rule(text, resolve).value());
    }
    return new filter::Ruleset(std::move(out), {}, 1, 1, nullptr);
  }();
  return *r;
}

filter::ConnTable& table() {
  static auto* t = new filter::ConnTable(256, 99);
  return *t;
}

int64_t now_ns = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto d = (data[0] & 1) ? filter::Direction::kIn : filter::Direction::kOut;
  const uint32_t peer = (data[0] & 2) ? 0x00010002 : 0x00010003;
  now_ns += ((data[0] >> 2) & 7) * 30 * kNsPerSecond;
  const std::span<const std::byte> packet(reinterpret_cast<const std::byte*>(data + 1), size - 1);

  const auto flow = filter::parse_flow(packet);
  if (flow) check(packet.size() >= 20);  // at least the smallest IP header
  const auto first = filter::judge(rules(), table(), 0, d, peer, packet, now_ns);
  if (!flow) check(!first.pass && first.reason == DropReason::kBadInner);
  if (!first.pass && first.reason == DropReason::kFiltered) {
    check(first.rule >= 0 && static_cast<size_t>(first.rule) < rules().rules().size());
  }
  check(table().size() <= table().capacity());
  const auto second = filter::judge(rules(), table(), 0, d, peer, packet, now_ns);
  if (first.pass) check(second.pass);
  if (!first.pass && first.reason != DropReason::kConntrackFull) check(!second.pass);
  return 0;
}
