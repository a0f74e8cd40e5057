// The IKEv2 key schedule (src/core/ipsec/ike_keys.hpp) against a second
// computation of RFC 7296 sections 2.14, 2.17 and 2.18 written in the test
// with OpenSSL's one-shot HMAC() (ipsec_test_bytes.hpp), and its structure:
// key sizes and order.
#include <gtest/gtest.h>

#include "core/ipsec/dh.hpp"
#include "core/ipsec/ike_keys.hpp"
#include "ipsec_test_bytes.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::concat;
using test::hex;
using test::reference_hmac;
using test::reference_prf_plus;
using test::to_bytes;

struct Inputs {
  Bytes ni = hex("a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0");
  Bytes nr = hex("0f0e0d0c0b0a09080706050403020100ffeeddccbbaa9988");
  Bytes g_ir = hex("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52");
  Bytes g_ir_new = hex("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330");
  uint64_t spi_i = 0x32b50d5f4a3763f3;
  Bytes spi_i_bytes = hex("32b50d5f4a3763f3");
  uint64_t spi_r = 0x9206a04b26564cb1;
  Bytes spi_r_bytes = hex("9206a04b26564cb1");
};

// aes256-sha256 (32-byte key, 32-byte integrity key) and aes256gcm16 (32-byte
// key + 4-byte salt, no integrity key), as cipher.hpp sizes them.
constexpr TransformKeySizes kAesCbcSha256{32, 32};
constexpr TransformKeySizes kAesGcm256{36, 0};

TEST(IkeKeys, SkeyseedIsPrfOfNoncesAndSharedSecret) {
  Inputs in;
  auto seed = skeyseed(PrfId::kHmacSha256, in.ni, in.nr, in.g_ir);
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(to_bytes(seed->view()), reference_hmac(EVP_sha256(), concat({in.ni, in.nr}), in.g_ir));
  auto seed384 = skeyseed(PrfId::kHmacSha384, in.ni, in.nr, in.g_ir);
  ASSERT_TRUE(seed384.ok());
  EXPECT_EQ(seed384->size(), 48u);
  EXPECT_EQ(to_bytes(seed384->view()), reference_hmac(EVP_sha384(), concat({in.ni, in.nr}), in.g_ir));
}

TEST(IkeKeys, SevenKeysInOrderAndSize) {
  Inputs in;
  const std::pair<PrfId, const EVP_MD*> prfs[] = {
      {PrfId::kHmacSha256, EVP_sha256()}, {PrfId::kHmacSha384, EVP_sha384()}, {PrfId::kHmacSha512, EVP_sha512()}};
  for (auto [prf_id, md] : prfs) {
    for (TransformKeySizes sizes : {kAesCbcSha256, kAesGcm256}) {
      const Bytes seed = reference_hmac(md, concat({in.ni, in.nr}), in.g_ir);
      auto keys = ike_sa_keys(prf_id, sizes, seed, in.ni, in.nr, in.spi_i, in.spi_r);
      ASSERT_TRUE(keys.ok());
      const size_t p = prf_size(prf_id);
      const size_t total = 3 * p + 2 * sizes.integrity + 2 * sizes.encryption;
      const Bytes stream =
          reference_prf_plus(md, seed, concat({in.ni, in.nr, in.spi_i_bytes, in.spi_r_bytes}), total);
      // SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr (section 2.14)
      const Bytes got = concat({keys->sk_d.view(), keys->sk_ai.view(), keys->sk_ar.view(), keys->sk_ei.view(),
                                keys->sk_er.view(), keys->sk_pi.view(), keys->sk_pr.view()});
      EXPECT_EQ(got, stream);
      EXPECT_EQ(keys->sk_d.size(), p);
      EXPECT_EQ(keys->sk_ai.size(), sizes.integrity);
      EXPECT_EQ(keys->sk_ar.size(), sizes.integrity);
      EXPECT_EQ(keys->sk_ei.size(), sizes.encryption);
      EXPECT_EQ(keys->sk_er.size(), sizes.encryption);
      EXPECT_EQ(keys->sk_pi.size(), p);
      EXPECT_EQ(keys->sk_pr.size(), p);
    }
  }
}

TEST(IkeKeys, SpisEnterBigEndian) {
  Inputs in;
  const Bytes seed(32, std::byte{0x42});
  auto a = ike_sa_keys(PrfId::kHmacSha256, kAesGcm256, seed, in.ni, in.nr, in.spi_i, in.spi_r);
  auto b = ike_sa_keys(PrfId::kHmacSha256, kAesGcm256, seed, in.ni, in.nr, in.spi_r, in.spi_i);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->sk_d == b->sk_d);  // the order of the SPIs matters
}

TEST(IkeKeys, RekeyedSkeyseedUsesOldSkD) {
  Inputs in;
  const Bytes old_sk_d = hex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  auto seed = rekeyed_skeyseed(PrfId::kHmacSha256, old_sk_d, in.g_ir_new, in.ni, in.nr);
  ASSERT_TRUE(seed.ok());
  EXPECT_EQ(to_bytes(seed->view()), reference_hmac(EVP_sha256(), old_sk_d, concat({in.g_ir_new, in.ni, in.nr})));
}

TEST(IkeKeys, ChildSaKeymatIsSplitByDirection) {
  Inputs in;
  const Bytes sk_d = hex("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
  for (bool with_dh : {false, true}) {
    for (TransformKeySizes sizes : {kAesCbcSha256, kAesGcm256}) {
      const Bytes g_ir = with_dh ? in.g_ir_new : Bytes{};
      auto keys = child_sa_keys(PrfId::kHmacSha256, sizes, sk_d, g_ir, in.ni, in.nr);
      ASSERT_TRUE(keys.ok());
      const Bytes keymat = reference_prf_plus(EVP_sha256(), sk_d, concat({g_ir, in.ni, in.nr}),
                                              2 * (sizes.encryption + sizes.integrity));
      // Initiator-to-responder encryption, integrity, then the other way.
      const Bytes got = concat({keys->encryption_i_to_r.view(), keys->integrity_i_to_r.view(),
                                keys->encryption_r_to_i.view(), keys->integrity_r_to_i.view()});
      EXPECT_EQ(got, keymat);
      EXPECT_EQ(keys->encryption_i_to_r.size(), sizes.encryption);
      EXPECT_EQ(keys->integrity_i_to_r.size(), sizes.integrity);
      EXPECT_EQ(keys->encryption_r_to_i.size(), sizes.encryption);
      EXPECT_EQ(keys->integrity_r_to_i.size(), sizes.integrity);
    }
  }
}

TEST(IkeKeys, UnknownPrfIsRefused) {
  Inputs in;
  auto keys = ike_sa_keys(static_cast<PrfId>(4), kAesGcm256, in.g_ir, in.ni, in.nr, in.spi_i, in.spi_r);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.error(), PrfError::kUnsupportedPrf);
}

TEST(IkeKeys, BothEndsDeriveTheSameKeysFromAnExchange) {
  // A whole IKE_SA_INIT key schedule run by both ends from their own halves.
  Inputs in;
  auto i = DhKey::create(DhGroup::kCurve25519, Bytes(32, std::byte{0x11}));
  auto r = DhKey::create(DhGroup::kCurve25519, Bytes(32, std::byte{0x22}));
  ASSERT_TRUE(i.ok() && r.ok());
  auto gir_i = i->agree(r->public_value());
  auto gir_r = r->agree(i->public_value());
  ASSERT_TRUE(gir_i.ok() && gir_r.ok());
  auto seed_i = skeyseed(PrfId::kHmacSha256, in.ni, in.nr, gir_i->view());
  auto seed_r = skeyseed(PrfId::kHmacSha256, in.ni, in.nr, gir_r->view());
  ASSERT_TRUE(seed_i.ok() && seed_r.ok());
  auto keys_i = ike_sa_keys(PrfId::kHmacSha256, kAesGcm256, seed_i->view(), in.ni, in.nr, in.spi_i, in.spi_r);
  auto keys_r = ike_sa_keys(PrfId::kHmacSha256, kAesGcm256, seed_r->view(), in.ni, in.nr, in.spi_i, in.spi_r);
  ASSERT_TRUE(keys_i.ok() && keys_r.ok());
  EXPECT_TRUE(keys_i->sk_er == keys_r->sk_er);
  EXPECT_TRUE(keys_i->sk_pi == keys_r->sk_pi);
  EXPECT_FALSE(keys_i->sk_ei == keys_i->sk_er);
}

}  // namespace
}  // namespace cordon::ipsec
