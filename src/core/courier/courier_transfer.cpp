// Transfers between two hops (courier.hpp; docs/couriers.md, "Transport:
// courier messages"): an item cut into segments, a window of them in
// flight, cumulative acknowledgements; the receiver keeps segments that
// arrive past a gap, and the sender resends the first missing segment when
// a doubling timeout expires or after three duplicate acknowledgements
// (RFC 5681, section 3.2, on a smaller scale).
#include <algorithm>

#include "core/courier/courier.hpp"

namespace cordon::courier {
namespace {

bool final_refusal(Refusal r) { return r != Refusal::kBusy && r != Refusal::kStorageFailed; }

}  // namespace

void Courier::receive(HostId from, std::span<const std::byte> message, int64_t now_ns) {
  const auto parsed = parse_message(message);
  if (!parsed || !linked(from)) {
    ++counters_.bad_messages;
    return;
  }
  if (const auto* s = std::get_if<Segment>(&*parsed)) return on_segment(from, *s, now_ns);
  if (const auto* a = std::get_if<Ack>(&*parsed)) return on_ack(from, *a, now_ns);
  on_hello(from, std::get<Hello>(*parsed), now_ns);
}

void Courier::answer(HostId to, const Ack& ack) { env_.send(to, encode_ack(ack)); }

void Courier::on_hello(HostId from, const Hello& hello, int64_t now_ns) {
  PeerState& p = peers_[from.value];
  p.hello_at = now_ns;
  p.installed = hello.installed;
  // The host is up: what waits for it goes now, not after a backoff.
  p.backoff_ns = 0;
  p.retry_at = 0;
  drop_confirmed(from, hello.installed);
}

void Courier::on_segment(HostId from, const Segment& segment, int64_t now_ns) {
  const TransferKey key{from.value, segment.transfer};
  if (const auto done = done_.find(key); done != done_.end()) return answer(from, done->second.ack);
  auto it = in_.find(key);
  if (it == in_.end()) {
    if (segment.offset != 0) return answer(from, Ack{segment.transfer, 0, AckState::kUnknown, Refusal::kNone});
    // A client sends only its own receipts (a few hundred bytes): it gets
    // no room for more, so a compromised one cannot make a courier hold
    // large buffers.
    const bool trusted = is_coordinator(from) || (config_.admin_host && from == *config_.admin_host);
    if (segment.total > kItemHeaderSize + config_.spool_host_limit || (!trusted && segment.total > kMaxClientItem)) {
      ++counters_.refused_in;
      ++counters_.refusals[std::string(refusal_name(Refusal::kTooLarge))];
      const Ack refused{segment.transfer, 0, AckState::kRefused, Refusal::kTooLarge};
      done_[key] = Done{refused, now_ns};
      return answer(from, refused);
    }
    const size_t from_peer = static_cast<size_t>(std::count_if(
        in_.begin(), in_.end(), [&](const auto& e) { return e.first.first == from.value; }));
    if (from_peer >= kMaxIncomingPerPeer || incoming_bytes_ + segment.total > kMaxIncomingBytes) {
      return answer(from, Ack{segment.transfer, 0, AckState::kRefused, Refusal::kBusy});
    }
    Incoming fresh;
    fresh.data.resize(segment.total);
    incoming_bytes_ += segment.total;
    it = in_.emplace(key, std::move(fresh)).first;
  }
  Incoming& in = it->second;
  in.seen_at = now_ns;
  if (segment.total != in.data.size()) {
    ++counters_.bad_messages;
    return;
  }
  // Segments past a gap are kept (a burst spreads over the receiver's
  // workers and the path may reorder), up to kMaxAhead; the acknowledgement
  // names the contiguous prefix only, so the sender resends what is missing.
  if (segment.offset == in.received) {
    std::copy(segment.data.begin(), segment.data.end(), in.data.begin() + in.received);
    in.received += static_cast<uint32_t>(segment.data.size());
    for (auto next = in.ahead.find(in.received); next != in.ahead.end(); next = in.ahead.find(in.received)) {
      in.received += next->second;
      in.ahead.erase(next);
    }
  } else if (segment.offset > in.received && in.ahead.size() < kMaxAhead && !in.ahead.contains(segment.offset)) {
    std::copy(segment.data.begin(), segment.data.end(), in.data.begin() + segment.offset);
    in.ahead.emplace(segment.offset, static_cast<uint32_t>(segment.data.size()));
  }
  if (in.received < in.data.size()) {
    return answer(from, Ack{segment.transfer, in.received, AckState::kReceiving, Refusal::kNone});
  }
  std::vector<std::byte> data = std::move(in.data);
  incoming_bytes_ -= data.size();
  in_.erase(it);
  auto item = parse_item(data);
  const Refusal r = item ? accept(from, item.value(), now_ns) : Refusal::kMalformed;
  if (!item) {
    ++counters_.refused_in;
    ++counters_.refusals[std::string(refusal_name(r))];
  }
  const Ack ack{segment.transfer, static_cast<uint32_t>(data.size()),
                r == Refusal::kNone ? AckState::kStored : AckState::kRefused, r};
  // A final answer is repeated for a late copy of the last segment; a
  // passing refusal (busy, storage) lets the sender try the item again.
  if (r == Refusal::kNone || final_refusal(r)) done_[key] = Done{ack, now_ns};
  answer(from, ack);
}

void Courier::on_ack(HostId from, const Ack& ack, int64_t now_ns) {
  auto it = out_.find(ack.transfer);
  if (it == out_.end() || it->second.peer != from) return;
  Outgoing& out = it->second;
  switch (ack.state) {
    case AckState::kReceiving:
      if (ack.received > out.acked && ack.received <= out.total) {
        out.acked = ack.received;
        out.sent = std::max(out.sent, out.acked);
        out.progress_at = now_ns;
        out.rto_ns = kInitialRtoNs;
        out.duplicate_acks = 0;
        out.resend_at = now_ns + out.rto_ns;
        pump(ack.transfer, out, now_ns);
      } else if (ack.received == out.acked && out.sent > out.acked && ++out.duplicate_acks == kDuplicateAcks) {
        // Later segments arrive, the first missing one does not: it went
        // astray (the fast retransmit of RFC 5681, section 3.2).
        out.duplicate_acks = 0;
        resend_first(ack.transfer, out, now_ns);
      }
      return;
    case AckState::kUnknown:
      // The receiver restarted: the whole item again.
      out.acked = 0;
      out.sent = 0;
      out.progress_at = now_ns;
      pump(ack.transfer, out, now_ns);
      return;
    case AckState::kStored: {
      const uint64_t id = out.item;
      out_.erase(it);
      const auto held = items_.find(id);
      if (held == items_.end()) return;
      ++counters_.items_forwarded;
      if (held->second.meta.kind == ItemKind::kPackage && held->second.meta.dest == from) {
        // The host handled it: nothing up to this version is needed.
        drop_confirmed(from, held->second.meta.version);
      }
      erase(id);
      peers_[from.value].backoff_ns = 0;
      return;
    }
    case AckState::kRefused: {
      const uint64_t id = out.item;
      out_.erase(it);
      if (!final_refusal(ack.reason)) return back_off(from, now_ns);
      const auto held = items_.find(id);
      if (held == items_.end()) return;
      ++counters_.refused_out;
      // The refusing hop told the administration host already when it
      // could (courier.cpp, accept); a host's refusal comes as its receipt.
      erase(id);
      return;
    }
  }
}

void Courier::back_off(HostId peer, int64_t now_ns) {
  PeerState& p = peers_[peer.value];
  p.backoff_ns = std::clamp<int64_t>(p.backoff_ns * 2, kNsPerSecond, kMaxBackoffNs);
  p.retry_at = now_ns + p.backoff_ns;
  for (auto it = out_.begin(); it != out_.end();) {
    it = it->second.peer == peer ? out_.erase(it) : std::next(it);
  }
}

void Courier::end_transfers_of(uint64_t item) {
  for (auto it = out_.begin(); it != out_.end();) {
    it = it->second.item == item ? out_.erase(it) : std::next(it);
  }
}

// Coordinators are sent to at any time; a client only while its hellos
// say it is up (it reaches its courier first, which also opens its NAT).
bool Courier::peer_ready(HostId peer, const PeerState& state, int64_t now_ns) const {
  if (now_ns < state.retry_at) return false;
  if (is_coordinator(peer)) return true;
  return state.hello_at != 0 && now_ns - state.hello_at < kHelloFreshNs;
}

void Courier::start_transfers(int64_t now_ns) {
  // Urgent items first, then in order of arrival (docs/couriers.md).
  std::vector<const Held*> waiting;
  for (const auto& [id, held] : items_) {
    if (!held.meta.next_hop) continue;
    if (in_transfer(id)) continue;
    waiting.push_back(&held);
  }
  std::sort(waiting.begin(), waiting.end(), [](const Held* a, const Held* b) {
    return a->meta.urgent != b->meta.urgent ? a->meta.urgent : a->seq < b->seq;
  });
  for (const Held* held : waiting) {
    const HostId peer = *held->meta.next_hop;
    if (!peer_ready(peer, peers_[peer.value], now_ns)) continue;
    const size_t busy = static_cast<size_t>(
        std::count_if(out_.begin(), out_.end(), [&](const auto& t) { return t.second.peer == peer; }));
    if (busy >= kMaxTransfersPerPeer) continue;
    const uint64_t transfer = (boot_random_ << 32) | (next_transfer_++ & 0xffffffffu);
    Outgoing out{peer, held->meta.id, static_cast<uint32_t>(held->encoded.size())};
    out.progress_at = now_ns;
    auto [it, inserted] = out_.emplace(transfer, out);
    pump(transfer, it->second, now_ns);
  }
}

// Sends what the window allows, from `sent` on.
void Courier::pump(uint64_t transfer, Outgoing& out, int64_t now_ns) {
  const auto held = items_.find(out.item);
  if (held == items_.end()) return;
  const std::vector<std::byte>& data = held->second.encoded;
  const size_t window = kWindowSegments * kMaxSegmentData;
  while (out.sent < out.total && out.sent - out.acked < window) {
    const size_t length = std::min<size_t>(kMaxSegmentData, out.total - out.sent);
    const auto segment = encode_segment(transfer, out.total, out.sent, std::span(data).subspan(out.sent, length));
    if (!env_.send(out.peer, segment)) return back_off(out.peer, now_ns);
    ++counters_.segments_sent;
    out.sent += static_cast<uint32_t>(length);
  }
  out.resend_at = now_ns + out.rto_ns;
}

// The segment at the acknowledged offset, again. False when the link has
// no path (the peer is backed off and its transfers are gone).
bool Courier::resend_first(uint64_t transfer, Outgoing& out, int64_t now_ns) {
  const auto held = items_.find(out.item);
  if (held == items_.end() || out.acked >= out.total) return true;
  const size_t length = std::min<size_t>(kMaxSegmentData, out.total - out.acked);
  const auto segment =
      encode_segment(transfer, out.total, out.acked, std::span(held->second.encoded).subspan(out.acked, length));
  if (!env_.send(out.peer, segment)) {
    back_off(out.peer, now_ns);
    return false;
  }
  ++counters_.segments_resent;
  out.sent = std::max<uint32_t>(out.sent, out.acked + static_cast<uint32_t>(length));
  out.resend_at = now_ns + out.rto_ns;
  return true;
}

int64_t Courier::run_transfers(int64_t now_ns) {
  int64_t next = now_ns + kHelloIntervalNs;
  std::vector<uint64_t> stalled;
  for (auto& [transfer, out] : out_) {
    if (now_ns - out.progress_at >= kStallNs) {
      stalled.push_back(transfer);
      continue;
    }
    if (now_ns >= out.resend_at) {
      // Only the first missing segment: the receiver keeps what came after
      // a gap, and its next acknowledgement says how far it got.
      out.rto_ns = std::min(out.rto_ns * 2, kMaxRtoNs);
      if (!resend_first(transfer, out, now_ns)) break;  // the peer was backed off: the map changed
    }
    next = std::min(next, out.resend_at);
  }
  for (uint64_t transfer : stalled) {
    const auto it = out_.find(transfer);
    if (it == out_.end()) continue;
    ++counters_.stalled;
    back_off(it->second.peer, now_ns);
  }
  return next;
}

int64_t Courier::tick(int64_t now_ns) {
  // Hellos: a client tells its courier it is up and what it has.
  if (!config_.coordinator && config_.own_courier && now_ns >= next_hello_ns_) {
    env_.send(*config_.own_courier, encode_hello(Hello{config_.installed}));
    next_hello_ns_ = now_ns + kHelloIntervalNs;
  }
  // Forget partial items whose sender went quiet, and old final answers.
  for (auto it = in_.begin(); it != in_.end();) {
    if (now_ns - it->second.seen_at < kStallNs) {
      ++it;
      continue;
    }
    incoming_bytes_ -= it->second.data.size();
    it = in_.erase(it);
  }
  std::erase_if(done_, [&](const auto& e) { return now_ns - e.second.at >= kDoneMemoryNs; });
  start_transfers(now_ns);
  int64_t next = run_transfers(now_ns);
  if (!config_.coordinator && config_.own_courier) next = std::min(next, next_hello_ns_);
  for (const auto& [peer, state] : peers_) {
    if (state.retry_at > now_ns) next = std::min(next, state.retry_at);
  }
  // Items waiting for a transfer slot go when one frees, which an ack
  // brings; poll at least every second meanwhile.
  const bool waiting = std::any_of(items_.begin(), items_.end(), [](const auto& e) { return e.second.meta.next_hop; });
  if (waiting) next = std::min(next, now_ns + kNsPerSecond);
  return next;
}

}  // namespace cordon::courier
