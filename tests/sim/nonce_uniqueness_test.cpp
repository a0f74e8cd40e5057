// A (key, nonce) pair is never used twice, across restarts, crashes and
// clock jumps (docs/design.md, decision 3; docs/protocol.md, "Nonce uniqueness").
//
// One sender restarts hundreds of times. Some restarts are kill -9: the node
// and any counter-floor write still in progress are lost, and only the last
// floor that reached the disk survives. Its wall clock is set back now and
// then, by up to hours, and set right again. Every datagram it puts on the
// underlay is captured. The key is fixed by the header's suite and
// generation and the link (one sender, one receiver), so the counter alone
// decides the nonce (wire::make_nonce).
//
// What is checked, per datagram:
//  - its 40 wire bits never repeat. Equal 64-bit counters have equal low
//    bits, so this is stronger than "no 64-bit counter repeats", and as
//    strong as it, not stronger, because the test also checks that every
//    counter lies within a span far shorter than 2^40 units (18.2 h);
//  - its full counter, rebuilt as the receiver does (wire::rebuild_counter
//    with the receiver's clock), lies at or above the floor the node started
//    from and below a floor that was already on disk when it was sent: the
//    invariant that makes a crash at any moment safe.
//
// A receiver on the correct clock takes every datagram, except those whose
// counters its time window rejects as `stale`: a sender whose clock was set
// back keeps its counters at its persisted floor, which the receiver's clock
// leaves behind (docs/design.md, decision 6). Any other drop (replay,
// auth_failure, future, ...) fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/sim/traffic.hpp"

namespace cordon::testing {
namespace {

struct Use {
  int incarnation;
  uint64_t counter;
};

TEST(NonceUniqueness, NoCounterRepeatsAcrossRestartsCrashesAndClocksSetBack) {
  constexpr int kIncarnations = 500;
  constexpr int64_t kHour = 3600 * kNsPerSecond;

  ManualClock clock;
  SimNetwork network(clock, 0x40cebeef);
  network.set_default_conditions(LinkConditions{.latency_ns = kNsPerMs});
  const SimLink link = make_sim_link();
  // Floor writes take 10 ms to become durable, so a crash can land while one
  // is in progress; the node keeps sending meanwhile.
  SimHostOptions sender_options;
  sender_options.floor_write_delay_ns = 10 * kNsPerMs;
  SimHost a(network, clock, link.a_config, link.a.underlay, nullptr, sender_options);
  SimHost b(network, clock, link.b_config, link.b.underlay);
  Stream stream(a, link.a, link.b, 1);
  Ledger at_b(stream);

  // Capture: rebuild each datagram's counter with the receiver's clock, and
  // check it lies below a floor that was already on disk when it was sent.
  std::map<std::tuple<uint8_t, uint8_t, uint64_t>, Use> uses;  // (suite, generation, wire counter)
  uint64_t lowest = UINT64_MAX, highest = 0;
  int incarnation = 0;
  uint64_t repeats = 0, unparsable = 0, not_covered = 0, below_boot_floor = 0, captured = 0;
  uint64_t boot_floor = 0;
  network.set_tap([&](const CapturedDatagram& d) {
    if (d.sender != &a.transport()) return;
    ++captured;
    const auto parsed = wire::parse_header(d.data);
    if (!parsed.header) {
      ++unparsable;
      return;
    }
    const wire::Header& h = *parsed.header;
    const uint64_t counter = wire::rebuild_counter(h.wire_counter, wire::counter_units(b.now().real_ns));
    if (!a.disk().counter_floor || counter >= *a.disk().counter_floor) ++not_covered;
    if (counter < boot_floor) ++below_boot_floor;
    lowest = std::min(lowest, counter);
    highest = std::max(highest, counter);
    const auto key = std::tuple(static_cast<uint8_t>(h.suite), h.generation, h.wire_counter);
    const auto [it, fresh] = uses.emplace(key, Use{incarnation, counter});
    if (!fresh && ++repeats <= 5) {
      ADD_FAILURE() << "counter " << counter << " (incarnation " << incarnation << ") repeats the wire bits of "
                    << it->second.counter << " (incarnation " << it->second.incarnation << ")";
    }
  });

  std::mt19937_64 rng(20240101);
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  auto between = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % uint64_t(hi - lo + 1)); };
  uint64_t kills = 0, kills_mid_write = 0, clock_set_back = 0;
  const std::vector<SimHost*> hosts = {&a, &b};
  std::vector<int64_t> start_times;  // the sender's wall clock at each start

  for (incarnation = 1; incarnation <= kIncarnations; ++incarnation) {
    // The machine's clock, as an administrator, a dead RTC battery or a VM
    // snapshot leaves it. Set-backs add up to at most 6 h, so every counter
    // stays within half the wire range of the receiver's clock.
    if (chance(8) && !start_times.empty()) {
      // Restored from a snapshot: the clock reads exactly what it read when
      // an earlier incarnation started, so a node that trusted its clock
      // would replay that incarnation's counters.
      a.set_real_offset(start_times[rng() % start_times.size()] - clock.real_ns());
      ++clock_set_back;
    } else if (chance(15)) {
      if (a.real_offset_ns() < -6 * kHour) a.set_real_offset(0);
      a.shift_real(-between(kNsPerSecond, 3 * kHour));
      ++clock_set_back;
    } else if (chance(10)) {
      a.shift_real(-between(0, 2 * kNsPerSecond));  // a small step back, as NTP makes
    } else if (chance(30)) {
      a.set_real_offset(0);  // set right again
    }
    boot_floor = a.disk().counter_floor.value_or(0);
    start_times.push_back(a.now().real_ns);
    a.start();

    const int rounds = static_cast<int>(between(1, 4));
    for (int r = 0; r < rounds; ++r) {
      ASSERT_TRUE(run_for(clock, network, hosts, between(0, 30) * kNsPerMs));
      for (int64_t n = between(1, 3); n > 0; --n) stream.send(static_cast<size_t>(between(0, 600)));
      // Mostly short gaps; sometimes seconds, across several floor checks.
      ASSERT_TRUE(run_for(clock, network, hosts, chance(15) ? between(1, 5) * kNsPerSecond : between(0, 40) * kNsPerMs));
    }
    if (chance(50)) {
      if (chance(80)) {
        // Crash while a floor write is in progress, right after sending on
        // the floor confirmed before it: the worst moment to lose the write.
        // Event by event: a node asks for a new floor every few seconds.
        for (int i = 0; i < 2000 && !a.floor_write_pending(); ++i) {
          ASSERT_TRUE(run_until(clock, network, hosts, a.next_deadline_mono_ns()));
        }
        for (int64_t n = between(1, 3); n > 0; --n) stream.send();
        ASSERT_TRUE(settle(network, hosts));  // same instant: the write is not done yet
        if (a.floor_write_pending()) ++kills_mid_write;
      }
      a.kill();
      ++kills;
    } else {
      a.stop();
    }
    ASSERT_TRUE(run_for(clock, network, hosts, between(0, 5) * kNsPerMs));
  }
  ASSERT_TRUE(run_for(clock, network, hosts, 10 * kNsPerMs));
  at_b.collect(b);

  EXPECT_EQ(repeats, 0u);
  EXPECT_EQ(unparsable, 0u);
  EXPECT_EQ(not_covered, 0u) << "a datagram used a counter not yet below a floor on disk";
  EXPECT_EQ(below_boot_floor, 0u) << "a node used a counter below the floor it started from";

  // The test exercised what it claims to.
  EXPECT_GE(captured, 1000u);
  EXPECT_GE(kills, 100u);
  EXPECT_GE(clock_set_back, 50u);
  EXPECT_GE(kills_mid_write, 30u);
  EXPECT_GE(a.counters().floors_lost, kills_mid_write) << "crashes should have cut floor writes short";

  // Within half the wire range the receiver's rebuild is exact, and equal
  // low bits mean equal counters.
  EXPECT_LT(highest - lowest, (uint64_t{1} << wire::kWireCounterBits) / 2);

  // The receiver, on the right clock, takes every datagram but those its
  // time window calls stale.
  const SimHostCounters& rx = b.counters();
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    if (static_cast<DropReason>(r) == DropReason::kStale) continue;
    EXPECT_EQ(rx.rx_drops[r], 0u) << "receiver dropped " << drop_reason_name(static_cast<DropReason>(r));
  }
  EXPECT_EQ(rx.delivered + rx.consumed + rx.rx_drop(DropReason::kStale), captured);
  EXPECT_GE(rx.delivered + rx.consumed, captured / 2);
  EXPECT_EQ(at_b.duplicates(), 0u);
  EXPECT_EQ(at_b.corrupt(), 0u);
  EXPECT_EQ(at_b.misfiled(), 0u);
  // Packets sent while a new node's first floor was still being written are
  // refused (`nonce_reservation`), never sent unprotected; the rest go out.
  const SimHostCounters& tx = a.counters();
  EXPECT_EQ(tx.sent + tx.tx_drop(DropReason::kNonceReservation), tx.tun_read);
  EXPECT_GE(tx.sent, tx.tun_read * 3 / 4);
  RecordProperty("datagrams", static_cast<int>(captured));
  RecordProperty("floors_lost", static_cast<int>(a.counters().floors_lost));
  RecordProperty("kills_mid_write", static_cast<int>(kills_mid_write));
  RecordProperty("stale_at_receiver", static_cast<int>(rx.rx_drop(DropReason::kStale)));
  RecordProperty("refused_nonce_reservation", static_cast<int>(tx.tx_drop(DropReason::kNonceReservation)));
  RecordProperty("simulated_seconds", static_cast<int>((clock.mono_ns() - ManualClock::kDefaultMonoNs) / kNsPerSecond));
}

}  // namespace
}  // namespace cordon::testing
