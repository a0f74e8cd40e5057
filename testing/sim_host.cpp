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

template <typename Slot>
void count_drops(std::span<const Slot> slots, std::array<uint64_t, kDropReasonCount>& drops) {
  for (const Slot& s : slots) {
    // A reflected packet (a reset or an ICMP error answers it) is dropped too.
    if (s.verdict == Verdict::kDrop || s.verdict == Verdict::kReflect) ++drops[static_cast<size_t>(s.reason)];
  }
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
  options_.batch = std::clamp<size_t>(options_.batch, 1, os::DatagramSocket::kMaxBatch);
  start();
}

SimHost::~SimHost() = default;

Now SimHost::now() const {
  Now n = clock_.now();
  n.real_ns += real_offset_ns_;
  return n;
}

std::string SimHost::counter_path() const { return "/var/lib/cordon/" + config_.self.to_string() + ".counter"; }

void SimHost::start() {
  if (node_) return;
  const Now n = now();
  keeper_.emplace(daemon::CounterKeeper::Where{.path = counter_path(), .files = &disk_.files});
  auto opened = keeper_->open(config_, /*accept_new_keys=*/false);
  if (!opened) {
    last_error_ = opened.error();
    ++counters_.start_errors;
    keeper_.reset();
    return;
  }
  daemon::CounterKeeper::Start floors = std::move(opened).value();
  NodeConfig config = config_;
  config.boot_random = boot_rng_();
  if (options_.rekey) {
    auto rng = std::make_shared<std::mt19937_64>(boot_rng_());
    config.random = [rng](std::span<std::byte> out) {
      for (auto& b : out) b = static_cast<std::byte>((*rng)() & 0xff);
      return true;
    };
  }
  node_ = std::make_unique<Node>(std::move(config), options_.workers, floors.floor, n, std::move(floors.receive));
  // What the daemon finds on its interfaces: the address it is bound at.
  node_->set_local_endpoints({transport_->local()}, n);
  for (unsigned i = 0; i < options_.workers; ++i) {
    workers_.push_back(
        std::make_unique<daemon::Worker>(i, *node_, tun_, *transport_, outbox_, options_.mtu, options_.batch));
  }
  ++counters_.starts;
  run_tick(n);
}

void SimHost::stop() {
  if (!node_) return;
  complete_floor_write();
  workers_.clear();
  node_.reset();
  keeper_.reset();
  next_deadline_ = kNoDeadline;
}

void SimHost::kill() {
  if (!node_) return;
  if (pending_floor_) {
    ++counters_.floors_lost;
    pending_floor_.reset();
  }
  workers_.clear();
  node_.reset();
  keeper_.reset();
  outbox_.take(outbox_batch_);
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
  counters_.rekey_events.insert(counters_.rekey_events.end(), r.rekey_events.begin(), r.rekey_events.end());
  counters_.session_events.insert(counters_.session_events.end(), r.session_events.begin(), r.session_events.end());
  for (CourierMessage& m : r.courier) counters_.courier.push_back(std::move(m));
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
    disk_.receive_floors = *r.persist_receive_floors;
    keeper_->set_receive_floors(std::move(*r.persist_receive_floors));
    if (keeper_->store()) ++disk_.receive_floor_writes;
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
  keeper_->raise_floor(floor);
  if (!keeper_->store()) return;  // the in-memory disk does not fail; the daemon retries
  disk_.counter_floor = floor;
  ++disk_.writes;
  if (node_) {
    node_->counter_floor_persisted(floor);
    ++counters_.floors_persisted;
  }
}

daemon::Worker& SimHost::next_worker() {
  daemon::Worker& w = *workers_[worker_];
  worker_ = (worker_ + 1) % options_.workers;
  return w;
}

void SimHost::take_outbox(const daemon::BatchReport& report) {
  if (report.tally.streamed > 0) outbox_.take(outbox_batch_);
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
  const size_t total = tun_.pending();  // what was queued when the pass began
  for (size_t done = 0; done < total;) {
    daemon::Worker& w = next_worker();
    auto report = w.send_batch(n);  // a FakeTun never fails
    if (!report || report->slots == 0) break;
    done += report->slots;
    counters_.tun_read += report->slots;
    counters_.sent += report->tally.sent;
    counters_.contract_violations += report->tally.contract_violations;
    count_drops(w.sealed(), counters_.tx_drops);
    take_outbox(*report);
  }
  return total;
}

size_t SimHost::pump_wire(const Now& n) {
  const size_t total = transport_->pending();
  for (size_t done = 0; done < total;) {
    daemon::Worker& w = next_worker();
    const daemon::BatchReport report = w.receive_batch(n);
    if (report.slots + report.truncated == 0) break;
    done += report.slots + report.truncated;
    counters_.truncated += report.truncated;
    counters_.wire_received += report.slots;
    counters_.delivered += report.tally.delivered;
    counters_.consumed += report.tally.consumed;
    counters_.forwarded += report.tally.forwarded;
    counters_.control += report.tally.control;
    counters_.contract_violations += report.tally.contract_violations;
    count_drops(w.received(), counters_.rx_drops);
    // Control messages are handled at once, as the daemon's wake does.
    if (node_->control_pending()) run_tick(n);
    take_outbox(report);
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
