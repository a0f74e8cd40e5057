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
  auto random = [this](std::span<std::byte> out) {
    for (std::byte& x : out) x = static_cast<std::byte>(rng_());
    return true;
  };
  a_ = std::make_unique<ipsec::Gateway>(std::make_shared<const ipsec::GatewayConfig>(std::move(a)), random,
                                        clock_.now());
  b_ = std::make_unique<ipsec::Gateway>(std::make_shared<const ipsec::GatewayConfig>(std::move(b)), random,
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
    if (blocked_) continue;
    const int roll = static_cast<int>(rng_() % 100);
    if (roll < wire_.loss_percent) continue;
    if (roll < wire_.loss_percent + wire_.duplicate_percent) flight_.push_back(f);
    flight_.push_back(std::move(f));
  }
  ev.send.clear();
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
    while (!flight_.empty()) {
      size_t pick = wire_.reorder ? rng_() % flight_.size() : 0;
      InFlight d = std::move(flight_[pick]);
      flight_.erase(flight_.begin() + static_cast<ptrdiff_t>(pick));
      clock_.advance(kNsPerMs);  // one millisecond on the wire
      deliver(std::move(d));
      if (done()) return true;
    }
    if (done()) return true;
    const int64_t next = std::min(a_->tick(clock_.now(), events_a_), b_->tick(clock_.now(), events_b_));
    collect(true);
    collect(false);
    if (!flight_.empty()) continue;
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
