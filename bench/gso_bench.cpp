// The cost of splitting a TSO super-packet on the way out (offload::split):
// a 64 KiB TCP packet with timestamps, as a TUN queue hands it over with
// gso_size at the MSS of a 1420-byte MTU, cut into 1420-byte inner packets
// with every checksum completed, into buffers with the worker's headroom.
// Reported per segment (time_per_segment, in seconds with an SI prefix:
// "30n" is 30 ns) and as payload bytes per second.
//
//   ./build/bench/gso_bench
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "core/offload/gso_split.hpp"
#include "core/wire/header.hpp"
#include "tests/common/offload_packets.hpp"

namespace cordon::offload {
namespace {

constexpr size_t kMtu = 1420;  // the default interface MTU (daemon/config.hpp)

void BM_SplitTcp(benchmark::State& state) {
  test::Flow flow{.v4 = state.range(0) == 4};
  flow.tcp_options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP, NOP, timestamps (RFC 7323 section 3)
  const size_t mss = kMtu - flow.headers();
  std::vector<uint8_t> payload(65535 - flow.headers());
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 131);
  const auto packet = test::build_packet(flow, payload, 1, 1000, test::kTcpAck | test::kTcpPsh, test::Checksum::kPartial);
  const VirtioNetHeader header{.flags = kNeedsChecksum,
                               .gso_type = flow.v4 ? GsoType::kTcpV4 : GsoType::kTcpV6,
                               .header_length = static_cast<uint16_t>(flow.headers()),
                               .gso_size = static_cast<uint16_t>(mss),
                               .checksum_start = static_cast<uint16_t>(flow.ip_header()),
                               .checksum_offset = 16};

  constexpr size_t kBatch = 64;
  std::vector<std::array<std::byte, wire::kHeadroom + kMtu + wire::kTailroom>> buffers(kBatch);
  std::vector<std::span<std::byte>> out(buffers.begin(), buffers.end());
  std::array<size_t, kBatch> sizes{};
  size_t segments = 0;
  for (auto _ : state) {
    const auto k = split(header, std::as_bytes(std::span(packet)), kMtu, 0, out, sizes, wire::kHeadroom);
    if (!k) {
      state.SkipWithError(to_string(k.error()));
      return;
    }
    benchmark::DoNotOptimize(buffers.data());
    segments += *k;
  }
  state.SetLabel(flow.v4 ? "IPv4" : "IPv6");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
  state.counters["segments"] = static_cast<double>(segments) / static_cast<double>(state.iterations());
  state.counters["time_per_segment"] =
      benchmark::Counter(static_cast<double>(segments), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SplitTcp)->Arg(4)->Arg(6);

}  // namespace
}  // namespace cordon::offload

BENCHMARK_MAIN();
