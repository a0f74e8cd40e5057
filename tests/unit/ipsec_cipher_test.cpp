// The IPsec protection transforms (core/ipsec/cipher.hpp) against published
// vectors; each block names its source.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "core/ipsec/cipher.hpp"
#include "ipsec_bytes.hpp"

namespace cordon::ipsec {
namespace {

using test::bytes_of_hex;
using test::bytes_of_text;
using test::hex_of;

// ---------------------------------------------------------------------------
// RFC 4868 section 2.7.2.2: HMAC-SHA-256-128, -384-192, -512-256
// authenticator test cases 1, 2 and 3.

struct MacVector {
  IntegId integ;
  std::string key;   // hex
  std::string data;  // hex
  std::string icv;   // hex
};

std::string repeat(const char* hex_byte, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += hex_byte;
  return s;
}

std::vector<MacVector> rfc4868_vectors() {
  const std::string hi_there = hex_of(bytes_of_text("Hi There"));
  const std::string what = hex_of(bytes_of_text("what do ya want for nothing?"));
  const std::string jefe = hex_of(bytes_of_text("Jefe"));
  return {
      {IntegId::kHmacSha256_128, repeat("0b", 32), hi_there, "198a607eb44bfbc69903a0f1cf2bbdc5"},
      {IntegId::kHmacSha256_128, repeat(jefe.c_str(), 8), what, "167f928588c5cc2eef8e3093caa0e87c"},
      {IntegId::kHmacSha256_128, repeat("aa", 32), repeat("dd", 50), "cdcb1220d1ecccea91e53aba3092f962"},
      {IntegId::kHmacSha384_192, repeat("0b", 48), hi_there, "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
      {IntegId::kHmacSha384_192, repeat(jefe.c_str(), 12), what, "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d"},
      {IntegId::kHmacSha384_192, repeat("aa", 48), repeat("dd", 50), "809f439be00274321d4a538652164b53554a508184a0c316"},
      {IntegId::kHmacSha512_256, repeat("0b", 64), hi_there,
       "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"},
      {IntegId::kHmacSha512_256, repeat(jefe.c_str(), 16), what,
       "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"},
      {IntegId::kHmacSha512_256, repeat("aa", 64), repeat("dd", 50),
       "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"},
  };
}

TEST(CipherIntegrity, MatchesRfc4868AuthenticatorVectors) {
  for (const MacVector& v : rfc4868_vectors()) {
    const auto key = bytes_of_hex(v.key);
    const auto data = bytes_of_hex(v.data);
    auto mac = Integrity::create(v.integ, key);
    ASSERT_TRUE(mac.has_value()) << v.icv;
    std::vector<std::byte> icv(mac->icv_size());
    // Twice, and split in two parts: the reused context restarts cleanly.
    for (int round = 0; round < 2; ++round) {
      const std::array<std::span<const std::byte>, 2> parts{std::span(data).first(3), std::span(data).subspan(3)};
      ASSERT_TRUE(mac->compute(parts, icv));
      EXPECT_EQ(hex_of(icv), v.icv);
      EXPECT_TRUE(mac->verify(parts, icv));
    }
    icv[0] ^= std::byte{1};
    const std::array<std::span<const std::byte>, 1> whole{std::span(data)};
    EXPECT_FALSE(mac->verify(whole, icv));
  }
}

TEST(CipherIntegrity, RefusesWrongKeyLengthsAndNone) {
  EXPECT_FALSE(Integrity::create(IntegId::kHmacSha256_128, bytes_of_hex(repeat("0b", 20))).has_value());
  EXPECT_FALSE(Integrity::create(IntegId::kNone, {}).has_value());
}

// ---------------------------------------------------------------------------
// RFC 3602 section 4, cases 1 to 3: AES-128-CBC. The Cipher adds an ICV,
// computed here with the HMAC alone, so that open() decrypts.

struct CbcVector {
  std::string key, iv, plain, cipher;
};

std::vector<CbcVector> rfc3602_vectors() {
  return {
      {"06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41", hex_of(bytes_of_text("Single block msg")),
       "e353779c1079aeb82708942dbe77181a"},
      {"c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
       "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
      {"56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
       "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
       "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
       "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
       "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55"},
  };
}

TEST(CipherAesCbc, MatchesRfc3602Vectors) {
  const CipherSpec spec{EncrId::kAesCbc, 128, IntegId::kHmacSha256_128};
  const auto integ_key = bytes_of_hex(repeat("5a", 32));
  for (const CbcVector& v : rfc3602_vectors()) {
    auto cipher = Cipher::create(spec, bytes_of_hex(v.key), integ_key);
    ASSERT_TRUE(cipher.has_value());
    const auto iv = bytes_of_hex(v.iv);
    const auto aad = bytes_of_hex("0000100000000001");
    auto text = bytes_of_hex(v.plain);
    std::vector<std::byte> icv(cipher->icv_size());
    ASSERT_TRUE(cipher->seal(aad, iv, text, icv));
    EXPECT_EQ(hex_of(text), v.cipher);

    // The ICV is HMAC-SHA-256-128 over aad | IV | ciphertext (RFC 4303
    // section 2, "Integrity Check Value").
    auto mac = Integrity::create(IntegId::kHmacSha256_128, integ_key);
    const std::array<std::span<const std::byte>, 3> parts{aad, iv, text};
    EXPECT_TRUE(mac->verify(parts, icv));

    ASSERT_TRUE(cipher->open(aad, iv, text, icv));
    EXPECT_EQ(hex_of(text), v.plain);
  }
}

TEST(CipherAesCbc, RefusesABadIcvBeforeDecrypting) {
  const CipherSpec spec{EncrId::kAesCbc, 256, IntegId::kHmacSha512_256};
  auto cipher = Cipher::create(spec, bytes_of_hex(repeat("11", 32)), bytes_of_hex(repeat("22", 64)));
  ASSERT_TRUE(cipher.has_value());
  EXPECT_EQ(cipher->icv_size(), 32u);
  std::vector<std::byte> iv(16), text(32, std::byte{7}), icv(32);
  cipher->make_iv(1, iv);
  ASSERT_TRUE(cipher->seal({}, iv, text, icv));
  const auto sealed = text;
  icv[31] ^= std::byte{0x80};
  EXPECT_FALSE(cipher->open({}, iv, text, icv));
  EXPECT_EQ(text, sealed);  // untouched: nothing decrypted
  std::vector<std::byte> odd(17);
  EXPECT_FALSE(cipher->seal({}, iv, odd, icv));  // not a whole number of blocks
}

// The CBC IV is the counter block encrypted under the key (SP 800-38A
// appendix C): distinct per counter, never the counter itself.
TEST(CipherAesCbc, IvsFromTheCounterAreDistinctAndUnpredictable) {
  const CipherSpec spec{EncrId::kAesCbc, 128, IntegId::kHmacSha256_128};
  auto cipher = Cipher::create(spec, bytes_of_hex(repeat("33", 16)), bytes_of_hex(repeat("44", 32)));
  ASSERT_TRUE(cipher.has_value());
  std::vector<std::byte> a(16), b(16);
  cipher->make_iv(1, a);
  cipher->make_iv(2, b);
  EXPECT_NE(a, b);
  EXPECT_NE(hex_of(a), "00000000000000000000000000000001");
}

// ---------------------------------------------------------------------------
// AES-GCM: "The Galois/Counter Mode of Operation (GCM)" (McGrew and Viega),
// test cases 4 (AES-128) and 16 (AES-256), with the 96-bit IV split as ESP
// carries it: salt cafebabe (end of the key material, RFC 4106 section 8.1)
// and the 8-byte IV facedbaddecaf888 (RFC 4106 section 3.1).

constexpr const char* kGcmPlain =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
    "b16aedf5aa0de657ba637b39";
constexpr const char* kGcmAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

struct GcmVector {
  uint16_t bits;
  std::string key, cipher, tag;
};

TEST(CipherAesGcm, MatchesGcmSpecificationVectors) {
  const std::vector<GcmVector> vectors = {
      {128, "feffe9928665731c6d6a8f9467308308cafebabe",
       "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa05"
       "1ba30b396a0aac973d58e091",
       "5bc94fbc3221a5db94fae95ae7121a47"},
      {256, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308cafebabe",
       "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
       "c5f61e6393ba7a0abcc9f662",
       "76fc6ece0f4e1768cddf8853bb2d551b"},
  };
  for (const GcmVector& v : vectors) {
    const CipherSpec spec{EncrId::kAesGcm16, v.bits, IntegId::kNone};
    auto cipher = Cipher::create(spec, bytes_of_hex(v.key), {});
    ASSERT_TRUE(cipher.has_value()) << v.bits;
    EXPECT_EQ(cipher->iv_size(), 8u);
    EXPECT_EQ(cipher->icv_size(), 16u);
    const auto iv = bytes_of_hex("facedbaddecaf888");
    const auto aad = bytes_of_hex(kGcmAad);
    auto text = bytes_of_hex(kGcmPlain);
    std::vector<std::byte> icv(16);
    ASSERT_TRUE(cipher->seal(aad, iv, text, icv));
    EXPECT_EQ(hex_of(text), v.cipher);
    EXPECT_EQ(hex_of(icv), v.tag);
    ASSERT_TRUE(cipher->open(aad, iv, text, icv));
    EXPECT_EQ(hex_of(text), kGcmPlain);

    auto forged = bytes_of_hex(v.cipher);
    forged[0] ^= std::byte{1};
    EXPECT_FALSE(cipher->open(aad, iv, forged, bytes_of_hex(v.tag)));
  }
}

TEST(CipherAesGcm, MakesTheIvFromTheCounterAndTakesNoSuffix) {
  const CipherSpec spec{EncrId::kAesGcm16, 256, IntegId::kNone};
  auto cipher = Cipher::create(spec, bytes_of_hex(repeat("01", 36)), {});
  ASSERT_TRUE(cipher.has_value());
  std::vector<std::byte> iv(8);
  cipher->make_iv(0x0102030405060708, iv);
  EXPECT_EQ(hex_of(iv), "0102030405060708");  // RFC 4106 section 3.1
  std::vector<std::byte> text(4), icv(16);
  const auto suffix = bytes_of_hex("00000001");
  EXPECT_FALSE(cipher->seal({}, iv, text, icv, suffix));
}

// ---------------------------------------------------------------------------
// RFC 7634 appendix A: the ESP example (SPI 0x01020304, sequence 5), as the
// Cipher sees it: aad = SPI | sequence, the 8-byte IV, the 88-byte
// plaintext (an ICMP echo request, then pad 01 02, pad length 2, next
// header 4).

constexpr const char* kRfc7634Key = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3";
constexpr const char* kRfc7634Plain =
    "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d0e0f10111213"
    "1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363701020204";
constexpr const char* kRfc7634Cipher =
    "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f7"
    "2aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e0";
constexpr const char* kRfc7634Tag = "76aaa8266b7fb0f7b11b369907e1ad43";

TEST(CipherChaCha20Poly1305, MatchesRfc7634EspExample) {
  const CipherSpec spec{EncrId::kChaCha20Poly1305, 256, IntegId::kNone};
  EXPECT_EQ(spec.name(), "chacha20poly1305");
  EXPECT_EQ(spec.encryption_key_size(), 36u);
  auto cipher = Cipher::create(spec, bytes_of_hex(kRfc7634Key), {});
  ASSERT_TRUE(cipher.has_value());
  const auto aad = bytes_of_hex("0102030400000005");
  const auto iv = bytes_of_hex("1011121314151617");
  auto text = bytes_of_hex(kRfc7634Plain);
  ASSERT_EQ(text.size(), 88u);
  std::vector<std::byte> icv(16);
  ASSERT_TRUE(cipher->seal(aad, iv, text, icv));
  EXPECT_EQ(hex_of(text), kRfc7634Cipher);
  EXPECT_EQ(hex_of(icv), kRfc7634Tag);
  ASSERT_TRUE(cipher->open(aad, iv, text, icv));
  EXPECT_EQ(hex_of(text), kRfc7634Plain);
}

TEST(CipherSpecs, NamesSizesAndSupport) {
  EXPECT_EQ((CipherSpec{EncrId::kAesGcm16, 256, IntegId::kNone}.name()), "aes256gcm16");
  EXPECT_EQ((CipherSpec{EncrId::kAesCbc, 128, IntegId::kHmacSha384_192}.name()), "aes128-sha384");
  EXPECT_EQ((CipherSpec{EncrId::kAesGcm16, 128, IntegId::kNone}.encryption_key_size()), 20u);
  EXPECT_EQ((CipherSpec{EncrId::kAesCbc, 256, IntegId::kHmacSha512_256}.integrity_key_size()), 64u);
  EXPECT_TRUE(supported({EncrId::kAesCbc, 256, IntegId::kHmacSha256_128}));
  EXPECT_FALSE(supported({EncrId::kAesCbc, 256, IntegId::kNone}));
  EXPECT_FALSE(supported({EncrId::kAesGcm16, 192, IntegId::kNone}));
  EXPECT_FALSE(supported({EncrId::kAesGcm16, 256, IntegId::kHmacSha256_128}));
  EXPECT_FALSE(supported({EncrId::kAesGcm8, 256, IntegId::kNone}));
  EXPECT_FALSE(Cipher::create({EncrId::kAesGcm16, 256, IntegId::kNone}, bytes_of_hex(repeat("00", 32)), {}));
}

}  // namespace
}  // namespace cordon::ipsec
