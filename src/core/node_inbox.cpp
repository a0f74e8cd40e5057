// The control inbox: workers post checked control messages, the control
// thread takes and parses them (node_impl.hpp, Inbox).
#include <algorithm>
#include <cstring>

#include "core/node_auth.hpp"
#include "core/node_impl.hpp"

namespace cordon {

Inbox::PeerCounts::PeerCounts() : keys(2 * kMaxInbox, 0), counts(2 * kMaxInbox, 0) { used.reserve(kMaxInbox); }

uint32_t& Inbox::PeerCounts::at(HostId peer) {
  const uint64_t key = uint64_t{peer.value} + 1;
  // Fibonacci hashing spreads sequential host IDs; linear probing finds a
  // free slot because at most kMaxInbox of the 2 * kMaxInbox are taken.
  size_t i = static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> 53) % keys.size();
  while (keys[i] != 0 && keys[i] != key) i = (i + 1) % keys.size();
  if (keys[i] == 0) {
    keys[i] = key;
    used.push_back(static_cast<uint32_t>(i));
  }
  return counts[i];
}

void Inbox::PeerCounts::clear() {
  for (uint32_t i : used) {
    keys[i] = 0;
    counts[i] = 0;
  }
  used.clear();
}

Inbox::Inbox() {
  for (Buffer& b : buffers_) {
    b.entries.reserve(kMaxInbox);
    b.bytes.resize(kInboxInitialBytes);
  }
}

bool Inbox::post(const Header& h, std::span<const std::byte> bytes, size_t share) {
  SpinGuard g(lock_);
  Buffer& b = buffers_[filling_];
  if (b.entries.size() >= kMaxInbox || bytes.size() > wire::kMaxControlSize) return false;
  if (bytes.size() > b.bytes.size() - b.used_bytes) {
    b.short_of_bytes = true;
    return false;
  }
  // A peer is only entered in the counts once it has a message queued, so
  // that the table never holds more peers than messages. kHeard comes once
  // per peer (Peer::first_heard), so it takes nothing from the peer's share.
  if (h.kind != InboxItem::Kind::kHeard) {
    uint32_t& queued = b.counts.at(h.peer);
    if (queued >= share) return false;
    ++queued;
  }
  if (!bytes.empty()) std::memcpy(b.bytes.data() + b.used_bytes, bytes.data(), bytes.size());  // empty: an event (kHeard, ...)
  b.entries.push_back(Entry{h, static_cast<uint32_t>(b.used_bytes), static_cast<uint32_t>(bytes.size())});
  b.used_bytes += bytes.size();
  queued_.store(static_cast<uint32_t>(b.entries.size()), std::memory_order_relaxed);
  pending_.store(true, std::memory_order_release);
  return true;
}

std::vector<InboxItem> Inbox::take(DropCounters& drops) {
  unsigned taken = 0;
  {
    SpinGuard g(lock_);
    taken = filling_;
    filling_ = 1 - filling_;
    pending_.store(false, std::memory_order_relaxed);
    queued_.store(0, std::memory_order_relaxed);
  }
  // Outside the lock: workers now fill the other buffer.
  Buffer& b = buffers_[taken];
  std::vector<InboxItem> out;
  out.reserve(b.entries.size());
  for (const Entry& e : b.entries) {
    InboxItem item{e.header.kind, e.header.peer, e.header.from, e.header.via, e.header.live, {}, {}, e.header.counter};
    const auto bytes = std::span(b.bytes).subspan(e.offset, e.length);
    if (e.header.kind == InboxItem::Kind::kChannel) {
      auto parsed = wire::parse_channel(bytes);
      if (!parsed.message) {
        drops.add(DropReason::kBadChannel);
        continue;
      }
      item.channel = std::move(*parsed.message);
      // The inner plaintext may carry key material: wiped once copied.
      crypto::wipe(std::span(b.bytes).subspan(e.offset, e.length));
    } else if (e.header.kind == InboxItem::Kind::kControl) {
      auto parsed = wire::parse_control(bytes);
      if (!parsed.message) {
        drops.add(DropReason::kBadControl);
        continue;
      }
      item.message = std::move(*parsed.message);
    }
    out.push_back(std::move(item));
  }
  if (b.short_of_bytes) b.bytes.resize(std::min(kMaxBytes, 2 * b.bytes.size()));
  b.entries.clear();
  b.used_bytes = 0;
  b.short_of_bytes = false;
  b.counts.clear();
  return out;
}

void Node::Impl::post(const Snapshot& s, const Inbox::Header& h, std::span<const std::byte> body, link::Peer& peer,
                      RxSlot& slot) {
  if (!inbox.post(h, body, inbox_share(s.peers.size()))) return drop(slot, DropReason::kControlBacklog, peer.stats().drops);
  slot.verdict = Verdict::kControl;
}

}  // namespace cordon
