// Passwords, the Argon2id password key and the OS random source
// (src/core/keys/password.hpp, src/os/linux/random.hpp).
#include "core/keys/password.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "os/linux/random.hpp"

namespace cordon::keys {
namespace {

const Salt kSalt = [] {
  Salt s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::byte>(i);
  return s;
}();

bool refused(std::string_view password) { return !check_password_length(password).ok(); }

TEST(Password, LengthLimits) {
  EXPECT_TRUE(refused(std::string(8, 'x')));
  EXPECT_FALSE(refused(std::string(9, 'x')));
  EXPECT_FALSE(refused(std::string(32, 'x')));
  EXPECT_TRUE(refused(std::string(33, 'x')));
  EXPECT_TRUE(refused(""));
  const auto message = check_password_length("short");
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.error(), "the password is 5 characters; it must be 9 to 32 characters (counted as bytes of UTF-8); "
                      "choose another");
  // Characters are counted as bytes of UTF-8: "é" is two.
  EXPECT_TRUE(refused("éééé"));    // 8 bytes
  EXPECT_FALSE(refused("ééééé"));  // 10 bytes
}

TEST(Password, AlphabetAvoidsLookAlikes) {
  std::set<char> symbols(kPasswordAlphabet.begin(), kPasswordAlphabet.end());
  EXPECT_EQ(symbols.size(), 32u);
  for (char c : {'l', 'o', '0', '1', 'I', 'O'}) EXPECT_FALSE(symbols.count(c)) << c;
  EXPECT_GE(kGeneratedPasswordBits, 100u);
  EXPECT_EQ(kGeneratedPasswordSize, 22u);
}

TEST(Password, GenerateMapsBytesToSymbols) {
  std::array<std::byte, 24> random{};
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<std::byte>(i + 32 * (i % 8));
  const auto password = generate_password(random);
  ASSERT_EQ(password.size(), kGeneratedPasswordSize);
  // byte i mod 32 == i: the alphabet in order, then wrapping.
  EXPECT_EQ(as_text(password), std::string(kPasswordAlphabet.substr(0, 22)));
  EXPECT_FALSE(refused(as_text(password)));
  EXPECT_TRUE(generate_password(std::span(random).first(21)).empty());
}

TEST(Password, GeneratedPasswordsAreUniform) {
  // From the real OS source: every symbol position uses the whole alphabet
  // about equally. 2000 passwords * 22 symbols = 44000 draws, 1375 per
  // symbol expected; a biased mapping (e.g. % 31) moves a count by far
  // more than the +-25% allowed.
  ASSERT_TRUE(os::init_crypto());
  std::array<size_t, 32> counts{};
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::array<std::byte, kGeneratedPasswordSize> random{};
    ASSERT_TRUE(os::random_bytes(random));
    const auto password = generate_password(random);
    const std::string_view text = as_text(password);
    ASSERT_EQ(text.size(), 22u);
    for (char c : text) {
      const auto pos = kPasswordAlphabet.find(c);
      ASSERT_NE(pos, std::string_view::npos) << c;
      ++counts[pos];
    }
    seen.insert(std::string(text));
  }
  EXPECT_EQ(seen.size(), 2000u);
  for (size_t c : counts) {
    EXPECT_GT(c, 1375 * 3 / 4);
    EXPECT_LT(c, 1375 * 5 / 4);
  }
}

TEST(Password, DeriveIsDeterministicAndSensitive) {
  const auto a = derive_password_key("password-one", kSalt, kGeneratedPasswordKdf);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), kPasswordKeySize);
  EXPECT_TRUE(*a == *derive_password_key("password-one", kSalt, kGeneratedPasswordKdf));
  EXPECT_FALSE(*a == *derive_password_key("password-onf", kSalt, kGeneratedPasswordKdf));
  Salt other = kSalt;
  other[15] ^= std::byte{1};
  EXPECT_FALSE(*a == *derive_password_key("password-one", other, kGeneratedPasswordKdf));
  EXPECT_FALSE(*a == *derive_password_key("password-one", kSalt, KdfParams{KdfAlg::kArgon2id13, 2, 8192}));
  EXPECT_FALSE(*a == *derive_password_key("password-one", kSalt, KdfParams{KdfAlg::kArgon2id13, 1, 16384}));
}

TEST(Password, DeriveRefusesBadInputs) {
  EXPECT_FALSE(derive_password_key("short", kSalt, kGeneratedPasswordKdf));
  EXPECT_FALSE(derive_password_key(std::string(33, 'x'), kSalt, kGeneratedPasswordKdf));
  EXPECT_FALSE(derive_password_key("long enough", kSalt, KdfParams{static_cast<KdfAlg>(2), 1, 8192}));
  EXPECT_FALSE(derive_password_key("long enough", kSalt, KdfParams{KdfAlg::kArgon2id13, 0, 8192}));
  EXPECT_FALSE(derive_password_key("long enough", kSalt, KdfParams{KdfAlg::kArgon2id13, 17, 8192}));
  EXPECT_FALSE(derive_password_key("long enough", kSalt, KdfParams{KdfAlg::kArgon2id13, 1, 4096}));
  EXPECT_FALSE(derive_password_key("long enough", kSalt, KdfParams{KdfAlg::kArgon2id13, 1, kMaxMemlimit + 1}));
}

TEST(Password, KdfPolicy) {
  EXPECT_EQ(kdf_policy(PasswordOrigin::kGenerated), (KdfParams{KdfAlg::kArgon2id13, 1, 8192}));
  EXPECT_EQ(kdf_policy(PasswordOrigin::kChosen), (KdfParams{KdfAlg::kArgon2id13, 3, 64u * 1024 * 1024}));
  EXPECT_TRUE(kdf_supported(kGeneratedPasswordKdf));
  EXPECT_TRUE(kdf_supported(kChosenPasswordKdf));
  EXPECT_TRUE(derive_password_key("chosen by a person", kSalt, kChosenPasswordKdf));
}

TEST(Random, FillsBuffers) {
  std::array<std::byte, 32> a{}, b{};
  ASSERT_TRUE(os::random_bytes(a));
  ASSERT_TRUE(os::random_bytes(b));
  EXPECT_NE(a, b);
  // Larger than one getrandom call may return at once after a signal.
  std::vector<std::byte> big(1 << 20);
  ASSERT_TRUE(os::random_bytes(big));
  size_t zeros = 0;
  for (std::byte x : big) zeros += x == std::byte{0};
  EXPECT_LT(zeros, big.size() / 128);  // ~1/256 expected
  EXPECT_TRUE(os::random_bytes({}));
  auto secret = os::random_secret(32);
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret.value().size(), 32u);
}

}  // namespace
}  // namespace cordon::keys
