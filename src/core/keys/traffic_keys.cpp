#include "core/keys/traffic_keys.hpp"

#include <array>
#include <cstring>
#include <string_view>

namespace cordon::keys {
namespace {

constexpr std::string_view kSalt = "cordon/v1 traffic";
constexpr std::string_view kControlSalt = "cordon/v1 control";
constexpr std::string_view kLabel = "cordon/v1 key";
constexpr std::string_view kFingerprintSalt = "cordon/v1 fingerprint";

void put_u32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte{static_cast<uint8_t>(v >> (24 - 8 * i))};
}

std::optional<crypto::SecretBytes> derive_key(std::string_view salt_text, const crypto::SecretBytes& link_key,
                                              crypto::Suite suite, uint32_t generation, HostId sender, HostId receiver) {
  std::array<std::byte, kLabel.size() + 1 + 12> info{};
  std::memcpy(info.data(), kLabel.data(), kLabel.size());
  std::byte* p = info.data() + kLabel.size();
  p[0] = std::byte{static_cast<uint8_t>(suite)};
  put_u32(p + 1, generation);
  put_u32(p + 5, sender.value);
  put_u32(p + 9, receiver.value);
  crypto::SecretBytes out(crypto::key_size(suite));
  const auto salt = std::as_bytes(std::span(salt_text.data(), salt_text.size()));
  if (!crypto::hkdf_sha256(link_key.view(), salt, info, out.mutable_view())) return std::nullopt;
  return out;
}

}  // namespace

std::optional<crypto::SecretBytes> derive_traffic_key(const crypto::SecretBytes& link_key, crypto::Suite suite,
                                                      uint32_t generation, HostId sender, HostId receiver) {
  return derive_key(kSalt, link_key, suite, generation, sender, receiver);
}

std::optional<crypto::SecretBytes> derive_control_key(const crypto::SecretBytes& ikm, crypto::Suite suite,
                                                      uint32_t generation, HostId sender, HostId receiver) {
  return derive_key(kControlSalt, ikm, suite, generation, sender, receiver);
}

std::optional<KeyFingerprint> link_key_fingerprint(const crypto::SecretBytes& link_key) {
  KeyFingerprint out{};
  const auto salt = std::as_bytes(std::span(kFingerprintSalt.data(), kFingerprintSalt.size()));
  if (!crypto::hkdf_sha256(link_key.view(), salt, {}, out)) return std::nullopt;
  return out;
}

}  // namespace cordon::keys
