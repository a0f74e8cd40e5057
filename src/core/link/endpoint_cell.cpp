#include "core/link/endpoint_cell.hpp"

namespace cordon::link {
namespace {

constexpr uint64_t kPresent = uint64_t{1} << 24;

uint64_t pack_bytes(const IpAddress& a, size_t from) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | a.bytes[from + i];
  return v;
}

void unpack_bytes(uint64_t v, IpAddress& a, size_t from) {
  for (size_t i = 0; i < 8; ++i) a.bytes[from + i] = static_cast<uint8_t>(v >> (8 * (7 - i)));
}

}  // namespace

std::optional<Endpoint> EndpointCell::load() const {
  for (;;) {
    const uint64_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 & 1) continue;  // a write is in progress
    const uint64_t w0 = words_[0].load(std::memory_order_relaxed);
    const uint64_t w1 = words_[1].load(std::memory_order_relaxed);
    const uint64_t w2 = words_[2].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) != s1) continue;
    if (!(w2 & kPresent)) return std::nullopt;
    Endpoint e;
    unpack_bytes(w0, e.address, 0);
    unpack_bytes(w1, e.address, 8);
    e.address.family = static_cast<IpAddress::Family>((w2 >> 16) & 0xff);
    e.port = static_cast<uint16_t>(w2 & 0xffff);
    e.stream = static_cast<uint32_t>(w2 >> 32);
    return e;
  }
}

void EndpointCell::store(const std::optional<Endpoint>& e) {
  const uint64_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  if (e) {
    words_[0].store(pack_bytes(e->address, 0), std::memory_order_relaxed);
    words_[1].store(pack_bytes(e->address, 8), std::memory_order_relaxed);
    words_[2].store(uint64_t{e->stream} << 32 | kPresent | uint64_t{static_cast<uint8_t>(e->address.family)} << 16 |
                        e->port,
                    std::memory_order_relaxed);
  } else {
    words_[2].store(0, std::memory_order_relaxed);
  }
  seq_.store(s + 2, std::memory_order_release);
}

}  // namespace cordon::link
