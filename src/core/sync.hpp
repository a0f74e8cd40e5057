// Synchronisation primitives the core may use without system calls, with
// Clang thread-safety annotations (docs/design.md, practice 9).
#pragma once

#include <atomic>
#include <cstdint>

#define CORDON_CAPABILITY(x) __attribute__((capability(x)))
#define CORDON_GUARDED_BY(x) __attribute__((guarded_by(x)))
#define CORDON_ACQUIRE(...) __attribute__((acquire_capability(__VA_ARGS__)))
#define CORDON_RELEASE(...) __attribute__((release_capability(__VA_ARGS__)))
#define CORDON_SCOPED_CAPABILITY __attribute__((scoped_lockable))
#define CORDON_REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))

namespace cordon {

// A test-and-test-and-set spin lock for very short critical sections that are
// almost never contended (one peer's replay window, the control inbox's
// swap and copy). Never held across a call that can block or allocate.
class CORDON_CAPABILITY("mutex") SpinLock {
 public:
  void lock() CORDON_ACQUIRE() {
    for (;;) {
      if (!flag_.exchange(true, std::memory_order_acquire)) return;
      while (flag_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  void unlock() CORDON_RELEASE() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

class CORDON_SCOPED_CAPABILITY SpinGuard {
 public:
  explicit SpinGuard(SpinLock& l) CORDON_ACQUIRE(l) : l_(l) { l_.lock(); }
  ~SpinGuard() CORDON_RELEASE() { l_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace cordon
