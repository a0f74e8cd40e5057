// AEAD wrappers over OpenSSL 3 EVP. No primitive is written here; this is
// only the narrow interface the data path needs (docs/design.md, decision 4).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "core/crypto/secret.hpp"

namespace cordon::crypto {

// Wire codes are fixed: they travel in the packet header (docs/protocol.md).
enum class Suite : uint8_t {
  kAes256Gcm = 0,         // default
  kChaCha20Poly1305 = 1,  // RFC 8439
  kAes256Siv = 2,         // RFC 5297, nonce-misuse resistant
  kAes128Gcm = 3,         // site links configured as AES128
};

constexpr size_t kTagSize = 16;
constexpr size_t kNonceSize = 12;

// Key length for a suite: 32, 32, 64 (two AES-256 keys), 16 bytes.
size_t key_size(Suite suite);
std::string_view suite_name(Suite suite);  // "aes-256-gcm", "chacha20-poly1305", "aes-256-siv", "aes-128-gcm"
std::optional<Suite> parse_suite(std::string_view name);

// One key, one OpenSSL context. Not thread-safe: each worker owns its own
// Aead per key and direction. Reusing the context avoids the key schedule on
// every packet.
class Aead {
 public:
  // Returns nullopt if the key length does not fit the suite or OpenSSL
  // cannot provide the cipher.
  static std::optional<Aead> create(Suite suite, std::span<const std::byte> key);

  Aead(Aead&&) noexcept;
  Aead& operator=(Aead&&) noexcept;
  ~Aead();

  Suite suite() const { return suite_; }

  // Encrypts `inout` in place and writes the 16-byte tag. For SIV the nonce is
  // the last associated-data component (RFC 5297, section 3) and the tag is
  // the synthetic IV. Returns false if OpenSSL fails, or for an empty
  // `inout` under AES-256-SIV (below).
  //
  // AES-256-SIV needs a non-empty plaintext: OpenSSL 3.0 refuses an empty one
  // (openssl/openssl#17268). Cordon never seals an empty payload: a keepalive
  // is one zero byte (docs/protocol.md). seal() and open() return false for an
  // empty `inout` under that suite; the other suites accept it.
  bool seal(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
            std::span<std::byte> inout, std::span<std::byte, kTagSize> tag);

  // Decrypts `inout` in place. Returns false if the tag does not verify (or,
  // under AES-256-SIV, if `inout` is empty: see seal()); the contents of
  // `inout` are then unspecified and must not be used.
  bool open(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
            std::span<std::byte> inout, std::span<const std::byte, kTagSize> tag);

 private:
  struct Impl;
  Aead(Suite suite, std::unique_ptr<Impl> impl);
  Suite suite_;
  std::unique_ptr<Impl> impl_;
};

// HKDF-SHA256 (RFC 5869) into `out` (at most 255*32 bytes). Returns false on
// OpenSSL failure.
bool hkdf_sha256(std::span<const std::byte> ikm, std::span<const std::byte> salt,
                 std::span<const std::byte> info, std::span<std::byte> out);

// HMAC-SHA256 (RFC 2104) of `data` under `key` (not empty) into `out` (32
// bytes). Returns false on OpenSSL failure. Compare tags with
// constant_time_equal (secret.hpp).
constexpr size_t kHmacSize = 32;
bool hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> data,
                 std::span<std::byte, kHmacSize> out);

}  // namespace cordon::crypto
