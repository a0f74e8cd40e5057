// Helpers of the IPsec unit tests: hex strings as the RFCs print them, and a
// second computation of HMAC and prf+ straight from OpenSSL's one-shot HMAC(),
// independent of src/core/ipsec/prf.cpp, to check the key schedule against.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::ipsec::test {

using Bytes = std::vector<std::byte>;

// Hex digits, spaces and line breaks ignored (RFCs print vectors in groups).
inline Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
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

inline Bytes bytes_of(std::string_view text) {
  Bytes out;
  for (char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

inline Bytes to_bytes(std::span<const std::byte> s) { return Bytes(s.begin(), s.end()); }

inline Bytes concat(std::initializer_list<std::span<const std::byte>> pieces) {
  Bytes out;
  for (auto p : pieces) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Bytes reference_hmac(const EVP_MD* md, const Bytes& key, const Bytes& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac, &mac_len);
  return Bytes(reinterpret_cast<std::byte*>(mac), reinterpret_cast<std::byte*>(mac) + mac_len);
}

// prf+ the slow way: T1 = HMAC(K, S | 1), Tn = HMAC(K, Tn-1 | S | n).
inline Bytes reference_prf_plus(const EVP_MD* md, const Bytes& key, const Bytes& seed, size_t length) {
  Bytes stream;
  Bytes previous;
  for (unsigned n = 1; stream.size() < length; ++n) {
    Bytes input = previous;
    input.insert(input.end(), seed.begin(), seed.end());
    input.push_back(static_cast<std::byte>(n));
    previous = reference_hmac(md, key, input);
    stream.insert(stream.end(), previous.begin(), previous.end());
  }
  stream.resize(length);
  return stream;
}

}  // namespace cordon::ipsec::test
