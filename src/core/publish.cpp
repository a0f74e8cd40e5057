// Quiescent-state-based reclamation; the protocol and its memory orders are
// in publish.hpp.
#include "core/publish.hpp"

#include <algorithm>

namespace cordon {

Reclaimer::Reclaimer(unsigned workers) : workers_(workers), slots_(std::make_unique<Slot[]>(workers)) {}

uint64_t Reclaimer::safe_epoch() const {
  // Pairs with the fence in enter(): see publish.hpp, "Memory orders".
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t safe = epoch_.load(std::memory_order_acquire);
  for (unsigned i = 0; i < workers_; ++i) safe = std::min(safe, slots_[i].seen.load(std::memory_order_acquire));
  return safe;
}

}  // namespace cordon
