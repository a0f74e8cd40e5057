// Kernel parameters under /proc/sys (sysctl(8) names such as
// "net.ipv4.ip_forward"), for the calling thread's network namespace.
#pragma once

#include <string>
#include <string_view>

#include "os/linux/result.hpp"

namespace cordon::os {

// The value with surrounding white space removed.
Result<std::string> read_sysctl(std::string_view name);
// Writes `value`; the error names the parameter.
Status write_sysctl(std::string_view name, std::string_view value);

}  // namespace cordon::os
