// XChaCha20-Poly1305 over libsodium (xchacha.hpp). Only size checks here;
// the primitive is libsodium's.
#include "core/crypto/xchacha.hpp"

#include <sodium.h>

#include "core/crypto/secret.hpp"

namespace cordon::crypto {

static_assert(kXChaChaKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kXChaChaNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kXChaChaTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);

namespace {
const unsigned char* uc(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* uc(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
}  // namespace

bool xchacha_seal(std::span<const std::byte> key, const XChaChaNonce& nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> plaintext, std::span<std::byte> out) {
  if (key.size() != kXChaChaKeySize || out.size() != plaintext.size() + kXChaChaTagSize) return false;
  unsigned long long written = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_encrypt(uc(out.data()), &written, uc(plaintext.data()),
                                                            plaintext.size(), uc(aad.data()), aad.size(), nullptr,
                                                            uc(nonce.data()), uc(key.data()));
  return rc == 0 && written == out.size();
}

bool xchacha_open(std::span<const std::byte> key, const XChaChaNonce& nonce, std::span<const std::byte> aad,
                  std::span<const std::byte> sealed, std::span<std::byte> out) {
  if (key.size() != kXChaChaKeySize || sealed.size() < kXChaChaTagSize ||
      out.size() != sealed.size() - kXChaChaTagSize) {
    return false;
  }
  unsigned long long written = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(uc(out.data()), &written, nullptr, uc(sealed.data()),
                                                            sealed.size(), uc(aad.data()), aad.size(),
                                                            uc(nonce.data()), uc(key.data()));
  if (rc != 0 || written != out.size()) {
    wipe(out);
    return false;
  }
  return true;
}

}  // namespace cordon::crypto
