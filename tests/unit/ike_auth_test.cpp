// The AUTH payload (src/core/ipsec/ike_auth.hpp): signed octets and the
// shared-key MIC against a second computation with OpenSSL's HMAC() in the
// test (RFC 7296 section 2.15), and signature round trips for every key type
// with the AlgorithmIdentifiers of RFC 7427 appendix A.
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <gtest/gtest.h>

#include "core/ipsec/ike_auth.hpp"
#include "ipsec_test_bytes.hpp"
#include "ipsec_test_pki.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::bytes_of;
using test::concat;
using test::generate_key;
using test::hex;
using test::reference_hmac;
using test::TestKey;

const Bytes kMessage = bytes_of("IKE_SA_INIT request, as sent");
const Bytes kNonce = hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

Bytes id_body() { return concat({hex("02000000"), bytes_of("gw.example.net")}); }

TEST(IkeAuth, SignedOctetsAreMessageNonceAndMacedId) {
  const Bytes sk_pi(32, std::byte{0x5a});
  auto octets = signed_octets(PrfId::kHmacSha256, sk_pi, kMessage, kNonce, id_body());
  ASSERT_TRUE(octets.ok());
  EXPECT_EQ(*octets, concat({kMessage, kNonce, reference_hmac(EVP_sha256(), sk_pi, id_body())}));
}

TEST(IkeAuth, SharedKeyMicMatchesIndependentHmac) {
  const Bytes psk = bytes_of("correct horse battery staple");
  const Bytes octets = concat({kMessage, kNonce});
  const Bytes pad_key = reference_hmac(EVP_sha384(), psk, bytes_of("Key Pad for IKEv2"));
  const Bytes expected = reference_hmac(EVP_sha384(), pad_key, octets);
  auto mic = shared_key_auth(PrfId::kHmacSha384, psk, octets);
  ASSERT_TRUE(mic.ok());
  EXPECT_EQ(*mic, expected);
  EXPECT_TRUE(verify_shared_key_auth(PrfId::kHmacSha384, psk, octets, expected).ok());
}

TEST(IkeAuth, SharedKeyMicRefusesTampering) {
  const Bytes psk = bytes_of("correct horse battery staple");
  const Bytes octets = concat({kMessage, kNonce});
  auto mic = shared_key_auth(PrfId::kHmacSha256, psk, octets);
  ASSERT_TRUE(mic.ok());
  Bytes tampered_octets = octets;
  tampered_octets[3] ^= std::byte{1};
  Bytes short_mic(mic->begin(), mic->end() - 1);
  const Bytes other_psk = bytes_of("correct horse battery stapler");
  for (auto status : {verify_shared_key_auth(PrfId::kHmacSha256, psk, tampered_octets, *mic),
                      verify_shared_key_auth(PrfId::kHmacSha256, psk, octets, short_mic),
                      verify_shared_key_auth(PrfId::kHmacSha256, other_psk, octets, *mic)}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error(), AuthError::kAuthenticationFailed);
  }
}

struct KeyPair {
  PrivateKey priv;
  PublicKey pub;
};

KeyPair key_pair(TestKey kind) {
  auto generated = generate_key(kind);
  auto priv = PrivateKey::from_pem(test::private_pem(generated.get()));
  auto pub = PublicKey::from_pem(test::public_pem(generated.get()));
  if (!priv.ok() || !pub.ok()) std::abort();
  return KeyPair{std::move(priv.value()), std::move(pub.value())};
}

const SignatureHash kAll[] = {SignatureHash::kSha256, SignatureHash::kSha384, SignatureHash::kSha512,
                              SignatureHash::kIdentity};

void expect_round_trip(const KeyPair& keys, const SignatureChoice& choice) {
  const Bytes octets = concat({kMessage, kNonce, hex("abcdef")});
  auto auth = sign_auth(keys.priv, choice, octets);
  ASSERT_TRUE(auth.ok()) << to_string(auth.error());
  EXPECT_TRUE(verify_auth(keys.pub, choice.method, *auth, octets, kAll).ok());
  Bytes tampered = octets;
  tampered.back() ^= std::byte{0x80};
  auto bad = verify_auth(keys.pub, choice.method, *auth, tampered, kAll);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), AuthError::kAuthenticationFailed);
  Bytes bad_signature = *auth;
  bad_signature.back() ^= std::byte{1};
  EXPECT_FALSE(verify_auth(keys.pub, choice.method, bad_signature, octets, kAll).ok());
}

TEST(IkeAuth, RsaRoundTripsPkcs1AndPss) {
  const KeyPair rsa = key_pair(TestKey::kRsa);
  EXPECT_EQ(rsa.priv.type(), KeyType::kRsa);
  for (SignatureHash h : {SignatureHash::kSha256, SignatureHash::kSha384, SignatureHash::kSha512}) {
    expect_round_trip(rsa, {AuthMethod::kDigitalSignature, h, false});
    expect_round_trip(rsa, {AuthMethod::kDigitalSignature, h, true});
  }
  expect_round_trip(rsa, {AuthMethod::kRsaSignature, SignatureHash::kSha1, false});
}

TEST(IkeAuth, EcdsaAndEd25519RoundTrip) {
  const KeyPair p256 = key_pair(TestKey::kP256);
  const KeyPair p384 = key_pair(TestKey::kP384);
  const KeyPair ed = key_pair(TestKey::kEd25519);
  EXPECT_EQ(p256.pub.type(), KeyType::kEcdsaP256);
  EXPECT_EQ(p384.pub.type(), KeyType::kEcdsaP384);
  EXPECT_EQ(ed.pub.type(), KeyType::kEd25519);
  for (SignatureHash h : {SignatureHash::kSha256, SignatureHash::kSha384, SignatureHash::kSha512}) {
    expect_round_trip(p256, {AuthMethod::kDigitalSignature, h, false});
    expect_round_trip(p384, {AuthMethod::kDigitalSignature, h, false});
  }
  expect_round_trip(ed, {AuthMethod::kDigitalSignature, SignatureHash::kIdentity, false});
  expect_round_trip(p256, {AuthMethod::kEcdsaP256, SignatureHash::kSha256, false});
  expect_round_trip(p384, {AuthMethod::kEcdsaP384, SignatureHash::kSha384, false});
}

// Method 14 AUTH data signed straight with OpenSSL: RSASSA-PSS with SHA-384
// and a 20-byte salt, as another implementation may choose.
Bytes foreign_pss_auth(EVP_PKEY* key, const Bytes& octets) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), nullptr, key);
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384());
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 20);
  unsigned char aid[128];
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid, sizeof(aid)),
                         OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX_get_params(pctx, params);
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(octets.data()), octets.size());
  Bytes sig(len);
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(octets.data()), octets.size());
  EVP_MD_CTX_free(ctx);
  Bytes out{static_cast<std::byte>(params[0].return_size)};
  out.insert(out.end(), reinterpret_cast<std::byte*>(aid), reinterpret_cast<std::byte*>(aid) + params[0].return_size);
  out.insert(out.end(), sig.begin(), sig.begin() + static_cast<long>(len));
  return out;
}

TEST(IkeAuth, PssParametersAreReadFromTheAlgorithmIdentifier) {
  auto generated = generate_key(TestKey::kRsa);
  auto pub = PublicKey::from_pem(test::public_pem(generated.get()));
  auto priv = PrivateKey::from_pem(test::private_pem(generated.get()));
  ASSERT_TRUE(pub.ok() && priv.ok());
  const Bytes foreign = foreign_pss_auth(generated.get(), kMessage);
  EXPECT_TRUE(verify_auth(*pub, AuthMethod::kDigitalSignature, foreign, kMessage, kAll).ok());
  // The same signature under Cordon's own PSS AlgorithmIdentifier (salt 48
  // for SHA-384) does not verify: the salt length is taken from the data.
  auto own = sign_auth(*priv, {AuthMethod::kDigitalSignature, SignatureHash::kSha384, true}, kMessage);
  ASSERT_TRUE(own.ok());
  const size_t own_header = 1 + static_cast<size_t>((*own)[0]);
  const size_t foreign_header = 1 + static_cast<size_t>(foreign[0]);
  ASSERT_NE(Bytes(own->begin(), own->begin() + own_header), Bytes(foreign.begin(), foreign.begin() + foreign_header));
  Bytes mixed(own->begin(), own->begin() + own_header);
  mixed.insert(mixed.end(), foreign.begin() + foreign_header, foreign.end());
  auto status = verify_auth(*pub, AuthMethod::kDigitalSignature, mixed, kMessage, kAll);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), AuthError::kAuthenticationFailed);
}

TEST(IkeAuth, Method14CarriesRfc7427AlgorithmIdentifiers) {
  // RFC 7427 appendix A: length byte, then the DER AlgorithmIdentifier.
  const std::pair<TestKey, const char*> expected[] = {
      {TestKey::kRsa, "0f300d06092a864886f70d01010b0500"},  // sha256WithRSAEncryption (A.1.2)
      {TestKey::kP256, "0c300a06082a8648ce3d040302"},       // ecdsa-with-sha256 (A.3.1)
      {TestKey::kEd25519, "07300506032b6570"},              // id-Ed25519 (RFC 8420 section 3)
  };
  for (auto [kind, prefix] : expected) {
    const KeyPair keys = key_pair(kind);
    const SignatureHash h = kind == TestKey::kEd25519 ? SignatureHash::kIdentity : SignatureHash::kSha256;
    auto auth = sign_auth(keys.priv, {AuthMethod::kDigitalSignature, h, false}, kMessage);
    ASSERT_TRUE(auth.ok());
    const Bytes want = hex(prefix);
    ASSERT_GT(auth->size(), want.size());
    EXPECT_EQ(Bytes(auth->begin(), auth->begin() + want.size()), want);
  }
}

TEST(IkeAuth, LegacyEcdsaIsFixedSizeRs) {
  const KeyPair p256 = key_pair(TestKey::kP256);
  const KeyPair p384 = key_pair(TestKey::kP384);
  auto a = sign_auth(p256.priv, {AuthMethod::kEcdsaP256, SignatureHash::kSha256, false}, kMessage);
  auto b = sign_auth(p384.priv, {AuthMethod::kEcdsaP384, SignatureHash::kSha384, false}, kMessage);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);  // RFC 4754 section 7
  EXPECT_EQ(b->size(), 96u);
  auto wrong_curve = sign_auth(p256.priv, {AuthMethod::kEcdsaP384, SignatureHash::kSha384, false}, kMessage);
  ASSERT_FALSE(wrong_curve.ok());
  EXPECT_EQ(wrong_curve.error(), AuthError::kKeyMismatch);
}

TEST(IkeAuth, VerifyRefusesUnannouncedHashesAndWrongKeys) {
  const KeyPair rsa = key_pair(TestKey::kRsa);
  const KeyPair p256 = key_pair(TestKey::kP256);
  auto auth = sign_auth(rsa.priv, {AuthMethod::kDigitalSignature, SignatureHash::kSha512, false}, kMessage);
  ASSERT_TRUE(auth.ok());
  const SignatureHash only256[] = {SignatureHash::kSha256};
  auto unannounced = verify_auth(rsa.pub, AuthMethod::kDigitalSignature, *auth, kMessage, only256);
  ASSERT_FALSE(unannounced.ok());
  EXPECT_EQ(unannounced.error(), AuthError::kUnsupportedAlgorithm);
  auto wrong_key = verify_auth(p256.pub, AuthMethod::kDigitalSignature, *auth, kMessage, kAll);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.error(), AuthError::kKeyMismatch);
  auto truncated = verify_auth(rsa.pub, AuthMethod::kDigitalSignature, Bytes(auth->begin(), auth->begin() + 10),
                               kMessage, kAll);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error(), AuthError::kMalformedAuthData);
  auto psk_method = verify_auth(rsa.pub, AuthMethod::kSharedKeyMic, *auth, kMessage, kAll);
  ASSERT_FALSE(psk_method.ok());
  EXPECT_EQ(psk_method.error(), AuthError::kUnsupportedMethod);
}

TEST(IkeAuth, ChoosesHashFromPeerList) {
  const KeyPair rsa = key_pair(TestKey::kRsa);
  const KeyPair p384 = key_pair(TestKey::kP384);
  const KeyPair ed = key_pair(TestKey::kEd25519);
  const SignatureHash peer[] = {SignatureHash::kSha512, SignatureHash::kSha384, SignatureHash::kSha256};
  auto r = choose_signature(rsa.priv, peer, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, AuthMethod::kDigitalSignature);
  EXPECT_EQ(r->hash, SignatureHash::kSha256);
  EXPECT_TRUE(r->rsa_pss);
  auto p = choose_signature(p384.priv, peer, false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->hash, SignatureHash::kSha384);
  // No notify from the peer: the legacy methods, and none for Ed25519.
  auto legacy = choose_signature(p384.priv, {}, false);
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->method, AuthMethod::kEcdsaP384);
  auto rsa_legacy = choose_signature(rsa.priv, {}, false);
  ASSERT_TRUE(rsa_legacy.ok());
  EXPECT_EQ(rsa_legacy->method, AuthMethod::kRsaSignature);
  auto none = choose_signature(ed.priv, peer, false);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error(), AuthError::kUnsupportedAlgorithm);
}

TEST(IkeAuth, SignatureHashesNotify) {
  const Bytes data = signature_hashes_notify_data(supported_signature_hashes());
  EXPECT_EQ(data, hex("0002 0003 0004 0005"));
  auto parsed = parse_signature_hashes_notify(concat({data, hex("00ff")}));  // an unknown value is skipped
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<SignatureHash>{SignatureHash::kSha256, SignatureHash::kSha384,
                                                  SignatureHash::kSha512, SignatureHash::kIdentity}));
  auto odd = parse_signature_hashes_notify(hex("000200"));
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error(), AuthError::kMalformedAuthData);
}

TEST(IkeAuth, KeysLoadFromDerAndBadBytesAreRefused) {
  auto generated = generate_key(TestKey::kP256);
  auto priv = PrivateKey::from_pem(test::private_pem(generated.get()));
  ASSERT_TRUE(priv.ok());
  auto pub = PublicKey::from_der(priv->public_key_der());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->type(), KeyType::kEcdsaP256);
  auto garbage = PrivateKey::from_pem(bytes_of("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error(), AuthError::kBadKeyEncoding);
  auto trailing = PublicKey::from_der(concat({priv->public_key_der(), hex("00")}));
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error(), AuthError::kBadKeyEncoding);
}

}  // namespace
}  // namespace cordon::ipsec
