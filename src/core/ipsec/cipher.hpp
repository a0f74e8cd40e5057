// The protection transform of one IPsec direction: an encryption transform
// and, for a cipher that is not combined-mode, an integrity transform. Shared
// by ESP (RFC 4303 section 2) and by IKE's Encrypted payload (RFC 7296
// section 3.14), which protect data the same way:
//
//   aad (not encrypted) | IV | ciphertext (payload + padding + trailer) | ICV
//
//   combined mode (AES-GCM, RFC 4106 / RFC 5282; ChaCha20-Poly1305,
//   RFC 7634): nonce = salt (4 bytes, the end of the key material) | IV
//   (8 bytes); ICV = the AEAD tag over aad and ciphertext.
//   AES-CBC with HMAC-SHA2 (RFC 3602, RFC 4868): ICV = HMAC over
//   aad | IV | ciphertext | icv_suffix, truncated (the suffix carries the
//   implicit high half of an extended sequence number, RFC 4303 section
//   3.3.2.1).
//
// Every primitive comes from OpenSSL 3 (EVP); nothing is written here.
// Not thread-safe: one Cipher per SA, direction and worker, like crypto::Aead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/ipsec/ike_constants.hpp"

namespace cordon::ipsec {

// A negotiated transform pair. key_bits is the ENCR Key Length attribute
// (128, 192 or 256 for AES; 256 for ChaCha20-Poly1305). integ is kNone for a
// combined-mode cipher and required otherwise.
struct CipherSpec {
  EncrId encr = EncrId::kAesGcm16;
  uint16_t key_bits = 256;
  IntegId integ = IntegId::kNone;

  bool combined() const;
  // Bytes of key material this transform takes: encryption key (with the
  // 4-byte salt of a combined-mode cipher) and integrity key, in that order
  // (RFC 7296 section 2.17; RFC 4106 section 8.1; RFC 7634 section 2).
  size_t encryption_key_size() const;
  size_t integrity_key_size() const;
  // "aes256gcm16", "aes128-sha256", "chacha20poly1305": the names strongSwan's
  // proposals use, for log lines and configuration.
  std::string name() const;
  friend bool operator==(const CipherSpec&, const CipherSpec&) = default;
};

// Whether Cordon implements the transform pair (an unknown or unsupported
// combination is not offered and not accepted).
bool supported(const CipherSpec& spec);

class Cipher {
 public:
  // nullopt when the spec is unsupported or a key has the wrong length.
  static std::optional<Cipher> create(const CipherSpec& spec, std::span<const std::byte> encryption_key,
                                      std::span<const std::byte> integrity_key);
  Cipher(Cipher&&) noexcept;
  Cipher& operator=(Cipher&&) noexcept;
  ~Cipher();

  const CipherSpec& spec() const { return spec_; }
  size_t iv_size() const;     // 8 for combined mode, 16 for AES-CBC
  size_t icv_size() const;    // 16, or the HMAC truncation (16, 24, 32)
  size_t block_size() const;  // the cipher's padding unit: 16 for AES-CBC, 1 for combined mode

  // Writes the IV for the `counter`-th message sent under this key (counters
  // never repeat for one key). Combined mode: the counter itself, big-endian
  // (RFC 4106 section 3.1). AES-CBC: the counter block encrypted under the
  // encryption key, unpredictable without the key (NIST SP 800-38A,
  // appendix C).
  void make_iv(uint64_t counter, std::span<std::byte> iv) const;

  // Encrypts `inout` in place (for AES-CBC its length must be a multiple of
  // 16) and writes the ICV (icv_size() bytes). False on OpenSSL failure or
  // a wrong length.
  bool seal(std::span<const std::byte> aad, std::span<const std::byte> iv, std::span<std::byte> inout,
            std::span<std::byte> icv, std::span<const std::byte> icv_suffix = {});
  // Verifies the ICV in constant time, then decrypts `inout` in place. False
  // if the ICV does not verify or a length is wrong; `inout` is then
  // unspecified.
  bool open(std::span<const std::byte> aad, std::span<const std::byte> iv, std::span<std::byte> inout,
            std::span<const std::byte> icv, std::span<const std::byte> icv_suffix = {});

 private:
  struct Impl;
  Cipher(const CipherSpec& spec, std::unique_ptr<Impl> impl);
  CipherSpec spec_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cordon::ipsec
