#include "testing/sim_network.hpp"

#include <algorithm>
#include <stdexcept>

namespace cordon::testing {

SimNetwork::SimNetwork(const ManualClock& clock, uint64_t seed)
    : clock_(clock), rng_(seed), public_(std::make_shared<PassThroughNat>()) {}

SimNetwork::~SimNetwork() = default;

std::unique_ptr<FakeTransport> SimNetwork::bind(const Endpoint& local, std::shared_ptr<NatModel> nat) {
  if (!nat) nat = public_;
  for (const Binding& b : bindings_) {
    if (b.local == local && b.nat == nat) {
      throw std::invalid_argument("SimNetwork::bind: " + local.to_string() + " is already bound behind this NAT");
    }
  }
  std::unique_ptr<FakeTransport> t(new FakeTransport(*this, local));
  nat->attach(local);
  bindings_.push_back(Binding{t.get(), local, std::move(nat)});
  return t;
}

void SimNetwork::unbind(FakeTransport* transport) {
  auto it = std::find_if(bindings_.begin(), bindings_.end(),
                         [&](const Binding& b) { return b.transport == transport; });
  if (it == bindings_.end()) return;
  it->nat->detach(it->local);
  bindings_.erase(it);
}

const SimNetwork::Binding* SimNetwork::binding_of(const FakeTransport* transport) const {
  for (const Binding& b : bindings_) {
    if (b.transport == transport) return &b;
  }
  return nullptr;
}

void SimNetwork::set_link_conditions(const Endpoint& from_local, const IpAddress& to, const LinkConditions& c) {
  for (auto& [f, t, cond] : link_conditions_) {
    if (f == from_local && t == to) {
      cond = c;
      return;
    }
  }
  link_conditions_.emplace_back(from_local, to, c);
}

const LinkConditions& SimNetwork::conditions(const Endpoint& from_local, const IpAddress& to) const {
  for (const auto& [f, t, cond] : link_conditions_) {
    if (f == from_local && t == to) return cond;
  }
  return default_conditions_;
}

bool SimNetwork::chance(double percent) {
  if (percent <= 0) return false;
  // 53 random bits as a double in [0, 1): the same on every platform, unlike
  // std::uniform_real_distribution, whose algorithm is unspecified.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return u * 100.0 < percent;
}

int64_t SimNetwork::uniform(int64_t max_inclusive) {
  if (max_inclusive <= 0) return 0;
  return static_cast<int64_t>(rng_() % (static_cast<uint64_t>(max_inclusive) + 1));
}

int64_t SimNetwork::delay(const LinkConditions& c) {
  int64_t d = c.latency_ns + uniform(c.jitter_ns);
  if (chance(c.reorder_percent)) {
    ++stats_.held;
    d += 1 + uniform(std::max<int64_t>(c.hold_ns - 1, 0));
  }
  return d;
}

void SimNetwork::enqueue(const Endpoint& from, const Endpoint& to, ByteSpan data, int64_t delay_ns) {
  queue_.push_back(InFlight{clock_.mono_ns() + delay_ns, next_order_++, from, to, {data.begin(), data.end()}});
  std::push_heap(queue_.begin(), queue_.end(), Later{});
}

void SimNetwork::send(FakeTransport& from, const Endpoint& to, ByteSpan data) {
  ++stats_.sent;
  const Binding* b = binding_of(&from);
  if (b == nullptr) return;  // unreachable: a transport is bound for its whole life
  const std::optional<Endpoint> source = b->nat->outbound(b->local, to, clock_.mono_ns());
  if (!source) {
    ++stats_.nat_dropped;
    return;
  }
  if (tap_) tap_(CapturedDatagram{clock_.mono_ns(), *source, to, data, &from});

  const LinkConditions& c = conditions(b->local, to.address);
  if (chance(c.loss_percent)) {
    ++stats_.lost;
    return;
  }
  enqueue(*source, to, data, delay(c));
  if (chance(c.duplicate_percent)) {
    ++stats_.duplicated;
    enqueue(*source, to, data, delay(c));
  }
}

void SimNetwork::inject(const Endpoint& from, const Endpoint& to, ByteSpan data) {
  ++stats_.injected;
  enqueue(from, to, data, 0);
}

std::optional<int64_t> SimNetwork::next_delivery_mono_ns() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().due_mono_ns;
}

size_t SimNetwork::deliver_due() {
  size_t delivered = 0;
  const int64_t now = clock_.mono_ns();
  while (!queue_.empty() && queue_.front().due_mono_ns <= now) {
    std::pop_heap(queue_.begin(), queue_.end(), Later{});
    InFlight d = std::move(queue_.back());
    queue_.pop_back();

    // The first NAT that serves the destination; the public underlay is one
    // of them.
    const Binding* target = nullptr;
    bool filtered = false;
    for (const Binding& b : bindings_) {
      if (!b.nat->serves(d.to)) continue;
      const std::optional<Endpoint> inside = b.nat->inbound(d.to, d.from, now);
      if (!inside) {
        filtered = true;
        break;
      }
      for (const Binding& t : bindings_) {
        if (t.nat == b.nat && t.local == *inside) target = &t;
      }
      break;
    }
    if (filtered) {
      ++stats_.nat_dropped;
      continue;
    }
    if (target == nullptr) {
      ++stats_.unroutable;
      continue;
    }
    ++stats_.delivered;
    ++delivered;
    target->transport->deliver(Datagram{d.from, target->local, std::move(d.data)});
  }
  return delivered;
}

}  // namespace cordon::testing
