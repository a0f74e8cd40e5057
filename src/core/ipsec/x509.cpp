#include "core/ipsec/x509.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <string>

#include "core/ipsec/openssl_ptr.hpp"

namespace cordon::ipsec {

struct Certificate::Impl {
  ossl::X509Ptr cert;
};
struct Crl::Impl {
  ossl::X509CrlPtr crl;
};
struct TrustStore::Impl {
  ossl::X509StorePtr store;
  bool has_crls = false;
  std::vector<std::byte> authorities;  // certreq_data()
};

namespace {

using Bio = std::unique_ptr<BIO, ossl::Deleter<BIO, BIO_free_all>>;
using Name = std::unique_ptr<X509_NAME, ossl::Deleter<X509_NAME, X509_NAME_free>>;
// sk_X509_free is a macro: wrapped so that it can be a deleter. The stack
// only borrows its certificates.
void free_cert_stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
using CertStack = std::unique_ptr<STACK_OF(X509), ossl::Deleter<STACK_OF(X509), free_cert_stack>>;

const unsigned char* u8(Octets o) { return reinterpret_cast<const unsigned char*>(o.data()); }

// PEM in memory carries no passphrase; never prompt on a terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

template <typename T, int (*Encode)(const T*, unsigned char**)>
std::vector<std::byte> encode(const T* object) {
  const int len = Encode(object, nullptr);
  if (len <= 0) return {};
  std::vector<std::byte> out(static_cast<size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (Encode(object, &p) != len) return {};
  return out;
}

Bio memory_bio(Octets bytes) { return Bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()))); }

// A verification error of OpenSSL as one of ours (the first error found).
CertError cert_error_of(int code) {
  switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED: return CertError::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID: return CertError::kNotYetValid;
    case X509_V_ERR_CERT_REVOKED: return CertError::kRevoked;
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID: return CertError::kCrlOutdated;
    case X509_V_ERR_OUT_OF_MEM: return CertError::kOpenSsl;
    default: return CertError::kUntrusted;
  }
}

// CRLs are checked where the store has one for the issuer; OpenSSL's "no CRL
// for this issuer" is forgiven (docs/design.md, decision 21).
int forgive_missing_crl(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) return 1;
  return ok;
}

// Bad input is answered with our error; OpenSSL's queued ones are cleared.
CertError bad_encoding() {
  ERR_clear_error();
  return CertError::kBadEncoding;
}

// Whether a list of concatenated 20-byte hashes holds `hash`.
bool contains_hash(Octets list, Octets hash) {
  for (size_t i = 0; i + kCertReqHashSize <= list.size(); i += kCertReqHashSize) {
    if (std::equal(hash.begin(), hash.end(), list.begin() + i)) return true;
  }
  return false;
}

}  // namespace

std::string_view to_string(CertError error) {
  switch (error) {
    case CertError::kBadEncoding: return "bad-certificate-encoding";
    case CertError::kExpired: return "certificate-expired";
    case CertError::kNotYetValid: return "certificate-not-yet-valid";
    case CertError::kUntrusted: return "certificate-untrusted";
    case CertError::kRevoked: return "certificate-revoked";
    case CertError::kCrlOutdated: return "crl-outdated";
    case CertError::kIdentityMismatch: return "identity-mismatch";
    case CertError::kUnsupportedIdType: return "unsupported-id-type";
    case CertError::kOpenSsl: return "openssl-failure";
  }
  return "unknown";
}

// ---- Certificate ----

Certificate::Certificate(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Certificate::Certificate(const Certificate&) = default;
Certificate& Certificate::operator=(const Certificate&) = default;
Certificate::Certificate(Certificate&&) noexcept = default;
Certificate& Certificate::operator=(Certificate&&) noexcept = default;
Certificate::~Certificate() = default;

Result<Certificate, CertError> Certificate::from_der(Octets der) {
  const unsigned char* p = u8(der);
  ossl::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != u8(der) + der.size()) return bad_encoding();
  return Certificate(std::make_shared<Impl>(Impl{std::move(cert)}));
}

Result<Certificate, CertError> Certificate::from_pem(Octets pem) {
  Bio bio = memory_bio(pem);
  if (!bio) return CertError::kOpenSsl;
  ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!cert) return bad_encoding();
  return Certificate(std::make_shared<Impl>(Impl{std::move(cert)}));
}

Result<std::vector<Certificate>, CertError> Certificate::all_from_pem(Octets pem) {
  Bio bio = memory_bio(pem);
  if (!bio) return CertError::kOpenSsl;
  std::vector<Certificate> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
    out.push_back(Certificate(std::make_shared<Impl>(Impl{ossl::X509Ptr(cert)})));
  }
  ERR_clear_error();  // the end of the text reads as "no start line"
  if (out.empty()) return CertError::kBadEncoding;
  return out;
}

std::vector<std::byte> Certificate::der() const { return encode<X509, i2d_X509>(impl_->cert.get()); }

std::vector<std::byte> Certificate::subject_der() const {
  return encode<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(impl_->cert.get()));
}

Result<PublicKey, AuthError> Certificate::public_key() const {
  const auto spki = encode<X509_PUBKEY, i2d_X509_PUBKEY>(X509_get_X509_PUBKEY(impl_->cert.get()));
  return PublicKey::from_der(spki);
}

std::array<std::byte, kCertReqHashSize> Certificate::key_sha1() const {
  std::array<std::byte, kCertReqHashSize> out{};
  const auto spki = encode<X509_PUBKEY, i2d_X509_PUBKEY>(X509_get_X509_PUBKEY(impl_->cert.get()));
  unsigned int len = 0;
  EVP_Digest(spki.data(), spki.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha1(), nullptr);
  return out;
}

// ---- Crl ----

Crl::Crl(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Crl::Crl(const Crl&) = default;
Crl& Crl::operator=(const Crl&) = default;
Crl::Crl(Crl&&) noexcept = default;
Crl& Crl::operator=(Crl&&) noexcept = default;
Crl::~Crl() = default;

Result<Crl, CertError> Crl::from_der(Octets der) {
  const unsigned char* p = u8(der);
  ossl::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || p != u8(der) + der.size()) return bad_encoding();
  return Crl(std::make_shared<Impl>(Impl{std::move(crl)}));
}

Result<Crl, CertError> Crl::from_pem(Octets pem) {
  Bio bio = memory_bio(pem);
  if (!bio) return CertError::kOpenSsl;
  ossl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, no_passphrase, nullptr));
  if (!crl) return bad_encoding();
  return Crl(std::make_shared<Impl>(Impl{std::move(crl)}));
}

// ---- TrustStore ----

TrustStore::TrustStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrustStore::TrustStore(TrustStore&&) noexcept = default;
TrustStore& TrustStore::operator=(TrustStore&&) noexcept = default;
TrustStore::~TrustStore() = default;

Result<TrustStore, CertError> TrustStore::create(std::span<const Certificate> cas, std::span<const Crl> crls) {
  auto impl = std::make_unique<Impl>();
  impl->store.reset(X509_STORE_new());
  if (!impl->store) return CertError::kOpenSsl;
  for (const Certificate& ca : cas) {
    // Adding the same CA twice is harmless; any other failure is not.
    if (X509_STORE_add_cert(impl->store.get(), ca.impl().cert.get()) != 1) {
      const unsigned long err = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) return CertError::kOpenSsl;
      continue;
    }
    const auto hash = ca.key_sha1();
    if (!contains_hash(impl->authorities, hash)) {
      impl->authorities.insert(impl->authorities.end(), hash.begin(), hash.end());
    }
  }
  for (const Crl& crl : crls) {
    if (X509_STORE_add_crl(impl->store.get(), crl.impl().crl.get()) != 1) return CertError::kOpenSsl;
  }
  impl->has_crls = !crls.empty();
  return TrustStore(std::move(impl));
}

std::vector<std::byte> TrustStore::certreq_data() const { return impl_->authorities; }

bool TrustStore::names_our_ca(Octets certreq) const {
  for (size_t i = 0; i + kCertReqHashSize <= certreq.size(); i += kCertReqHashSize) {
    if (contains_hash(impl_->authorities, certreq.subspan(i, kCertReqHashSize))) return true;
  }
  return false;
}

Status<CertError> TrustStore::verify(const Certificate& end_entity, std::span<const Certificate> intermediates,
                                     int64_t now_seconds) const {
  CertStack chain(sk_X509_new_null());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!chain || !ctx) return CertError::kOpenSsl;
  for (const Certificate& c : intermediates) {
    if (sk_X509_push(chain.get(), c.impl().cert.get()) <= 0) return CertError::kOpenSsl;
  }
  if (X509_STORE_CTX_init(ctx.get(), impl_->store.get(), end_entity.impl().cert.get(), chain.get()) != 1) {
    return CertError::kOpenSsl;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now_seconds));
  if (impl_->has_crls) {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    X509_STORE_CTX_set_verify_cb(ctx.get(), forgive_missing_crl);
  }
  const int ok = X509_verify_cert(ctx.get());
  if (ok == 1) return Ok{};
  const int code = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return cert_error_of(code);
}

// ---- identity ----

Status<CertError> check_identity(const Certificate& cert, IdType type, Octets id) {
  X509* x = cert.impl().cert.get();
  const auto* text = reinterpret_cast<const char*>(id.data());
  // Only subjectAltName entries count, never the subject's CN or e-mail.
  const unsigned int flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS;
  int match = 0;
  switch (type) {
    case IdType::kFqdn:
      if (id.empty() || std::find(id.begin(), id.end(), std::byte{0}) != id.end()) return CertError::kIdentityMismatch;
      match = X509_check_host(x, text, id.size(), flags, nullptr);
      break;
    case IdType::kRfc822Addr:
      if (id.empty() || std::find(id.begin(), id.end(), std::byte{0}) != id.end()) return CertError::kIdentityMismatch;
      match = X509_check_email(x, text, id.size(), flags);
      break;
    case IdType::kIpv4Addr:
    case IdType::kIpv6Addr:
      if (id.size() != (type == IdType::kIpv4Addr ? 4u : 16u)) return CertError::kIdentityMismatch;
      match = X509_check_ip(x, u8(id), id.size(), 0);
      break;
    case IdType::kDerAsn1Dn: {
      const unsigned char* p = u8(id);
      Name name(d2i_X509_NAME(nullptr, &p, static_cast<long>(id.size())));
      if (!name || p != u8(id) + id.size()) return CertError::kBadEncoding;
      match = X509_NAME_cmp(name.get(), X509_get_subject_name(x)) == 0 ? 1 : 0;
      break;
    }
    default: return CertError::kUnsupportedIdType;
  }
  ERR_clear_error();
  if (match < 0) return CertError::kOpenSsl;
  if (match != 1) return CertError::kIdentityMismatch;
  return Ok{};
}

}  // namespace cordon::ipsec
