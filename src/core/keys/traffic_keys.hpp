// Traffic keys from link keys (DESIGN.md, decision 2; docs/protocol.md,
// "Key derivation").
//
//   traffic key = HKDF-SHA256(IKM  = link key (32 bytes),
//                             salt = "cordon/v1 traffic",
//                             info = "cordon/v1 key" || suite (1) || generation (4, BE)
//                                    || sender host ID (4, BE) || receiver host ID (4, BE),
//                             L    = key size of the suite)
//
// One key per direction, suite and key generation; both host IDs are in the
// label, so the two directions of a link never share a key and a packet
// replayed towards a third host fails authentication.
#pragma once

#include <cstdint>
#include <optional>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/types.hpp"

namespace cordon::keys {

std::optional<crypto::SecretBytes> derive_traffic_key(const crypto::SecretBytes& link_key, crypto::Suite suite,
                                                      uint32_t generation, HostId sender, HostId receiver);

}  // namespace cordon::keys
