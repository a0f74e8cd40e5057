// The OS CSPRNG, for every key, salt and nonce Cordon makes. The core takes
// randomness as arguments (docs/design.md, practice 1); this is where it comes from.
#pragma once

#include <cstddef>
#include <span>

#include "core/crypto/secret.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

// Fills `out` from getrandom(2) (flags 0: blocks only until the kernel pool
// is initialised at boot). Loops over short reads and EINTR, so `out` is
// either filled completely or an error is returned.
Status random_bytes(std::span<std::byte> out);

// A new secret of `size` random bytes (link, host and user keys).
Result<crypto::SecretBytes> random_secret(size_t size);

// Calls sodium_init() once, which picks libsodium's fastest implementations
// (Argon2id and ChaCha20 with SSE/AVX2). Without it libsodium still works,
// more slowly. Call at program start; safe to call more than once and from
// several threads.
Status init_crypto();

}  // namespace cordon::os
