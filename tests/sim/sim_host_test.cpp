// SimHost keeps its counter file as the daemon does: the production
// CounterKeeper writes it, in the daemon's format and mode, onto the
// simulated disk, and a start reads it back from there. A write still in
// progress when the host is killed never reaches it.
#include <gtest/gtest.h>

#include "daemon/counter_store.hpp"
#include "daemon/workers.hpp"
#include "testing/fake_tun.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"

namespace cordon::testing {
namespace {

daemon::CounterFile read_counter_file(const SimHost& h) {
  const auto text = h.disk().files.contents(h.counter_path());
  if (!text) {
    ADD_FAILURE() << "no counter file at " << h.counter_path();
    return {};
  }
  auto parsed = daemon::parse_counter_file(*text);
  EXPECT_TRUE(parsed.file.has_value()) << parsed.error;
  return parsed.file.value_or(daemon::CounterFile{});
}

TEST(SimHostDisk, TheCounterFileIsTheDaemonsAndAStartReadsIt) {
  ManualClock clock;
  SimNetwork net(clock, 3);
  const SimLink link = make_sim_link();
  SimHostOptions slow_disk;
  slow_disk.floor_write_delay_ns = 10 * kNsPerMs;
  SimHost a(net, clock, link.a_config, link.a.underlay, nullptr, slow_disk);
  SimHost b(net, clock, link.b_config, link.b.underlay);
  EXPECT_EQ(a.counters().start_errors, 0u) << a.last_error();

  ASSERT_TRUE(run_for(clock, net, {&a, &b}, 20 * kNsPerMs));
  ASSERT_TRUE(a.disk().counter_floor.has_value());
  const daemon::CounterFile written = read_counter_file(a);
  EXPECT_EQ(written.floor, *a.disk().counter_floor);
  EXPECT_EQ(written.keys.size(), 1u) << "the one link key it covers";
  EXPECT_EQ(a.disk().files.mode(a.counter_path()), 0600u);

  // Killed: the file stays as the last completed write left it, and the
  // next start begins from what it holds.
  a.kill();
  EXPECT_EQ(read_counter_file(a).floor, *a.disk().counter_floor);
  a.start();
  ASSERT_TRUE(a.running()) << a.last_error();
  EXPECT_GE(a.node().status().counter_floor, written.floor);
}

// The worker hands the core a whole send slot: room for the MTU after the
// headroom and the tailroom after that, where size classes pad a packet up
// to its class (core/node.hpp, TxSlot; daemon/workers.hpp).
TEST(SimHostWorker, TheCoreGetsASendSlotWithRoomForTheMtu) {
  ManualClock clock;
  SimNetwork net(clock, 4);
  const SimLink link = make_sim_link();
  auto transport = net.bind(link.a.underlay);
  FakeTun tun;
  daemon::StreamOutbox outbox;
  Node node(link.a_config, 1, 0, clock.now());
  daemon::Worker worker(0, node, tun, *transport, outbox, 1420, 4);
  tun.inject(make_test_packet({.src = link.a.tunnel_v4, .dst = link.b.tunnel_v4, .size = 100}));
  auto report = worker.send_batch(clock.now());
  ASSERT_TRUE(report);
  ASSERT_EQ(report.value().slots, 1u);
  const TxSlot& slot = worker.sealed()[0];
  EXPECT_EQ(slot.headroom, wire::kHeadroom);
  EXPECT_EQ(slot.length, 100u);
  EXPECT_EQ(slot.buffer.size(), daemon::tunnel_slot_size(1420));
}

}  // namespace
}  // namespace cordon::testing
