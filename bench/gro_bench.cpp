// The GRO coalescer's cost per inner packet (core/offload/gro.hpp): a batch
// of 1,000 TCP packets of 1,420 bytes, of one flow, of 4 flows interleaved,
// and of 1,000 flows, over IPv4 and IPv6. Each iteration adds the batch and
// finishes it; the time per packet includes verifying every checksum.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/offload/gro.hpp"
#include "testing/segment_forge.hpp"

namespace {

using Bytes = std::vector<std::byte>;

std::vector<Bytes> traffic(bool v6, size_t flows) {
  constexpr size_t kPackets = 1000, kSize = 1420;
  std::vector<cordon::testing::SegmentSpec> specs(flows);
  for (size_t f = 0; f < flows; ++f) {
    auto& s = specs[f];
    s.v6 = v6;
    s.source = {10, 0, 0, 1};
    s.destination = {10, 0, 0, 2};
    s.source_port = static_cast<uint16_t>(1024 + f);
    s.destination_port = 443;
    s.seq = static_cast<uint32_t>(f * 7919);
  }
  const size_t payload = kSize - (v6 ? 40 : 20) - 20;
  const Bytes bytes(payload, std::byte{0x5a});
  std::vector<Bytes> out;
  for (size_t i = 0; i < kPackets; ++i) {
    auto& s = specs[i % flows];
    out.push_back(cordon::testing::forge_segment(s, bytes));
    s.seq += static_cast<uint32_t>(payload);
    ++s.id;
  }
  return out;
}

void BM_Gro(benchmark::State& state) {
  const auto in = traffic(state.range(0) == 6, static_cast<size_t>(state.range(1)));
  cordon::offload::Coalescer c({});
  for (auto _ : state) {
    for (const auto& p : in) c.add(p);
    benchmark::DoNotOptimize(c.finish().data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["ns_per_packet"] = benchmark::Counter(
      static_cast<double>(state.iterations() * in.size()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["packets_out"] = static_cast<double>(c.tally().packets_out);
}
BENCHMARK(BM_Gro)->ArgNames({"ip", "flows"})->ArgsProduct({{4, 6}, {1, 4, 1000}});

}  // namespace

BENCHMARK_MAIN();
