// Datagrams sealed by hand, with real keys, for tests, fuzz targets and
// benchmarks that play a host the core under test has a link with (or a
// stranger with a wrong key): docs/protocol.md, "Wire format" and
// "Relayed datagrams". AES-256-GCM, key generation 0.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/types.hpp"
#include "core/wire/relay.hpp"

namespace cordon::testing {

// A direct (format 0) datagram: `plaintext` from `sender` to `receiver`
// under `link_key`, with the full 64-bit `counter`.
std::vector<std::byte> forge_direct(const crypto::SecretBytes& link_key, HostId sender, HostId receiver,
                                    std::span<const std::byte> plaintext, uint64_t counter);

// `inner` (a format-0 datagram) wrapped for the hop `sender` -> `receiver`
// under `hop_key`, with `routing` in its routing block.
std::vector<std::byte> forge_relayed(const crypto::SecretBytes& hop_key, HostId sender, HostId receiver,
                                     std::span<const std::byte> inner, const wire::RoutingBlock& routing,
                                     uint64_t counter);

}  // namespace cordon::testing
