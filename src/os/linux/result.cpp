#include "os/linux/result.hpp"

#include <string.h>

namespace cordon::os {

// strerrordesc_np (glibc >= 2.32) returns a static, locale-independent
// description and is thread-safe, unlike strerror(3); it returns NULL for an
// unknown errno. err == 0 marks an error that is not an errno (a policy
// refusal such as a bad name): then `what` alone says it all.
std::string SysError::message() const {
  if (err == 0) return what;
  const char* desc = ::strerrordesc_np(err);
  std::string text = desc != nullptr ? desc : "errno " + std::to_string(err);
  return what + ": " + text;
}

}  // namespace cordon::os
