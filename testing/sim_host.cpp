#include "testing/sim_host.hpp"

#include <algorithm>

#include "core/wire/header.hpp"

namespace cordon::testing {
namespace {

constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
// A node that answers tick() with a deadline that is not in the future is
// asked again this much later, so a simulation cannot spin at one instant.
constexpr int64_t kRetickDelayNs = kNsPerMs;
// settle() gives up after this many rounds without going idle.
constexpr int kMaxSettleRounds = 100000;

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

SimHost::SimHost(SimNetwork& network, const ManualClock& clock, NodeConfig config, const Endpoint& local,
                 std::shared_ptr<NatModel> nat, SimHostOptions options)
    : clock_(clock),
      config_(std::move(config)),
      options_(options),
      transport_(network.bind(local, std::move(nat))),
      boot_rng_(options.seed ^ config_.self.value) {
  options_.workers = std::max(options_.workers, 1u);
  options_.batch = std::max<size_t>(options_.batch, 1);
  buffers_.resize(options_.batch);
  start();
}

SimHost::~SimHost() = default;

Now SimHost::now() const {
  Now n = clock_.now();
  n.real_ns += real_offset_ns_;
  return n;
}

void SimHost::start() {
  if (node_) return;
  const Now n = now();
  NodeConfig config = config_;
  config.boot_random = boot_rng_();
  node_ = std::make_unique<Node>(std::move(config), options_.workers, disk_.counter_floor.value_or(0), n,
                                 disk_.receive_floors);
  // What the daemon finds on its interfaces: the address it is bound at.
  node_->set_local_endpoints({transport_->local()}, n);
  ++counters_.starts;
  run_tick(n);
}

void SimHost::stop() {
  if (!node_) return;
  complete_floor_write();
  node_.reset();
  next_deadline_ = kNoDeadline;
}

void SimHost::kill() {
  if (!node_) return;
  if (pending_floor_) {
    ++counters_.floors_lost;
    pending_floor_.reset();
  }
  node_.reset();
  transport_->clear();
  next_deadline_ = kNoDeadline;
}

void SimHost::restart() {
  stop();
  start();
}

void SimHost::tick() {
  if (node_) run_tick(now());
}

int64_t SimHost::next_deadline_mono_ns() const {
  if (!node_) return kNoDeadline;
  return pending_floor_ ? std::min(next_deadline_, pending_floor_due_) : next_deadline_;
}

std::optional<PeerStatus> SimHost::peer_status(HostId peer) const {
  if (!node_) return std::nullopt;
  NodeStatus s = node_->status();
  for (PeerStatus& p : s.peers) {
    if (p.id == peer) return std::move(p);
  }
  return std::nullopt;
}

void SimHost::run_tick(const Now& n) {
  TickResult r = node_->tick(n);
  for (const Outgoing& o : r.datagrams) {
    transport_->send(o.to, o.datagram);
    ++counters_.tick_datagrams;
  }
  ticks_.push_back(TickRecord{n, r.datagrams.size(), r.persist_counter_floor, r.next_deadline_mono_ns, r.tcp_targets});
  if (r.next_deadline_mono_ns == 0) {
    next_deadline_ = kNoDeadline;
  } else if (r.next_deadline_mono_ns <= n.mono_ns) {
    ++counters_.past_deadlines;
    next_deadline_ = n.mono_ns + kRetickDelayNs;
  } else {
    next_deadline_ = r.next_deadline_mono_ns;
  }
  if (r.persist_counter_floor) persist_floor(*r.persist_counter_floor);
  if (r.persist_receive_floors && options_.persist_receive_floors) {
    disk_.receive_floors = std::move(*r.persist_receive_floors);
    ++disk_.receive_floor_writes;
  }
}

void SimHost::persist_floor(uint64_t floor) {
  // A request made while a write is in progress rides along with it (the
  // daemon writes only the latest floor); it keeps the write's completion
  // time, so a node asking often cannot postpone it forever.
  if (!pending_floor_) pending_floor_due_ = clock_.mono_ns() + options_.floor_write_delay_ns;
  if (!pending_floor_ || floor > *pending_floor_) pending_floor_ = floor;
  if (options_.floor_write_delay_ns <= 0) complete_floor_write();
}

void SimHost::complete_floor_write() {
  if (!pending_floor_) return;
  const uint64_t floor = *pending_floor_;
  pending_floor_.reset();
  disk_.counter_floor = floor;
  ++disk_.writes;
  if (node_) {
    node_->counter_floor_persisted(floor);
    ++counters_.floors_persisted;
  }
}

unsigned SimHost::next_worker() {
  const unsigned w = worker_;
  worker_ = (worker_ + 1) % options_.workers;
  return w;
}

size_t SimHost::step() {
  if (!node_) {
    while (transport_->receive()) ++counters_.received_while_down;
    return 0;
  }
  size_t work = 0;
  const Now n = now();
  if (pending_floor_ && n.mono_ns >= pending_floor_due_) {
    complete_floor_write();
    ++work;
  }
  if (n.mono_ns >= next_deadline_) {
    run_tick(n);
    ++work;
  }
  work += pump_tun(n);
  work += pump_wire(n);
  return work;
}

size_t SimHost::pump_tun(const Now& n) {
  size_t budget = tun_.pending();  // what was queued when the pass began
  const size_t total = budget;
  if (total == 0) return 0;
  std::vector<TxSlot>& slots = tx_slots_;
  while (budget > 0) {
    slots.clear();
    while (budget > 0 && slots.size() < options_.batch) {
      std::optional<std::vector<std::byte>> packet = tun_.read();
      --budget;
      if (!packet) break;
      // A fresh allocation of exactly this size, so that ASan's redzone
      // starts where the tailroom ends.
      std::vector<std::byte>& buf = buffers_[slots.size()];
      buf = std::vector<std::byte>(wire::kHeadroom + packet->size() + wire::kTailroom);
      std::copy(packet->begin(), packet->end(), buf.begin() + wire::kHeadroom);
      slots.push_back(TxSlot{.buffer = buf, .headroom = wire::kHeadroom, .length = packet->size()});
    }
    counters_.tun_read += slots.size();
    node_->process_tun(next_worker(), n, slots);
    for (const TxSlot& s : slots) {
      switch (s.verdict) {
        case Verdict::kDeliver:
          if (!inside(s.wire, s.buffer) || s.wire.empty()) {
            ++counters_.contract_violations;
            break;
          }
          transport_->send(s.to, s.wire);
          ++counters_.sent;
          break;
        case Verdict::kDrop:
          ++counters_.tx_drops[static_cast<size_t>(s.reason)];
          break;
        case Verdict::kConsumed:
        case Verdict::kForward:  // receive-side verdicts
        case Verdict::kControl:
          ++counters_.contract_violations;
          break;
      }
    }
  }
  return total;
}

size_t SimHost::pump_wire(const Now& n) {
  size_t budget = transport_->pending();
  const size_t total = budget;
  if (total == 0) return 0;
  std::vector<RxSlot>& slots = rx_slots_;
  while (budget > 0) {
    slots.clear();
    while (budget > 0 && slots.size() < options_.batch) {
      std::optional<Datagram> d = transport_->receive();
      --budget;
      if (!d) break;
      std::vector<std::byte>& buf = buffers_[slots.size()];
      buf = std::move(d->data);  // allocated at its exact size by the network
      slots.push_back(RxSlot{.from = d->from, .data = buf});
    }
    counters_.wire_received += slots.size();
    node_->process_wire(next_worker(), n, slots);
    for (const RxSlot& s : slots) {
      switch (s.verdict) {
        case Verdict::kDeliver:
          if (!inside(s.inner, s.data)) {
            ++counters_.contract_violations;
            break;
          }
          tun_.write(s.inner);
          ++counters_.delivered;
          break;
        case Verdict::kDrop:
          ++counters_.rx_drops[static_cast<size_t>(s.reason)];
          break;
        case Verdict::kConsumed:
          ++counters_.consumed;
          break;
        case Verdict::kForward:
          if (!inside(s.wire, s.data) || s.wire.empty()) {
            ++counters_.contract_violations;
            break;
          }
          transport_->send(s.to, s.wire);
          ++counters_.forwarded;
          break;
        case Verdict::kControl:
          ++counters_.control;
          break;
      }
    }
    // The daemon wakes its control thread at once for control messages.
    if (node_->control_pending()) run_tick(n);
  }
  return total;
}

bool settle(SimNetwork& network, const std::vector<SimHost*>& hosts) {
  for (int round = 0; round < kMaxSettleRounds; ++round) {
    size_t work = network.deliver_due();
    for (SimHost* h : hosts) work += h->step();
    if (work == 0) return true;
  }
  return false;
}

bool run_until(ManualClock& clock, SimNetwork& network, const std::vector<SimHost*>& hosts, int64_t until_mono_ns) {
  while (true) {
    if (!settle(network, hosts)) return false;
    int64_t next = until_mono_ns;
    if (auto d = network.next_delivery_mono_ns()) next = std::min(next, *d);
    for (SimHost* h : hosts) next = std::min(next, h->next_deadline_mono_ns());
    if (next <= clock.mono_ns()) {
      if (clock.mono_ns() >= until_mono_ns) return true;
      // Something is due now but settle() left it: it can't happen, since
      // settle() runs every due event; step forward rather than spin.
      next = clock.mono_ns() + 1;
    }
    clock.advance_to(next);
  }
}

}  // namespace cordon::testing
