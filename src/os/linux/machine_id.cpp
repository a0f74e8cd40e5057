#include "os/linux/machine_id.hpp"

#include <algorithm>

#include "os/linux/files.hpp"

namespace cordon::os {

bool is_machine_id(std::string_view text) {
  return text.size() == 32 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<std::string> read_machine_id(const std::string& path) {
  auto text = read_file(path, 4096);
  if (!text) return std::nullopt;
  std::string_view id = text.value();
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.remove_suffix(1);
  if (!is_machine_id(id)) return std::nullopt;
  return std::string(id);
}

}  // namespace cordon::os
