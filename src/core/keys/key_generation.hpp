// Key generations after the first (docs/protocol.md, "Key generations").
//
// Generation 0 of a link is the link key's own: its traffic keys are those of
// keys/traffic_keys.hpp with generation 0. Every later generation g comes from
// a chain of 32-byte generation secrets S_g:
//
//   S_0 = HKDF-SHA256(IKM = link key, salt = "cordon/v1 chain", info = "", L = 32)
//   S_g = HKDF-SHA256(IKM  = X25519 shared secret (32) || material (32 or 64),
//                     salt = S_{g-1},
//                     info = "cordon/v1 generation" || g (4, BE) || key master ID (4, BE)
//                            || other side's ID (4, BE),
//                     L    = 32)
//
// and its keys are derive_traffic_key / derive_control_key with S_g in place
// of the link key. The X25519 exchange is ephemeral: both private values are
// freed once S_g is made, so the link key (S_0) together with everything on
// the wire does not give S_1, and S_g does not give S_{g-1} (HKDF is one
// way). That is the forward secrecy the rekey adds. The material is random
// (32 bytes, carried in the offer) or an entry of each key array delivered
// earlier (64 bytes: link/key_array.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/types.hpp"

namespace cordon::keys {

constexpr size_t kGenerationSecretSize = 32;

std::optional<crypto::SecretBytes> chain_start(const crypto::SecretBytes& link_key);
std::optional<crypto::SecretBytes> chain_next(const crypto::SecretBytes& previous, const crypto::SecretBytes& shared,
                                              std::span<const std::byte> material, uint32_t generation,
                                              HostId key_master, HostId other);

// The four keys of one generation, as seen from `self`.
struct GenerationKeys {
  crypto::SecretBytes tx, rx, control_tx, control_rx;
};
// `ikm` is the link key for generation 0 and S_g after.
std::optional<GenerationKeys> generation_keys(const crypto::SecretBytes& ikm, crypto::Suite suite, uint32_t generation,
                                              HostId self, HostId peer);

}  // namespace cordon::keys
