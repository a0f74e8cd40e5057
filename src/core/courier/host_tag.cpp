#include "core/courier/host_tag.hpp"

#include "core/crypto/aead.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::courier {
namespace {

std::optional<std::array<std::byte, kHostTagSize>> tag_of(std::span<const std::byte> body,
                                                          const crypto::SecretBytes& host_key, std::string_view label,
                                                          HostId host) {
  std::vector<std::byte> info(label.size() + 4);
  for (size_t i = 0; i < label.size(); ++i) info[i] = static_cast<std::byte>(label[i]);
  wire::ByteWriter w(std::span(info).subspan(label.size()));
  w.u32(host.value);
  crypto::SecretBytes key(32);
  if (!crypto::hkdf_sha256(host_key.view(), {}, info, key.mutable_view())) return std::nullopt;
  std::array<std::byte, kHostTagSize> tag{};
  if (!crypto::hmac_sha256(key.view(), body, tag)) return std::nullopt;
  return tag;
}

}  // namespace

std::optional<std::vector<std::byte>> append_host_tag(std::vector<std::byte> body, const crypto::SecretBytes& host_key,
                                                      std::string_view label, HostId host) {
  const auto tag = tag_of(body, host_key, label, host);
  if (!tag) return std::nullopt;
  body.insert(body.end(), tag->begin(), tag->end());
  return body;
}

bool host_tag_valid(std::span<const std::byte> payload, const crypto::SecretBytes& host_key, std::string_view label,
                    HostId host) {
  if (payload.size() < kHostTagSize) return false;
  const auto tag = tag_of(payload.first(payload.size() - kHostTagSize), host_key, label, host);
  return tag && crypto::constant_time_equal(*tag, payload.last(kHostTagSize));
}

}  // namespace cordon::courier
