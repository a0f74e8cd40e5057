// AEAD and HKDF over OpenSSL 3 EVP (docs/design.md, decision 4). Every primitive
// is OpenSSL's; this file only drives the EVP state machines.
//
// Per-packet cost is what matters here (docs/design.md, "The data path"):
//  - Each suite's EVP_CIPHER is fetched once per process; a fetch walks the
//    provider store under a lock, which workers must not contend on.
//  - AES-GCM and ChaCha20-Poly1305 keep one keyed EVP_CIPHER_CTX per Aead.
//    A packet only re-initialises the context with its IV (key = NULL keeps
//    the key schedule) and runs AAD, update and final.
//  - AES-SIV cannot be reused that way: OpenSSL's SIV128 context allows one
//    encryption per key set-up and accumulates the S2V state (crypto/modes/
//    siv128.c, `crypto_ok`). A packet therefore copies a keyed template
//    context. Measured on OpenSSL 3.0.22 for a 64-byte packet: 1.3 us with
//    the copy against 2.7 us re-keying, which re-fetches CMAC each time.
#include "core/crypto/aead.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>
#include <initializer_list>

namespace cordon::crypto {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, KdfCtxFree>;

const unsigned char* u8(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* u8(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }

// EVP lengths are ints; a datagram is far below INT_MAX, anything else is a
// caller bug that must fail rather than truncate.
bool fits_int(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

// Fetched on first use and kept for the life of the process. Function-local
// statics are initialised once even when workers race (C++11 [stmt.dcl]).
const EVP_CIPHER* cipher_for(Suite suite) {
  switch (suite) {
    case Suite::kAes256Gcm: {
      static EVP_CIPHER* const c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
      return c;
    }
    case Suite::kChaCha20Poly1305: {
      static EVP_CIPHER* const c = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
      return c;
    }
    case Suite::kAes256Siv: {
      static EVP_CIPHER* const c = EVP_CIPHER_fetch(nullptr, "AES-256-SIV", nullptr);
      return c;
    }
    case Suite::kAes128Gcm: {
      static EVP_CIPHER* const c = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
      return c;
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// AES-GCM and ChaCha20-Poly1305: one keyed context, IV set per packet.

// The tag goes through the provider's parameters directly: ctrl() would
// translate GET_TAG/SET_TAG into the same OSSL_PARAM on every packet
// (docs/performance.md, "Crypto": 7 to 17 ns per packet).
bool get_tag(EVP_CIPHER_CTX* ctx, std::span<std::byte, kTagSize> tag) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), kTagSize),
                         OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

bool set_tag(EVP_CIPHER_CTX* ctx, std::span<const std::byte, kTagSize> tag) {
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                           const_cast<std::byte*>(tag.data()), kTagSize),
                         OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_set_params(ctx, params) == 1;
}

bool stream_seal(EVP_CIPHER_CTX* ctx, std::span<const std::byte, kNonceSize> nonce,
                 std::span<const std::byte> aad, std::span<std::byte> inout, std::span<std::byte, kTagSize> tag) {
  int len = 0;
  unsigned char none[kTagSize];  // final emits nothing for these modes
  return EVP_CipherInit_ex2(ctx, nullptr, nullptr, u8(nonce.data()), 1, nullptr) == 1 &&
         (aad.empty() || EVP_CipherUpdate(ctx, nullptr, &len, u8(aad.data()), static_cast<int>(aad.size())) == 1) &&
         (inout.empty() ||
          EVP_CipherUpdate(ctx, u8(inout.data()), &len, u8(inout.data()), static_cast<int>(inout.size())) == 1) &&
         EVP_CipherFinal_ex(ctx, none, &len) == 1 && get_tag(ctx, tag);
}

bool stream_open(EVP_CIPHER_CTX* ctx, std::span<const std::byte, kNonceSize> nonce,
                 std::span<const std::byte> aad, std::span<std::byte> inout,
                 std::span<const std::byte, kTagSize> tag) {
  int len = 0;
  unsigned char none[kTagSize];
  // The tag is only accepted in decrypt mode, i.e. after the init call.
  const bool ok =
      EVP_CipherInit_ex2(ctx, nullptr, nullptr, u8(nonce.data()), 0, nullptr) == 1 && set_tag(ctx, tag) &&
      (aad.empty() || EVP_CipherUpdate(ctx, nullptr, &len, u8(aad.data()), static_cast<int>(aad.size())) == 1) &&
      (inout.empty() ||
       EVP_CipherUpdate(ctx, u8(inout.data()), &len, u8(inout.data()), static_cast<int>(inout.size())) == 1) &&
      EVP_CipherFinal_ex(ctx, none, &len) == 1;
  // GCM and ChaCha20-Poly1305 decrypt before they verify. Unverified
  // plaintext must not be released (RFC 5116, section 2.2), so clear it.
  if (!ok && !inout.empty()) std::memset(inout.data(), 0, inout.size());
  return ok;
}

// ---------------------------------------------------------------------------
// AES-SIV: a keyed template per direction, copied for each packet.

// Adds one S2V associated-data component. The pointer must not be NULL even
// for an empty component: the SIV provider treats a NULL input as "final".
bool siv_component(EVP_CIPHER_CTX* ctx, std::span<const std::byte> s) {
  static constexpr unsigned char kEmpty = 0;
  int len = 0;
  return EVP_CipherUpdate(ctx, nullptr, &len, s.empty() ? &kEmpty : u8(s.data()), static_cast<int>(s.size())) == 1;
}

}  // namespace

// ---------------------------------------------------------------------------
// Suites

size_t key_size(Suite suite) {
  switch (suite) {
    case Suite::kAes256Gcm: return 32;
    case Suite::kChaCha20Poly1305: return 32;
    case Suite::kAes256Siv: return 64;  // K1 (CMAC) || K2 (CTR), RFC 5297 section 2.2
    case Suite::kAes128Gcm: return 16;
  }
  return 0;
}

std::string_view suite_name(Suite suite) {
  switch (suite) {
    case Suite::kAes256Gcm: return "aes-256-gcm";
    case Suite::kChaCha20Poly1305: return "chacha20-poly1305";
    case Suite::kAes256Siv: return "aes-256-siv";
    case Suite::kAes128Gcm: return "aes-128-gcm";
  }
  return "unknown";
}

std::optional<Suite> parse_suite(std::string_view name) {
  for (Suite s : {Suite::kAes256Gcm, Suite::kChaCha20Poly1305, Suite::kAes256Siv, Suite::kAes128Gcm}) {
    if (name == suite_name(s)) return s;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Aead

struct Aead::Impl {
  CipherCtx ctx;        // GCM/ChaCha: the keyed context. SIV: the per-packet working copy.
  CipherCtx siv_seal;   // SIV only: keyed encrypt template
  CipherCtx siv_open;   // SIV only: keyed decrypt template

  bool siv_seal_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                       std::span<std::byte> inout, std::span<std::byte, kTagSize> tag);
  bool siv_open_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                       std::span<std::byte> inout, std::span<const std::byte, kTagSize> tag);
};

// RFC 5297, section 3: S2V runs over (aad, nonce, plaintext), the nonce being
// the last associated-data component; the tag is the synthetic IV.
//
// An empty plaintext is refused in both directions. OpenSSL 3.0's SIV
// provider skips a zero-length update, so its final step never runs and the
// tag is never computed (openssl/openssl#17268). Computing S2V by hand around
// that would mean writing part of the primitive ourselves, which Cordon does
// not do; and Cordon never seals an empty payload, since a keepalive is one
// zero byte (docs/protocol.md).
bool Aead::Impl::siv_seal_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                                 std::span<std::byte> inout, std::span<std::byte, kTagSize> tag) {
  if (inout.empty()) return false;
  int len = 0;
  unsigned char none[kTagSize];
  return EVP_CIPHER_CTX_copy(ctx.get(), siv_seal.get()) == 1 && siv_component(ctx.get(), aad) &&
         siv_component(ctx.get(), nonce) &&
         EVP_CipherUpdate(ctx.get(), u8(inout.data()), &len, u8(inout.data()), static_cast<int>(inout.size())) == 1 &&
         EVP_CipherFinal_ex(ctx.get(), none, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), u8(tag.data())) == 1;
}

bool Aead::Impl::siv_open_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                                 std::span<std::byte> inout, std::span<const std::byte, kTagSize> tag) {
  if (inout.empty()) return false;
  int len = 0;
  unsigned char none[kTagSize];
  // The tag is the CTR IV for decryption, so it goes in before the data;
  // OpenSSL verifies (and wipes the output on mismatch) inside the update.
  return EVP_CIPHER_CTX_copy(ctx.get(), siv_open.get()) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize),
                             const_cast<unsigned char*>(u8(tag.data()))) == 1 &&
         siv_component(ctx.get(), aad) && siv_component(ctx.get(), nonce) &&
         EVP_CipherUpdate(ctx.get(), u8(inout.data()), &len, u8(inout.data()), static_cast<int>(inout.size())) == 1 &&
         EVP_CipherFinal_ex(ctx.get(), none, &len) == 1;
}

namespace {

CipherCtx keyed_context(const EVP_CIPHER* cipher, std::span<const std::byte> key, int enc) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), cipher, u8(key.data()), nullptr, enc, nullptr) != 1) return nullptr;
  return ctx;
}

}  // namespace

std::optional<Aead> Aead::create(Suite suite, std::span<const std::byte> key) {
  const size_t want = key_size(suite);
  if (want == 0 || key.size() != want) return std::nullopt;
  const EVP_CIPHER* cipher = cipher_for(suite);
  if (cipher == nullptr) return std::nullopt;

  auto impl = std::make_unique<Impl>();
  if (suite == Suite::kAes256Siv) {
    impl->siv_seal = keyed_context(cipher, key, 1);
    impl->siv_open = keyed_context(cipher, key, 0);
    impl->ctx.reset(EVP_CIPHER_CTX_new());
    if (!impl->siv_seal || !impl->siv_open || !impl->ctx) return std::nullopt;
  } else {
    impl->ctx = keyed_context(cipher, key, 1);
    if (!impl->ctx) return std::nullopt;
  }
  return Aead(suite, std::move(impl));
}

Aead::Aead(Suite suite, std::unique_ptr<Impl> impl) : suite_(suite), impl_(std::move(impl)) {}
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;
Aead::~Aead() = default;

bool Aead::seal(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                std::span<std::byte> inout, std::span<std::byte, kTagSize> tag) {
  if (!impl_ || !fits_int(aad.size()) || !fits_int(inout.size())) return false;
  if (suite_ == Suite::kAes256Siv) return impl_->siv_seal_packet(nonce, aad, inout, tag);
  return stream_seal(impl_->ctx.get(), nonce, aad, inout, tag);
}

bool Aead::open(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                std::span<std::byte> inout, std::span<const std::byte, kTagSize> tag) {
  if (!impl_ || !fits_int(aad.size()) || !fits_int(inout.size())) return false;
  if (suite_ == Suite::kAes256Siv) return impl_->siv_open_packet(nonce, aad, inout, tag);
  return stream_open(impl_->ctx.get(), nonce, aad, inout, tag);
}

// ---------------------------------------------------------------------------
// HKDF-SHA256 (RFC 5869), extract-then-expand in one call.

bool hkdf_sha256(std::span<const std::byte> ikm, std::span<const std::byte> salt, std::span<const std::byte> info,
                 std::span<std::byte> out) {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  constexpr size_t kMaxOutput = 255 * 32;  // RFC 5869 section 2.3: L <= 255*HashLen
  // RFC 5869 allows an empty IKM, but in Cordon it can only be a missing or
  // wiped key (SecretBytes::wipe empties), so it is refused, not derived from.
  if (kdf == nullptr || ikm.empty() || out.empty() || out.size() > kMaxOutput) return false;
  KdfCtx ctx(EVP_KDF_CTX_new(kdf));
  if (!ctx) return false;

  // OpenSSL ignores zero-length salt and info. That matches RFC 5869: an
  // absent salt is HashLen zeros, which HMAC treats like an empty key.
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::byte*>(ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::byte*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::byte*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  return EVP_KDF_derive(ctx.get(), u8(out.data()), out.size(), params) == 1;
}

}  // namespace cordon::crypto

namespace cordon::crypto {

bool hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> data,
                 std::span<std::byte, kHmacSize> out) {
  if (key.empty()) return false;
  char digest[] = "SHA256";
  size_t written = 0;
  // EVP_Q_mac fetches HMAC for each call: fine for receipts, which are a
  // handful per update (never per packet).
  const unsigned char* result = EVP_Q_mac(nullptr, "HMAC", nullptr, digest, nullptr, key.data(), key.size(),
                                          reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                                          reinterpret_cast<unsigned char*>(out.data()), out.size(), &written);
  return result != nullptr && written == kHmacSize;
}

}  // namespace cordon::crypto
