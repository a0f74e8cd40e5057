// Helpers for the IKE codec tests (ike_payloads_test.cpp, ike_message_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/ipsec/ike_payloads.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::ipsec::test {

using Bytes = std::vector<std::byte>;

// Bytes from hex digits; spaces and '|' (field separators in the tests'
// layouts) are ignored.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::byte>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

inline Bytes text_bytes(std::string_view s) {
  Bytes out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

inline Bytes filled(size_t n, uint8_t value) { return Bytes(n, static_cast<std::byte>(value)); }

template <size_t N>
Bytes from_array(const unsigned char (&a)[N]) {
  Bytes out;
  for (unsigned char c : a) out.push_back(static_cast<std::byte>(c));
  return out;
}

// A payload body as write_payload_body() writes it; empty on a build error.
inline Bytes written(const PayloadBody& body) {
  wire::ByteWriter sizing;
  if (!write_payload_body(sizing, body)) return {};
  Bytes out(sizing.size());
  wire::ByteWriter w(out);
  if (!write_payload_body(w, body)) return {};
  return out;
}

}  // namespace cordon::ipsec::test
