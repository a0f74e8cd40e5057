// A clock that moves only when a test says so (docs/design.md, practice 3;
// Envoy's tests have one too). It produces the cordon::Now that every core
// call takes, with the two parts the core distinguishes (core/types.hpp):
//  - monotonic time, which only moves forward, with advance();
//  - wall-clock time, which advance() moves as well, and which set_real() or
//    shift_real() can move on its own, backwards included, to model an
//    administrator or NTP setting the clock.
#pragma once

#include <cstdint>

#include "core/types.hpp"

namespace cordon::testing {

class ManualClock {
 public:
  // 2024-01-01T00:00:00Z: a realistic wall clock, so the counter's seconds
  // part looks like the one a real host would use.
  static constexpr int64_t kDefaultRealNs = 1'704'067'200 * kNsPerSecond;
  // Monotonic clocks count from boot; start away from zero so that a
  // deadline of 0 ("none") can't be confused with a real instant.
  static constexpr int64_t kDefaultMonoNs = 1000 * kNsPerSecond;

  ManualClock() = default;
  explicit ManualClock(Now start) : now_(start) {}

  Now now() const { return now_; }
  int64_t mono_ns() const { return now_.mono_ns; }
  int64_t real_ns() const { return now_.real_ns; }

  // Moves both clocks forward by `ns` (>= 0; time does not run backwards).
  void advance(int64_t ns);
  // Moves the monotonic clock to `mono_ns` if that is later, and the wall
  // clock along by the same amount. Returns the distance moved.
  int64_t advance_to(int64_t mono_ns);

  // Wall clock only: set it to an absolute time, or move it by `delta_ns`
  // (negative = the clock is set back). The monotonic clock does not move.
  void set_real(int64_t real_ns);
  void shift_real(int64_t delta_ns);

 private:
  Now now_{kDefaultMonoNs, kDefaultRealNs};
};

}  // namespace cordon::testing
