// The tag that makes a host's report to the administration host
// unforgeable on the way (receipts and status reports, item.hpp and
// status_report.hpp): HMAC-SHA256 (RFC 2104) over the report, under
// HKDF-SHA256 (RFC 5869) of the host key with info `label` || host 4. Only
// the host and the administrator hold the host key, so a courier or
// another host cannot make one.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/types.hpp"

namespace cordon::courier {

constexpr size_t kHostTagSize = 32;

// `body` with its tag appended; nullopt only if HKDF or HMAC fails.
std::optional<std::vector<std::byte>> append_host_tag(std::vector<std::byte> body, const crypto::SecretBytes& host_key,
                                                      std::string_view label, HostId host);
// True when the last kHostTagSize bytes of `payload` are the tag of the
// rest (compared in constant time).
bool host_tag_valid(std::span<const std::byte> payload, const crypto::SecretBytes& host_key, std::string_view label,
                    HostId host);

}  // namespace cordon::courier
