// Packets per second through the core, in one process, on the same fakes
// the simulation tier uses (docs/design.md, practice 3).
//
//   BM_CorePath  A's process_tun seals a batch, B's process_wire opens it:
//                the data path alone, buffers reused, no allocation.
//   BM_SimPath   the same packets through two SimHosts and a SimNetwork:
//                adds the fakes' copies and queues, so the difference says
//                what the harness costs.
// Both for 64- and 1420-byte inner packets (the smallest common packet and
// the default tunnel MTU). Throughput comparisons against the plain link and
// other VPNs are bench/run.sh's job, on real kernels.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "testing/fake_tun.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"

namespace cordon::testing {
namespace {

constexpr size_t kBatch = 64;

// Persists whatever floor the node asks for, at once.
void tick_and_persist(Node& n, const Now& now) {
  const TickResult r = n.tick(now);
  if (r.persist_counter_floor) n.counter_floor_persisted(*r.persist_counter_floor);
}

void BM_CorePath(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  ManualClock clock;
  const SimLink link = make_sim_link();
  Node a(link.a_config, 1, 0, clock.now());
  Node b(link.b_config, 1, 0, clock.now());
  tick_and_persist(a, clock.now());
  tick_and_persist(b, clock.now());

  const auto packet = make_test_packet({.src = link.a.tunnel_v4, .dst = link.b.tunnel_v4, .size = size});
  std::vector<std::vector<std::byte>> buffers(kBatch, std::vector<std::byte>(wire::kHeadroom + size + wire::kTailroom));
  std::vector<TxSlot> tx(kBatch);
  std::vector<RxSlot> rx(kBatch);
  uint64_t batches = 0;

  for (auto _ : state) {
    // The clock moves a little per batch, and the control thread's tick
    // keeps the counter floor ahead, as the daemon's would.
    clock.advance(10 * 1000);
    if (++batches % 1024 == 0) {
      tick_and_persist(a, clock.now());
      tick_and_persist(b, clock.now());
    }
    for (size_t i = 0; i < kBatch; ++i) {
      std::memcpy(buffers[i].data() + wire::kHeadroom, packet.data(), packet.size());  // as a TUN read would
      tx[i] = TxSlot{.buffer = buffers[i], .headroom = wire::kHeadroom, .length = packet.size()};
    }
    a.process_tun(0, clock.now(), tx);
    for (size_t i = 0; i < kBatch; ++i) {
      if (tx[i].verdict != Verdict::kDeliver) {
        state.SkipWithError((std::string("process_tun dropped: ") + std::string(drop_reason_name(tx[i].reason))).c_str());
        return;
      }
      const size_t offset = static_cast<size_t>(tx[i].wire.data() - buffers[i].data());
      rx[i] = RxSlot{.from = link.a.underlay, .data = std::span(buffers[i]).subspan(offset, tx[i].wire.size())};
    }
    b.process_wire(0, clock.now(), rx);
    for (const RxSlot& r : rx) {
      if (r.verdict != Verdict::kDeliver) {
        state.SkipWithError((std::string("process_wire dropped: ") + std::string(drop_reason_name(r.reason))).c_str());
        return;
      }
    }
    benchmark::DoNotOptimize(rx.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatch * size));
}

void BM_SimPath(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  ManualClock clock;
  SimNetwork network(clock, 1);
  const SimLink link = make_sim_link();
  SimHostOptions options;
  options.batch = kBatch;
  SimHost a(network, clock, link.a_config, link.a.underlay, nullptr, options);
  SimHost b(network, clock, link.b_config, link.b.underlay, nullptr, options);
  const std::vector<SimHost*> hosts = {&a, &b};
  const auto packet = make_test_packet({.src = link.a.tunnel_v4, .dst = link.b.tunnel_v4, .size = size});

  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) a.tun().inject(packet);
    if (!run_for(clock, network, hosts, 10 * 1000)) {
      state.SkipWithError("the simulation did not settle");
      return;
    }
    if (b.tun().delivered_pending() != kBatch) {
      state.SkipWithError("packets were lost on a clean link");
      return;
    }
    benchmark::DoNotOptimize(b.tun().take_delivered());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatch * size));
}

BENCHMARK(BM_CorePath)->Arg(64)->Arg(1420);
BENCHMARK(BM_SimPath)->Arg(64)->Arg(1420);

}  // namespace
}  // namespace cordon::testing

BENCHMARK_MAIN();
