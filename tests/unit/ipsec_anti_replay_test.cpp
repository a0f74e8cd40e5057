// ESP anti-replay (core/ipsec/anti_replay.hpp): table-driven edges, then a
// randomised comparison with a naive twin (a std::set of every number
// accepted) over reordered, duplicated and lost packets, across the wrap of
// the low 32 bits with extended sequence numbers.
#include <gtest/gtest.h>

#include <cstdint>
#include <algorithm>
#include <utility>
#include <vector>
#include <random>
#include <set>

#include "core/ipsec/anti_replay.hpp"

namespace cordon::ipsec {
namespace {

using Verdict = AntiReplay::Verdict;
constexpr uint64_t W = AntiReplay::kWindow;

static_assert(AntiReplay::kWindow >= 1024, "the window must judge at least 1,024 packets");

// What RFC 4303 section 3.4.3 says, with no cleverness: a number is fresh
// when it is above everything seen, or within the window and not seen.
class NaiveWindow {
 public:
  Verdict judge(uint64_t s) const {
    if (s > top_) return Verdict::kFresh;
    if (top_ - s >= W) return Verdict::kTooOld;
    return seen_.contains(s) ? Verdict::kReplay : Verdict::kFresh;
  }
  void record(uint64_t s) {
    seen_.insert(s);
    if (s > top_) top_ = s;
  }

 private:
  std::set<uint64_t> seen_{0};  // 0 is never sent
  uint64_t top_ = 0;
};

// Delivers every number once from `base` up, like the receiver after those.
void prime(AntiReplay& window, NaiveWindow& twin, uint64_t top) {
  window.record(top);
  twin.record(top);
}

TEST(AntiReplay, JudgesTheEdgesOfTheWindow) {
  AntiReplay window(false);
  EXPECT_EQ(window.check(0).verdict, Verdict::kReplay);  // 0 is never sent
  EXPECT_EQ(window.check(1).verdict, Verdict::kFresh);
  window.record(5000);
  EXPECT_EQ(window.check(5000).verdict, Verdict::kReplay);
  EXPECT_EQ(window.check(5000 - W + 1).verdict, Verdict::kFresh);  // the oldest still judged
  EXPECT_EQ(window.check(5000 - W).verdict, Verdict::kTooOld);
  window.record(5000 - W + 1);
  EXPECT_EQ(window.check(5000 - W + 1).verdict, Verdict::kReplay);
  window.record(5001);
  EXPECT_EQ(window.check(5000 - W + 1).verdict, Verdict::kTooOld);  // slid out
  EXPECT_EQ(window.check(5000).verdict, Verdict::kReplay);
  window.record(5001 + 10 * W);  // a jump clears everything behind
  EXPECT_EQ(window.check(5001 + 10 * W - 1).verdict, Verdict::kFresh);
}

TEST(AntiReplay, WithoutEsnTheWireNumberIsTheNumber) {
  AntiReplay window(false);
  window.record(0xfffffff0);
  const auto j = window.check(3);
  EXPECT_EQ(j.sequence, 3u);
  EXPECT_EQ(j.verdict, Verdict::kTooOld);
}

// RFC 4303 appendix A2.1, both cases.
TEST(AntiReplay, InfersTheHighHalfAcrossTheWrap) {
  AntiReplay window(true);
  window.record((uint64_t{7} << 32) + 0xfffffff0);  // case A, near the top of subspace 7
  EXPECT_EQ(window.check(0x00000005).sequence, (uint64_t{8} << 32) + 5);
  EXPECT_EQ(window.check(0xffffffe0).sequence, (uint64_t{7} << 32) + 0xffffffe0);
  window.record((uint64_t{8} << 32) + 5);  // case B: the window spans 7 and 8
  EXPECT_EQ(window.check(0xffffffe0).sequence, (uint64_t{7} << 32) + 0xffffffe0);
  EXPECT_EQ(window.check(0xffffffe0).verdict, Verdict::kFresh);
  EXPECT_EQ(window.check(0xfffffff0).verdict, Verdict::kReplay);
  EXPECT_EQ(window.check(9).sequence, (uint64_t{8} << 32) + 9);
}

// The sender counts up by one; the path delays each packet by a few
// places, and one in eight by up to `max_delay` places (some past the
// window), duplicates one in twenty and loses one in fifty. The receiver
// checks, and records only when the ICV would verify: when the inferred
// number is the one the sender used (the high half is part of the ICV,
// RFC 4303 section 3.3.2.1).
void compare_with_twin(bool esn, uint64_t first, uint64_t count, uint64_t max_delay, uint32_t seed) {
  std::mt19937_64 rng(seed);
  AntiReplay window(esn);
  NaiveWindow twin;
  if (first > 1) prime(window, twin, first - 1);
  std::vector<std::pair<uint64_t, uint64_t>> arrivals;  // (arrival place, number)
  for (uint64_t s = first; s < first + count; ++s) {
    if (rng() % 50 == 0) continue;
    const uint64_t delay = rng() % 8 == 0 ? rng() % max_delay : rng() % 4;
    arrivals.emplace_back(s - first + delay, s);
    if (rng() % 20 == 0) arrivals.emplace_back(s - first + delay + rng() % 16, s);
  }
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t accepted = 0;
  uint64_t too_old = 0;
  for (const auto& [place, s] : arrivals) {
    const auto j = window.check(static_cast<uint32_t>(s));
    const Verdict expected = twin.judge(s);
    if (expected == Verdict::kTooOld) {
      // Either refused, or taken for another number whose ICV then fails.
      EXPECT_TRUE(j.verdict == Verdict::kTooOld || j.sequence != s) << s;
      ++too_old;
      continue;
    }
    ASSERT_EQ(j.sequence, s);
    ASSERT_EQ(j.verdict, expected) << s;
    if (j.verdict == Verdict::kFresh) {
      window.record(j.sequence);
      twin.record(s);
      ++accepted;
    }
  }
  EXPECT_GT(accepted, count * 8 / 10);  // 2% are lost, some arrive too late
  EXPECT_GT(too_old, 0u);  // the delays did reach past the window
  EXPECT_GE(window.top(), first + count - 8);
}

TEST(AntiReplay, AgreesWithANaiveTwinWithoutEsn) { compare_with_twin(false, 1, 60'000, 3 * W, 1); }

TEST(AntiReplay, AgreesWithANaiveTwinAcrossTheWrapOfTheLowHalf) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    compare_with_twin(true, (uint64_t{1} << 32) - 20'000, 50'000, 3 * W, seed);
    compare_with_twin(true, (uint64_t{5} << 32) - 3, 20'000, 2 * W, seed + 10);
  }
}

}  // namespace
}  // namespace cordon::ipsec
