// Byte helpers shared by the IPsec data-path tests: vectors are written as
// hex strings, as the RFCs print them (spaces allowed).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::ipsec::test {

inline std::vector<std::byte> bytes_of_hex(std::string_view text) {
  std::vector<std::byte> out;
  int pending = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;  // spaces and line breaks
    if (pending < 0) {
      pending = v;
    } else {
      out.push_back(static_cast<std::byte>(pending << 4 | v));
      pending = -1;
    }
  }
  return out;
}

inline std::vector<std::byte> bytes_of_text(std::string_view text) {
  const auto s = std::as_bytes(std::span(text.data(), text.size()));
  return {s.begin(), s.end()};
}

inline std::string hex_of(std::span<const std::byte> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte x : b) {
    out.push_back(kDigits[std::to_integer<unsigned>(x) >> 4]);
    out.push_back(kDigits[std::to_integer<unsigned>(x) & 15]);
  }
  return out;
}

}  // namespace cordon::ipsec::test
