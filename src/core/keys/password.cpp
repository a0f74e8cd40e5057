// Passwords and the Argon2id password key (password.hpp).
#include "core/keys/password.hpp"

#include <sodium.h>

#include <string>

namespace cordon::keys {

static_assert(kSaltSize == crypto_pwhash_SALTBYTES);
static_assert(kMinMemlimit >= crypto_pwhash_MEMLIMIT_MIN);
static_assert(kMinOpslimit >= crypto_pwhash_OPSLIMIT_MIN);
static_assert(kGeneratedPasswordKdf.memlimit == crypto_pwhash_MEMLIMIT_MIN,
              "generated passwords use the minimum Argon2id cost (password.hpp)");
static_assert(kGeneratedPasswordBits >= 100, "the cheap KDF needs >= 100 bits of entropy (password.hpp)");
static_assert(kMaxPasswordSize <= 255);

bool kdf_supported(const KdfParams& kdf) {
  return kdf.alg == KdfAlg::kArgon2id13 && kdf.opslimit >= kMinOpslimit && kdf.opslimit <= kMaxOpslimit &&
         kdf.memlimit >= kMinMemlimit && kdf.memlimit <= kMaxMemlimit;
}

Status<std::string> check_password_length(std::string_view password) {
  if (password.size() >= kMinPasswordSize && password.size() <= kMaxPasswordSize) return Ok{};
  return "the password is " + std::to_string(password.size()) + " characters; it must be " +
         std::to_string(kMinPasswordSize) + " to " + std::to_string(kMaxPasswordSize) +
         " characters (counted as bytes of UTF-8); choose another";
}

crypto::SecretBytes generate_password(std::span<const std::byte> random) {
  if (random.size() < kGeneratedPasswordSize) return {};
  crypto::SecretBytes password(kGeneratedPasswordSize);
  auto out = password.mutable_view();
  for (size_t i = 0; i < kGeneratedPasswordSize; ++i) {
    // 256 = 8 * 32, so each byte modulo 32 is uniform over the alphabet.
    out[i] = static_cast<std::byte>(kPasswordAlphabet[static_cast<uint8_t>(random[i]) % kPasswordAlphabet.size()]);
  }
  return password;
}

std::string_view as_text(const crypto::SecretBytes& secret) {
  const auto v = secret.view();
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

std::optional<crypto::SecretBytes> derive_password_key(std::string_view password, const Salt& salt,
                                                       const KdfParams& kdf) {
  if (!check_password_length(password) || !kdf_supported(kdf)) return std::nullopt;
  crypto::SecretBytes key(kPasswordKeySize);
  auto out = key.mutable_view();
  const int rc = crypto_pwhash(reinterpret_cast<unsigned char*>(out.data()), out.size(), password.data(),
                               password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                               kdf.opslimit, kdf.memlimit, crypto_pwhash_ALG_ARGON2ID13);
  if (rc != 0) return std::nullopt;  // Argon2 could not allocate memlimit bytes
  return key;
}

}  // namespace cordon::keys
