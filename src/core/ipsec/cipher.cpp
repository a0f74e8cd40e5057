// The protection transforms of ESP and IKE over OpenSSL 3 EVP (cipher.hpp).
// No primitive is written here.
//
// Per-message cost: every key schedule runs once, in create().
//  - Combined mode reuses crypto::Aead, which keeps one keyed context and
//    only sets the nonce per message (src/core/crypto/aead.cpp).
//  - AES-CBC keeps a keyed encrypt and a keyed decrypt context, plus a keyed
//    AES-ECB context that makes the IVs; a message re-initialises them with
//    its IV only (key = NULL keeps the schedule).
//  - HMAC keeps one keyed EVP_MAC_CTX; EVP_MAC_init with no key restarts it
//    under the same key.
#include "core/ipsec/cipher.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <climits>
#include <cstring>

#include "core/crypto/aead.hpp"

namespace cordon::ipsec {
namespace {

constexpr size_t kSaltSize = 4;       // RFC 4106 section 8.1, RFC 7634 section 2
constexpr size_t kCombinedIvSize = 8;  // RFC 4106 section 3.1, RFC 7634 section 2
constexpr size_t kAesBlock = 16;       // RFC 3602 section 2.1

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

const unsigned char* u8(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* u8(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
bool fits_int(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

bool aes_key_bits(uint16_t bits) { return bits == 128 || bits == 256; }

const char* digest_name(IntegId integ) {
  switch (integ) {
    case IntegId::kHmacSha256_128: return "SHA256";
    case IntegId::kHmacSha384_192: return "SHA384";
    case IntegId::kHmacSha512_256: return "SHA512";
    case IntegId::kNone: break;
  }
  return nullptr;
}

// Fetched once per process: a fetch walks the provider store under a lock.
EVP_MAC* hmac() {
  static EVP_MAC* const m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return m;
}

const EVP_CIPHER* aes(uint16_t bits, bool cbc) {
  static EVP_CIPHER* const cbc128 = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
  static EVP_CIPHER* const cbc256 = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  static EVP_CIPHER* const ecb128 = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
  static EVP_CIPHER* const ecb256 = EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr);
  if (bits == 128) return cbc ? cbc128 : ecb128;
  return cbc ? cbc256 : ecb256;
}

CipherCtx keyed(const EVP_CIPHER* cipher, std::span<const std::byte> key, int enc) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || cipher == nullptr || EVP_CipherInit_ex2(ctx.get(), cipher, u8(key.data()), nullptr, enc, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return nullptr;
  }
  return ctx;
}

// One pass of a no-padding block mode over `inout` (a multiple of 16).
bool run_blocks(EVP_CIPHER_CTX* ctx, std::span<const std::byte> iv, int enc, std::span<std::byte> inout) {
  int len = 0;
  unsigned char none[kAesBlock];
  return fits_int(inout.size()) && inout.size() % kAesBlock == 0 &&
         EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv.empty() ? nullptr : u8(iv.data()), enc, nullptr) == 1 &&
         (inout.empty() ||
          EVP_CipherUpdate(ctx, u8(inout.data()), &len, u8(inout.data()), static_cast<int>(inout.size())) == 1) &&
         EVP_CipherFinal_ex(ctx, none, &len) == 1;
}

}  // namespace

// ---------------------------------------------------------------------------
// CipherSpec

bool CipherSpec::combined() const { return encr == EncrId::kAesGcm16 || encr == EncrId::kChaCha20Poly1305; }

size_t CipherSpec::encryption_key_size() const {
  switch (encr) {
    case EncrId::kAesGcm16: return key_bits / 8 + kSaltSize;
    case EncrId::kChaCha20Poly1305: return 32 + kSaltSize;
    case EncrId::kAesCbc: return key_bits / 8;
    default: return 0;
  }
}

size_t CipherSpec::integrity_key_size() const { return ipsec::integrity_key_size(integ); }

std::string CipherSpec::name() const {
  switch (encr) {
    case EncrId::kAesGcm16: return "aes" + std::to_string(key_bits) + "gcm16";
    case EncrId::kChaCha20Poly1305: return "chacha20poly1305";
    case EncrId::kAesCbc: {
      const char* digest = digest_name(integ);
      std::string hash = digest == nullptr ? "none" : std::string(digest);
      for (char& c : hash) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      return "aes" + std::to_string(key_bits) + "-" + hash;
    }
    default: return "encr" + std::to_string(static_cast<unsigned>(encr));
  }
}

bool supported(const CipherSpec& spec) {
  switch (spec.encr) {
    case EncrId::kAesGcm16: return aes_key_bits(spec.key_bits) && spec.integ == IntegId::kNone;
    case EncrId::kChaCha20Poly1305: return spec.key_bits == 256 && spec.integ == IntegId::kNone;
    case EncrId::kAesCbc: return aes_key_bits(spec.key_bits) && digest_name(spec.integ) != nullptr;
    default: return false;
  }
}

size_t integrity_key_size(IntegId integ) {
  switch (integ) {
    case IntegId::kHmacSha256_128: return 32;
    case IntegId::kHmacSha384_192: return 48;
    case IntegId::kHmacSha512_256: return 64;
    case IntegId::kNone: break;
  }
  return 0;
}

size_t integrity_icv_size(IntegId integ) { return integrity_key_size(integ) / 2; }

// ---------------------------------------------------------------------------
// Integrity

struct Integrity::Impl {
  MacCtx ctx;
};

std::optional<Integrity> Integrity::create(IntegId integ, std::span<const std::byte> key) {
  const char* digest = digest_name(integ);
  if (digest == nullptr || key.size() != integrity_key_size(integ) || hmac() == nullptr) return std::nullopt;
  auto impl = std::make_unique<Impl>();
  impl->ctx.reset(EVP_MAC_CTX_new(hmac()));
  if (!impl->ctx) return std::nullopt;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(impl->ctx.get(), u8(key.data()), key.size(), params) != 1) return std::nullopt;
  return Integrity(integ, std::move(impl));
}

Integrity::Integrity(IntegId id, std::unique_ptr<Impl> impl) : id_(id), impl_(std::move(impl)) {}
Integrity::Integrity(Integrity&&) noexcept = default;
Integrity& Integrity::operator=(Integrity&&) noexcept = default;
Integrity::~Integrity() = default;

bool Integrity::compute(std::span<const std::span<const std::byte>> parts, std::span<std::byte> icv) {
  if (icv.size() != icv_size()) return false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> full;
  size_t len = 0;
  if (EVP_MAC_init(impl_->ctx.get(), nullptr, 0, nullptr) != 1) return false;
  for (const auto& part : parts) {
    if (!part.empty() && EVP_MAC_update(impl_->ctx.get(), u8(part.data()), part.size()) != 1) return false;
  }
  if (EVP_MAC_final(impl_->ctx.get(), full.data(), &len, full.size()) != 1 || len < icv.size()) return false;
  std::memcpy(icv.data(), full.data(), icv.size());  // RFC 4868 section 2.3: the leftmost bits
  return true;
}

bool Integrity::verify(std::span<const std::span<const std::byte>> parts, std::span<const std::byte> icv) {
  std::array<std::byte, EVP_MAX_MD_SIZE> mine;
  if (icv.size() != icv_size()) return false;
  const auto computed = std::span(mine).first(icv.size());
  return compute(parts, computed) && CRYPTO_memcmp(computed.data(), icv.data(), icv.size()) == 0;
}

// ---------------------------------------------------------------------------
// Cipher

struct Cipher::Impl {
  // Combined mode.
  std::optional<crypto::Aead> aead;
  std::array<std::byte, kSaltSize> salt{};
  // AES-CBC with HMAC.
  CipherCtx encrypt;
  CipherCtx decrypt;
  CipherCtx iv_maker;  // AES-ECB under the encryption key (make_iv)
  std::optional<Integrity> integrity;

  ~Impl() { OPENSSL_cleanse(salt.data(), salt.size()); }

  bool nonce(std::span<const std::byte> iv, std::span<std::byte, crypto::kNonceSize> out) const {
    if (iv.size() != kCombinedIvSize) return false;
    std::memcpy(out.data(), salt.data(), kSaltSize);
    std::memcpy(out.data() + kSaltSize, iv.data(), kCombinedIvSize);
    return true;
  }
};

namespace {

std::optional<crypto::Suite> aead_suite(const CipherSpec& spec) {
  if (spec.encr == EncrId::kChaCha20Poly1305) return crypto::Suite::kChaCha20Poly1305;
  if (spec.encr == EncrId::kAesGcm16) return spec.key_bits == 128 ? crypto::Suite::kAes128Gcm : crypto::Suite::kAes256Gcm;
  return std::nullopt;
}

}  // namespace

std::optional<Cipher> Cipher::create(const CipherSpec& spec, std::span<const std::byte> encryption_key,
                                     std::span<const std::byte> integrity_key) {
  if (!supported(spec) || encryption_key.size() != spec.encryption_key_size() ||
      integrity_key.size() != spec.integrity_key_size()) {
    return std::nullopt;
  }
  auto impl = std::make_unique<Impl>();
  if (spec.combined()) {
    // RFC 4106 section 8.1 / RFC 7634 section 2: the salt is the last 4 bytes.
    const size_t key_len = encryption_key.size() - kSaltSize;
    impl->aead = crypto::Aead::create(*aead_suite(spec), encryption_key.first(key_len));
    if (!impl->aead) return std::nullopt;
    std::memcpy(impl->salt.data(), encryption_key.data() + key_len, kSaltSize);
  } else {
    impl->encrypt = keyed(aes(spec.key_bits, true), encryption_key, 1);
    impl->decrypt = keyed(aes(spec.key_bits, true), encryption_key, 0);
    impl->iv_maker = keyed(aes(spec.key_bits, false), encryption_key, 1);
    impl->integrity = Integrity::create(spec.integ, integrity_key);
    if (!impl->encrypt || !impl->decrypt || !impl->iv_maker || !impl->integrity) return std::nullopt;
  }
  return Cipher(spec, std::move(impl));
}

Cipher::Cipher(const CipherSpec& spec, std::unique_ptr<Impl> impl) : spec_(spec), impl_(std::move(impl)) {}
Cipher::Cipher(Cipher&&) noexcept = default;
Cipher& Cipher::operator=(Cipher&&) noexcept = default;
Cipher::~Cipher() = default;

size_t Cipher::iv_size() const { return spec_.combined() ? kCombinedIvSize : kAesBlock; }
size_t Cipher::icv_size() const { return spec_.combined() ? crypto::kTagSize : integrity_icv_size(spec_.integ); }
size_t Cipher::block_size() const { return spec_.combined() ? 1 : kAesBlock; }

void Cipher::make_iv(uint64_t counter, std::span<std::byte> iv) const {
  if (iv.size() != iv_size()) return;
  std::array<std::byte, kAesBlock> block{};
  for (size_t i = 0; i < 8; ++i) block[kAesBlock - 1 - i] = static_cast<std::byte>(counter >> (8 * i));
  if (spec_.combined()) {
    std::memcpy(iv.data(), block.data() + 8, kCombinedIvSize);
    return;
  }
  // NIST SP 800-38A appendix C: the forward cipher of a nonce under the same
  // key gives an IV that cannot be predicted without the key. The counter
  // never repeats under one key, so neither does the IV. Should OpenSSL fail
  // on one ECB block, the counter block itself is used: still unique, only
  // predictable.
  std::array<std::byte, kAesBlock> encrypted = block;
  if (run_blocks(impl_->iv_maker.get(), {}, 1, encrypted)) block = encrypted;
  std::memcpy(iv.data(), block.data(), kAesBlock);
}

bool Cipher::seal(std::span<const std::byte> aad, std::span<const std::byte> iv, std::span<std::byte> inout,
                  std::span<std::byte> icv, std::span<const std::byte> icv_suffix) {
  if (icv.size() != icv_size() || iv.size() != iv_size()) return false;
  if (spec_.combined()) {
    std::array<std::byte, crypto::kNonceSize> nonce;
    if (!icv_suffix.empty() || !impl_->nonce(iv, nonce)) return false;
    return impl_->aead->seal(nonce, aad, inout, icv.first<crypto::kTagSize>());
  }
  if (!run_blocks(impl_->encrypt.get(), iv, 1, inout)) return false;
  const std::array<std::span<const std::byte>, 4> parts{aad, iv, inout, icv_suffix};
  return impl_->integrity->compute(parts, icv);
}

bool Cipher::open(std::span<const std::byte> aad, std::span<const std::byte> iv, std::span<std::byte> inout,
                  std::span<const std::byte> icv, std::span<const std::byte> icv_suffix) {
  if (icv.size() != icv_size() || iv.size() != iv_size()) return false;
  if (spec_.combined()) {
    std::array<std::byte, crypto::kNonceSize> nonce;
    if (!icv_suffix.empty() || !impl_->nonce(iv, nonce)) return false;
    return impl_->aead->open(nonce, aad, inout, icv.first<crypto::kTagSize>());
  }
  // Encrypt-then-MAC (RFC 4303 section 3.4.4.1): nothing is decrypted
  // before the ICV verifies.
  const std::array<std::span<const std::byte>, 4> parts{aad, iv, inout, icv_suffix};
  return impl_->integrity->verify(parts, icv) && run_blocks(impl_->decrypt.get(), iv, 0, inout);
}

}  // namespace cordon::ipsec
