// The node's timers (docs/design.md, practice 6):
//
//  - keepalive, per peer, default 25 s (link/timers.hpp lists the per-peer
//    timers and their sources). A keepalive is a sealed payload of one zero
//    byte, sent only when nothing else went to the peer for a whole
//    interval and the peer's endpoint is known. The first one goes out at
//    start, which tells a peer without a configured endpoint where this
//    host is. A passive keepalive answers data on a direct path after 1 s
//    without a reply (link/timers.hpp).
//  - counter floor, node-wide, checked every 1 s (every 20 ms while the
//    counters run ahead of the clock). It keeps the persisted floor above
//    every counter in use (docs/protocol.md, "Nonce uniqueness").
//  - receive floors, node-wide, offered every 1 s when a peer's highest
//    accepted counter moved (kReceiveFloorIntervalNs).
//  - the mesh role's timers (coord/registry.hpp and coord/rendezvous.hpp
//    list them), checked every 1 s, and at once when workers queued
//    control messages.
//  - rekey sessions (link/rekey.hpp lists their timers), walked when one is
//    due and at least every 1 s, for the volume limit (node_rekey.cpp).
#include <algorithm>

#include "core/coord/rendezvous.hpp"
#include "core/node_impl.hpp"

namespace cordon {
namespace {

constexpr int64_t kNever = INT64_MAX;


// When the peer's next keepalive is due: the periodic one (every
// keepalive_ns of silence towards it), or sooner the passive one that
// answers data on a direct path with a relay to fall back to
// (link/timers.hpp, "passive keepalive"). INT64_MAX: none.
int64_t keepalive_due(const PeerEntry& e) {
  int64_t due = e.keepalive_ns > 0 ? link::keepalive_deadline(*e.peer, e.keepalive_ns) : kNever;
  if (e.peer->path().relay.value != 0) due = std::min(due, link::passive_keepalive_deadline(*e.peer));
  return due;
}

// Sends due keepalives; returns the earliest next keepalive deadline.
int64_t run_keepalives(Node::Impl& impl, const Snapshot& s, const Now& now, std::vector<Outgoing>& out) {
  int64_t next = kNever;
  for (const PeerEntry& e : s.peers) {
    // Only a direct path needs holding open; a relayed peer is reached
    // through its coordinator, whose own keepalives hold that path. The
    // cheap checks come first: a tick runs this for every peer, and most of
    // a coordinator's clients need nothing (docs/design.md, "Coordinator CPU").
    if (!e.peer->path().direct()) continue;
    const int64_t due = keepalive_due(e);
    if (due == kNever) continue;
    const auto to = e.peer->endpoint();
    if (!to) continue;
    if (now.mono_ns < due) {
      next = std::min(next, due);
      continue;
    }
    if (e.peer->counter().peek(wire::counter_units(now.real_ns)) >= impl.confirmed_floor.load(std::memory_order_relaxed)) {
      next = std::min(next, now.mono_ns + kFloorCheckAheadNs);  // due once the floor is persisted
      continue;
    }
    if (auto k = impl.make_keepalive(s, now, *e.peer, *to)) {
      out.push_back(std::move(*k));
      link::on_keepalive_sent(*e.peer, now);
      next = std::min(next, keepalive_due(e));
    } else {
      next = std::min(next, now.mono_ns + kFloorCheckAheadNs);  // retry once the floor moves
    }
  }
  return next;
}

}  // namespace

std::optional<Outgoing> Node::Impl::make_keepalive(const Snapshot& s, const Now& now, link::Peer& peer,
                                                   const Endpoint& to) {
  const size_t plain = s.padded(wire::kKeepaliveSize);
  std::vector<std::byte> buffer(wire::kOverhead + plain);  // the payload byte and the padding are zero
  const auto datagram = seal(workers, now, s.self, peer, buffer, wire::kHeaderSize, plain);
  if (!datagram) {
    peer.stats().drops.add(datagram.error());
    return std::nullopt;
  }
  return Outgoing{to, std::move(buffer)};
}

std::vector<ReceiveFloor> Node::Impl::receive_floors_of(const Snapshot& s) {
  std::vector<ReceiveFloor> floors;
  floors.reserve(s.peers.size());
  for (const PeerEntry& e : s.peers) {
    const uint64_t top = e.peer->highest_received();
    if (top != 0) floors.push_back(ReceiveFloor{e.peer->id(), e.peer->fingerprint(), top});
  }
  return floors;
}

std::vector<ReceiveFloor> Node::receive_floors() const { return Impl::receive_floors_of(*impl_->snapshot()); }

void Node::Impl::offer_receive_floors(const Snapshot& s, const Now& now, TickResult& result) {
  if (receive_floors_offered_mono_ns && now.mono_ns - *receive_floors_offered_mono_ns < kReceiveFloorIntervalNs) {
    return;
  }
  std::vector<ReceiveFloor> floors = receive_floors_of(s);
  receive_floors_offered_mono_ns = now.mono_ns;
  if (floors == offered_receive_floors) return;
  offered_receive_floors = floors;
  result.persist_receive_floors = std::move(floors);
}

TickResult Node::tick(const Now& now) {
  Impl& impl = *impl_;
  impl.reclaim();  // what workers have finished with (publish.hpp)
  const auto s = impl.snapshot();
  TickResult result;
  // Expired connections, a slice of the table per tick: the whole default
  // table (8,192 buckets) every 2.6 s at the daemon's 20 ms tick.
  if (impl.conntrack) impl.conntrack->sweep(now.mono_ns, kConntrackSweepBuckets);

  // Floor first, so a keepalive due now is not refused for want of it after
  // the caller persists (it goes out on the next tick, 20 ms later).
  // The walk over every peer's counter runs when the check is due, not on
  // every tick (docs/design.md, "Coordinator CPU"); in between, the clock
  // alone can make a new floor due, and that test is cheap.
  const uint64_t now_units = wire::counter_units(now.real_ns);
  const uint64_t confirmed = impl.confirmed_floor.load(std::memory_order_relaxed);
  if (now.mono_ns >= impl.floor_check_mono_ns || confirmed < now_units + kFloorLead / 2) {
    uint64_t highest = 0;
    for (const PeerEntry& e : s->peers) highest = std::max(highest, e.peer->counter().peek(now_units));
    impl.highest_counter = highest;
    if (confirmed < std::max(now_units + kFloorLead / 2, highest + kFloorReserve / 2)) {
      const uint64_t target = std::max({now_units + kFloorLead, highest + kFloorReserve, confirmed});
      if (target > confirmed) result.persist_counter_floor = target;
    }
    const bool ahead = highest > now_units;
    impl.floor_check_mono_ns =
        now.mono_ns + (ahead || result.persist_counter_floor ? kFloorCheckAheadNs : kFloorCheckNs);
  }
  const uint64_t highest = impl.highest_counter;

  // The mesh sends as soon as the floor allows (before the first floor is
  // persisted nothing can be sealed; queued messages wait for it).
  int64_t mesh_next = now.mono_ns + kFloorCheckAheadNs;
  if (confirmed > std::max(highest, now_units)) {
    coord::Role& role = impl.role(*s);
    for (InboxItem& item : impl.take_inbox()) {
      if (item.kind == InboxItem::Kind::kControl) {
        if (auto* courier = std::get_if<wire::CourierData>(&item.message)) {
          impl.take_courier(*s, item, std::move(courier->body));
          continue;
        }
        coord::handle_control(impl, role, *s, item, now);
      } else {
        impl.handle_channel(*s, item, now);
        if (item.channel) wire::wipe_secrets(*item.channel);  // key material, once used
      }
    }
    mesh_next = std::min({role.tick(*s, now, result), impl.run_rekeys(*s, now), impl.run_sessions(*s, now)});
    for (Outgoing& o : impl.control_out) result.datagrams.push_back(std::move(o));
    impl.control_out.clear();
  } else {
    impl.rendezvous->fill_tcp_targets(*s, result);  // the wish stands while the timers wait
  }
  // Keepalives: the walk over every peer runs at the earliest deadline it
  // found, and at least every kPassiveKeepaliveNs. Workers' events only move
  // a periodic keepalive later; the one that makes a deadline earlier, data
  // arriving, makes a passive keepalive due no sooner than
  // kPassiveKeepaliveNs later, so the next walk still finds it in time.
  // A keepalive that waited for the floor goes as soon as a new one is confirmed.
  if (now.mono_ns >= impl.keepalive_check_mono_ns || confirmed != impl.keepalive_check_floor) {
    impl.keepalive_check_floor = confirmed;
    impl.keepalive_check_mono_ns =
        std::min(run_keepalives(impl, *s, now, result.datagrams), now.mono_ns + link::kPassiveKeepaliveNs);
  }
  impl.offer_receive_floors(*s, now, result);
  result.rekey_events = std::move(impl.rekey_events);
  impl.rekey_events.clear();
  result.session_events = std::move(impl.session_events);
  impl.session_events.clear();
  result.courier = std::move(impl.courier_in);
  impl.courier_in.clear();
  const int64_t receive_floor_next = *impl.receive_floors_offered_mono_ns + kReceiveFloorIntervalNs;
  result.next_deadline_mono_ns =
      std::min({impl.keepalive_check_mono_ns, impl.floor_check_mono_ns, mesh_next, receive_floor_next});
  return result;
}

void Node::counter_floor_persisted(uint64_t floor) {
  uint64_t cur = impl_->confirmed_floor.load(std::memory_order_relaxed);
  while (floor > cur && !impl_->confirmed_floor.compare_exchange_weak(cur, floor, std::memory_order_release)) {
  }
}

}  // namespace cordon
