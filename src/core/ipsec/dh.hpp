// The key exchange of IKE_SA_INIT and CREATE_CHILD_SA (RFC 7296 sections
// 1.2 and 2.14): one ephemeral private value per exchange, its public value
// for the KE payload, and the shared secret g^ir. Every group is computed by
// OpenSSL 3; nothing of the arithmetic is written here.
//
//   group 14 MODP-2048 (RFC 3526 section 3): KE data is g^x mod p, 256 bytes
//     big-endian; g^ir is 256 bytes, zero-padded (RFC 7296 section 2.14).
//   groups 19 and 20 ECP P-256 / P-384 (RFC 5903 section 7): KE data is
//     x | y (64 / 96 bytes, no 0x04 prefix); g^ir is x alone (errata 2622).
//   group 31 Curve25519 (RFC 8031 section 2): KE data and g^ir are 32 bytes.
//
// The core reads no randomness: the caller passes dh_random_size() bytes it
// drew from the OS, and the private value is derived from them alone
// (docs/design.md, decision 21). Peer values are checked before use
// (RFC 7296 section 5; RFC 6989 section 2).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/prf.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

enum class DhError {
  kUnsupportedGroup,      // not 14, 19, 20 or 31
  kBadRandomSize,         // random.size() != dh_random_size(group)
  kBadPrivateValue,       // from_private: out of range for the group
  kBadPeerLength,         // KE data not dh_public_size(group) bytes
  kPeerValueOutOfRange,   // MODP: not 1 < y < p-1 (RFC 6989 section 2.1)
  kPeerPointNotOnCurve,   // ECP: (x, y) not on the curve (RFC 6989 section 2.3)
  kPeerLowOrder,          // Curve25519: all-zero secret (RFC 8031 section 2.3)
  kOpenSsl,               // OpenSSL refused (out of memory)
};
std::string_view to_string(DhError error);

// KE payload data length (RFC 7296 section 3.4): 256, 64, 96 or 32; 0 if the
// group is not supported.
size_t dh_public_size(DhGroup group);
// Random bytes create() takes: 32 (MODP), 40 (P-256), 56 (P-384), 32 (X25519).
size_t dh_random_size(DhGroup group);
bool dh_supported(DhGroup group);

class DhKey {
 public:
  // A private value derived from `random` (dh_random_size(group) bytes from
  // the OS): MODP: the 256-bit exponent `random` with its top bit set (RFC
  // 3526 section 8 asks for at least 2 x 112 bits); ECP: (random mod (n-1))
  // + 1, with 64 bits more than the order n so the bias is negligible (FIPS
  // 186-4 appendix B.4.1); Curve25519: `random` itself, clamped by OpenSSL
  // (RFC 7748 section 5).
  static Result<DhKey, DhError> create(DhGroup group, Octets random);
  // The key with exactly this private value (big-endian exponent or scalar,
  // or the 32-byte X25519 key): for known-answer tests. MODP: 2 <= x < p-1;
  // ECP: exactly the order's size, 1 <= d < n.
  static Result<DhKey, DhError> from_private(DhGroup group, Octets private_value);

  DhKey(DhKey&&) noexcept;
  DhKey& operator=(DhKey&&) noexcept;
  ~DhKey();

  DhGroup group() const { return group_; }
  // The KE payload's Key Exchange Data.
  Octets public_value() const { return public_; }
  // g^ir with the peer's KE data, after checking it.
  Result<crypto::SecretBytes, DhError> agree(Octets peer_public) const;

 private:
  struct Impl;
  DhKey(DhGroup group, std::unique_ptr<Impl> impl, std::vector<std::byte> public_value);
  DhGroup group_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::byte> public_;
};

}  // namespace cordon::ipsec
