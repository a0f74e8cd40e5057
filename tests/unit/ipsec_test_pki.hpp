// A small PKI built in the IPsec unit tests with OpenSSL's API: keys of each
// type, CA / intermediate / end-entity certificates with chosen validity and
// subjectAltNames, and CRLs. The core under test only ever sees the PEM or
// DER bytes, as it would from a configuration file.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/ipsec/openssl_ptr.hpp"
#include "ipsec_test_bytes.hpp"

namespace cordon::ipsec::test {

enum class TestKey { kRsa, kP256, kP384, kEd25519 };

inline ossl::Pkey generate_key(TestKey kind) {
  switch (kind) {
    case TestKey::kRsa: return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    case TestKey::kP256: return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case TestKey::kP384: return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    case TestKey::kEd25519: return ossl::Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  }
  return nullptr;
}

inline Bytes bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  Bytes out(reinterpret_cast<std::byte*>(data), reinterpret_cast<std::byte*>(data) + len);
  BIO_free(bio);
  return out;
}

inline Bytes private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_bytes(bio);
}

inline Bytes public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  return bio_bytes(bio);
}

inline Bytes cert_der(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  Bytes out(static_cast<size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509(cert, &p);
  return out;
}

inline Bytes cert_pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  return bio_bytes(bio);
}

inline const EVP_MD* signing_md(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256(); }

inline void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct CertSpec {
  std::string common_name;
  long serial = 1;
  int64_t not_before = 0;
  int64_t not_after = 0;
  bool ca = false;
  std::string subject_alt_names;  // "DNS:gw.example.net,IP:192.0.2.1,email:a@example.net"
};

// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer`
// is null).
inline ossl::X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  ossl::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Cordon test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  add_extension(cert.get(), issuer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), issuer, NID_key_usage, spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (!spec.subject_alt_names.empty()) {
    add_extension(cert.get(), issuer, NID_subject_alt_name, spec.subject_alt_names);
  }
  EVP_PKEY* signer = issuer_key ? issuer_key : key;
  X509_sign(cert.get(), signer, signing_md(signer));
  return cert;
}

// A v2 CRL of `ca` listing `revoked` serials, valid from `this_update` to
// `next_update`.
inline Bytes make_crl_der(X509* ca, EVP_PKEY* ca_key, const std::vector<long>& revoked, int64_t this_update,
                          int64_t next_update) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
  ASN1_TIME* last = ASN1_TIME_set(nullptr, static_cast<time_t>(this_update));
  ASN1_TIME* next = ASN1_TIME_set(nullptr, static_cast<time_t>(next_update));
  X509_CRL_set1_lastUpdate(crl, last);
  X509_CRL_set1_nextUpdate(crl, next);
  for (long serial : revoked) {
    X509_REVOKED* entry = X509_REVOKED_new();
    ASN1_INTEGER* number = ASN1_INTEGER_new();
    ASN1_INTEGER_set(number, serial);
    X509_REVOKED_set_serialNumber(entry, number);
    X509_REVOKED_set_revocationDate(entry, last);
    X509_CRL_add0_revoked(crl, entry);
    ASN1_INTEGER_free(number);
  }
  X509_CRL_sort(crl);
  X509_CRL_sign(crl, ca_key, signing_md(ca_key));
  const int len = i2d_X509_CRL(crl, nullptr);
  Bytes out(static_cast<size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509_CRL(crl, &p);
  ASN1_TIME_free(last);
  ASN1_TIME_free(next);
  X509_CRL_free(crl);
  return out;
}

}  // namespace cordon::ipsec::test
