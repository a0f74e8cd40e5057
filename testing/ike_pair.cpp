#include "testing/ike_pair.hpp"

#include <algorithm>

namespace cordon::testing {
namespace {

IpAddress address(const char* text) { return *IpAddress::parse(text); }

bool keys_mirror(const ipsec::ChildSaInstall& x, const ipsec::ChildSaInstall& y) {
  return x.inbound_spi == y.outbound_spi && x.outbound_spi == y.inbound_spi &&
         x.outbound_encryption == y.inbound_encryption && x.outbound_integrity == y.inbound_integrity &&
         x.inbound_encryption == y.outbound_encryption && x.inbound_integrity == y.outbound_integrity &&
         x.chosen == y.chosen && x.local_ts == y.remote_ts && x.remote_ts == y.local_ts;
}

}  // namespace

IkePair::IkePair(ipsec::GatewayConfig a, ipsec::GatewayConfig b, IkeWire wire) : rng_(wire.seed), wire_(wire) {
  auto random = [this](bool side_a) {
    return [this, side_a](std::span<std::byte> out) {
      for (std::byte& x : out) x = static_cast<std::byte>(rng_());
      if (random_hook_) random_hook_(side_a, out);
      return true;
    };
  };
  a_ = std::make_unique<ipsec::Gateway>(std::make_shared<const ipsec::GatewayConfig>(std::move(a)), random(true),
                                        clock_.now());
  b_ = std::make_unique<ipsec::Gateway>(std::make_shared<const ipsec::GatewayConfig>(std::move(b)), random(false),
                                        clock_.now());
}

void IkePair::start() {
  a_->start(clock_.now(), events_a_);
  b_->start(clock_.now(), events_b_);
  collect(true);
  collect(false);
}

void IkePair::collect(bool from_a) {
  ipsec::IkeEvents& ev = from_a ? events_a_ : events_b_;
  auto& children = from_a ? children_a_ : children_b_;
  for (ipsec::ChildSaInstall& c : ev.child_up) children[c.inbound_spi] = std::move(c);
  ev.child_up.clear();
  for (uint32_t spi : ev.child_down) children.erase(spi);
  removed_ += ev.child_down.size();
  ev.child_down.clear();
  const IpAddress own = address(from_a ? kAddressA : kAddressB);
  for (ipsec::IkeDatagram& d : ev.send) {
    ++sent_;
    largest_ = std::max(largest_, d.payload.size());
    InFlight f;
    f.to_b = from_a;
    f.from = Endpoint{own, d.local_port, 0};
    if (from_a && wire_.nat_in_front_of_a) {
      // A NAPT with random ports: each of A's ports gets its own.
      auto [it, fresh] = nat_ports_.emplace(d.local_port, 0);
      if (fresh) it->second = static_cast<uint16_t>(20000 + rng_() % 40000);
      f.from = Endpoint{address(kNatAddress), it->second, 0};
    }
    f.to = d.remote;
    // Replies to A go to the NAT's mapping: translate back.
    if (!from_a && wire_.nat_in_front_of_a && d.remote.address == address(kNatAddress)) {
      for (const auto& [inside, outside] : nat_ports_) {
        if (outside == d.remote.port) f.to = Endpoint{address(kAddressA), inside, 0};
      }
    }
    f.payload = std::move(d.payload);
    send(std::move(f), from_a);
  }
  ev.send.clear();
}

void IkePair::send(InFlight f, bool from_a) {
  if (blocked_) return;
  int copies = 1;
  if (fault_) {
    std::span<const std::byte> message = f.payload;
    if (f.to.port == ipsec::kNatTraversalPort && message.size() >= 4) message = message.subspan(4);
    copies = fault_(from_a, message);
  }
  const int roll = static_cast<int>(rng_() % 100);
  if (roll < wire_.loss_percent) return;
  if (roll < wire_.loss_percent + wire_.duplicate_percent) ++copies;
  for (int i = 0; i < copies; ++i) {
    if (wire_.latency_ns > 0) {
      const int64_t jitter = wire_.reorder ? static_cast<int64_t>(rng_() % static_cast<uint64_t>(wire_.latency_ns)) : 0;
      f.due_ns = clock_.mono_ns() + wire_.latency_ns + jitter;
    }
    flight_.push_back(f);
  }
}

std::optional<size_t> IkePair::next_arrival() {
  if (flight_.empty()) return std::nullopt;
  if (wire_.latency_ns == 0) return wire_.reorder ? rng_() % flight_.size() : 0;
  size_t first = 0;
  for (size_t i = 1; i < flight_.size(); ++i) {
    if (flight_[i].due_ns < flight_[first].due_ns) first = i;
  }
  if (flight_[first].due_ns > clock_.mono_ns()) return std::nullopt;
  return first;
}

int64_t IkePair::earliest_arrival() const {
  int64_t first = INT64_MAX;
  for (const InFlight& f : flight_) first = std::min(first, f.due_ns);
  return first;
}

void IkePair::deliver(InFlight d) {
  ipsec::Gateway& to = d.to_b ? *b_ : *a_;
  std::span<const std::byte> message = d.payload;
  // The daemon strips the non-ESP marker on port 4500 (RFC 3948 section 2.2).
  if (d.to.port == ipsec::kNatTraversalPort && message.size() == 1 && message[0] == std::byte{0xff}) {
    if (d.to_b) ++keepalives_to_b_;
    return;
  }
  if (d.to.port == ipsec::kNatTraversalPort) {
    if (message.size() < 4 || std::any_of(message.begin(), message.begin() + 4, [](std::byte b) { return b != std::byte{0}; })) {
      return;
    }
    message = message.subspan(4);
  }
  to.receive(clock_.now(), d.to, d.from, message, d.to_b ? events_b_ : events_a_);
  collect(!d.to_b);
}

void IkePair::tick_both() {
  a_->tick(clock_.now(), events_a_);
  collect(true);
  b_->tick(clock_.now(), events_b_);
  collect(false);
}

void IkePair::run_for(int64_t ns) {
  const int64_t end = clock_.mono_ns() + ns;
  run_until([] { return false; }, ns);
  clock_.advance_to(end);
}

bool IkePair::run_until(const std::function<bool()>& done, int64_t limit_ns) {
  const int64_t end = clock_.mono_ns() + limit_ns;
  for (;;) {
    tick_both();
    while (const auto pick = next_arrival()) {
      InFlight d = std::move(flight_[*pick]);
      flight_.erase(flight_.begin() + static_cast<ptrdiff_t>(*pick));
      if (wire_.latency_ns == 0) clock_.advance(kNsPerMs);  // one millisecond on the wire
      deliver(std::move(d));
      if (done()) return true;
    }
    if (done()) return true;
    int64_t next = std::min(a_->tick(clock_.now(), events_a_), b_->tick(clock_.now(), events_b_));
    collect(true);
    collect(false);
    if (wire_.latency_ns == 0 && !flight_.empty()) continue;
    if (wire_.latency_ns > 0) {
      if (earliest_arrival() <= clock_.mono_ns()) continue;
      next = std::min(next, earliest_arrival());
    }
    if (next >= end || clock_.mono_ns() >= end) {
      clock_.advance_to(end);
      return done();
    }
    clock_.advance_to(std::max(next, clock_.mono_ns() + 1));
  }
}

bool IkePair::children_paired() const {
  if (children_a_.size() != children_b_.size()) return false;
  for (const auto& [spi, x] : children_a_) {
    const auto it = children_b_.find(x.outbound_spi);
    if (it == children_b_.end() || !keys_mirror(x, it->second)) return false;
  }
  return true;
}

std::string IkePair::log_text() const {
  std::string out;
  for (const auto& e : events_a_.log) out += "A " + std::string(e.event) + " " + e.detail + "\n";
  for (const auto& e : events_b_.log) out += "B " + std::string(e.event) + " " + e.detail + "\n";
  return out;
}

bool IkePair::logged(std::string_view event) const {
  auto has = [&](const ipsec::IkeEvents& ev) {
    return std::any_of(ev.log.begin(), ev.log.end(), [&](const ipsec::IkeLogEvent& e) { return e.event == event; });
  };
  return has(events_a_) || has(events_b_);
}

}  // namespace cordon::testing
