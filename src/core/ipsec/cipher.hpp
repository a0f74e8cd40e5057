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

// The key and ICV sizes of an integrity transform (RFC 4868 section 2.1:
// the key is as long as the hash output, the ICV is half of it); 0 for kNone
// and for an unknown transform.
size_t integrity_key_size(IntegId integ);
size_t integrity_icv_size(IntegId integ);

// An integrity transform alone: HMAC-SHA-256-128, -384-192 or -512-256
// (RFC 4868 section 2). It is the ICV of AES-CBC in ESP (used by Cipher)
// and of AH (RFC 4302 section 3.3.3), which authenticates data that is not
// contiguous (an IP header with its mutable fields zeroed, then the rest),
// hence the list of parts. One keyed OpenSSL context per Integrity, reused
// for every message. Not thread-safe.
class Integrity {
 public:
  // nullopt for kNone, an unknown transform or a key of the wrong length.
  static std::optional<Integrity> create(IntegId integ, std::span<const std::byte> key);
  Integrity(Integrity&&) noexcept;
  Integrity& operator=(Integrity&&) noexcept;
  ~Integrity();

  IntegId id() const { return id_; }
  size_t icv_size() const { return integrity_icv_size(id_); }

  // The truncated HMAC of the concatenated parts into `icv` (icv_size()
  // bytes). False on OpenSSL failure or a wrong `icv` length.
  bool compute(std::span<const std::span<const std::byte>> parts, std::span<std::byte> icv);
  // Recomputes and compares in constant time (CRYPTO_memcmp).
  bool verify(std::span<const std::span<const std::byte>> parts, std::span<const std::byte> icv);

 private:
  struct Impl;
  Integrity(IntegId id, std::unique_ptr<Impl> impl);
  IntegId id_;
  std::unique_ptr<Impl> impl_;
};

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
  // Combined mode takes no icv_suffix (ESP puts the high half of an
  // extended sequence number inside the aad instead, RFC 4106 section 5,
  // RFC 7634 section 3): seal and open return false when one is given.
  //
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
