#include "os/linux/clock.hpp"

#include <time.h>

namespace cordon::os {

namespace {

int64_t read_ns(clockid_t clock) {
  timespec ts{};
  // clock_gettime(2) cannot fail for these two clocks with a valid pointer.
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

}  // namespace

Now now() {
  // CLOCK_MONOTONIC rather than CLOCK_BOOTTIME: timers should not fire a
  // burst of keepalives for the time the machine was suspended.
  return Now{.mono_ns = read_ns(CLOCK_MONOTONIC), .real_ns = read_ns(CLOCK_REALTIME)};
}

}  // namespace cordon::os
