// Keeping secrets out of swap (docs/design.md, "What every capability
// meets": secrets are locked in memory where possible).
//
// Link keys live in the core's SecretBytes and, as key schedules, inside
// OpenSSL's cipher contexts, which Cordon cannot place itself. So the daemon
// locks the whole process: mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT).
// MCL_ONFAULT (Linux 4.4) locks pages as they are first touched instead of
// faulting in every mapping up front, so idle thread stacks and unused
// buffer space cost nothing. Root is not bound by RLIMIT_MEMLOCK.
// Core dumps are kept out separately with PR_SET_DUMPABLE.
#pragma once

#include "os/linux/result.hpp"

namespace cordon::os {

// Best effort for the caller: an error means memory may be swapped; log it.
Status lock_all_memory();

}  // namespace cordon::os
