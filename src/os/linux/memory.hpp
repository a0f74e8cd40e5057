// Keeping secrets out of swap and core dumps (DESIGN.md, "Secrets are ...
// locked in memory where possible").
//
// Why not mlockall(MCL_CURRENT | MCL_FUTURE): the daemon owns large packet
// buffers and per-worker rings; locking all of them would hit RLIMIT_MEMLOCK
// and pin memory that holds no secret. Only the pages that hold key material
// are locked, through libsodium, which also excludes them from core dumps
// (MADV_DONTDUMP).
#pragma once

#include <cstddef>

namespace cordon::os {

// Best effort: returns false when the region could not be locked (for
// example RLIMIT_MEMLOCK is exhausted); the caller keeps going and may log.
bool lock_region(void* data, size_t size);

// Note: like sodium_munlock(3), this zeroes the region before unlocking it,
// so call it only when the secret is no longer needed.
void unlock_region(void* data, size_t size);

}  // namespace cordon::os
