#include "os/linux/memory.hpp"

#include <sys/mman.h>

namespace cordon::os {

Status lock_all_memory() {
  if (::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) return sys_error("mlockall");
  return Ok{};
}

}  // namespace cordon::os
