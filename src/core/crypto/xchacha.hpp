// XChaCha20-Poly1305 (libsodium crypto_aead_xchacha20poly1305_ietf) for
// Cordon's files: key sets, update packages, network backups. Its 192-bit
// nonce is safe to pick at random for every file (draft-irtf-cfrg-xchacha,
// section 1), unlike the 96-bit nonces of the data path.
//
// The core makes no system calls (docs/design.md, practice 1): the caller supplies
// the nonce, from os::random_bytes. libsodium's generic implementations
// work without sodium_init(); the daemon and the CLI call
// os::init_crypto() at start to get the fast ones.
#pragma once

#include <array>
#include <cstddef>
#include <span>

namespace cordon::crypto {

constexpr size_t kXChaChaKeySize = 32;
constexpr size_t kXChaChaNonceSize = 24;
constexpr size_t kXChaChaTagSize = 16;

using XChaChaNonce = std::array<std::byte, kXChaChaNonceSize>;

// Encrypts `plaintext` into `out` = ciphertext (same length) followed by the
// 16-byte tag. `out` must be exactly plaintext.size() + kXChaChaTagSize
// bytes and the key kXChaChaKeySize bytes; otherwise returns false and
// writes nothing. `out` may not overlap `plaintext` except exactly (in place).
bool xchacha_seal(std::span<const std::byte> key, const XChaChaNonce& nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> plaintext, std::span<std::byte> out);

// Verifies and decrypts `sealed` = ciphertext || tag into `out`, which must
// be exactly sealed.size() - kXChaChaTagSize bytes. Returns false if the
// sizes are wrong or the tag does not verify; `out` is then zeroed.
bool xchacha_open(std::span<const std::byte> key, const XChaChaNonce& nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> sealed, std::span<std::byte> out);

}  // namespace cordon::crypto
