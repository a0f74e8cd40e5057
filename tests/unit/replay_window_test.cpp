// The replay window: table-driven cases, then a randomised comparison with a
// set-based twin that states the rules directly (docs/design.md, practice 11).
#include "core/link/replay_window.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <vector>

namespace cordon::link {
namespace {

using V = ReplayWindow::Verdict;
constexpr uint64_t W = ReplayWindow::kWidth;

// The rules, with a std::set instead of a ring of words.
class NaiveWindow {
 public:
  V check(uint64_t c) const {
    if (!top_ || c > *top_) return V::kFresh;
    if (*top_ - c < W) return seen_.count(c) ? V::kReplay : V::kFresh;
    if (prev_top_ && c <= *prev_top_ && *prev_top_ - c < W) return seen_.count(c) ? V::kReplay : V::kFresh;
    return V::kTooOld;
  }
  V accept(uint64_t c) {
    const V v = check(c);
    if (v != V::kFresh) return v;
    if (!top_) {
      top_ = c;
    } else if (c > *top_) {
      if (c - *top_ >= W) prev_top_ = top_;
      top_ = c;
    }
    seen_.insert(c);
    return v;
  }

 private:
  std::optional<uint64_t> top_, prev_top_;
  std::set<uint64_t> seen_;
};

struct Step {
  uint64_t counter;
  V expected;
};

void run_steps(const std::vector<Step>& steps) {
  ReplayWindow w;
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(w.accept(steps[i].counter), steps[i].expected) << "step " << i << " counter " << steps[i].counter;
  }
}

TEST(ReplayWindow, InOrderThenDuplicate) {
  run_steps({{100, V::kFresh}, {101, V::kFresh}, {102, V::kFresh}, {101, V::kReplay}, {100, V::kReplay}});
}

TEST(ReplayWindow, ReorderedWithinWindowAcceptedOnce) {
  run_steps({{1000, V::kFresh}, {5000, V::kFresh}, {1001, V::kFresh}, {4999, V::kFresh}, {1001, V::kReplay},
             {5000, V::kReplay}});
}

TEST(ReplayWindow, AtLeast4096Wide) {
  ASSERT_GE(W, 4096u);
  run_steps({{10000, V::kFresh}, {10000 - 4096, V::kFresh}, {10000 - (W - 1), V::kFresh}, {10000 - W, V::kTooOld}});
}

TEST(ReplayWindow, SlidingClearsOldBits) {
  // 64 + x and 64 + x + W share a ring word; the old bit must not make the new counter a replay.
  run_steps({{64, V::kFresh}, {64 + ReplayWindow::kBits, V::kFresh}, {64 + 2 * ReplayWindow::kBits, V::kFresh},
             {64 + 2 * ReplayWindow::kBits - 1, V::kFresh}});
}

TEST(ReplayWindow, JumpKeepsPreviousSegment) {
  const uint64_t jump = uint64_t{1} << 30;  // a re-anchor: 64 s of counter units
  run_steps({{500, V::kFresh}, {502, V::kFresh}, {500 + jump, V::kFresh}, {501, V::kFresh}, {502, V::kReplay},
             {501, V::kReplay}, {500 + jump, V::kReplay}, {1000 + jump / 2, V::kTooOld}});
}

TEST(ReplayWindow, SecondJumpRetiresOldestSegment) {
  const uint64_t jump = uint64_t{1} << 30;
  run_steps({{10, V::kFresh}, {10 + jump, V::kFresh}, {10 + 2 * jump, V::kFresh}, {11, V::kTooOld},
             {10 + jump - W, V::kTooOld}, {9 + jump, V::kFresh}, {9 + jump, V::kReplay}});
}

TEST(ReplayWindow, CheckDoesNotRecord) {
  ReplayWindow w;
  EXPECT_EQ(w.check(7), V::kFresh);
  EXPECT_EQ(w.check(7), V::kFresh);
  EXPECT_EQ(w.accept(7), V::kFresh);
  EXPECT_EQ(w.check(7), V::kReplay);
}

TEST(ReplayWindow, HugeCountersDoNotOverflow) {
  const uint64_t top = UINT64_MAX - 3;
  run_steps({{top, V::kFresh}, {top - 1, V::kFresh}, {UINT64_MAX, V::kFresh}, {top, V::kReplay}, {0, V::kTooOld}});
}

// Randomised comparison: bursts, reordering, duplicates, losses and jumps.
TEST(ReplayWindow, MatchesNaiveTwin) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    ReplayWindow fast;
    NaiveWindow naive;
    uint64_t base = rng() % (uint64_t{1} << 50);
    std::vector<uint64_t> history;
    for (int i = 0; i < 20000; ++i) {
      uint64_t c;
      const auto dice = rng() % 100;
      if (dice < 60) {
        c = base++;
      } else if (dice < 80 && !history.empty()) {
        c = history[rng() % history.size()];  // duplicate or late arrival
      } else if (dice < 95) {
        c = base - std::min<uint64_t>(base, rng() % (2 * W));  // reordered, maybe too old
      } else if (dice < 98) {
        base += rng() % (3 * W);  // loss burst or small jump
        c = base;
      } else {
        base += (uint64_t{1} << 24) * (1 + rng() % 64);  // re-anchor jump
        c = base;
      }
      history.push_back(c);
      if (history.size() > 4 * W) history.erase(history.begin(), history.begin() + W);
      const V expected = naive.accept(c);
      ASSERT_EQ(fast.accept(c), expected) << "seed " << seed << " step " << i << " counter " << c;
    }
  }
}

// After a restart with a persisted receive floor: everything at or below it
// is refused, within the window as a replay and beyond it as too old;
// counters above it are fresh once.
TEST(ReplayWindow, StartAtRefusesEverythingUpToTheFloor) {
  const uint64_t floor = 1'000'000;
  ReplayWindow w;
  w.start_at(floor);
  EXPECT_FALSE(w.empty());
  EXPECT_EQ(w.top(), floor);
  EXPECT_EQ(w.accept(floor), V::kReplay);
  EXPECT_EQ(w.accept(floor - 1), V::kReplay);
  EXPECT_EQ(w.accept(floor - W + 1), V::kReplay);
  EXPECT_EQ(w.accept(floor - W), V::kTooOld);
  EXPECT_EQ(w.accept(1), V::kTooOld);
  EXPECT_EQ(w.accept(floor + 2), V::kFresh);
  EXPECT_EQ(w.accept(floor + 1), V::kFresh);  // a hole above the floor
  EXPECT_EQ(w.accept(floor + 1), V::kReplay);
  EXPECT_EQ(w.accept(floor + 2), V::kReplay);
}

TEST(ReplayWindow, StartAtBelowTheTopChangesNothing) {
  ReplayWindow w;
  ASSERT_EQ(w.accept(500), V::kFresh);
  w.start_at(100);
  EXPECT_EQ(w.top(), 500u);
  EXPECT_EQ(w.accept(499), V::kFresh);  // still a hole, not swallowed by the floor
  EXPECT_EQ(w.accept(500), V::kReplay);
  // A floor above the top moves it, and the counters between are refused.
  w.start_at(600);
  EXPECT_EQ(w.accept(550), V::kReplay);
  EXPECT_EQ(w.accept(601), V::kFresh);
}

TEST(ReplayWindow, StartAtAcrossAJumpForgetsThePreviousSegment) {
  ReplayWindow w;
  ASSERT_EQ(w.accept(10), V::kFresh);
  ASSERT_EQ(w.accept(10 + 3 * W), V::kFresh);  // a jump: 10's segment is kept as previous
  EXPECT_EQ(w.check(9), V::kFresh);
  w.start_at(10 + 4 * W);
  EXPECT_EQ(w.check(9), V::kTooOld);
  EXPECT_EQ(w.check(10 + 3 * W - 1), V::kTooOld);
}

}  // namespace
}  // namespace cordon::link
