// Publishing immutable tables to the data-path workers without a shared
// write per read: quiescent-state-based reclamation (docs/design.md, "The
// data path"; the scheme is the one Linux's RCU and the userspace-RCU
// library call QSBR).
//
// Roles. One control thread publishes: it swaps in a new table and retires
// the old one. Any number of workers read, each with its own index; a worker
// brackets every batch with enter(worker) and leave(worker) (Node does this in
// process_wire and process_tun) and may use a table it loaded only inside
// that bracket. Between batches a worker is idle and holds nothing.
//
// Protocol. A global epoch counts retirements. Each worker owns one
// cache-line-sized slot holding the epoch it saw at its last enter(), or
// kIdle between batches; only that worker writes it, so reading a table costs
// no shared write. A table retired when the epoch became R is freed by
// reclaim() once every slot is idle or holds an epoch >= R: each worker has
// then left every batch that could have loaded it.
//
// Memory orders.
//  - publish: the table pointer is stored with release (a worker's acquire
//    load sees a fully built table), then the epoch is raised.
//  - enter: the worker reads the epoch, stores it in its slot, then a
//    seq_cst fence, then its batch loads tables with acquire.
//  - reclaim: a seq_cst fence, then each slot is loaded with acquire.
//  The two fences order the worker's slot store against the control
//  thread's pointer store (store-load ordering, which acquire/release alone
//  does not give): either the control thread's fence comes first, and then
//  the worker's loads see the new table, or the worker's fence comes first,
//  and then reclaim sees the worker's slot holding the old epoch and waits.
//  - leave: the slot is set to kIdle with release, so every read the batch
//    made happens before the acquire load in reclaim that lets it free.
//
// No system call, clock or thread: the core stays pure. The cost on a worker
// is one store and one fence per batch, on its own cache line.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace cordon {

class Reclaimer {
 public:
  static constexpr uint64_t kIdle = ~uint64_t{0};

  explicit Reclaimer(unsigned workers);

  // Worker side, at the batch boundaries. `worker` < workers().
  void enter(unsigned worker) {
    Slot& s = slots_[worker];
    s.seen.store(epoch_.load(std::memory_order_acquire), std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void leave(unsigned worker) { slots_[worker].seen.store(kIdle, std::memory_order_release); }

  // Control thread: a table was just unpublished; returns the epoch at which
  // it may be freed (safe_epoch() >= it).
  uint64_t retire() { return epoch_.fetch_add(1, std::memory_order_acq_rel) + 1; }
  // Control thread: the oldest epoch a worker inside a batch may still see;
  // the current epoch + 1 when every worker is idle or up to date.
  uint64_t safe_epoch() const;

  unsigned workers() const { return workers_; }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> seen{kIdle};
  };
  const unsigned workers_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<uint64_t> epoch_{1};
};

// A table of type T published through a Reclaimer. The control thread owns
// every copy: the current one and those retired but maybe still read.
template <typename T>
class Published {
 public:
  explicit Published(std::unique_ptr<const T> first = nullptr) : current_(first.release()) {}
  ~Published() {
    delete current_.load(std::memory_order_relaxed);
    for (Retired& r : retired_) delete r.table;
  }
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  // A worker inside enter()/leave(), or the control thread: the current table.
  const T* load() const { return current_.load(std::memory_order_acquire); }

  // Control thread only.
  void publish(std::unique_ptr<const T> next, Reclaimer& r) {
    const T* old = current_.exchange(next.release(), std::memory_order_acq_rel);
    if (old) retired_.push_back(Retired{r.retire(), old});
  }
  // Frees the retired tables no worker can still hold; returns how many remain.
  size_t reclaim(const Reclaimer& r) {
    if (retired_.empty()) return 0;
    const uint64_t safe = r.safe_epoch();
    size_t kept = 0;
    for (Retired& t : retired_) {
      if (t.epoch <= safe) {
        delete t.table;
      } else {
        retired_[kept++] = t;
      }
    }
    retired_.resize(kept);
    return kept;
  }

 private:
  struct Retired {
    uint64_t epoch;
    const T* table;
  };
  std::atomic<const T*> current_;
  std::vector<Retired> retired_;
};

}  // namespace cordon
