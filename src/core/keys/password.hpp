// Passwords and the password key (docs/design.md, "Vocabulary": the
// password key is Argon2id of the user's password and is never stored). The password key wraps
// the user key in a key set (keyset.hpp).
//
// Password rules (docs/administration.md, "Passwords and the KDF policy"):
// 9 to 32 characters, counted as bytes of the
// UTF-8 text (a non-ASCII character counts as 2 to 4). The administrator can
// generate one (22 symbols from a 32-symbol alphabet, shown once) or the
// user chooses it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/crypto/secret.hpp"
#include "core/result.hpp"

namespace cordon::keys {

constexpr size_t kMinPasswordSize = 9;   // bytes of UTF-8
constexpr size_t kMaxPasswordSize = 32;  // bytes of UTF-8

// 32 symbols, 5 bits each: lower-case letters without l and o, and digits
// without 0 and 1, so that no two symbols are easily confused when read
// aloud or copied from paper.
constexpr std::string_view kPasswordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789";
static_assert(kPasswordAlphabet.size() == 32);
constexpr size_t kGeneratedPasswordSize = 22;  // 22 * 5 = 110 bits of entropy
constexpr size_t kGeneratedPasswordBits = kGeneratedPasswordSize * 5;

constexpr size_t kSaltSize = 16;  // crypto_pwhash_SALTBYTES
constexpr size_t kPasswordKeySize = 32;
using Salt = std::array<std::byte, kSaltSize>;

// Wire code of the key derivation function (key-set header, "kdf alg").
enum class KdfAlg : uint8_t { kArgon2id13 = 1 };  // libsodium crypto_pwhash_ALG_ARGON2ID13

struct KdfParams {
  KdfAlg alg = KdfAlg::kArgon2id13;
  uint32_t opslimit = 0;  // Argon2 passes
  uint32_t memlimit = 0;  // bytes
  friend bool operator==(const KdfParams&, const KdfParams&) = default;
};

// KDF policy (docs/administration.md, "Passwords and the KDF policy"). The
// parameters travel in the key-set
// header, so a host needs no policy of its own; these are what the
// administrator (and `cordon passwd`) choose.
//
// A generated password carries 110 bits of entropy. Guessing it costs
// 2^109 Argon2id evaluations on average whatever their cost, so stretching
// adds nothing that matters; its strength is its entropy. The minimum cost
// (1 pass, 8 KiB = crypto_pwhash_MEMLIMIT_MIN) is what lets 10,000 key sets
// export in under two minutes (bench/admin-scale).
constexpr KdfParams kGeneratedPasswordKdf{KdfAlg::kArgon2id13, 1, 8 * 1024};
// A password a person chooses has far less entropy than its length
// suggests, so it always gets real stretching: 3 passes over 64 MiB, one
// pass more than libsodium's "interactive" level (2, 64 MiB), about 0.1 to
// 0.3 s on a current CPU. Run once per unlock, not per packet.
constexpr KdfParams kChosenPasswordKdf{KdfAlg::kArgon2id13, 3, 64u * 1024 * 1024};

enum class PasswordOrigin : uint8_t { kGenerated, kChosen };
constexpr KdfParams kdf_policy(PasswordOrigin origin) {
  return origin == PasswordOrigin::kGenerated ? kGeneratedPasswordKdf : kChosenPasswordKdf;
}

// Bounds a host accepts in a key-set header: libsodium's minimum, and a
// ceiling so that a damaged or hostile header cannot make a host spend
// minutes or gigabytes before the wrong-password answer.
constexpr uint32_t kMinOpslimit = 1;
constexpr uint32_t kMaxOpslimit = 16;
constexpr uint32_t kMinMemlimit = 8 * 1024;
constexpr uint32_t kMaxMemlimit = 1024u * 1024 * 1024;
bool kdf_supported(const KdfParams& kdf);

// Success if 9..32 bytes; otherwise the message to show, e.g. "the password
// is 5 characters; it must be 9 to 32 characters (counted as bytes of
// UTF-8); choose another".
Status<std::string> check_password_length(std::string_view password);

// A generated password: symbol i is kPasswordAlphabet[random[i] % 32]
// (uniform: 256 is a multiple of 32). Needs random.size() >=
// kGeneratedPasswordSize (from os::random_bytes); uses the first 22 bytes.
// Returns an empty secret if `random` is too short. The result holds ASCII
// text; view it with as_text().
crypto::SecretBytes generate_password(std::span<const std::byte> random);

// Views a secret that holds text (a password) as characters.
std::string_view as_text(const crypto::SecretBytes& secret);

// Argon2id(password, salt) -> 32-byte password key (libsodium crypto_pwhash,
// ALG_ARGON2ID13). Returns nullopt if the password length is outside 9..32,
// the parameters are not kdf_supported(), or Argon2id fails (it could not
// allocate memlimit bytes). Check those first for a precise message.
std::optional<crypto::SecretBytes> derive_password_key(std::string_view password, const Salt& salt,
                                                       const KdfParams& kdf);

}  // namespace cordon::keys
