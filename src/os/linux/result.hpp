// System calls return a value together with errno (STYLE.md, Envoy habit).
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace cordon::os {

// An OS error: the failing operation and its errno. err == 0 marks a
// refusal that is not an errno; message() is then `what` alone.
struct SysError {
  std::string what;  // e.g. "open /dev/net/tun"
  int err = 0;
  std::string message() const;  // "open /dev/net/tun: No such file or directory"
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(SysError e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const SysError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, SysError> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline SysError sys_error(std::string what, int err = errno) { return SysError{std::move(what), err}; }

}  // namespace cordon::os
