// Helpers for the IKE codec tests (ike_payloads_test.cpp, ike_message_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/ipsec/ike_payloads.hpp"
#include "core/wire/byte_io.hpp"
#include "tests/unit/ipsec_test_bytes.hpp"  // Bytes, hex()

namespace cordon::ipsec::test {

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
