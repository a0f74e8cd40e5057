// The IKEv2 PRFs and prf+ (src/core/ipsec/prf.hpp).
//
// Sources of the vectors: RFC 4231 section 4.2 (test case 1) and 4.3 (test
// case 2), which RFC 4868 section 2.7.1 adopts as the PRF_HMAC_SHA2 test
// vectors. prf+ has no published vector; it is checked against a second,
// independent computation with OpenSSL's one-shot HMAC() (ipsec_test_bytes.hpp).
#include <gtest/gtest.h>

#include "core/ipsec/prf.hpp"
#include "ipsec_test_bytes.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::bytes_of;
using test::hex;
using test::reference_prf_plus;
using test::to_bytes;

struct Vector {
  PrfId prf;
  const char* key_hex;
  const char* data;
  const char* mac_hex;
};

const Vector kRfc4231[] = {
    {PrfId::kHmacSha256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {PrfId::kHmacSha384, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
     "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
     "faea9ea9076ede7f4af152e8b2fa9cb6"},
    {PrfId::kHmacSha512, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
     "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
     "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
    {PrfId::kHmacSha256, "4a656665", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {PrfId::kHmacSha384, "4a656665", "what do ya want for nothing?",
     "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
     "8e2240ca5e69e2c78b3239ecfab21649"},
    {PrfId::kHmacSha512, "4a656665", "what do ya want for nothing?",
     "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
     "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
};

TEST(IpsecPrf, MatchesRfc4231Vectors) {
  for (const Vector& v : kRfc4231) {
    const Bytes key = hex(v.key_hex);
    const Bytes data = bytes_of(v.data);
    auto out = prf(v.prf, key, {data});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(to_bytes(out->view()), hex(v.mac_hex)) << static_cast<int>(v.prf);
    EXPECT_EQ(out->size(), prf_size(v.prf));
  }
}

TEST(IpsecPrf, PiecesAreConcatenated) {
  const Bytes key = hex("4a656665");
  const Bytes a = bytes_of("what do ya ");
  const Bytes b = bytes_of("want for nothing?");
  auto out = prf(PrfId::kHmacSha256, key, {a, Bytes{}, b});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(to_bytes(out->view()), hex(kRfc4231[3].mac_hex));
}

TEST(IpsecPrf, UnknownPrfIsRefused) {
  const Bytes key(16, std::byte{1});
  auto out = prf(static_cast<PrfId>(2), key, {key});  // PRF_HMAC_SHA1: not offered
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error(), PrfError::kUnsupportedPrf);
  EXPECT_EQ(prf_size(static_cast<PrfId>(2)), 0u);
}

TEST(IpsecPrf, PrfPlusMatchesIndependentComputation) {
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const Bytes seed_a = bytes_of("nonce-initiator|");
  const Bytes seed_b = bytes_of("nonce-responder");
  Bytes seed = seed_a;
  seed.insert(seed.end(), seed_b.begin(), seed_b.end());
  const std::pair<PrfId, const EVP_MD*> prfs[] = {
      {PrfId::kHmacSha256, EVP_sha256()}, {PrfId::kHmacSha384, EVP_sha384()}, {PrfId::kHmacSha512, EVP_sha512()}};
  for (auto [id, md] : prfs) {
    for (size_t length : {size_t{1}, size_t{32}, size_t{33}, size_t{100}, size_t{224}, size_t{1000}}) {
      auto out = prf_plus(id, key, {seed_a, seed_b}, length);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(to_bytes(out->view()), reference_prf_plus(md, key, seed, length)) << length;
    }
  }
}

TEST(IpsecPrf, PrfPlusStopsAt255Blocks) {
  const Bytes key(32, std::byte{7});
  EXPECT_TRUE(prf_plus(PrfId::kHmacSha256, key, {key}, 255 * 32).ok());
  auto over = prf_plus(PrfId::kHmacSha256, key, {key}, 255 * 32 + 1);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error(), PrfError::kOutputTooLong);
}

}  // namespace
}  // namespace cordon::ipsec
