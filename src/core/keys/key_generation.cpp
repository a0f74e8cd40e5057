#include "core/keys/key_generation.hpp"

#include <array>
#include <cstring>
#include <string_view>

#include "core/keys/traffic_keys.hpp"

namespace cordon::keys {
namespace {

constexpr std::string_view kChainSalt = "cordon/v1 chain";
constexpr std::string_view kGenerationLabel = "cordon/v1 generation";

std::span<const std::byte> text_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

void put_u32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte{static_cast<uint8_t>(v >> (24 - 8 * i))};
}

}  // namespace

std::optional<crypto::SecretBytes> chain_start(const crypto::SecretBytes& link_key) {
  crypto::SecretBytes out(kGenerationSecretSize);
  if (!crypto::hkdf_sha256(link_key.view(), text_bytes(kChainSalt), {}, out.mutable_view())) return std::nullopt;
  return out;
}

std::optional<crypto::SecretBytes> chain_next(const crypto::SecretBytes& previous, const crypto::SecretBytes& shared,
                                              std::span<const std::byte> material, uint32_t generation,
                                              HostId key_master, HostId other) {
  crypto::SecretBytes ikm(shared.size() + material.size());
  std::memcpy(ikm.mutable_view().data(), shared.view().data(), shared.size());
  if (!material.empty()) std::memcpy(ikm.mutable_view().data() + shared.size(), material.data(), material.size());
  std::array<std::byte, kGenerationLabel.size() + 12> info{};
  std::memcpy(info.data(), kGenerationLabel.data(), kGenerationLabel.size());
  put_u32(info.data() + kGenerationLabel.size(), generation);
  put_u32(info.data() + kGenerationLabel.size() + 4, key_master.value);
  put_u32(info.data() + kGenerationLabel.size() + 8, other.value);
  crypto::SecretBytes out(kGenerationSecretSize);
  if (!crypto::hkdf_sha256(ikm.view(), previous.view(), info, out.mutable_view())) return std::nullopt;
  return out;
}

std::optional<GenerationKeys> generation_keys(const crypto::SecretBytes& ikm, crypto::Suite suite, uint32_t generation,
                                              HostId self, HostId peer) {
  auto tx = derive_traffic_key(ikm, suite, generation, self, peer);
  auto rx = derive_traffic_key(ikm, suite, generation, peer, self);
  auto ctx = derive_control_key(ikm, suite, generation, self, peer);
  auto crx = derive_control_key(ikm, suite, generation, peer, self);
  if (!tx || !rx || !ctx || !crx) return std::nullopt;
  return GenerationKeys{std::move(*tx), std::move(*rx), std::move(*ctx), std::move(*crx)};
}

}  // namespace cordon::keys
