// The AUTH payload of IKE_AUTH (RFC 7296 section 2.15): the octets each end
// signs, the shared-key MIC, and digital signatures (RFC 7427 method 14;
// the legacy methods 1, 9 and 10 of RFC 7296 and RFC 4754). Keys are OpenSSL
// objects built from PEM or DER bytes the caller read; nothing here reads a
// file, and every primitive is OpenSSL 3's.
//
//   InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, IDi')
//   ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, IDr')
//     (IDx' = the ID payload without its generic header: ID Type |
//      RESERVED | Identification Data)
//   shared key:  AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), octets)
//   method 14:   AUTH = len (1 byte) | AlgorithmIdentifier (DER) | signature
//                (RFC 7427 section 3)
//
// Key material needs no randomness from here. ECDSA nonces and RSA-PSS salts
// come from OpenSSL's own generator, as OpenSSL 3.0 offers no way to pass
// them in (docs/design.md, decision 21).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/prf.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

enum class AuthError {
  kUnsupportedPrf,
  kBadKeyEncoding,        // PEM/DER key that does not parse
  kUnsupportedKeyType,    // not RSA, ECDSA P-256/P-384 or Ed25519
  kUnsupportedMethod,     // an AUTH method Cordon does not implement
  kUnsupportedAlgorithm,  // method 14 AlgorithmIdentifier not accepted, or a
                          // hash not among those announced
  kKeyMismatch,           // algorithm or method not usable with this key
  kMalformedAuthData,     // method 14 framing or a legacy length is wrong
  kAuthenticationFailed,  // MIC or signature does not verify
  kOpenSsl,               // OpenSSL refused (out of memory)
};
std::string_view to_string(AuthError error);

enum class KeyType { kRsa, kEcdsaP256, kEcdsaP384, kEd25519 };

class PrivateKey {
 public:
  // PEM ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"; unencrypted)
  // or DER (PKCS#8 or the traditional forms).
  static Result<PrivateKey, AuthError> from_pem(Octets pem);
  static Result<PrivateKey, AuthError> from_der(Octets der);
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();
  KeyType type() const { return type_; }
  // SubjectPublicKeyInfo DER of the matching public key.
  std::vector<std::byte> public_key_der() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  PrivateKey(KeyType type, std::unique_ptr<Impl> impl);
  KeyType type_;
  std::unique_ptr<Impl> impl_;
};

class PublicKey {
 public:
  // SubjectPublicKeyInfo, PEM ("PUBLIC KEY") or DER. A certificate's key:
  // x509.hpp's Certificate::public_key().
  static Result<PublicKey, AuthError> from_pem(Octets pem);
  static Result<PublicKey, AuthError> from_der(Octets der);
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();
  KeyType type() const { return type_; }

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  PublicKey(KeyType type, std::unique_ptr<Impl> impl);
  KeyType type_;
  std::unique_ptr<Impl> impl_;
};

// RealMessage | Nonce(peer) | prf(SK_p, id_body), for either end: the
// initiator passes its IKE_SA_INIT request, Nr and SK_pi; the responder its
// IKE_SA_INIT response, Ni and SK_pr. `id_body` is the own ID payload's
// body after the 4-byte generic header.
Result<std::vector<std::byte>, AuthError> signed_octets(PrfId prf, Octets sk_p, Octets real_message,
                                                        Octets peer_nonce, Octets id_body);

// Shared Key Message Integrity Code (method 2).
Result<std::vector<std::byte>, AuthError> shared_key_auth(PrfId prf, Octets shared_secret, Octets signed_octets);
// Recomputes the MIC and compares in constant time.
Status<AuthError> verify_shared_key_auth(PrfId prf, Octets shared_secret, Octets signed_octets, Octets auth_data);

// How to sign: the AUTH method, and for method 14 the hash and RSA padding.
struct SignatureChoice {
  AuthMethod method = AuthMethod::kDigitalSignature;
  SignatureHash hash = SignatureHash::kSha256;
  bool rsa_pss = false;  // method 14 with an RSA key: RSASSA-PSS, else PKCS#1 v1.5
};

// The hashes Cordon announces and accepts in method 14 (RFC 7427 section 4):
// SHA2-256, SHA2-384, SHA2-512 and Identity (for Ed25519, RFC 8420).
std::span<const SignatureHash> supported_signature_hashes();

// Method 14 with the first hash of the key's preference (Ed25519: Identity;
// P-384: SHA2-384, then 256 and 512; others: SHA2-256, 384, 512) that the
// peer announced. If the peer announced no hash it supports, the key's
// legacy method: 9 or 10 for ECDSA (RFC 4754), 1 (RSA with SHA-1) for RSA;
// an Ed25519 key then has no method (kUnsupportedAlgorithm).
Result<SignatureChoice, AuthError> choose_signature(const PrivateKey& key, std::span<const SignatureHash> peer_hashes,
                                                    bool prefer_rsa_pss);

// AUTH payload data (without the Auth Method field, which is choice.method).
Result<std::vector<std::byte>, AuthError> sign_auth(const PrivateKey& key, const SignatureChoice& choice,
                                                    Octets signed_octets);
// Verifies AUTH data of `method` (1, 9, 10 or 14). For method 14 the
// AlgorithmIdentifier's hash must be among `accepted` (what this end
// announced); RSASSA-PSS parameters are read from it (RFC 7427 appendix A.4).
Status<AuthError> verify_auth(const PublicKey& key, AuthMethod method, Octets auth_data, Octets signed_octets,
                              std::span<const SignatureHash> accepted);

// SIGNATURE_HASH_ALGORITHMS notify data: 2-octet hash values, big-endian
// (RFC 7427 section 4).
std::vector<std::byte> signature_hashes_notify_data(std::span<const SignatureHash> hashes);
// The values of a received notify; unknown values are skipped. An odd
// length is kMalformedAuthData.
Result<std::vector<SignatureHash>, AuthError> parse_signature_hashes_notify(Octets data);

}  // namespace cordon::ipsec
