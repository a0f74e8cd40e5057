// The daemon's only clock reader: the core never reads a clock and gets
// both times passed in (docs/design.md, practice 1; core/types.hpp, struct Now).
#pragma once

#include "core/types.hpp"

namespace cordon::os {

// CLOCK_MONOTONIC for timers, CLOCK_REALTIME for the packet time stamp.
Now now();

}  // namespace cordon::os
