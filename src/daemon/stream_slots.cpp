#include "daemon/stream_slots.hpp"

#include <algorithm>

namespace cordon::daemon {

StreamSource stream_source(const IpAddress& address) {
  StreamSource key{};
  if (address.is_v4()) {
    // Tagged so that an IPv4 address never equals the first half of an IPv6 one.
    key[15] = 4;
    std::copy_n(address.bytes.begin(), 4, key.begin());
  } else {
    std::copy_n(address.bytes.begin(), 8, key.begin());
  }
  return key;
}

// ---- StreamSlots

StreamSlots::Decision StreamSlots::admit(const IpAddress& source) const {
  if (limits_.pending == 0) return {Admit::kRefuse, 0};
  if (auto it = by_source_.find(stream_source(source));
      it != by_source_.end() && it->second.size() >= std::max<size_t>(limits_.pending_per_source, 1)) {
    return {Admit::kEvictSameSource, it->second.begin()->second};
  }
  if (pending_order_.size() >= limits_.pending) return {Admit::kEvictOldest, pending_order_.begin()->second};
  return {Admit::kFree, 0};
}

void StreamSlots::add(uint32_t id, const IpAddress& source) {
  const Pending p{.source = stream_source(source), .order = next_order_++};
  pending_.emplace(id, p);
  pending_order_.emplace(p.order, id);
  by_source_[p.source].emplace(p.order, id);
}

bool StreamSlots::authenticated(uint32_t id) {
  if (authenticated_.contains(id)) return true;
  if (!pending_.contains(id) || authenticated_.size() >= limits_.authenticated) return false;
  remove(id);
  authenticated_.insert(id);
  return true;
}

void StreamSlots::remove(uint32_t id) {
  authenticated_.erase(id);
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  pending_order_.erase(it->second.order);
  if (auto s = by_source_.find(it->second.source); s != by_source_.end()) {
    s->second.erase(it->second.order);
    if (s->second.empty()) by_source_.erase(s);
  }
  pending_.erase(it);
}

bool StreamSlots::is_pending(uint32_t id) const { return pending_.contains(id); }

// ---- StreamNumbers

std::optional<uint32_t> StreamNumbers::next(int64_t now_ns) {
  expire(now_ns);
  // Every number but 0 is either open, in quarantine, or free: at most
  // open + quarantined steps find a free one.
  for (uint64_t tried = 0; tried < UINT32_MAX; ++tried) {
    last_ = last_ == UINT32_MAX ? 1 : last_ + 1;
    if (!taken(last_)) {
      open_.insert(last_);
      return last_;
    }
  }
  return std::nullopt;
}

void StreamNumbers::release(uint32_t number, int64_t now_ns) {
  if (open_.erase(number) == 0) return;
  quarantine_.emplace_back(now_ns, number);
  quarantined_.insert(number);
}

void StreamNumbers::expire(int64_t now_ns) {
  while (!quarantine_.empty() && now_ns - quarantine_.front().first >= kQuarantineNs) {
    quarantined_.erase(quarantine_.front().second);
    quarantine_.pop_front();
  }
}

}  // namespace cordon::daemon
