#include "core/ipsec/prf.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/ipsec/openssl_ptr.hpp"

namespace cordon::ipsec {
namespace {

const char* digest_name(PrfId prf) {
  switch (prf) {
    case PrfId::kHmacSha256: return "SHA256";
    case PrfId::kHmacSha384: return "SHA384";
    case PrfId::kHmacSha512: return "SHA512";
  }
  return nullptr;
}

// One HMAC context keyed once; prf+ reuses it for every block.
class Hmac {
 public:
  static Result<Hmac, PrfError> create(PrfId prf, Octets key) {
    const char* digest = digest_name(prf);
    if (digest == nullptr) return PrfError::kUnsupportedPrf;
    ossl::Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) return PrfError::kOpenSsl;
    ossl::MacCtx ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) return PrfError::kOpenSsl;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end(),
    };
    // An empty key is legal for HMAC; OpenSSL wants a non-null pointer.
    static const unsigned char kEmpty = 0;
    const auto* k = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx.get(), k, key.size(), params) != 1) return PrfError::kOpenSsl;
    return Hmac(std::move(ctx), prf_size(prf));
  }

  // prf(key, pieces...) into `out` (size() bytes). The keyed context is kept.
  bool compute(std::span<const Octets> pieces, std::span<std::byte> out) {
    ossl::MacCtx run(EVP_MAC_CTX_dup(keyed_.get()));
    if (!run || EVP_MAC_init(run.get(), nullptr, 0, nullptr) != 1) return false;
    for (Octets p : pieces) {
      if (!p.empty() && EVP_MAC_update(run.get(), reinterpret_cast<const unsigned char*>(p.data()), p.size()) != 1) {
        return false;
      }
    }
    size_t len = 0;
    return EVP_MAC_final(run.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) == 1 &&
           len == size_;
  }
  size_t size() const { return size_; }

 private:
  Hmac(ossl::MacCtx ctx, size_t size) : keyed_(std::move(ctx)), size_(size) {}
  ossl::MacCtx keyed_;
  size_t size_;
};

}  // namespace

std::string_view to_string(PrfError error) {
  switch (error) {
    case PrfError::kUnsupportedPrf: return "unsupported-prf";
    case PrfError::kOutputTooLong: return "prf-output-too-long";
    case PrfError::kOpenSsl: return "openssl-failure";
  }
  return "unknown";
}

size_t prf_size(PrfId prf) {
  switch (prf) {
    case PrfId::kHmacSha256: return 32;
    case PrfId::kHmacSha384: return 48;
    case PrfId::kHmacSha512: return 64;
  }
  return 0;
}

Result<crypto::SecretBytes, PrfError> prf(PrfId id, Octets key, OctetsList data) {
  auto hmac = Hmac::create(id, key);
  if (!hmac) return hmac.error();
  crypto::SecretBytes out(hmac->size());
  if (!hmac->compute(std::span<const Octets>(data.begin(), data.size()), out.mutable_view())) return PrfError::kOpenSsl;
  return out;
}

Result<crypto::SecretBytes, PrfError> prf_plus(PrfId id, Octets key, OctetsList seed, size_t length) {
  auto hmac = Hmac::create(id, key);
  if (!hmac) return hmac.error();
  const size_t block = hmac->size();
  const size_t blocks = (length + block - 1) / block;
  if (blocks > 255) return PrfError::kOutputTooLong;
  crypto::SecretBytes stream(blocks * block);
  std::span<std::byte> all = stream.mutable_view();
  for (size_t n = 1; n <= blocks; ++n) {
    const std::byte counter{static_cast<unsigned char>(n)};
    // T(n-1) is empty for the first block.
    const Octets previous = n == 1 ? Octets{} : Octets(all.subspan((n - 2) * block, block));
    std::vector<Octets> pieces{previous};
    pieces.insert(pieces.end(), seed.begin(), seed.end());
    pieces.push_back(Octets(&counter, 1));
    if (!hmac->compute(pieces, all.subspan((n - 1) * block, block))) return PrfError::kOpenSsl;
  }
  if (stream.size() == length) return stream;
  return crypto::SecretBytes(stream.view().first(length));  // `stream` is wiped on return
}

}  // namespace cordon::ipsec
