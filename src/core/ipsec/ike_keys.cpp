#include "core/ipsec/ike_keys.hpp"

#include <array>

namespace cordon::ipsec {
namespace {

std::array<std::byte, 8> spi_bytes(uint64_t spi) {
  std::array<std::byte, 8> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(spi >> (56 - 8 * i));
  return out;
}

// Cuts `stream` into consecutive keys of the given sizes.
class Cutter {
 public:
  explicit Cutter(const crypto::SecretBytes& stream) : rest_(stream.view()) {}
  crypto::SecretBytes next(size_t size) {
    crypto::SecretBytes key(rest_.first(size));
    rest_ = rest_.subspan(size);
    return key;
  }

 private:
  Octets rest_;
};

}  // namespace

Result<crypto::SecretBytes, PrfError> skeyseed(PrfId id, Octets nonce_i, Octets nonce_r, Octets g_ir) {
  // The key is Ni | Nr; HMAC takes a key of any length (RFC 7296 section
  // 2.14 only truncates for fixed-key PRFs, which Cordon does not offer).
  std::vector<std::byte> key(nonce_i.begin(), nonce_i.end());
  key.insert(key.end(), nonce_r.begin(), nonce_r.end());
  return prf(id, key, {g_ir});
}

Result<crypto::SecretBytes, PrfError> rekeyed_skeyseed(PrfId id, Octets old_sk_d, Octets g_ir, Octets nonce_i,
                                                       Octets nonce_r) {
  return prf(id, old_sk_d, {g_ir, nonce_i, nonce_r});
}

Result<IkeSaKeys, PrfError> ike_sa_keys(PrfId id, TransformKeySizes sizes, Octets seed, Octets nonce_i,
                                        Octets nonce_r, uint64_t spi_i, uint64_t spi_r) {
  const size_t prf_key = prf_size(id);
  if (prf_key == 0) return PrfError::kUnsupportedPrf;
  const auto spi_i_bytes = spi_bytes(spi_i);
  const auto spi_r_bytes = spi_bytes(spi_r);
  const size_t total = 3 * prf_key + 2 * sizes.integrity + 2 * sizes.encryption;
  auto stream = prf_plus(id, seed, {nonce_i, nonce_r, spi_i_bytes, spi_r_bytes}, total);
  if (!stream) return stream.error();
  Cutter cut(*stream);
  IkeSaKeys keys;
  keys.sk_d = cut.next(prf_key);
  keys.sk_ai = cut.next(sizes.integrity);
  keys.sk_ar = cut.next(sizes.integrity);
  keys.sk_ei = cut.next(sizes.encryption);
  keys.sk_er = cut.next(sizes.encryption);
  keys.sk_pi = cut.next(prf_key);
  keys.sk_pr = cut.next(prf_key);
  return keys;
}

Result<ChildSaKeys, PrfError> child_sa_keys(PrfId id, TransformKeySizes sizes, Octets sk_d, Octets g_ir,
                                            Octets nonce_i, Octets nonce_r) {
  // Section 2.17: "All keys for SAs carrying data from the initiator to the
  // responder are taken before SAs going from the responder to the
  // initiator", encryption before integrity within each.
  const size_t total = 2 * (sizes.encryption + sizes.integrity);
  auto stream = prf_plus(id, sk_d, {g_ir, nonce_i, nonce_r}, total);
  if (!stream) return stream.error();
  Cutter cut(*stream);
  ChildSaKeys keys;
  keys.encryption_i_to_r = cut.next(sizes.encryption);
  keys.integrity_i_to_r = cut.next(sizes.integrity);
  keys.encryption_r_to_i = cut.next(sizes.encryption);
  keys.integrity_r_to_i = cut.next(sizes.integrity);
  return keys;
}

}  // namespace cordon::ipsec
