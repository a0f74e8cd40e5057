#include "core/filter/conntrack.hpp"

#include <sodium/crypto_shorthash.h>

#include <bit>
#include <cstring>

namespace cordon::filter {
namespace {

constexpr uint8_t kUsed = 0x01, kLowStarted = 0x02, kAnswered = 0x04, kFinLow = 0x08, kFinHigh = 0x10,
                  kReset = 0x20, kCut = 0x40;

// The canonical key of `t` with `peer`; `source_low` says whether the
// packet's source is the low end.
ConnTable::Entry key_of(uint32_t peer, const Tuple& t, bool& source_low) {
  const int order = std::memcmp(t.source.bytes.data(), t.destination.bytes.data(), 16);
  source_low = order < 0 || (order == 0 && t.source_port <= t.destination_port);
  ConnTable::Entry e;
  e.low = source_low ? t.source.bytes : t.destination.bytes;
  e.high = source_low ? t.destination.bytes : t.source.bytes;
  e.low_port = source_low ? t.source_port : t.destination_port;
  e.high_port = source_low ? t.destination_port : t.source_port;
  e.peer = peer;
  e.protocol = t.protocol;
  e.family = static_cast<uint8_t>(t.source.family);
  return e;
}

int64_t idle_for(const ConnTable::Entry& e) {
  const bool answered = (e.flags & kAnswered) != 0;
  switch (e.protocol) {
    case kTcp:
      if (e.flags & kReset) return kTcpResetNs;
      if ((e.flags & kFinLow) && (e.flags & kFinHigh)) return kTcpTransitoryNs;
      return answered ? kTcpEstablishedNs : kTcpTransitoryNs;
    case kUdp:
      return answered ? kUdpAnsweredNs : kUdpUnansweredNs;
    case kIcmp:
    case kIcmpv6:
      return kIcmpNs;
    default:
      return kOtherNs;
  }
}

bool live(const ConnTable::Entry& e, int64_t now_ns) { return (e.flags & kUsed) && e.expires_ns > now_ns; }

// A packet of the connection: who answered, TCP's FIN and RST, the timer.
void take_packet(ConnTable::Entry& e, bool source_low, const Flow& f, int64_t now_ns) {
  if (source_low != ((e.flags & kLowStarted) != 0)) e.flags |= kAnswered;
  if (e.protocol == kTcp && f.transport) {
    if (f.tcp_flags & kRst) e.flags |= kReset;
    if (f.tcp_flags & kFin) e.flags |= source_low ? kFinLow : kFinHigh;
  }
  e.expires_ns = now_ns + idle_for(e);
}

Connection to_connection(const ConnTable::Entry& e) {
  const bool low_started = (e.flags & kLowStarted) != 0;
  const auto family = static_cast<IpAddress::Family>(e.family);
  Connection c;
  c.peer = e.peer;
  c.origin = static_cast<Direction>(e.origin);
  c.tuple.source = IpAddress{family, low_started ? e.low : e.high};
  c.tuple.destination = IpAddress{family, low_started ? e.high : e.low};
  c.tuple.protocol = e.protocol;
  c.tuple.source_port = low_started ? e.low_port : e.high_port;
  c.tuple.destination_port = low_started ? e.high_port : e.low_port;
  c.answered = (e.flags & kAnswered) != 0;
  c.cut = (e.flags & kCut) != 0;
  c.rule = e.rule;
  c.expires_ns = e.expires_ns;
  return c;
}

}  // namespace

bool ConnTable::Entry::same_connection(const Entry& o) const {
  return peer == o.peer && protocol == o.protocol && family == o.family && low_port == o.low_port &&
         high_port == o.high_port && low == o.low && high == o.high;
}

ConnTable::ConnTable(size_t capacity, uint64_t secret) : secret_(secret) {
  const size_t buckets = std::bit_ceil(std::max<size_t>(1, (capacity + kWays - 1) / kWays));
  mask_ = buckets - 1;
  buckets_ = std::make_unique<Bucket[]>(buckets);
}


// SipHash-2-4 (libsodium's crypto_shorthash) over the key's bytes, keyed by
// the secret and its complement.
ConnTable::Bucket& ConnTable::bucket_for(const Entry& key) {
  unsigned char in[44];
  std::memcpy(in, key.low.data(), 16);
  std::memcpy(in + 16, key.high.data(), 16);
  std::memcpy(in + 32, &key.peer, 4);
  std::memcpy(in + 36, &key.low_port, 2);
  std::memcpy(in + 38, &key.high_port, 2);
  in[40] = key.protocol;
  in[41] = key.family;
  in[42] = in[43] = 0;
  unsigned char k[crypto_shorthash_KEYBYTES];
  const uint64_t other = ~secret_;
  std::memcpy(k, &secret_, 8);
  std::memcpy(k + 8, &other, 8);
  uint64_t h = 0;
  crypto_shorthash(reinterpret_cast<unsigned char*>(&h), in, sizeof in, k);
  return buckets_[h & mask_];
}

void ConnTable::free_expired(Bucket& b, int64_t now_ns) {
  for (Entry& e : b.entries) {
    if ((e.flags & kUsed) && e.expires_ns <= now_ns) {
      e.flags = 0;
      live_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
}

ConnTable::Found ConnTable::touch(uint32_t peer, Direction, const Flow& f, int64_t now_ns) {
  bool source_low = false;
  const Entry key = key_of(peer, f.tuple, source_low);
  Bucket& b = bucket_for(key);
  SpinGuard guard(b.lock);
  for (Entry& e : b.entries) {
    if (!live(e, now_ns) || !e.same_connection(key)) continue;
    take_packet(e, source_low, f, now_ns);
    return Found{(e.flags & kCut) ? State::kCut : State::kAllowed, e.rule};
  }
  return Found{};
}

ConnTable::Found ConnTable::find(uint32_t peer, const Tuple& t, int64_t now_ns) {
  bool source_low = false;
  const Entry key = key_of(peer, t, source_low);
  Bucket& b = bucket_for(key);
  SpinGuard guard(b.lock);
  for (const Entry& e : b.entries) {
    if (live(e, now_ns) && e.same_connection(key)) return Found{(e.flags & kCut) ? State::kCut : State::kAllowed, e.rule};
  }
  return Found{};
}

bool ConnTable::insert(uint32_t peer, Direction d, const Flow& f, int32_t rule, int64_t now_ns) {
  bool source_low = false;
  Entry key = key_of(peer, f.tuple, source_low);
  Bucket& b = bucket_for(key);
  SpinGuard guard(b.lock);
  free_expired(b, now_ns);
  Entry* free = nullptr;
  for (Entry& e : b.entries) {
    if ((e.flags & kUsed) && e.same_connection(key)) return true;  // another worker was first
    if (!(e.flags & kUsed) && !free) free = &e;
  }
  if (!free) return false;
  key.flags = kUsed | (source_low ? kLowStarted : 0);
  key.origin = static_cast<uint8_t>(d);
  key.rule = rule;
  key.icmp_type = f.icmp_type;
  take_packet(key, source_low, f, now_ns);
  *free = key;
  live_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

size_t ConnTable::recheck(const Ruleset& rules, int64_t now_ns) {
  size_t cut = 0;
  for (size_t i = 0; i <= mask_; ++i) {
    Bucket& b = buckets_[i];
    SpinGuard guard(b.lock);
    for (Entry& e : b.entries) {
      if (!live(e, now_ns)) continue;
      Flow first;
      first.tuple = to_connection(e).tuple;
      first.transport = true;
      first.icmp_type = e.icmp_type;
      first.tcp_flags = kSyn;
      const Match m = rules.evaluate(static_cast<Direction>(e.origin), e.peer, first);
      e.rule = m.rule;
      if (m.action == Action::kDrop) {
        e.flags |= kCut;
        ++cut;
      } else {
        e.flags &= static_cast<uint8_t>(~kCut);
      }
    }
  }
  return cut;
}

void ConnTable::sweep(int64_t now_ns, size_t buckets) {
  for (size_t n = 0; n < buckets && n <= mask_; ++n) {
    Bucket& b = buckets_[sweep_at_];
    {
      SpinGuard guard(b.lock);
      free_expired(b, now_ns);
    }
    sweep_at_ = (sweep_at_ + 1) & mask_;
  }
}

std::vector<Connection> ConnTable::list(size_t max, int64_t now_ns) {
  std::vector<Connection> out;
  for (size_t i = 0; i <= mask_ && out.size() < max; ++i) {
    Bucket& b = buckets_[i];
    SpinGuard guard(b.lock);
    for (const Entry& e : b.entries) {
      if (live(e, now_ns) && out.size() < max) out.push_back(to_connection(e));
    }
  }
  return out;
}

}  // namespace cordon::filter
