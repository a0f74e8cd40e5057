#include "os/linux/result.hpp"

#include <string.h>

#include <cstring>

namespace cordon::os {

namespace {
constexpr std::string_view kCutMark = "...";
}  // namespace

ErrorText& ErrorText::append(std::string_view text) {
  if (cut_) return *this;
  const size_t room = kCapacity - size_;
  if (text.size() <= room) {
    std::memcpy(text_ + size_, text.data(), text.size());
    size_ = static_cast<uint16_t>(size_ + text.size());
  } else {
    // Keep what fits, then overwrite the tail with the mark, so that a
    // reader sees the text was cut rather than a wrong, shorter one.
    std::memcpy(text_ + size_, text.data(), room);
    size_ = static_cast<uint16_t>(kCapacity);
    std::memcpy(text_ + kCapacity - kCutMark.size(), kCutMark.data(), kCutMark.size());
    cut_ = true;
  }
  text_[size_] = '\0';
  return *this;
}

void ErrorText::copy_from(const ErrorText& other) {
  if (this == &other) return;
  size_ = other.size_;
  cut_ = other.cut_;
  std::memcpy(text_, other.text_, size_ + 1u);
}

// strerrordesc_np (glibc >= 2.32) returns a static, locale-independent
// description and is thread-safe, unlike strerror(3); it returns NULL for an
// unknown errno. err == 0 marks an error that is not an errno (a policy
// refusal such as a bad name): then `what` alone says it all.
std::string SysError::message() const {
  if (err == 0) return what.str();
  const char* desc = ::strerrordesc_np(err);
  std::string text = desc != nullptr ? desc : "errno " + std::to_string(err);
  return what + ": " + text;
}

}  // namespace cordon::os
