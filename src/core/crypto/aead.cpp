// AEAD and HKDF over OpenSSL 3 EVP (DESIGN.md, decision 4). Every primitive
// is OpenSSL's; this file only drives the EVP state machines.
//
// Per-packet cost is what matters here (DESIGN.md, "Performance"):
//  - Each suite's EVP_CIPHER is fetched once per process; a fetch walks the
//    provider store under a lock, which workers must not contend on.
//  - AES-GCM and ChaCha20-Poly1305 keep one keyed EVP_CIPHER_CTX per Aead.
//    A packet only re-initialises the context with its IV (key = NULL keeps
//    the key schedule) and runs AAD, update and final.
//  - AES-SIV cannot be reused that way: OpenSSL's SIV128 context allows one
//    encryption per key set-up and accumulates the S2V state (crypto/modes/
//    siv128.c, `crypto_ok`). A packet therefore copies a keyed template
//    context; measured on OpenSSL 3.0 this costs about half of re-keying,
//    which re-fetches AES-CBC/CTR and CMAC on every call.
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
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, KdfCtxFree>;

using Block = std::array<unsigned char, kTagSize>;

// RFC 5297 section 2.2: AES-SIV splits its key into K1 (S2V, i.e. CMAC) and
// K2 (CTR); OpenSSL takes them in that order.
constexpr size_t kSivMacKeySize = 32;

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

EVP_MAC* cmac() {
  static EVP_MAC* const m = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
  return m;
}

// ---------------------------------------------------------------------------
// S2V for a short final component (RFC 5297, section 2.4).
//
// OpenSSL 3.0 refuses AES-SIV with an empty plaintext: the provider skips a
// zero-length update, so the final step never runs (openssl/openssl#17268,
// fixed only in 3.5 by #26658). Cordon needs it: a keepalive is a datagram
// with an empty payload. With an empty plaintext SIV's ciphertext is empty
// and its tag is V = S2V(K1, aad, nonce, ""), so V is computed here from
// OpenSSL's CMAC following the RFC's steps; only dbl() is local arithmetic.
// tests/unit/crypto_test.cpp checks this against Wycheproof's empty-message
// vectors and against OpenSSL's own SIV for 1..15-byte plaintexts, which take
// the same branch of S2V.

// dbl(S) (RFC 5297, section 2.3): multiply by x in GF(2^128). Written without
// a data-dependent branch because S is derived from the key.
void dbl(Block& b) {
  const unsigned carry = b[0] >> 7;
  for (size_t i = 0; i + 1 < b.size(); ++i) b[i] = static_cast<unsigned char>((b[i] << 1) | (b[i + 1] >> 7));
  b[15] = static_cast<unsigned char>((b[15] << 1) ^ (0x87u & (0u - carry)));
}

// One CMAC on a keyed context; EVP_MAC_init with a NULL key restarts CMAC
// under the key it already holds, so nothing is allocated.
bool cmac_block(EVP_MAC_CTX* mac, std::span<const unsigned char> data, Block& out) {
  size_t out_len = 0;
  return EVP_MAC_init(mac, nullptr, 0, nullptr) == 1 &&
         (data.empty() || EVP_MAC_update(mac, data.data(), data.size()) == 1) &&
         EVP_MAC_final(mac, out.data(), &out_len, out.size()) == 1 && out_len == out.size();
}

void xor_into(Block& d, const Block& s) {
  for (size_t i = 0; i < d.size(); ++i) d[i] ^= s[i];
}

// S2V(K1, components..., last) for len(last) < 16: the `pad` branch of the
// RFC's pseudocode. `mac` holds K1.
bool s2v_short_last(EVP_MAC_CTX* mac, std::span<const std::span<const std::byte>> components,
                    std::span<const std::byte> last, std::span<std::byte, kTagSize> out) {
  if (last.size() >= kTagSize) return false;
  static constexpr Block kZero{};
  Block d{};
  Block s{};
  bool ok = cmac_block(mac, kZero, d);  // D = AES-CMAC(K, <zero>)
  for (size_t i = 0; ok && i < components.size(); ++i) {
    ok = cmac_block(mac, {u8(components[i].data()), components[i].size()}, s);
    dbl(d);  // D = dbl(D) xor AES-CMAC(K, Si)
    xor_into(d, s);
  }
  if (ok) {
    // T = dbl(D) xor pad(Sn), where pad appends a single 1 bit and zeros.
    dbl(d);
    for (size_t i = 0; i < last.size(); ++i) d[i] ^= static_cast<unsigned char>(last[i]);
    d[last.size()] ^= 0x80;
    ok = cmac_block(mac, d, s);  // V = AES-CMAC(K, T)
    if (ok) std::memcpy(out.data(), s.data(), kTagSize);
  }
  wipe(std::as_writable_bytes(std::span(d)));
  wipe(std::as_writable_bytes(std::span(s)));
  return ok;
}

MacCtx make_siv_mac(std::span<const std::byte> k1) {
  EVP_MAC* m = cmac();
  if (m == nullptr) return nullptr;
  MacCtx mac(EVP_MAC_CTX_new(m));
  if (!mac) return nullptr;
  // CMAC's block cipher is AES keyed with K1: AES-256 for Cordon's 64-byte
  // SIV key; AES-128 only for the RFC 5297 vectors in the tests.
  const char* cbc = k1.size() == 16 ? "AES-128-CBC" : "AES-256-CBC";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, const_cast<char*>(cbc), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(mac.get(), u8(k1.data()), k1.size(), params) != 1) return nullptr;
  return mac;
}

// ---------------------------------------------------------------------------
// AES-GCM and ChaCha20-Poly1305: one keyed context, IV set per packet.

bool stream_seal(EVP_CIPHER_CTX* ctx, std::span<const std::byte, kNonceSize> nonce,
                 std::span<const std::byte> aad, std::span<std::byte> inout, std::span<std::byte, kTagSize> tag) {
  int len = 0;
  unsigned char none[kTagSize];  // final emits nothing for these modes
  return EVP_CipherInit_ex2(ctx, nullptr, nullptr, u8(nonce.data()), 1, nullptr) == 1 &&
         (aad.empty() || EVP_CipherUpdate(ctx, nullptr, &len, u8(aad.data()), static_cast<int>(aad.size())) == 1) &&
         (inout.empty() ||
          EVP_CipherUpdate(ctx, u8(inout.data()), &len, u8(inout.data()), static_cast<int>(inout.size())) == 1) &&
         EVP_CipherFinal_ex(ctx, none, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), u8(tag.data())) == 1;
}

bool stream_open(EVP_CIPHER_CTX* ctx, std::span<const std::byte, kNonceSize> nonce,
                 std::span<const std::byte> aad, std::span<std::byte> inout,
                 std::span<const std::byte, kTagSize> tag) {
  int len = 0;
  unsigned char none[kTagSize];
  // The tag is only accepted in decrypt mode, i.e. after the init call.
  const bool ok =
      EVP_CipherInit_ex2(ctx, nullptr, nullptr, u8(nonce.data()), 0, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize),
                          const_cast<unsigned char*>(u8(tag.data()))) == 1 &&
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
  MacCtx siv_mac;       // SIV only: CMAC under K1, for empty plaintexts

  bool siv_seal_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                       std::span<std::byte> inout, std::span<std::byte, kTagSize> tag);
  bool siv_open_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                       std::span<std::byte> inout, std::span<const std::byte, kTagSize> tag);
};

// RFC 5297, section 3: S2V runs over (aad, nonce, plaintext), the nonce being
// the last associated-data component; the tag is the synthetic IV.
bool Aead::Impl::siv_seal_packet(std::span<const std::byte, kNonceSize> nonce, std::span<const std::byte> aad,
                                 std::span<std::byte> inout, std::span<std::byte, kTagSize> tag) {
  if (inout.empty()) {
    const std::span<const std::byte> components[] = {aad, nonce};
    return s2v_short_last(siv_mac.get(), components, {}, tag);
  }
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
  if (inout.empty()) {
    const std::span<const std::byte> components[] = {aad, nonce};
    std::array<std::byte, kTagSize> expected{};
    const bool ok = s2v_short_last(siv_mac.get(), components, {}, expected) && constant_time_equal(expected, tag);
    wipe(expected);
    return ok;
  }
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
    impl->siv_mac = make_siv_mac(key.first(kSivMacKeySize));
    if (!impl->siv_seal || !impl->siv_open || !impl->ctx || !impl->siv_mac) return std::nullopt;
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
  if (kdf == nullptr || out.empty() || out.size() > kMaxOutput) return false;
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

// Test seam for tests/unit/crypto_test.cpp: S2V with a short last component
// under a 16- or 32-byte K1, so the empty-plaintext path above can be checked
// against published vectors that use other component lists. Not declared in
// a header on purpose; it is not part of the interface.
namespace detail {
bool siv_s2v_short_last(std::span<const std::byte> k1, std::span<const std::span<const std::byte>> components,
                        std::span<const std::byte> last, std::span<std::byte, kTagSize> out) {
  if (k1.size() != 16 && k1.size() != kSivMacKeySize) return false;
  MacCtx mac = make_siv_mac(k1);
  return mac && s2v_short_last(mac.get(), components, last, out);
}
}  // namespace detail

}  // namespace cordon::crypto
