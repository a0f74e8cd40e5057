// Per-packet AEAD cost for each suite at two packet sizes: 64 bytes (small
// packets, where the fixed per-call overhead dominates) and 1420 bytes (the
// default tunnel MTU, node_config.hpp). Packets are sealed and opened in
// place with a fresh nonce each time, as the data path does.
//
//   ./build/bench/crypto_bench                       # all
//   ./build/bench/crypto_bench --benchmark_filter=Seal
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/aead.hpp"

namespace cordon::crypto {
namespace {

constexpr Suite kSuites[] = {Suite::kAes256Gcm, Suite::kChaCha20Poly1305, Suite::kAes256Siv, Suite::kAes128Gcm};
constexpr size_t kAadSize = 8;  // the direct-path header (wire/header.hpp)

std::array<std::byte, kNonceSize> nonce_for(uint64_t counter) {
  std::array<std::byte, kNonceSize> n{};
  for (int i = 0; i < 8; ++i) n[4 + i] = std::byte{static_cast<uint8_t>(counter >> (56 - 8 * i))};
  return n;
}

std::optional<Aead> make_aead(Suite suite, benchmark::State& state) {
  std::vector<std::byte> key(key_size(suite), std::byte{0x42});
  auto aead = Aead::create(suite, key);
  if (!aead) state.SkipWithError("Aead::create failed");
  state.SetLabel(std::string(suite_name(suite)));
  return aead;
}

void BM_Seal(benchmark::State& state) {
  const Suite suite = kSuites[state.range(0)];
  const auto size = static_cast<size_t>(state.range(1));
  auto made = make_aead(suite, state);
  if (!made) return;
  Aead& aead = *made;
  std::vector<std::byte> packet(size, std::byte{0x5a});
  std::array<std::byte, kAadSize> aad{};
  std::array<std::byte, kTagSize> tag{};
  uint64_t counter = 0;
  for (auto _ : state) {
    if (!aead.seal(nonce_for(++counter), aad, packet, tag)) {
      state.SkipWithError("seal failed");
      break;
    }
    benchmark::DoNotOptimize(tag.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(size));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_Open(benchmark::State& state) {
  const Suite suite = kSuites[state.range(0)];
  const auto size = static_cast<size_t>(state.range(1));
  auto made = make_aead(suite, state);
  if (!made) return;
  Aead& aead = *made;
  std::vector<std::byte> plain(size, std::byte{0x5a});
  std::array<std::byte, kAadSize> aad{};
  const auto nonce = nonce_for(1);
  std::vector<std::byte> sealed = plain;
  std::array<std::byte, kTagSize> tag{};
  if (!aead.seal(nonce, aad, sealed, tag)) state.SkipWithError("seal failed");
  std::vector<std::byte> packet(size);
  for (auto _ : state) {
    // Restoring the ciphertext is part of the loop; it is a memcpy, small
    // next to the cipher, and keeps every iteration a successful open.
    std::memcpy(packet.data(), sealed.data(), size);
    if (!aead.open(nonce, aad, packet, tag)) {
      state.SkipWithError("open failed");
      break;
    }
    benchmark::DoNotOptimize(packet.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(size));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Arguments: suite index (kSuites), packet size.
BENCHMARK(BM_Seal)->ArgsProduct({{0, 1, 2, 3}, {64, 1420}})->ArgNames({"suite", "bytes"});
BENCHMARK(BM_Open)->ArgsProduct({{0, 1, 2, 3}, {64, 1420}})->ArgNames({"suite", "bytes"});

}  // namespace
}  // namespace cordon::crypto

BENCHMARK_MAIN();
