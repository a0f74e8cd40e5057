#include "testing/manual_clock.hpp"

#include <cassert>

namespace cordon::testing {

void ManualClock::advance(int64_t ns) {
  assert(ns >= 0 && "a monotonic clock never runs backwards");
  if (ns <= 0) return;
  now_.mono_ns += ns;
  now_.real_ns += ns;
}

int64_t ManualClock::advance_to(int64_t mono_ns) {
  const int64_t delta = mono_ns - now_.mono_ns;
  if (delta <= 0) return 0;
  advance(delta);
  return delta;
}

void ManualClock::set_real(int64_t real_ns) { now_.real_ns = real_ns; }

void ManualClock::shift_real(int64_t delta_ns) { now_.real_ns += delta_ns; }

}  // namespace cordon::testing
