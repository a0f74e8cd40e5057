#include "core/ipsec/dh.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <array>

#include "core/ipsec/openssl_ptr.hpp"

namespace cordon::ipsec {
namespace {

constexpr size_t kModpSize = 256;      // RFC 3526 section 3: 2048 bits
constexpr size_t kModpExponent = 32;   // 256-bit exponents (RFC 3526 section 8)
constexpr size_t kX25519Size = 32;     // RFC 7748 section 5
constexpr size_t kReductionSlack = 8;  // FIPS 186-4 B.4.1: 64 bits beyond the order

bool is_ecp(DhGroup g) { return g == DhGroup::kEcp256 || g == DhGroup::kEcp384; }
int curve_nid(DhGroup g) { return g == DhGroup::kEcp256 ? NID_X9_62_prime256v1 : NID_secp384r1; }
const char* curve_name(DhGroup g) { return g == DhGroup::kEcp256 ? "P-256" : "P-384"; }
size_t coordinate_size(DhGroup g) { return g == DhGroup::kEcp256 ? 32 : 48; }

const unsigned char* u8(Octets o) { return reinterpret_cast<const unsigned char*>(o.data()); }

// A private big number: allocated as "secure" so that OpenSSL clears every
// copy it makes (OSSL_PARAM_BLD puts it in a block it clears when freed).
ossl::Bn secret_bn(Octets bytes) {
  ossl::Bn bn(BN_secure_new());
  if (bn && BN_bin2bn(u8(bytes), static_cast<int>(bytes.size()), bn.get()) == nullptr) return nullptr;
  if (bn) BN_set_flags(bn.get(), BN_FLG_CONSTTIME);
  return bn;
}

Result<ossl::Pkey, DhError> pkey_from(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  ossl::Params params(OSSL_PARAM_BLD_to_param(bld));
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, selection, params.get()) != 1) {
    return DhError::kOpenSsl;
  }
  return ossl::Pkey(key);
}

struct KeyAndPublic {
  ossl::Pkey key;
  std::vector<std::byte> public_value;
};

// MODP: y = 2^x mod p (RFC 3526 section 3), computed in constant time.
Result<KeyAndPublic, DhError> modp_key(const BIGNUM* x) {
  ossl::Bn p(BN_get_rfc3526_prime_2048(nullptr));
  ossl::Bn g(BN_new());
  ossl::Bn y(BN_new());
  ossl::Bn p_minus_1(BN_new());
  ossl::BnCtx ctx(BN_CTX_new());
  if (!p || !g || !y || !p_minus_1 || !ctx || BN_set_word(g.get(), 2) != 1 || BN_sub(p_minus_1.get(), p.get(), BN_value_one()) != 1) {
    return DhError::kOpenSsl;
  }
  if (BN_cmp(x, BN_value_one()) <= 0 || BN_cmp(x, p_minus_1.get()) >= 0) return DhError::kBadPrivateValue;
  if (BN_mod_exp_mont_consttime(y.get(), g.get(), x, p.get(), ctx.get(), nullptr) != 1) return DhError::kOpenSsl;
  std::vector<std::byte> pub(kModpSize);
  if (BN_bn2binpad(y.get(), reinterpret_cast<unsigned char*>(pub.data()), kModpSize) != kModpSize) return DhError::kOpenSsl;
  ossl::ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "modp_2048", 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, x) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, y.get()) != 1) {
    return DhError::kOpenSsl;
  }
  auto key = pkey_from("DH", bld.get(), EVP_PKEY_KEYPAIR);
  if (!key) return key.error();
  return KeyAndPublic{std::move(key.value()), std::move(pub)};
}

// ECP: Q = dG; KE data is Q's uncompressed encoding without the 0x04
// (RFC 5903 section 7).
Result<KeyAndPublic, DhError> ecp_key(DhGroup group, const BIGNUM* d) {
  ossl::EcGroup curve(EC_GROUP_new_by_curve_name(curve_nid(group)));
  ossl::BnCtx ctx(BN_CTX_new());
  if (!curve || !ctx) return DhError::kOpenSsl;
  if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(curve.get())) >= 0) return DhError::kBadPrivateValue;
  ossl::EcPoint q(EC_POINT_new(curve.get()));
  std::vector<std::byte> encoded(1 + 2 * coordinate_size(group));
  if (!q || EC_POINT_mul(curve.get(), q.get(), d, nullptr, nullptr, ctx.get()) != 1 ||
      EC_POINT_point2oct(curve.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED,
                         reinterpret_cast<unsigned char*>(encoded.data()), encoded.size(), ctx.get()) != encoded.size()) {
    return DhError::kOpenSsl;
  }
  ossl::ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_name(group), 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, encoded.data(), encoded.size()) != 1) {
    return DhError::kOpenSsl;
  }
  auto key = pkey_from("EC", bld.get(), EVP_PKEY_KEYPAIR);
  if (!key) return key.error();
  return KeyAndPublic{std::move(key.value()), std::vector<std::byte>(encoded.begin() + 1, encoded.end())};
}

Result<KeyAndPublic, DhError> x25519_key(Octets random) {
  ossl::Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, u8(random), random.size()));
  std::vector<std::byte> pub(kX25519Size);
  size_t len = pub.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) != 1 ||
      len != kX25519Size) {
    return DhError::kOpenSsl;
  }
  return KeyAndPublic{std::move(key), std::move(pub)};
}

// The error for a peer value that OpenSSL refused. The errors OpenSSL
// queued are answered by this one and cleared.
DhError peer_refused(DhGroup group) {
  ERR_clear_error();
  switch (group) {
    case DhGroup::kModp2048: return DhError::kPeerValueOutOfRange;
    case DhGroup::kCurve25519: return DhError::kPeerLowOrder;
    default: return DhError::kPeerPointNotOnCurve;
  }
}

// The peer's KE data as an OpenSSL key, after the checks of RFC 6989.
Result<ossl::Pkey, DhError> peer_key(DhGroup group, Octets data) {
  if (data.size() != dh_public_size(group)) return DhError::kBadPeerLength;
  if (group == DhGroup::kCurve25519) {
    ossl::Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, u8(data), data.size()));
    if (!key) return DhError::kOpenSsl;
    return key;
  }
  ossl::ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld) return DhError::kOpenSsl;
  if (group == DhGroup::kModp2048) {
    // RFC 6989 section 2.1: 1 < y < p-1. With a safe prime this leaves only
    // the subgroup of order q or its complement, which OpenSSL's own check
    // at derive time refuses.
    ossl::Bn y(BN_bin2bn(u8(data), static_cast<int>(data.size()), nullptr));
    ossl::Bn p(BN_get_rfc3526_prime_2048(nullptr));
    if (!y || !p || BN_sub_word(p.get(), 1) != 1) return DhError::kOpenSsl;
    if (BN_cmp(y.get(), BN_value_one()) <= 0 || BN_cmp(y.get(), p.get()) >= 0) return DhError::kPeerValueOutOfRange;
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "modp_2048", 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, y.get()) != 1) {
      return DhError::kOpenSsl;
    }
    return pkey_from("DH", bld.get(), EVP_PKEY_PUBLIC_KEY);
  }
  // RFC 6989 section 2.3: the point must be on the curve (both curves have
  // cofactor 1, so that is the whole check). EC_POINT_oct2point refuses a
  // point that is not.
  std::vector<std::byte> encoded{std::byte{POINT_CONVERSION_UNCOMPRESSED}};
  encoded.insert(encoded.end(), data.begin(), data.end());
  ossl::EcGroup curve(EC_GROUP_new_by_curve_name(curve_nid(group)));
  if (!curve) return DhError::kOpenSsl;
  ossl::EcPoint point(EC_POINT_new(curve.get()));
  if (!point) return DhError::kOpenSsl;
  if (EC_POINT_oct2point(curve.get(), point.get(), u8(encoded), encoded.size(), nullptr) != 1 ||
      EC_POINT_is_on_curve(curve.get(), point.get(), nullptr) != 1) {
    return peer_refused(group);
  }
  if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_name(group), 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, encoded.data(), encoded.size()) != 1) {
    return DhError::kOpenSsl;
  }
  return pkey_from("EC", bld.get(), EVP_PKEY_PUBLIC_KEY);
}

size_t secret_size(DhGroup group) {
  if (is_ecp(group)) return coordinate_size(group);
  return dh_public_size(group);
}

}  // namespace

struct DhKey::Impl {
  ossl::Pkey key;
};

std::string_view to_string(DhError error) {
  switch (error) {
    case DhError::kUnsupportedGroup: return "unsupported-dh-group";
    case DhError::kBadRandomSize: return "bad-random-size";
    case DhError::kBadPrivateValue: return "bad-private-value";
    case DhError::kBadPeerLength: return "bad-ke-length";
    case DhError::kPeerValueOutOfRange: return "ke-value-out-of-range";
    case DhError::kPeerPointNotOnCurve: return "ke-point-not-on-curve";
    case DhError::kPeerLowOrder: return "ke-low-order-point";
    case DhError::kOpenSsl: return "openssl-failure";
  }
  return "unknown";
}

size_t dh_public_size(DhGroup group) {
  switch (group) {
    case DhGroup::kModp2048: return kModpSize;
    case DhGroup::kEcp256: return 64;
    case DhGroup::kEcp384: return 96;
    case DhGroup::kCurve25519: return kX25519Size;
    default: return 0;
  }
}

size_t dh_random_size(DhGroup group) {
  switch (group) {
    case DhGroup::kModp2048: return kModpExponent;
    case DhGroup::kEcp256:
    case DhGroup::kEcp384: return coordinate_size(group) + kReductionSlack;
    case DhGroup::kCurve25519: return kX25519Size;
    default: return 0;
  }
}

bool dh_supported(DhGroup group) { return dh_public_size(group) != 0; }

DhKey::DhKey(DhGroup group, std::unique_ptr<Impl> impl, std::vector<std::byte> public_value)
    : group_(group), impl_(std::move(impl)), public_(std::move(public_value)) {}
DhKey::DhKey(DhKey&&) noexcept = default;
DhKey& DhKey::operator=(DhKey&&) noexcept = default;
DhKey::~DhKey() = default;

Result<DhKey, DhError> DhKey::create(DhGroup group, Octets random) {
  if (!dh_supported(group)) return DhError::kUnsupportedGroup;
  if (random.size() != dh_random_size(group)) return DhError::kBadRandomSize;
  if (group == DhGroup::kCurve25519) return from_private(group, random);
  ossl::Bn value = secret_bn(random);
  if (!value) return DhError::kOpenSsl;
  Result<KeyAndPublic, DhError> made = DhError::kOpenSsl;
  if (group == DhGroup::kModp2048) {
    if (BN_set_bit(value.get(), kModpExponent * 8 - 1) != 1) return DhError::kOpenSsl;
    made = modp_key(value.get());
  } else {
    ossl::EcGroup curve(EC_GROUP_new_by_curve_name(curve_nid(group)));
    ossl::Bn order_minus_1(BN_new());
    ossl::Bn d(BN_secure_new());
    ossl::BnCtx ctx(BN_CTX_secure_new());
    if (!curve || !order_minus_1 || !d || !ctx || !BN_copy(order_minus_1.get(), EC_GROUP_get0_order(curve.get())) ||
        BN_sub_word(order_minus_1.get(), 1) != 1 || BN_mod(d.get(), value.get(), order_minus_1.get(), ctx.get()) != 1 ||
        BN_add_word(d.get(), 1) != 1) {
      return DhError::kOpenSsl;
    }
    BN_set_flags(d.get(), BN_FLG_CONSTTIME);
    made = ecp_key(group, d.get());
  }
  if (!made) return made.error();
  return DhKey(group, std::make_unique<Impl>(Impl{std::move(made->key)}), std::move(made->public_value));
}

Result<DhKey, DhError> DhKey::from_private(DhGroup group, Octets private_value) {
  if (!dh_supported(group)) return DhError::kUnsupportedGroup;
  Result<KeyAndPublic, DhError> made = DhError::kOpenSsl;
  if (group == DhGroup::kCurve25519) {
    if (private_value.size() != kX25519Size) return DhError::kBadPrivateValue;
    made = x25519_key(private_value);
  } else {
    if (private_value.empty() || private_value.size() > kModpSize ||
        (is_ecp(group) && private_value.size() != coordinate_size(group))) {
      return DhError::kBadPrivateValue;
    }
    ossl::Bn value = secret_bn(private_value);
    if (!value) return DhError::kOpenSsl;
    made = group == DhGroup::kModp2048 ? modp_key(value.get()) : ecp_key(group, value.get());
  }
  if (!made) return made.error();
  return DhKey(group, std::make_unique<Impl>(Impl{std::move(made->key)}), std::move(made->public_value));
}

Result<crypto::SecretBytes, DhError> DhKey::agree(Octets peer_public) const {
  auto peer = peer_key(group_, peer_public);
  if (!peer) return peer.error();
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->key.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return DhError::kOpenSsl;
  // RFC 7296 section 2.14: g^ir is as long as the modulus, zero-padded.
  if (group_ == DhGroup::kModp2048 && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1) return DhError::kOpenSsl;
  // OpenSSL checks the peer key here too (for MODP: y^q = 1 mod p).
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer->get()) != 1) return peer_refused(group_);
  crypto::SecretBytes secret(secret_size(group_));
  size_t len = secret.size();
  if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(secret.mutable_view().data()), &len) != 1) {
    return peer_refused(group_);
  }
  if (len != secret.size()) return DhError::kOpenSsl;
  if (group_ == DhGroup::kCurve25519) {
    // RFC 8031 section 2.3 / RFC 7748 section 6.1: an all-zero result means a
    // low-order peer point.
    static constexpr std::array<std::byte, kX25519Size> kZero{};
    if (CRYPTO_memcmp(secret.view().data(), kZero.data(), kZero.size()) == 0) return DhError::kPeerLowOrder;
  }
  return secret;
}

}  // namespace cordon::ipsec
