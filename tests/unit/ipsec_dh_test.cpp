// IKEv2 key exchange groups 14, 19, 20 and 31 (src/core/ipsec/dh.hpp).
//
// Sources of the vectors: RFC 5903 section 8.1 (256-bit random ECP group)
// and 8.2 (384-bit); RFC 7748 section 6.1 (X25519). MODP-2048 has no
// published exchange; two parties must agree and bad values be refused.
#include <openssl/bn.h>

#include <gtest/gtest.h>

#include "core/ipsec/dh.hpp"
#include "ipsec_test_bytes.hpp"

namespace cordon::ipsec {
namespace {

using test::Bytes;
using test::hex;
using test::to_bytes;

const DhGroup kGroups[] = {DhGroup::kModp2048, DhGroup::kEcp256, DhGroup::kEcp384, DhGroup::kCurve25519};

Bytes pattern(size_t size, uint8_t seed) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(seed + i * 37);
  return out;
}

TEST(IpsecDh, TwoPartiesAgreeInEveryGroup) {
  for (DhGroup group : kGroups) {
    auto a = DhKey::create(group, pattern(dh_random_size(group), 1));
    auto b = DhKey::create(group, pattern(dh_random_size(group), 2));
    ASSERT_TRUE(a.ok()) << to_string(a.error());
    ASSERT_TRUE(b.ok()) << to_string(b.error());
    EXPECT_EQ(a->public_value().size(), dh_public_size(group));
    EXPECT_NE(to_bytes(a->public_value()), to_bytes(b->public_value()));
    auto ab = a->agree(b->public_value());
    auto ba = b->agree(a->public_value());
    ASSERT_TRUE(ab.ok()) << to_string(ab.error());
    ASSERT_TRUE(ba.ok()) << to_string(ba.error());
    EXPECT_TRUE(*ab == *ba) << static_cast<int>(group);
  }
}

TEST(IpsecDh, SecretSizesFollowTheGroups) {
  const std::pair<DhGroup, size_t> sizes[] = {
      {DhGroup::kModp2048, 256}, {DhGroup::kEcp256, 32}, {DhGroup::kEcp384, 48}, {DhGroup::kCurve25519, 32}};
  for (auto [group, size] : sizes) {
    auto a = DhKey::create(group, pattern(dh_random_size(group), 3));
    auto b = DhKey::create(group, pattern(dh_random_size(group), 4));
    ASSERT_TRUE(a.ok() && b.ok());
    auto secret = a->agree(b->public_value());
    ASSERT_TRUE(secret.ok());
    EXPECT_EQ(secret->size(), size);
  }
}

TEST(IpsecDh, SameRandomSameKeyDifferentRandomDifferentKey) {
  for (DhGroup group : kGroups) {
    auto a = DhKey::create(group, pattern(dh_random_size(group), 9));
    auto b = DhKey::create(group, pattern(dh_random_size(group), 9));
    auto c = DhKey::create(group, pattern(dh_random_size(group), 10));
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(to_bytes(a->public_value()), to_bytes(b->public_value()));
    EXPECT_NE(to_bytes(a->public_value()), to_bytes(c->public_value()));
  }
}

struct EcpVector {
  DhGroup group;
  const char* i;
  const char* gi;
  const char* r;
  const char* gr;
  const char* gir_x;
};

const EcpVector kRfc5903[] = {
    {DhGroup::kEcp256, "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
     "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
     "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
     "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
     "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
     "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
     "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"},
    {DhGroup::kEcp384,
     "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
     "667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA"
     "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
     "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942E0308312916B8ED2960E4BD55A7448FC",
     "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571"
     "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
     "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"},
};

TEST(IpsecDh, MatchesRfc5903Vectors) {
  for (const EcpVector& v : kRfc5903) {
    auto i = DhKey::from_private(v.group, hex(v.i));
    auto r = DhKey::from_private(v.group, hex(v.r));
    ASSERT_TRUE(i.ok() && r.ok());
    EXPECT_EQ(to_bytes(i->public_value()), hex(v.gi));
    EXPECT_EQ(to_bytes(r->public_value()), hex(v.gr));
    auto ir = i->agree(hex(v.gr));
    auto ri = r->agree(hex(v.gi));
    ASSERT_TRUE(ir.ok() && ri.ok());
    EXPECT_EQ(to_bytes(ir->view()), hex(v.gir_x));  // x only (RFC 5903 errata 2622)
    EXPECT_EQ(to_bytes(ri->view()), hex(v.gir_x));
  }
}

TEST(IpsecDh, MatchesRfc7748Vectors) {
  auto alice = DhKey::from_private(DhGroup::kCurve25519,
                                   hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob = DhKey::from_private(DhGroup::kCurve25519,
                                 hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_EQ(to_bytes(alice->public_value()), hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  EXPECT_EQ(to_bytes(bob->public_value()), hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  const Bytes shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  auto ab = alice->agree(bob->public_value());
  auto ba = bob->agree(alice->public_value());
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_EQ(to_bytes(ab->view()), shared);
  EXPECT_EQ(to_bytes(ba->view()), shared);
}

Bytes modp_prime_plus(long delta) {
  BIGNUM* p = BN_get_rfc3526_prime_2048(nullptr);
  if (delta < 0) BN_sub_word(p, static_cast<BN_ULONG>(-delta));
  if (delta > 0) BN_add_word(p, static_cast<BN_ULONG>(delta));
  Bytes out(256);
  BN_bn2binpad(p, reinterpret_cast<unsigned char*>(out.data()), 256);
  BN_free(p);
  return out;
}

TEST(IpsecDh, ModpRefusesValuesOutOfRange) {
  auto key = DhKey::create(DhGroup::kModp2048, pattern(32, 5));
  ASSERT_TRUE(key.ok());
  Bytes one(256);
  one[255] = std::byte{1};
  for (const Bytes& bad : {Bytes(256), one, modp_prime_plus(-1), modp_prime_plus(0), Bytes(256, std::byte{0xff})}) {
    auto out = key->agree(bad);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error(), DhError::kPeerValueOutOfRange);
  }
  // p-2 is in range but outside the subgroup of order q (it is not a
  // square mod p, as p = 7 mod 8): OpenSSL's own check refuses it.
  auto outside = key->agree(modp_prime_plus(-2));
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error(), DhError::kPeerValueOutOfRange);
  auto short_value = key->agree(Bytes(255, std::byte{2}));
  ASSERT_FALSE(short_value.ok());
  EXPECT_EQ(short_value.error(), DhError::kBadPeerLength);
}

TEST(IpsecDh, EcpRefusesPointsOffTheCurve) {
  for (const EcpVector& v : kRfc5903) {
    auto key = DhKey::from_private(v.group, hex(v.i));
    ASSERT_TRUE(key.ok());
    Bytes bad = hex(v.gr);
    bad.back() ^= std::byte{1};
    for (const Bytes& value : {bad, Bytes(bad.size())}) {
      auto out = key->agree(value);
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(out.error(), DhError::kPeerPointNotOnCurve);
    }
    Bytes prefixed = hex(v.gr);
    prefixed.insert(prefixed.begin(), std::byte{4});  // the 0x04 that IKE leaves out
    auto out = key->agree(prefixed);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error(), DhError::kBadPeerLength);
  }
}

TEST(IpsecDh, Curve25519RefusesLowOrderPoints) {
  auto key = DhKey::create(DhGroup::kCurve25519, pattern(32, 6));
  ASSERT_TRUE(key.ok());
  Bytes one(32);
  one[0] = std::byte{1};  // u = 1 (little-endian), a point of order 4
  for (const Bytes& bad : {Bytes(32), one}) {
    auto out = key->agree(bad);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error(), DhError::kPeerLowOrder);
  }
}

TEST(IpsecDh, RefusesUnsupportedGroupsAndBadSizes) {
  auto group2 = DhKey::create(static_cast<DhGroup>(2), pattern(32, 1));
  ASSERT_FALSE(group2.ok());
  EXPECT_EQ(group2.error(), DhError::kUnsupportedGroup);
  auto short_random = DhKey::create(DhGroup::kEcp256, pattern(32, 1));
  ASSERT_FALSE(short_random.ok());
  EXPECT_EQ(short_random.error(), DhError::kBadRandomSize);
  auto zero_scalar = DhKey::from_private(DhGroup::kEcp256, Bytes(32));
  ASSERT_FALSE(zero_scalar.ok());
  EXPECT_EQ(zero_scalar.error(), DhError::kBadPrivateValue);
}

}  // namespace
}  // namespace cordon::ipsec
