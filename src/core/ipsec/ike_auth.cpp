#include "core/ipsec/ike_auth.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <optional>
#include <cstring>

#include "core/crypto/secret.hpp"
#include "core/ipsec/openssl_ptr.hpp"

namespace cordon::ipsec {

struct PrivateKey::Impl {
  ossl::Pkey key;
};
struct PublicKey::Impl {
  ossl::Pkey key;
};

namespace {

// RFC 7296 section 2.15: the pad is the 17 ASCII characters, no terminator.
constexpr std::string_view kKeyPad = "Key Pad for IKEv2";

constexpr std::array<SignatureHash, 4> kSupported = {SignatureHash::kSha256, SignatureHash::kSha384,
                                                     SignatureHash::kSha512, SignatureHash::kIdentity};

const unsigned char* u8(Octets o) { return reinterpret_cast<const unsigned char*>(o.data()); }

using Bio = std::unique_ptr<BIO, ossl::Deleter<BIO, BIO_free_all>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, ossl::Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using Algor = std::unique_ptr<X509_ALGOR, ossl::Deleter<X509_ALGOR, X509_ALGOR_free>>;
using PssParams = std::unique_ptr<RSA_PSS_PARAMS, ossl::Deleter<RSA_PSS_PARAMS, RSA_PSS_PARAMS_free>>;

// A key in memory is never encrypted for Cordon: refuse to prompt for a
// passphrase (OpenSSL's default callback would read the terminal).
int no_passphrase(char*, int, int, void*) { return 0; }

Result<KeyType, AuthError> key_type_of(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(key, "EC")) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) != 1) {
      return AuthError::kUnsupportedKeyType;
    }
    const std::string_view group(name, len);
    if (group == "prime256v1" || group == "P-256") return KeyType::kEcdsaP256;
    if (group == "secp384r1" || group == "P-384") return KeyType::kEcdsaP384;
  }
  return AuthError::kUnsupportedKeyType;
}

const EVP_MD* md_of(SignatureHash hash) {
  switch (hash) {
    case SignatureHash::kSha1: return EVP_sha1();
    case SignatureHash::kSha256: return EVP_sha256();
    case SignatureHash::kSha384: return EVP_sha384();
    case SignatureHash::kSha512: return EVP_sha512();
    case SignatureHash::kIdentity: return nullptr;
  }
  return nullptr;
}

std::optional<SignatureHash> hash_of_nid(int nid) {
  switch (nid) {
    case NID_sha256: return SignatureHash::kSha256;
    case NID_sha384: return SignatureHash::kSha384;
    case NID_sha512: return SignatureHash::kSha512;
    default: return std::nullopt;
  }
}

bool contains(std::span<const SignatureHash> list, SignatureHash hash) {
  return std::find(list.begin(), list.end(), hash) != list.end();
}

// The fixed r|s size of RFC 4754 section 7 for methods 9 and 10.
size_t ecdsa_half(KeyType type) { return type == KeyType::kEcdsaP256 ? 32 : 48; }

std::optional<std::vector<std::byte>> der_to_rs(std::span<const std::byte> der, size_t half) {
  const unsigned char* p = u8(der);
  EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::vector<std::byte> out(2 * half);
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, static_cast<int>(half)) < 0 || BN_bn2binpad(s, o + half, static_cast<int>(half)) < 0) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<std::byte>> rs_to_der(Octets rs) {
  const size_t half = rs.size() / 2;
  EcdsaSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(u8(rs), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(u8(rs) + half, static_cast<int>(half), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::vector<std::byte> out(static_cast<size_t>(len));
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_ECDSA_SIG(sig.get(), &o) != len) return std::nullopt;
  return out;
}

// How one signature is computed or checked.
struct Scheme {
  const EVP_MD* md = nullptr;  // nullptr for Ed25519
  bool pss = false;
  const EVP_MD* mgf1 = nullptr;
  int salt = RSA_PSS_SALTLEN_DIGEST;
};

bool set_padding(EVP_PKEY_CTX* pctx, const Scheme& s) {
  if (!s.pss) return true;
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, s.mgf1 ? s.mgf1 : s.md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, s.salt) == 1;
}

// Signs; with `algorithm_id` also returns OpenSSL's DER AlgorithmIdentifier of
// the scheme (the one RFC 7427 appendix A lists for it).
Result<std::vector<std::byte>, AuthError> raw_sign(EVP_PKEY* key, const Scheme& s, Octets data,
                                                   std::vector<std::byte>* algorithm_id) {
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, s.md, nullptr, key) != 1 || !set_padding(pctx, s)) {
    return AuthError::kOpenSsl;
  }
  if (algorithm_id) {
    unsigned char buf[256];
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, buf, sizeof(buf)),
                           OSSL_PARAM_construct_end()};
    if (EVP_PKEY_CTX_get_params(pctx, params) != 1 || !OSSL_PARAM_modified(&params[0])) return AuthError::kOpenSsl;
    algorithm_id->assign(reinterpret_cast<std::byte*>(buf), reinterpret_cast<std::byte*>(buf) + params[0].return_size);
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, u8(data), data.size()) != 1) return AuthError::kOpenSsl;
  std::vector<std::byte> sig(len);
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, u8(data), data.size()) != 1) {
    return AuthError::kOpenSsl;
  }
  sig.resize(len);
  return sig;
}

Status<AuthError> raw_verify(EVP_PKEY* key, const Scheme& s, Octets data, Octets signature) {
  ossl::MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, s.md, nullptr, key) != 1 || !set_padding(pctx, s)) {
    return AuthError::kOpenSsl;
  }
  if (EVP_DigestVerify(ctx.get(), u8(signature), signature.size(), u8(data), data.size()) != 1) {
    return AuthError::kAuthenticationFailed;
  }
  return Ok{};
}

Result<ossl::Pkey, AuthError> read_key(Octets bytes, bool pem, bool is_private) {
  if (pem) {
    Bio bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    if (!bio) return AuthError::kOpenSsl;
    EVP_PKEY* key = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                               : PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr);
    if (!key) return AuthError::kBadKeyEncoding;
    return ossl::Pkey(key);
  }
  const unsigned char* p = u8(bytes);
  EVP_PKEY* key = is_private ? d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(bytes.size()))
                             : d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size()));
  if (!key) return AuthError::kBadKeyEncoding;
  ossl::Pkey owned(key);
  if (p != u8(bytes) + bytes.size()) return AuthError::kBadKeyEncoding;  // trailing bytes
  return owned;
}

struct LoadedKey {
  KeyType type;
  ossl::Pkey key;
};

Result<LoadedKey, AuthError> load_key(Octets bytes, bool pem, bool is_private) {
  auto key = read_key(bytes, pem, is_private);
  if (!key) {
    ERR_clear_error();  // bad input is answered here, not left for later callers
    return key.error();
  }
  auto type = key_type_of(key->get());
  if (!type) return type.error();
  return LoadedKey{*type, std::move(*key)};
}

}  // namespace

namespace {

Result<SignatureHash, AuthError> hash_from_algor(const X509_ALGOR* alg) {
  if (alg == nullptr) return AuthError::kUnsupportedAlgorithm;  // absent: SHA-1 by default
  auto hash = hash_of_nid(OBJ_obj2nid(alg->algorithm));
  if (!hash) return AuthError::kUnsupportedAlgorithm;
  return *hash;
}

// RSASSA-PSS-params (RFC 4055 section 3.1): the hash, MGF1 with its hash,
// the salt length and trailer field 1. Defaults (SHA-1) are not accepted.
Result<Scheme, AuthError> pss_scheme(const X509_ALGOR* alg, SignatureHash* hash) {
  if (alg->parameter == nullptr || alg->parameter->type != V_ASN1_SEQUENCE) return AuthError::kUnsupportedAlgorithm;
  PssParams pss(static_cast<RSA_PSS_PARAMS*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), alg->parameter)));
  if (!pss) return AuthError::kMalformedAuthData;
  auto h = hash_from_algor(pss->hashAlgorithm);
  if (!h) return h.error();
  const X509_ALGOR* mgf = pss->maskGenAlgorithm;
  if (mgf == nullptr || OBJ_obj2nid(mgf->algorithm) != NID_mgf1 || mgf->parameter == nullptr ||
      mgf->parameter->type != V_ASN1_SEQUENCE) {
    return AuthError::kUnsupportedAlgorithm;
  }
  Algor mgf_hash(static_cast<X509_ALGOR*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR), mgf->parameter)));
  auto mh = hash_from_algor(mgf_hash.get());
  if (!mh) return mh.error();
  const long salt = pss->saltLength ? ASN1_INTEGER_get(pss->saltLength) : 20;
  const long trailer = pss->trailerField ? ASN1_INTEGER_get(pss->trailerField) : 1;
  if (salt < 0 || salt > 512 || trailer != 1) return AuthError::kUnsupportedAlgorithm;
  *hash = *h;
  return Scheme{md_of(*h), true, md_of(*mh), static_cast<int>(salt)};
}

enum class Family { kRsa, kEcdsa, kEd25519 };

struct Method14Algorithm {
  int nid;
  Family family;
  SignatureHash hash;
};

// RFC 7427 appendix A, and RFC 8420 section 3 for Ed25519. RSASSA-PSS
// (appendix A.4) is read apart: its hash is in its parameters.
constexpr Method14Algorithm kMethod14[] = {
    {NID_sha256WithRSAEncryption, Family::kRsa, SignatureHash::kSha256},
    {NID_sha384WithRSAEncryption, Family::kRsa, SignatureHash::kSha384},
    {NID_sha512WithRSAEncryption, Family::kRsa, SignatureHash::kSha512},
    {NID_ecdsa_with_SHA256, Family::kEcdsa, SignatureHash::kSha256},
    {NID_ecdsa_with_SHA384, Family::kEcdsa, SignatureHash::kSha384},
    {NID_ecdsa_with_SHA512, Family::kEcdsa, SignatureHash::kSha512},
    {NID_ED25519, Family::kEd25519, SignatureHash::kIdentity},
};

bool fits(Family family, KeyType key) {
  switch (family) {
    case Family::kRsa: return key == KeyType::kRsa;
    case Family::kEcdsa: return key == KeyType::kEcdsaP256 || key == KeyType::kEcdsaP384;
    case Family::kEd25519: return key == KeyType::kEd25519;
  }
  return false;
}

// The scheme a method 14 AlgorithmIdentifier names, if `key` can use it and
// its hash is accepted.
Result<Scheme, AuthError> scheme_of(const X509_ALGOR* alg, KeyType key, std::span<const SignatureHash> accepted) {
  const int nid = OBJ_obj2nid(alg->algorithm);
  SignatureHash hash = SignatureHash::kSha256;
  Scheme scheme;
  Family family = Family::kRsa;
  if (nid == NID_rsassaPss) {
    auto pss = pss_scheme(alg, &hash);
    if (!pss) return pss.error();
    scheme = *pss;
  } else {
    const auto* known = std::find_if(std::begin(kMethod14), std::end(kMethod14),
                                     [nid](const Method14Algorithm& a) { return a.nid == nid; });
    if (known == std::end(kMethod14)) return AuthError::kUnsupportedAlgorithm;
    family = known->family;
    hash = known->hash;
    scheme.md = md_of(hash);
  }
  if (!contains(accepted, hash) || !contains(kSupported, hash)) return AuthError::kUnsupportedAlgorithm;
  if (!fits(family, key)) return AuthError::kKeyMismatch;
  return scheme;
}

// Methods 1, 9 and 10: the scheme fixed by the method (RFC 7296 section 3.8,
// RFC 4754 section 3).
Result<Scheme, AuthError> legacy_scheme(AuthMethod method, KeyType key) {
  switch (method) {
    case AuthMethod::kRsaSignature:
      if (key != KeyType::kRsa) return AuthError::kKeyMismatch;
      return Scheme{EVP_sha1()};
    case AuthMethod::kEcdsaP256:
      if (key != KeyType::kEcdsaP256) return AuthError::kKeyMismatch;
      return Scheme{EVP_sha256()};
    case AuthMethod::kEcdsaP384:
      if (key != KeyType::kEcdsaP384) return AuthError::kKeyMismatch;
      return Scheme{EVP_sha384()};
    default: return AuthError::kUnsupportedMethod;
  }
}

}  // namespace

std::string_view to_string(AuthError error) {
  switch (error) {
    case AuthError::kUnsupportedPrf: return "unsupported-prf";
    case AuthError::kBadKeyEncoding: return "bad-key-encoding";
    case AuthError::kUnsupportedKeyType: return "unsupported-key-type";
    case AuthError::kUnsupportedMethod: return "unsupported-auth-method";
    case AuthError::kUnsupportedAlgorithm: return "unsupported-signature-algorithm";
    case AuthError::kKeyMismatch: return "key-does-not-fit-algorithm";
    case AuthError::kMalformedAuthData: return "malformed-auth-data";
    case AuthError::kAuthenticationFailed: return "authentication-failed";
    case AuthError::kOpenSsl: return "openssl-failure";
  }
  return "unknown";
}

PrivateKey::PrivateKey(KeyType type, std::unique_ptr<Impl> impl) : type_(type), impl_(std::move(impl)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;


Result<PrivateKey, AuthError> PrivateKey::from_pem(Octets pem) {
  auto loaded = load_key(pem, true, true);
  if (!loaded) return loaded.error();
  return PrivateKey(loaded->type, std::make_unique<Impl>(Impl{std::move(loaded->key)}));
}

Result<PrivateKey, AuthError> PrivateKey::from_der(Octets der) {
  auto loaded = load_key(der, false, true);
  if (!loaded) return loaded.error();
  return PrivateKey(loaded->type, std::make_unique<Impl>(Impl{std::move(loaded->key)}));
}

std::vector<std::byte> PrivateKey::public_key_der() const {
  const int len = i2d_PUBKEY(impl_->key.get(), nullptr);
  if (len <= 0) return {};
  std::vector<std::byte> out(static_cast<size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d_PUBKEY(impl_->key.get(), &p) != len) return {};
  return out;
}

PublicKey::PublicKey(KeyType type, std::unique_ptr<Impl> impl) : type_(type), impl_(std::move(impl)) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

Result<PublicKey, AuthError> PublicKey::from_pem(Octets pem) {
  auto loaded = load_key(pem, true, false);
  if (!loaded) return loaded.error();
  return PublicKey(loaded->type, std::make_unique<Impl>(Impl{std::move(loaded->key)}));
}

Result<PublicKey, AuthError> PublicKey::from_der(Octets der) {
  auto loaded = load_key(der, false, false);
  if (!loaded) return loaded.error();
  return PublicKey(loaded->type, std::make_unique<Impl>(Impl{std::move(loaded->key)}));
}

Result<std::vector<std::byte>, AuthError> signed_octets(PrfId id, Octets sk_p, Octets real_message,
                                                        Octets peer_nonce, Octets id_body) {
  auto maced_id = prf(id, sk_p, {id_body});
  if (!maced_id) return AuthError::kUnsupportedPrf;
  std::vector<std::byte> out(real_message.begin(), real_message.end());
  out.insert(out.end(), peer_nonce.begin(), peer_nonce.end());
  out.insert(out.end(), maced_id->view().begin(), maced_id->view().end());
  return out;
}

Result<std::vector<std::byte>, AuthError> shared_key_auth(PrfId id, Octets shared_secret, Octets octets) {
  const Octets pad(reinterpret_cast<const std::byte*>(kKeyPad.data()), kKeyPad.size());
  auto padded = prf(id, shared_secret, {pad});
  if (!padded) return AuthError::kUnsupportedPrf;
  auto mic = prf(id, padded->view(), {octets});
  if (!mic) return AuthError::kUnsupportedPrf;
  return std::vector<std::byte>(mic->view().begin(), mic->view().end());
}

Status<AuthError> verify_shared_key_auth(PrfId id, Octets shared_secret, Octets octets, Octets auth_data) {
  auto expected = shared_key_auth(id, shared_secret, octets);
  if (!expected) return expected.error();
  if (!crypto::constant_time_equal(*expected, auth_data)) return AuthError::kAuthenticationFailed;
  return Ok{};
}

std::span<const SignatureHash> supported_signature_hashes() { return kSupported; }

Result<SignatureChoice, AuthError> choose_signature(const PrivateKey& key, std::span<const SignatureHash> peer_hashes,
                                                    bool prefer_rsa_pss) {
  static constexpr SignatureHash kEd[] = {SignatureHash::kIdentity};
  static constexpr SignatureHash kP384[] = {SignatureHash::kSha384, SignatureHash::kSha256, SignatureHash::kSha512};
  static constexpr SignatureHash kOthers[] = {SignatureHash::kSha256, SignatureHash::kSha384, SignatureHash::kSha512};
  std::span<const SignatureHash> preference = kOthers;
  if (key.type() == KeyType::kEd25519) preference = kEd;
  if (key.type() == KeyType::kEcdsaP384) preference = kP384;
  for (SignatureHash h : preference) {
    if (contains(peer_hashes, h)) {
      return SignatureChoice{AuthMethod::kDigitalSignature, h, prefer_rsa_pss && key.type() == KeyType::kRsa};
    }
  }
  // No SIGNATURE_HASH_ALGORITHMS in common: the method of RFC 7296 / RFC 4754.
  switch (key.type()) {
    case KeyType::kRsa: return SignatureChoice{AuthMethod::kRsaSignature, SignatureHash::kSha1, false};
    case KeyType::kEcdsaP256: return SignatureChoice{AuthMethod::kEcdsaP256, SignatureHash::kSha256, false};
    case KeyType::kEcdsaP384: return SignatureChoice{AuthMethod::kEcdsaP384, SignatureHash::kSha384, false};
    case KeyType::kEd25519: break;
  }
  return AuthError::kUnsupportedAlgorithm;
}

Result<std::vector<std::byte>, AuthError> sign_auth(const PrivateKey& key, const SignatureChoice& choice,
                                                    Octets octets) {
  EVP_PKEY* pkey = key.impl().key.get();
  if (choice.method != AuthMethod::kDigitalSignature) {
    auto scheme = legacy_scheme(choice.method, key.type());
    if (!scheme) return scheme.error();
    auto sig = raw_sign(pkey, *scheme, octets, nullptr);
    if (!sig || key.type() == KeyType::kRsa) return sig;
    auto rs = der_to_rs(*sig, ecdsa_half(key.type()));
    if (!rs) return AuthError::kOpenSsl;
    return std::move(*rs);
  }
  if (!contains(kSupported, choice.hash)) return AuthError::kUnsupportedAlgorithm;
  if ((key.type() == KeyType::kEd25519) != (choice.hash == SignatureHash::kIdentity)) return AuthError::kKeyMismatch;
  const Scheme scheme{md_of(choice.hash), choice.rsa_pss && key.type() == KeyType::kRsa};
  std::vector<std::byte> algorithm_id;
  auto sig = raw_sign(pkey, scheme, octets, &algorithm_id);
  if (!sig) return sig.error();
  if (algorithm_id.empty() || algorithm_id.size() > 255) return AuthError::kOpenSsl;
  std::vector<std::byte> out{static_cast<std::byte>(algorithm_id.size())};
  out.insert(out.end(), algorithm_id.begin(), algorithm_id.end());
  out.insert(out.end(), sig->begin(), sig->end());
  return out;
}

namespace {

Status<AuthError> verify_any(const PublicKey& key, AuthMethod method, Octets auth_data, Octets octets,
                             std::span<const SignatureHash> accepted) {
  EVP_PKEY* pkey = key.impl().key.get();
  if (method != AuthMethod::kDigitalSignature) {
    auto scheme = legacy_scheme(method, key.type());
    if (!scheme) return scheme.error();
    if (key.type() == KeyType::kRsa) return raw_verify(pkey, *scheme, octets, auth_data);
    if (auth_data.size() != 2 * ecdsa_half(key.type())) return AuthError::kMalformedAuthData;
    auto der = rs_to_der(auth_data);
    if (!der) return AuthError::kMalformedAuthData;
    return raw_verify(pkey, *scheme, octets, *der);
  }
  // RFC 7427 section 3: length of the AlgorithmIdentifier, the
  // AlgorithmIdentifier, then the signature.
  if (auth_data.empty()) return AuthError::kMalformedAuthData;
  const size_t id_len = static_cast<size_t>(auth_data[0]);
  if (id_len == 0 || auth_data.size() <= 1 + id_len) return AuthError::kMalformedAuthData;
  const unsigned char* p = u8(auth_data) + 1;
  Algor alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(id_len)));
  if (!alg || p != u8(auth_data) + 1 + id_len) return AuthError::kMalformedAuthData;
  auto scheme = scheme_of(alg.get(), key.type(), accepted);
  if (!scheme) return scheme.error();
  return raw_verify(pkey, *scheme, octets, auth_data.subspan(1 + id_len));
}

}  // namespace

Status<AuthError> verify_auth(const PublicKey& key, AuthMethod method, Octets auth_data, Octets octets,
                              std::span<const SignatureHash> accepted) {
  auto status = verify_any(key, method, auth_data, octets, accepted);
  // A peer's bad signature leaves OpenSSL errors queued; they are answered here.
  if (!status) ERR_clear_error();
  return status;
}

std::vector<std::byte> signature_hashes_notify_data(std::span<const SignatureHash> hashes) {
  std::vector<std::byte> out;
  for (SignatureHash h : hashes) {
    const auto v = static_cast<uint16_t>(h);
    out.push_back(static_cast<std::byte>(v >> 8));
    out.push_back(static_cast<std::byte>(v & 0xff));
  }
  return out;
}

Result<std::vector<SignatureHash>, AuthError> parse_signature_hashes_notify(Octets data) {
  if (data.size() % 2 != 0) return AuthError::kMalformedAuthData;
  std::vector<SignatureHash> out;
  for (size_t i = 0; i < data.size(); i += 2) {
    const auto v = static_cast<uint16_t>(static_cast<unsigned>(data[i]) << 8 | static_cast<unsigned>(data[i + 1]));
    if (v >= 1 && v <= 5) out.push_back(static_cast<SignatureHash>(v));
  }
  return out;
}

}  // namespace cordon::ipsec
