#include "daemon/stream_outbox.hpp"

#include <utility>

namespace cordon::daemon {

bool StreamOutbox::push(uint32_t stream, std::span<const std::byte> datagram) {
  MutexLock lock(mutex_);
  if (pending_.bytes.size() + datagram.size() > kLimitBytes) return false;
  pending_.entries.push_back(Entry{stream, pending_.bytes.size(), datagram.size()});
  pending_.bytes.insert(pending_.bytes.end(), datagram.begin(), datagram.end());
  return true;
}

void StreamOutbox::take(Batch& out) {
  out.clear();
  MutexLock lock(mutex_);
  std::swap(out, pending_);
}

}  // namespace cordon::daemon
