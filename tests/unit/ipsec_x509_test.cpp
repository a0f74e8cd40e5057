// Certificate handling (src/core/ipsec/x509.hpp) on a PKI the test builds
// with OpenSSL's API: a root CA, an intermediate CA and an end entity, for
// RSA, ECDSA and Ed25519 keys. Time is passed in, never read.
#include <openssl/sha.h>

#include <gtest/gtest.h>

#include "core/ipsec/x509.hpp"
#include "ipsec_test_bytes.hpp"
#include "ipsec_test_pki.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::bytes_of;
using test::CertSpec;
using test::generate_key;
using test::hex;
using test::make_cert;
using test::TestKey;

constexpr int64_t kNow = 1'800'000'000;  // January 2027
constexpr int64_t kDay = 86'400;
constexpr long kEndEntitySerial = 77;

struct Pki {
  ossl::Pkey root_key, inter_key, ee_key;
  ossl::X509Ptr root, inter, ee;

  explicit Pki(TestKey kind, const char* name = "Cordon test root") {
    root_key = generate_key(kind);
    inter_key = generate_key(kind);
    ee_key = generate_key(kind);
    root = make_cert({name, 1, kNow - 3650 * kDay, kNow + 3650 * kDay, true, ""}, root_key.get(), nullptr, nullptr);
    inter = make_cert({"Cordon test intermediate", 2, kNow - 365 * kDay, kNow + 1000 * kDay, true, ""},
                      inter_key.get(), root.get(), root_key.get());
    ee = make_cert({"gw.example.net", kEndEntitySerial, kNow - 30 * kDay, kNow + 90 * kDay, false,
                    "DNS:gw.example.net,IP:192.0.2.1,IP:2001:db8::1,email:ops@example.net"},
                   ee_key.get(), inter.get(), inter_key.get());
  }
  Certificate cert(X509* x) const { return Certificate::from_der(test::cert_der(x)).value(); }
  TrustStore store(std::vector<Crl> crls = {}) const {
    const std::vector<Certificate> cas{cert(root.get())};
    return TrustStore::create(cas, crls).value();
  }
  Status<CertError> verify(const TrustStore& s, int64_t now = kNow) const {
    const std::vector<Certificate> chain{cert(inter.get())};
    return s.verify(cert(ee.get()), chain, now);
  }
  Crl crl(X509* ca, EVP_PKEY* key, std::vector<long> revoked, int64_t next_update = kNow + 7 * kDay) const {
    return Crl::from_der(test::make_crl_der(ca, key, revoked, kNow - kDay, next_update)).value();
  }
};

void expect_error(const Status<CertError>& status, CertError error) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), error) << to_string(status.error());
}

TEST(IpsecX509, ValidChainsVerifyForEveryKeyType) {
  for (TestKey kind : {TestKey::kRsa, TestKey::kP256, TestKey::kEd25519}) {
    const Pki pki(kind);
    auto status = pki.verify(pki.store());
    EXPECT_TRUE(status.ok()) << to_string(status.error());
    auto key = pki.cert(pki.ee.get()).public_key();
    ASSERT_TRUE(key.ok());
  }
}

TEST(IpsecX509, ValidityFollowsThePassedTime) {
  const Pki pki(TestKey::kP256);
  const TrustStore store = pki.store();
  expect_error(pki.verify(store, kNow + 91 * kDay), CertError::kExpired);
  expect_error(pki.verify(store, kNow - 31 * kDay), CertError::kNotYetValid);
  EXPECT_TRUE(pki.verify(store, kNow + 89 * kDay).ok());
}

TEST(IpsecX509, UnknownCaOrMissingIntermediateIsUntrusted) {
  const Pki pki(TestKey::kP256);
  const Pki other(TestKey::kP256, "Another root");
  expect_error(pki.verify(other.store()), CertError::kUntrusted);
  expect_error(pki.store().verify(pki.cert(pki.ee.get()), {}, kNow), CertError::kUntrusted);
}

TEST(IpsecX509, CrlRevokesEndEntityAndIntermediate) {
  const Pki pki(TestKey::kP256);
  const Crl revokes_ee = pki.crl(pki.inter.get(), pki.inter_key.get(), {kEndEntitySerial});
  expect_error(pki.verify(pki.store({revokes_ee})), CertError::kRevoked);
  const Crl revokes_inter = pki.crl(pki.root.get(), pki.root_key.get(), {2});
  expect_error(pki.verify(pki.store({revokes_inter})), CertError::kRevoked);
  const Crl clean = pki.crl(pki.inter.get(), pki.inter_key.get(), {5, 6});
  const Crl root_clean = pki.crl(pki.root.get(), pki.root_key.get(), {});
  EXPECT_TRUE(pki.verify(pki.store({clean, root_clean})).ok());
  // Only the root's CRL configured: the intermediate's certificates are not
  // checked against a CRL (decision 21).
  EXPECT_TRUE(pki.verify(pki.store({root_clean})).ok());
}

TEST(IpsecX509, OutdatedCrlIsRefused) {
  const Pki pki(TestKey::kP256);
  const Crl stale = pki.crl(pki.inter.get(), pki.inter_key.get(), {}, kNow - 1);
  expect_error(pki.verify(pki.store({stale})), CertError::kCrlOutdated);
}

Bytes ip(std::initializer_list<uint8_t> octets) {
  Bytes out;
  for (uint8_t o : octets) out.push_back(std::byte{o});
  return out;
}

TEST(IpsecX509, IdentityMustBeInSubjectAltName) {
  const Pki pki(TestKey::kP256);
  const Certificate ee = pki.cert(pki.ee.get());
  EXPECT_TRUE(check_identity(ee, IdType::kFqdn, bytes_of("gw.example.net")).ok());
  EXPECT_TRUE(check_identity(ee, IdType::kFqdn, bytes_of("GW.Example.NET")).ok());
  EXPECT_TRUE(check_identity(ee, IdType::kRfc822Addr, bytes_of("ops@example.net")).ok());
  EXPECT_TRUE(check_identity(ee, IdType::kIpv4Addr, ip({192, 0, 2, 1})).ok());
  EXPECT_TRUE(check_identity(ee, IdType::kIpv6Addr, hex("20010db8000000000000000000000001")).ok());
  EXPECT_TRUE(check_identity(ee, IdType::kDerAsn1Dn, ee.subject_der()).ok());
  expect_error(check_identity(ee, IdType::kFqdn, bytes_of("vpn.example.net")), CertError::kIdentityMismatch);
  expect_error(check_identity(ee, IdType::kRfc822Addr, bytes_of("root@example.net")), CertError::kIdentityMismatch);
  expect_error(check_identity(ee, IdType::kIpv4Addr, ip({192, 0, 2, 2})), CertError::kIdentityMismatch);
  expect_error(check_identity(ee, IdType::kDerAsn1Dn, pki.cert(pki.inter.get()).subject_der()),
               CertError::kIdentityMismatch);
  expect_error(check_identity(ee, IdType::kKeyId, bytes_of("key")), CertError::kUnsupportedIdType);
  expect_error(check_identity(ee, IdType::kDerAsn1Dn, hex("3000ff")), CertError::kBadEncoding);
}

TEST(IpsecX509, SubjectCommonNameIsNotAnFqdnIdentity) {
  const Pki pki(TestKey::kP256);
  auto no_san = make_cert({"cn-only.example.net", 9, kNow - kDay, kNow + kDay, false, ""}, pki.ee_key.get(),
                          pki.inter.get(), pki.inter_key.get());
  const Certificate cert = pki.cert(no_san.get());
  expect_error(check_identity(cert, IdType::kFqdn, bytes_of("cn-only.example.net")), CertError::kIdentityMismatch);
}

TEST(IpsecX509, CertReqNamesCasBySha1OfTheirKeys) {
  const Pki pki(TestKey::kP256);
  const Pki other(TestKey::kP256, "Another root");
  // Independent: SHA-1 over the DER SubjectPublicKeyInfo (RFC 7296 section 3.7).
  const Bytes spki = [&] {
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(pki.root.get()), nullptr);
    Bytes out(static_cast<size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    i2d_X509_PUBKEY(X509_get_X509_PUBKEY(pki.root.get()), &p);
    return out;
  }();
  Bytes sha1(SHA_DIGEST_LENGTH);
  SHA1(reinterpret_cast<const unsigned char*>(spki.data()), spki.size(), reinterpret_cast<unsigned char*>(sha1.data()));
  const TrustStore store = pki.store();
  EXPECT_EQ(store.certreq_data(), sha1);
  const std::vector<Certificate> twice{pki.cert(pki.root.get()), pki.cert(pki.root.get())};
  EXPECT_EQ(TrustStore::create(twice, {}).value().certreq_data(), sha1);  // named once
  EXPECT_TRUE(store.names_our_ca(test::concat({other.store().certreq_data(), sha1})));
  EXPECT_FALSE(store.names_our_ca(other.store().certreq_data()));
}

TEST(IpsecX509, ParsesPemBundlesAndRefusesGarbage) {
  const Pki pki(TestKey::kRsa);
  const Bytes bundle = test::concat({test::cert_pem(pki.ee.get()), test::cert_pem(pki.inter.get())});
  auto all = Certificate::all_from_pem(bundle);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].der(), test::cert_der(pki.ee.get()));
  auto first = Certificate::from_pem(bundle);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->der(), test::cert_der(pki.ee.get()));
  EXPECT_FALSE(Certificate::from_der(bytes_of("not a certificate")).ok());
  auto garbage = Certificate::all_from_pem(bytes_of("nothing here"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error(), CertError::kBadEncoding);
  Bytes truncated = test::cert_der(pki.ee.get());
  truncated.pop_back();
  EXPECT_FALSE(Certificate::from_der(truncated).ok());
  EXPECT_FALSE(Crl::from_der(hex("3000")).ok());
}

TEST(IpsecX509, CertificateKeyVerifiesItsOwnersAuth) {
  const Pki pki(TestKey::kEd25519);
  auto priv = PrivateKey::from_pem(test::private_pem(pki.ee_key.get()));
  ASSERT_TRUE(priv.ok());
  const Bytes octets = bytes_of("signed octets");
  auto auth = sign_auth(*priv, {AuthMethod::kDigitalSignature, SignatureHash::kIdentity, false}, octets);
  ASSERT_TRUE(auth.ok());
  auto key = pki.cert(pki.ee.get()).public_key();
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(verify_auth(*key, AuthMethod::kDigitalSignature, *auth, octets, supported_signature_hashes()).ok());
}

}  // namespace
}  // namespace cordon::ipsec
