#include "os/linux/memory.hpp"

#include <sodium.h>

namespace cordon::os {

bool lock_region(void* data, size_t size) { return ::sodium_mlock(data, size) == 0; }

void unlock_region(void* data, size_t size) { ::sodium_munlock(data, size); }

}  // namespace cordon::os
