#include "core/crypto/x25519.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace cordon::crypto {

struct X25519Key::Impl {
  EVP_PKEY* key = nullptr;
  ~Impl() { EVP_PKEY_free(key); }
};

X25519Key::X25519Key(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
X25519Key::X25519Key(X25519Key&&) noexcept = default;
X25519Key& X25519Key::operator=(X25519Key&&) noexcept = default;
X25519Key::~X25519Key() = default;

std::optional<X25519Key> X25519Key::from_private(std::span<const std::byte, kX25519Size> random) {
  auto impl = std::make_unique<Impl>();
  impl->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                           reinterpret_cast<const unsigned char*>(random.data()), random.size());
  if (!impl->key) return std::nullopt;
  X25519Key out(std::move(impl));
  size_t len = out.public_.size();
  if (EVP_PKEY_get_raw_public_key(out.impl_->key, reinterpret_cast<unsigned char*>(out.public_.data()), &len) != 1 ||
      len != kX25519Size) {
    return std::nullopt;
  }
  return out;
}

std::optional<SecretBytes> X25519Key::agree(std::span<const std::byte, kX25519Size> peer_public) const {
  EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(peer_public.data()),
                                               peer_public.size());
  if (!peer) return std::nullopt;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->key, nullptr);
  SecretBytes out(kX25519Size);
  size_t len = out.size();
  const bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
                  EVP_PKEY_derive(ctx, reinterpret_cast<unsigned char*>(out.mutable_view().data()), &len) == 1 &&
                  len == kX25519Size;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  if (!ok) return std::nullopt;
  static constexpr std::array<std::byte, kX25519Size> kZero{};
  if (CRYPTO_memcmp(out.view().data(), kZero.data(), kZero.size()) == 0) return std::nullopt;
  return out;
}

}  // namespace cordon::crypto
