#include "core/link/generation.hpp"

#include <cstring>

#include "core/keys/key_generation.hpp"

namespace cordon::link {
namespace {
std::atomic<uint64_t> next_serial{1};
}  // namespace

Generation::Generation(crypto::Suite suite, uint32_t number)
    : suite_(suite), number_(number), serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {}

std::unique_ptr<Generation> Generation::create(const crypto::SecretBytes& ikm, crypto::Suite suite, uint32_t number,
                                               HostId self, HostId peer, unsigned slots) {
  auto keys = keys::generation_keys(ikm, suite, number, self, peer);
  if (!keys) return nullptr;
  // A key OpenSSL refuses fails here, not on the first packet.
  if (!crypto::Aead::create(suite, keys->tx.view())) return nullptr;
  std::unique_ptr<Generation> g(new Generation(suite, number));
  const size_t n = keys->tx.size();
  g->keys_ = crypto::SecretBytes(4 * n);
  const crypto::SecretBytes* parts[] = {&keys->tx, &keys->rx, &keys->control_tx, &keys->control_rx};
  for (size_t i = 0; i < 4; ++i) {
    std::memcpy(g->keys_.mutable_view().data() + i * n, parts[i]->view().data(), n);
  }
  g->slots_.resize(slots);
  return g;
}

}  // namespace cordon::link
