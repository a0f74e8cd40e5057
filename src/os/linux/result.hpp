// System calls return a value together with errno (STYLE.md, Envoy habit).
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include "core/result.hpp"

namespace cordon::os {

// An OS error: the failing operation and its errno. err == 0 marks a
// refusal that is not an errno; message() is then `what` alone.
struct SysError {
  std::string what;  // e.g. "open /dev/net/tun"
  int err = 0;
  std::string message() const;  // "open /dev/net/tun: No such file or directory"
};

template <typename T>
using Result = cordon::Result<T, SysError>;
using Ok = cordon::Ok;
using Status = Result<Ok>;

inline SysError sys_error(std::string what, int err = errno) { return SysError{std::move(what), err}; }

}  // namespace cordon::os
