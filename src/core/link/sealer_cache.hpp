// The control thread's sealing contexts. A context per peer for the control
// thread would cost each of a coordinator's clients about 1.2 KiB for the few
// control messages it gets per status interval (docs/design.md, "Coordinator
// memory"). The control thread instead keeps kEntries keyed contexts,
// direct-mapped by Generation::serial, and makes a new one on a miss (about 1.5 us
// for AES-256-GCM on the bench machine, against 0.8 us for the packet
// itself). A neighbour coordinator or a client with a control exchange under
// way hits; a status round misses about once per client.
//
// Control thread only: no lock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/crypto/aead.hpp"
#include "core/link/generation.hpp"

namespace cordon::link {

class SealerCache {
 public:
  static constexpr size_t kEntries = 16;

  // The sending context of `g`; nullptr when OpenSSL cannot make one.
  crypto::Aead* for_generation(const Generation& g) {
    Entry& e = entries_[g.serial() % kEntries];
    if (e.serial != g.serial() || !e.aead) {
      e.serial = g.serial();
      e.aead = g.make_tx();
    }
    return e.aead ? &*e.aead : nullptr;
  }

 private:
  struct Entry {
    uint64_t serial = 0;  // Generation serials start at 1
    std::optional<crypto::Aead> aead;
  };
  std::array<Entry, kEntries> entries_;
};

}  // namespace cordon::link
