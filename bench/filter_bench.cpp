// The protected-traffic filter's cost per packet (core/filter/filter.hpp),
// in process, one thread: the first packet of a new UDP connection, which
// walks the rules and is tracked, and a packet of a tracked connection,
// which walks none. With 1 rule (`allow in proto udp dport 5201`) and with
// 1,000 rules that the packets do not match but must be compared with
// (`drop in proto udp dport 10000` to `10999`: incoming UDP, the list the
// packets are looked up in) before that allow rule: the same rules as
// bench/gateway.sh, which measures the established flow on the real
// kernel (docs/performance.md, "Gateways and the filter").
//
//   ./build/bench/filter_bench
//
// New connections: 65,536 packets from as many (address, port) pairs, 10
// simulated ms apart, so that a pair comes again only after its connection
// expired (30 s unanswered, conntrack.hpp); about 3,000 are live at a time,
// in a table with room for 65,536 (`tracked` counts expired ones too until
// their bucket takes a new one, as no sweep runs here).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/filter/filter.hpp"
#include "core/filter/rule.hpp"
#include "tests/common/filter_packets.hpp"

namespace {

using namespace cordon;
using cordon::testing::make_packet;
using cordon::testing::PacketSpec;

constexpr uint32_t kPeer = 0x00010002;
constexpr int64_t kStepNs = 10'000'000;  // 10 ms between packets

filter::Ruleset ruleset(size_t drops) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < drops; ++i) texts.push_back("drop in proto udp dport " + std::to_string(10000 + i));
  texts.emplace_back("allow in proto udp dport 5201");
  const filter::PeerResolver no_peers = [](std::string_view) { return std::nullopt; };
  std::vector<filter::Rule> rules;
  std::vector<std::string> origins;
  for (const std::string& t : texts) {
    rules.push_back(filter::parse_rule(t, no_peers).value());
    origins.emplace_back("local");
  }
  return filter::Ruleset(std::move(rules), std::move(origins), 1, 1, nullptr);
}

PacketSpec udp_from(uint32_t n) {
  PacketSpec s;
  s.source = IpAddress::v4(0x0a000000 | (n >> 8 & 0xffff) << 8 | 1);
  s.destination = IpAddress::v4(0x0a4d0001);
  s.protocol = filter::kUdp;
  s.source_port = static_cast<uint16_t>(40000 + (n & 0xff));
  s.destination_port = 5201;
  s.payload = 64;
  return s;
}

void report(benchmark::State& state, const filter::ConnTable& table) {
  state.counters["ns_per_packet"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["tracked"] = static_cast<double>(table.size());
}

void BM_NewConnection(benchmark::State& state) {
  const filter::Ruleset rules = ruleset(static_cast<size_t>(state.range(0)));
  filter::ConnTable table(65536, 7);
  std::vector<std::vector<std::byte>> packets;
  for (uint32_t n = 0; n < 65536; ++n) packets.push_back(make_packet(udp_from(n)));
  int64_t now = 0;
  size_t i = 0, refused = 0;
  for (auto _ : state) {
    const auto v = filter::judge(rules, table, 0, filter::Direction::kIn, kPeer, packets[i], now);
    refused += v.pass ? 0 : 1;
    i = (i + 1) % packets.size();
    now += kStepNs;
  }
  report(state, table);
  state.counters["refused"] = static_cast<double>(refused);
}
BENCHMARK(BM_NewConnection)->ArgName("drop_rules")->Arg(0)->Arg(1000);

void BM_TrackedConnection(benchmark::State& state) {
  const filter::Ruleset rules = ruleset(static_cast<size_t>(state.range(0)));
  filter::ConnTable table(65536, 7);
  const std::vector<std::byte> packet = make_packet(udp_from(1));
  int64_t now = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(filter::judge(rules, table, 0, filter::Direction::kIn, kPeer, packet, now).pass);
    now += kStepNs / 1000;
  }
  report(state, table);
}
BENCHMARK(BM_TrackedConnection)->ArgName("drop_rules")->Arg(0)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
