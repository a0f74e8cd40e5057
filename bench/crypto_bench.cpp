// Per-packet AEAD cost for each suite at two packet sizes: 64 bytes (small
// packets, where the fixed per-call overhead dominates) and 1420 bytes (the
// default tunnel MTU, node_config.hpp). Packets are sealed and opened in
// place with a fresh nonce each time, as the data path does.
//
// Then the ways OpenSSL 3.0's EVP can seal and open many AES-256-GCM
// datagrams (docs/performance.md, "Crypto"): a batch of 64 distinct buffers
// through Aead, and raw EVP call sequences that differ in one step each
// (how the IV is set, how the tag is read, a re-key per packet). The
// context lines at the top of the output say whether any provider offers
// the pipeline flag (EVP_CIPH_FLAG_PIPELINE) for the AEAD suites.
//
//   ./build/bench/crypto_bench                       # all
//   ./build/bench/crypto_bench --benchmark_filter=Seal
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include <array>
#include <cstring>
#include <memory>
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

// ---------------------------------------------------------------------------
// Batches: 64 distinct packets per iteration (a worker's batch, and 90 KB of
// buffers at 1420 bytes: more than L1), sealed one after the other through
// the same Aead. Items are packets, so the per-item time compares directly
// with BM_Seal's single cache-hot packet.

constexpr size_t kBatch = 64;

void BM_SealBatch(benchmark::State& state) {
  const Suite suite = kSuites[state.range(0)];
  const auto size = static_cast<size_t>(state.range(1));
  auto made = make_aead(suite, state);
  if (!made) return;
  std::vector<std::byte> packets(kBatch * size, std::byte{0x5a});
  std::array<std::byte, kAadSize> aad{};
  std::array<std::array<std::byte, kTagSize>, kBatch> tags{};
  uint64_t counter = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      if (!made->seal(nonce_for(++counter), aad, std::span(packets).subspan(i * size, size), tags[i])) {
        state.SkipWithError("seal failed");
        return;
      }
    }
    benchmark::DoNotOptimize(tags.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatch * size));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_SealBatch)->ArgsProduct({{0, 1}, {64, 1420}})->ArgNames({"suite", "bytes"});

// ---------------------------------------------------------------------------
// Raw EVP call sequences for AES-256-GCM, one step changed at a time. kToday
// is what aead.cpp does (stream_seal): the keyed context is re-initialised
// with the IV only.

enum class Way : int {
  kToday = 0,        // EVP_CipherInit_ex2(ctx, NULL, NULL, iv, 1); AAD; update; final; ctrl(GET_TAG)
  kEncryptInit = 1,  // EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv): the pre-3.0 call
  kSetIvLen = 2,     // kToday plus ctrl(SET_IVLEN, 12) before each init
  kTagParams = 3,    // kToday, the tag read with EVP_CIPHER_CTX_get_params
  kRekey = 4,        // EVP_EncryptInit_ex2(ctx, cipher, key, iv): key schedule per packet
};
// Setting only the IV through EVP_CIPHER_CTX_set_params, with no init call,
// is not a way: OpenSSL 3.0's GCM refuses the next update once a final ran.
constexpr const char* kWayNames[] = {"cipherinit_iv", "encryptinit_iv", "set_ivlen", "tag_params", "rekey"};

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};

unsigned char* u8(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* u8(const std::byte* p) { return reinterpret_cast<const unsigned char*>(p); }

bool read_tag(EVP_CIPHER_CTX* ctx, Way way, unsigned char* tag) {
  if (way != Way::kTagParams) return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagSize, tag) == 1;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, kTagSize),
                         OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

bool set_iv(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, Way way, std::span<const std::byte> key,
            const unsigned char* iv) {
  switch (way) {
    case Way::kEncryptInit: return EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv) == 1;
    case Way::kSetIvLen:
      return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, kNonceSize, nullptr) == 1 &&
             EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, 1, nullptr) == 1;
    case Way::kRekey: return EVP_EncryptInit_ex2(ctx, cipher, u8(key.data()), iv, nullptr) == 1;
    default: return EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, 1, nullptr) == 1;
  }
}

void BM_EvpGcmSeal(benchmark::State& state) {
  const auto way = static_cast<Way>(state.range(0));
  const auto size = static_cast<size_t>(state.range(1));
  state.SetLabel(kWayNames[state.range(0)]);
  std::unique_ptr<EVP_CIPHER, CipherFree> cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  std::vector<std::byte> key(32, std::byte{0x42});
  std::vector<std::byte> packet(size, std::byte{0x5a});
  std::array<std::byte, kAadSize> aad{};
  unsigned char tag[kTagSize];
  unsigned char none[kTagSize];
  if (!cipher || !ctx || EVP_EncryptInit_ex2(ctx.get(), cipher.get(), u8(key.data()), nullptr, nullptr) != 1) {
    state.SkipWithError("AES-256-GCM context");
    return;
  }
  uint64_t counter = 0;
  for (auto _ : state) {
    const auto nonce = nonce_for(++counter);
    int len = 0;
    if (!set_iv(ctx.get(), cipher.get(), way, key, u8(nonce.data())) ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(aad.data()), kAadSize) != 1 ||
        EVP_EncryptUpdate(ctx.get(), u8(packet.data()), &len, u8(packet.data()), static_cast<int>(size)) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), none, &len) != 1 || !read_tag(ctx.get(), way, tag)) {
      state.SkipWithError("seal failed");
      return;
    }
    benchmark::DoNotOptimize(tag);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EvpGcmSeal)->ArgsProduct({{0, 1, 2, 3, 4}, {64, 1420}})->ArgNames({"way", "bytes"});

// ---------------------------------------------------------------------------
// The pipeline flag. OpenSSL 3.0 has no provider pipeline API (that arrived
// in 3.5 as EVP_CipherPipeline*); the old EVP_CIPH_FLAG_PIPELINE marks a
// cipher that takes EVP_CTRL_SET_PIPELINE_* buffers. Reported per provider
// that loads here, for each AEAD suite.

void report_pipeline_flags() {
  for (const char* provider : {"default", "legacy", "fips"}) {
    OSSL_PROVIDER* loaded = OSSL_PROVIDER_try_load(nullptr, provider, 1);
    std::string verdict;
    if (loaded == nullptr) {
      verdict = "provider not available";
    } else {
      const std::string query = std::string("provider=") + provider;
      for (const char* name : {"AES-256-GCM", "AES-128-GCM", "ChaCha20-Poly1305"}) {
        std::unique_ptr<EVP_CIPHER, CipherFree> c(EVP_CIPHER_fetch(nullptr, name, query.c_str()));
        verdict += std::string(name) + ": ";
        if (!c) {
          verdict += "absent; ";
        } else {
          verdict += (EVP_CIPHER_get_flags(c.get()) & EVP_CIPH_FLAG_PIPELINE) != 0 ? "pipeline; " : "no pipeline; ";
        }
      }
      OSSL_PROVIDER_unload(loaded);
    }
    benchmark::AddCustomContext(std::string("pipeline_flag_") + provider, verdict);
  }
  benchmark::AddCustomContext("openssl", OpenSSL_version(OPENSSL_VERSION));
}

}  // namespace
}  // namespace cordon::crypto

int main(int argc, char** argv) {
  cordon::crypto::report_pipeline_flags();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
