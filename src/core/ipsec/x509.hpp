// Certificates for IKEv2 authentication (RFC 7296 sections 3.6, 3.7 and
// 2.15), entirely over OpenSSL 3: parsing, a trust store of configured CA
// certificates and CRLs, path validation at a time the caller passes, the
// match of the peer's IKE identity against its certificate, and the CERTREQ
// authority list. Nothing of X.509 is written here, and nothing reads a
// file or the clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/ipsec/ike_auth.hpp"
#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/prf.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

enum class CertError {
  kBadEncoding,        // not a DER or PEM certificate / CRL / ID
  kExpired,            // a certificate of the path is past notAfter
  kNotYetValid,        // a certificate of the path is before notBefore
  kUntrusted,          // no path to a configured CA, or a bad signature
  kRevoked,            // listed in a configured CRL of its issuer
  kCrlOutdated,        // the issuer's configured CRL is past nextUpdate
  kIdentityMismatch,   // the IKE ID is not in the certificate
  kUnsupportedIdType,  // ID_KEY_ID and others that a certificate cannot match
  kOpenSsl,            // OpenSSL refused (out of memory)
};
std::string_view to_string(CertError error);

constexpr size_t kCertReqHashSize = 20;  // SHA-1, RFC 7296 section 3.7

// One X.509 certificate. Copies share the OpenSSL object (reference counted).
class Certificate {
 public:
  static Result<Certificate, CertError> from_der(Octets der);
  // The first certificate of PEM text.
  static Result<Certificate, CertError> from_pem(Octets pem);
  // Every certificate of PEM text (a chain or a bundle of CAs); none is
  // kBadEncoding.
  static Result<std::vector<Certificate>, CertError> all_from_pem(Octets pem);

  Certificate(const Certificate&);
  Certificate& operator=(const Certificate&);
  Certificate(Certificate&&) noexcept;
  Certificate& operator=(Certificate&&) noexcept;
  ~Certificate();

  // The DER encoding: the CERT payload's data for encoding 4 (section 3.6).
  std::vector<std::byte> der() const;
  // The subject DN, DER: the data of an ID_DER_ASN1_DN identity.
  std::vector<std::byte> subject_der() const;
  Result<PublicKey, AuthError> public_key() const;
  // SHA-1 of the SubjectPublicKeyInfo: how CERTREQ names a CA (section 3.7).
  std::array<std::byte, kCertReqHashSize> key_sha1() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Certificate(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

class Crl {
 public:
  static Result<Crl, CertError> from_der(Octets der);
  static Result<Crl, CertError> from_pem(Octets pem);
  Crl(const Crl&);
  Crl& operator=(const Crl&);
  Crl(Crl&&) noexcept;
  Crl& operator=(Crl&&) noexcept;
  ~Crl();

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Crl(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The configured trust anchors and CRLs; immutable once built, so one store
// can serve every IKE SA.
class TrustStore {
 public:
  static Result<TrustStore, CertError> create(std::span<const Certificate> cas, std::span<const Crl> crls);
  TrustStore(TrustStore&&) noexcept;
  TrustStore& operator=(TrustStore&&) noexcept;
  ~TrustStore();

  // The CERTREQ payload's Certification Authority field: the key_sha1() of
  // every configured CA, concatenated (section 3.7).
  std::vector<std::byte> certreq_data() const;
  // Whether the peer's CERTREQ names one of our CAs.
  bool names_our_ca(Octets certreq_data) const;

  // Validates `end_entity` with the untrusted `intermediates` (from the
  // peer's CERT payloads) up to a configured CA, at `now_seconds` (seconds
  // since 1970, UTC). When the store holds a CRL of a certificate's issuer,
  // that CRL must be current and must not list the certificate; an issuer
  // without a configured CRL is not checked (docs/design.md, decision 21).
  Status<CertError> verify(const Certificate& end_entity, std::span<const Certificate> intermediates,
                           int64_t now_seconds) const;

 private:
  struct Impl;
  explicit TrustStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether the peer's IKE identity (ID payload type and data, section 3.5) is
// its certificate's: ID_FQDN, ID_RFC822_ADDR, ID_IPV4_ADDR and ID_IPV6_ADDR
// must equal a subjectAltName entry of that kind (DNS names compared without
// case and without wildcards); ID_DER_ASN1_DN must equal the subject DN.
Status<CertError> check_identity(const Certificate& cert, IdType type, Octets id_data);

}  // namespace cordon::ipsec
