// getrandom(2) for keys, salts and nonces (random.hpp).
#include "os/linux/random.hpp"

#include <sodium.h>
#include <sys/random.h>

#include <cerrno>

namespace cordon::os {

Status random_bytes(std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    // getrandom returns at most 32 MiB - 1 per call and may be cut short by
    // a signal (getrandom(2), "Interruption by a signal handler"): loop.
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("getrandom");
    }
    done += static_cast<size_t>(n);
  }
  return Ok{};
}

Result<crypto::SecretBytes> random_secret(size_t size) {
  crypto::SecretBytes secret(size);
  if (auto status = random_bytes(secret.mutable_view()); !status) return status.error();
  return secret;
}

Status init_crypto() {
  // 0: initialised now, 1: already initialised, -1: failure.
  if (sodium_init() < 0) return SysError{"sodium_init failed: libsodium could not initialise", 0};
  return Ok{};
}

}  // namespace cordon::os
