// The pseudorandom functions of IKEv2 (RFC 7296 section 2.13): PRF_HMAC_SHA2_
// 256/384/512 (RFC 4868 section 2.1.2) and prf+, the expansion every IKE and
// CHILD_SA key comes from. HMAC is OpenSSL 3's EVP_MAC; nothing is written
// here. Pure: no clock, no randomness, no system call.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string_view>

#include "core/crypto/secret.hpp"
#include "core/ipsec/ike_constants.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

using Octets = std::span<const std::byte>;
// The input of a prf as pieces that are concatenated (Ni | Nr | SPIi | SPIr),
// so that no secret is copied into a temporary buffer to be joined.
using OctetsList = std::initializer_list<Octets>;

enum class PrfError {
  kUnsupportedPrf,  // not one of PrfId's values
  kOutputTooLong,   // prf+ beyond 255 blocks (RFC 7296 section 2.13)
  kOpenSsl,         // OpenSSL refused (out of memory)
};
std::string_view to_string(PrfError error);

// Output (and preferred key) size in bytes: 32, 48 or 64; 0 for an unknown id.
size_t prf_size(PrfId prf);

// prf(key, data): HMAC with the PRF's hash, full length (RFC 4868 section
// 2.1.2: the PRF output is not truncated).
Result<crypto::SecretBytes, PrfError> prf(PrfId prf, Octets key, OctetsList data);

// prf+(key, seed) cut to `length` bytes: T1 = prf(K, S | 0x01),
// Tn = prf(K, Tn-1 | S | n), at most 255 blocks (RFC 7296 section 2.13).
Result<crypto::SecretBytes, PrfError> prf_plus(PrfId prf, Octets key, OctetsList seed, size_t length);

}  // namespace cordon::ipsec
