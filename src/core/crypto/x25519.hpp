// X25519 key agreement (RFC 7748) through OpenSSL 3's EVP interface: the
// ephemeral exchange that gives each key generation forward secrecy
// (docs/protocol.md, "Rekey exchange"). No primitive is written here.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "core/crypto/secret.hpp"

namespace cordon::crypto {

constexpr size_t kX25519Size = 32;

// One ephemeral X25519 private key. Move-only; the OpenSSL key is freed
// (and OpenSSL clears it) with the object.
class X25519Key {
 public:
  // The key with private value `random` (32 bytes the caller drew from the
  // OS: the core reads no randomness itself, docs/design.md practice 1).
  // OpenSSL clamps it (RFC 7748, section 5). nullopt if OpenSSL fails.
  static std::optional<X25519Key> from_private(std::span<const std::byte, kX25519Size> random);
  X25519Key(X25519Key&&) noexcept;
  X25519Key& operator=(X25519Key&&) noexcept;
  ~X25519Key();

  std::array<std::byte, kX25519Size> public_value() const { return public_; }
  // The shared secret with `peer_public`. nullopt when OpenSSL refuses the
  // value or the result is all zero (a low-order point: RFC 7748, section 6.1,
  // "check whether the result is the all-zero value and abort if so").
  std::optional<SecretBytes> agree(std::span<const std::byte, kX25519Size> peer_public) const;

 private:
  struct Impl;
  explicit X25519Key(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::array<std::byte, kX25519Size> public_{};
};

}  // namespace cordon::crypto
