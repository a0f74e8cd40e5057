// One key generation of a link as the data path uses it: the traffic and
// control keys of both directions (keys/key_generation.hpp) and the AEAD
// contexts made from them, one per worker slot and direction, each made on
// the slot's first use. Immutable once built except for those contexts
// (each slot's used and made by one thread only) and rx_until.
//
// The header's 2-bit generation field names a generation among those the
// receiver holds (docs/protocol.md, "Key generations"): 0 is always
// generation 0, the link key's own; generations 1, 2, 3, 4, ... cycle through
// 1, 2, 3. A receiver holds at most the previous, the current and the next
// generation after 0, three consecutive numbers, so the three values never
// collide, and a forged datagram still costs at most one AEAD attempt.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/types.hpp"

namespace cordon::link {

constexpr uint8_t kWireGenerations = 4;
constexpr uint8_t wire_generation(uint32_t number) {
  return number == 0 ? 0 : static_cast<uint8_t>(1 + (number - 1) % 3);
}

class Generation {
 public:
  // `ikm` is the link key for generation 0 and the generation secret after.
  // nullptr when a key cannot be derived or OpenSSL refuses it.
  static std::unique_ptr<Generation> create(const crypto::SecretBytes& ikm, crypto::Suite suite, uint32_t number,
                                            HostId self, HostId peer, unsigned slots);

  uint32_t number() const { return number_; }
  uint8_t wire() const { return wire_generation(number_); }
  crypto::Suite suite() const { return suite_; }
  // Names this object for the process's lifetime (never reused), so a cache
  // of contexts can tell a new generation at a freed one's address apart.
  uint64_t serial() const { return serial_; }

  // A slot's contexts; nullptr when OpenSSL cannot make one (the caller
  // drops the datagram as crypto_error; a later call tries again).
  crypto::Aead* tx(unsigned slot) const { return context(slots_[slot].tx, Key::kTx); }
  crypto::Aead* rx(unsigned slot) const { return context(slots_[slot].rx, Key::kRx); }
  // Fresh contexts, for a thread without a slot here (the control thread)
  // and for the control channel's inner seal, which is rare.
  std::optional<crypto::Aead> make_tx() const { return crypto::Aead::create(suite_, key(Key::kTx)); }
  std::optional<crypto::Aead> make_control_tx() const { return crypto::Aead::create(suite_, key(Key::kControlTx)); }
  std::optional<crypto::Aead> make_control_rx() const { return crypto::Aead::create(suite_, key(Key::kControlRx)); }

  // The peer announced that it seals nothing more under this generation from
  // this counter on (a rekey switch); datagrams at or above it are refused
  // as `retired_generation`. UINT64_MAX until then.
  uint64_t rx_until() const { return rx_until_.load(std::memory_order_acquire); }
  void set_rx_until(uint64_t counter) const { rx_until_.store(counter, std::memory_order_release); }

 private:
  Generation(crypto::Suite suite, uint32_t number);
  // The four keys live in one secret buffer, in this order: a coordinator
  // holds one generation per client, and one allocation costs less than
  // four (docs/design.md, "Coordinator memory").
  enum class Key : size_t { kTx = 0, kRx = 1, kControlTx = 2, kControlRx = 3 };
  std::span<const std::byte> key(Key k) const {
    const size_t n = keys_.size() / 4;
    return keys_.view().subspan(static_cast<size_t>(k) * n, n);
  }
  crypto::Aead* context(std::optional<crypto::Aead>& slot, Key k) const {
    if (!slot) slot = crypto::Aead::create(suite_, key(k));
    return slot ? &*slot : nullptr;
  }

  crypto::Suite suite_;
  uint32_t number_;
  uint64_t serial_;
  crypto::SecretBytes keys_;
  struct Slot {
    std::optional<crypto::Aead> tx, rx;
  };
  mutable std::vector<Slot> slots_;  // per worker slot
  mutable std::atomic<uint64_t> rx_until_{UINT64_MAX};
};

}  // namespace cordon::link
