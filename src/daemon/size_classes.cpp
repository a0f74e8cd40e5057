#include "daemon/size_classes.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/wire/size_classes.hpp"

namespace cordon::daemon {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

cordon::Result<std::vector<uint16_t>, std::string> parse_size_classes(std::string_view text, unsigned mtu) {
  const size_t top = mtu + wire::kOverhead;  // the MTU's datagram
  text = trim(text);
  if (text == "off") return std::vector<uint16_t>{};
  if (text == "constant") return std::vector<uint16_t>{static_cast<uint16_t>(top)};
  const std::string hint = fmt::format("write off, constant, or datagram sizes in bytes from {} to {} (mtu + {}) in "
                                       "ascending order, such as \"128, 256, 512, 1024\"",
                                       wire::kMinSizeClass, top, wire::kOverhead);
  std::vector<uint16_t> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      return cordon::fail(fmt::format("\"{}\" is not a size; {}", item, hint));
    }
    if (value < wire::kMinSizeClass || value > top) {
      return cordon::fail(fmt::format("{} is outside {} .. {}; {}", value, wire::kMinSizeClass, top, hint));
    }
    if (!out.empty() && value <= out.back()) {
      return cordon::fail(fmt::format("{} does not follow {} in ascending order; {}", value, out.back(), hint));
    }
    out.push_back(static_cast<uint16_t>(value));
    if (comma != std::string_view::npos && text.empty()) return cordon::fail("a size is missing after the last comma; " + hint);
  }
  if (out.empty()) return cordon::fail("is empty; " + hint);
  if (out.back() != top) out.push_back(static_cast<uint16_t>(top));
  if (out.size() > wire::kMaxSizeClasses) {
    return cordon::fail(fmt::format("{} sizes with the MTU's; at most {}", out.size(), wire::kMaxSizeClasses));
  }
  return out;
}

std::vector<uint16_t> fit_size_classes(std::vector<uint16_t> classes, unsigned mtu) {
  if (classes.empty()) return classes;
  const auto top = static_cast<uint16_t>(mtu + wire::kOverhead);
  std::erase_if(classes, [&](uint16_t c) { return c > top; });
  if (classes.empty() || classes.back() != top) classes.push_back(top);
  return classes;
}

}  // namespace cordon::daemon
