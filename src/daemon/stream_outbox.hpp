// Datagrams the workers make for a TCP tunnel stream (docs/protocol.md,
// "TCP tunnel"): a coordinator's traffic to a client that reaches it over
// TCP, or a client's traffic to its coordinator while UDP is blocked. The
// streams belong to the control thread (tcp_tunnel.hpp), so a worker copies
// such a datagram here and wakes the control thread, which writes it out.
//
// The outbox holds at most kLimitBytes; a datagram that does not fit is
// refused (the worker counts it), as a full UDP socket drops one. Storage is
// two flat buffers swapped on take(), so once they have grown to the
// traffic's size neither side allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "core/sync.hpp"
#include "daemon/verdict_dispatch.hpp"

namespace cordon::daemon {

// std::mutex with the thread-safety annotations (docs/design.md, practice 9).
class CORDON_CAPABILITY("mutex") Mutex {
 public:
  void lock() CORDON_ACQUIRE() { m_.lock(); }
  void unlock() CORDON_RELEASE() { m_.unlock(); }

 private:
  std::mutex m_;
};

class CORDON_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& m) CORDON_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~MutexLock() CORDON_RELEASE() { m_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& m_;
};

class StreamOutbox final : public StreamSink {
 public:
  // About a second of a busy client's traffic; beyond it TCP is not keeping
  // up and dropping here is better than growing without bound.
  static constexpr size_t kLimitBytes = 4 * 1024 * 1024;

  struct Entry {
    uint32_t stream = 0;
    size_t offset = 0, length = 0;  // in Batch::bytes
  };
  struct Batch {
    std::vector<std::byte> bytes;
    std::vector<Entry> entries;
    std::span<const std::byte> datagram(const Entry& e) const {
      return std::span(bytes).subspan(e.offset, e.length);
    }
    void clear() {
      bytes.clear();
      entries.clear();
    }
  };

  // Any thread. False when the outbox is full: the datagram is dropped.
  bool push(uint32_t stream, std::span<const std::byte> datagram) override;

  // The control thread: swaps everything queued into `out` (cleared first;
  // its storage is reused for the next pushes).
  void take(Batch& out);

 private:
  Mutex mutex_;
  Batch pending_ CORDON_GUARDED_BY(mutex_);
};

}  // namespace cordon::daemon
