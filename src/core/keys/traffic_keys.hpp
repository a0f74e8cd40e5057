// Traffic keys from link keys (docs/design.md, decision 2; docs/protocol.md,
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

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/types.hpp"

namespace cordon::keys {

std::optional<crypto::SecretBytes> derive_traffic_key(const crypto::SecretBytes& link_key, crypto::Suite suite,
                                                      uint32_t generation, HostId sender, HostId receiver);

// The control key of the same generation and direction (docs/protocol.md,
// "Control channel"): the same info with the salt "cordon/v1 control", so it
// is independent of the traffic key. `ikm` is the link key for generation 0
// and the generation secret after (keys/key_generation.hpp).
std::optional<crypto::SecretBytes> derive_control_key(const crypto::SecretBytes& ikm, crypto::Suite suite,
                                                      uint32_t generation, HostId sender, HostId receiver);

// A link key's fingerprint names the key in state files (the counter-floor
// file, docs/protocol.md "Nonce uniqueness") without revealing it:
//
//   fingerprint = HKDF-SHA256(IKM = link key, salt = "cordon/v1 fingerprint", info = "", L = 16)
//
// HKDF's output is a PRF of the key, so the fingerprint tells nothing about
// the key or the traffic keys beyond whether two keys are equal.
constexpr size_t kFingerprintSize = 16;
using KeyFingerprint = std::array<std::byte, kFingerprintSize>;
std::optional<KeyFingerprint> link_key_fingerprint(const crypto::SecretBytes& link_key);

}  // namespace cordon::keys
