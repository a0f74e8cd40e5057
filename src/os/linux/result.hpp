// System calls return a value together with errno (docs/design.md, "Errors").
#pragma once

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/result.hpp"

namespace cordon::os {

// The text of a SysError, held inline so that building one allocates
// nothing: a failed send on the data path fails once per datagram. Text
// beyond kCapacity bytes is cut and ends in "..."; the capacity holds a
// refusal that names a path twice (check_owner) for paths of up to about
// 170 bytes.
class ErrorText {
 public:
  static constexpr size_t kCapacity = 511;

  ErrorText() { text_[0] = '\0'; }
  ErrorText(std::string_view text) : ErrorText() { append(text); }
  ErrorText(const char* text) : ErrorText(std::string_view(text)) {}
  ErrorText(const std::string& text) : ErrorText(std::string_view(text)) {}
  ErrorText(const ErrorText& other) { copy_from(other); }
  ErrorText& operator=(const ErrorText& other) {
    copy_from(other);
    return *this;
  }

  ErrorText& append(std::string_view text);
  template <typename N>
    requires std::is_integral_v<N>
  ErrorText& append_number(N n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof(digits), n).ptr;
    return append(std::string_view(digits, static_cast<size_t>(end - digits)));
  }

  std::string_view view() const { return {text_, size_}; }
  operator std::string_view() const { return view(); }
  const char* c_str() const { return text_; }
  bool empty() const { return size_ == 0; }
  std::string str() const { return std::string(view()); }

  friend std::string operator+(std::string left, const ErrorText& right) { return left.append(right.view()); }
  friend std::string operator+(const ErrorText& left, std::string_view right) {
    return std::string(left.view()).append(right);
  }
  friend bool operator==(const ErrorText& a, std::string_view b) { return a.view() == b; }

 private:
  void copy_from(const ErrorText& other);

  uint16_t size_ = 0;
  bool cut_ = false;
  char text_[kCapacity + 1];
};

// An OS error: the failing operation and its errno. err == 0 marks a
// refusal that is not an errno; message() is then `what` alone.
struct SysError {
  ErrorText what;  // e.g. "open /dev/net/tun"
  int err = 0;
  std::string message() const;  // "open /dev/net/tun: No such file or directory"
};

template <typename T>
using Result = cordon::Result<T, SysError>;
using Ok = cordon::Ok;
using Status = Result<Ok>;

inline SysError sys_error(std::string_view what, int err = errno) { return SysError{what, err}; }

// Builds the text from parts (text, or integers written in decimal)
// without allocating, for errors raised on the data path:
//   sys_error_of(errno, "send UDP to ", endpoint_chars(peer).view())
template <typename... Parts>
SysError sys_error_of(int err, const Parts&... parts) {
  SysError e{{}, err};
  auto add = [&e](const auto& part) {
    if constexpr (std::is_integral_v<std::decay_t<decltype(part)>>) {
      e.what.append_number(part);
    } else {
      e.what.append(std::string_view(part));
    }
  };
  (add(parts), ...);
  return e;
}

}  // namespace cordon::os
