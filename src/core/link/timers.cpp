#include "core/link/timers.hpp"

#include <climits>

#include "core/link/peer.hpp"

namespace cordon::link {
namespace {

// The throttling rule (timers.hpp): true when `stamp` is more than
// kStampIntervalNs older than `now_ns`, read with a relaxed load.
bool stale(const std::atomic<int64_t>& stamp, int64_t now_ns) {
  return now_ns - stamp.load(std::memory_order_relaxed) > kStampIntervalNs;
}

void stamp_tx(TimerStamps& t, const Now& now) {
  t.last_tx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
  t.last_tx_real_ns.store(now.real_ns, std::memory_order_relaxed);
}

}  // namespace

void on_authenticated_rx(Peer& peer, const Now& now) {
  TimerStamps& t = peer.timers();
  if (!stale(t.last_rx_mono_ns, now.mono_ns)) return;
  t.last_rx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
  t.last_rx_real_ns.store(now.real_ns, std::memory_order_relaxed);
}

void on_live_rx_from(Peer& peer, const Now& now) {
  TimerStamps& t = peer.timers();
  if (stale(t.last_direct_rx_mono_ns, now.mono_ns)) t.last_direct_rx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
  // Read first: once direct, a worker writes nothing.
  if (!peer.path().direct()) peer.path_cell().update([](Path p) { return p.to_direct(); });
}

void on_data_received(Peer& peer, const Now& now) {
  TimerStamps& t = peer.timers();
  if (stale(t.last_data_rx_mono_ns, now.mono_ns)) t.last_data_rx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
}

void on_data_sent(Peer& peer, const Now& now) {
  TimerStamps& t = peer.timers();
  if (stale(t.last_data_tx_mono_ns, now.mono_ns)) t.last_data_tx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
}

void on_any_sent(Peer& peer, const Now& now) {
  TimerStamps& t = peer.timers();
  if (stale(t.last_tx_mono_ns, now.mono_ns)) stamp_tx(t, now);
  if (stale(t.last_busy_tx_mono_ns, now.mono_ns)) t.last_busy_tx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
}

void on_control_sent(Peer& first_hop, const Now& now) {
  stamp_tx(first_hop.timers(), now);
  first_hop.timers().last_busy_tx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
}

void on_keepalive_sent(Peer& peer, const Now& now) {
  peer.stats().keepalives_sent.fetch_add(1, std::memory_order_relaxed);
  stamp_tx(peer.timers(), now);
}

int64_t keepalive_deadline(const Peer& peer, int64_t interval_ns) {
  const int64_t last = peer.timers().last_tx_mono_ns.load(std::memory_order_relaxed);
  return last == 0 ? INT64_MIN : last + interval_ns;
}

int64_t passive_keepalive_deadline(const Peer& peer) {
  const TimerStamps& t = peer.timers();
  const int64_t last_tx = t.last_tx_mono_ns.load(std::memory_order_relaxed);
  if (t.last_data_rx_mono_ns.load(std::memory_order_relaxed) <= last_tx) return INT64_MAX;
  return last_tx + kPassiveKeepaliveNs;
}

bool data_unanswered(const Peer& peer) {
  const TimerStamps& t = peer.timers();
  return t.last_data_tx_mono_ns.load(std::memory_order_relaxed) > t.last_direct_rx_mono_ns.load(std::memory_order_relaxed);
}

bool traffic_flows(const Peer& peer, const Now& now) {
  const int64_t last_data = peer.timers().last_data_tx_mono_ns.load(std::memory_order_relaxed);
  return last_data != 0 && now.mono_ns - last_data < kTrafficRecentNs;
}

void on_client_probe_from(Peer& peer, const Endpoint& from) {
  const auto ep = peer.endpoint();
  if (ep && (!ep->is_udp() || *ep == from)) return;
  if (ep) peer.stats().roams.fetch_add(1, std::memory_order_relaxed);
  peer.set_endpoint(from);
}

void on_path_proven(Peer& peer, const Endpoint& to, const Now& now) {
  peer.set_endpoint(to);
  // The datagram that proved the path arrived now.
  peer.timers().last_direct_rx_mono_ns.store(now.mono_ns, std::memory_order_relaxed);
  peer.path_cell().update([](Path p) { return p.to_direct(); });
}

void on_path_remembered(Peer& peer, const Endpoint& to) {
  peer.set_endpoint(to);
  peer.path_cell().update([](Path p) { return p.to_direct(); });
}

void on_path_lost(Peer& peer, HostId fallback) {
  if (peer.path().direct()) peer.stats().failovers.fetch_add(1, std::memory_order_relaxed);
  peer.path_cell().update([&](Path p) { return Path::relayed(p.relay.value != 0 ? p.relay : fallback); });
}

void on_stream_opened(Peer& peer, const Endpoint& stream) { peer.set_endpoint(stream); }

void on_stream_left(Peer& peer, const std::optional<Endpoint>& back_to) { peer.set_endpoint(back_to); }

}  // namespace cordon::link
