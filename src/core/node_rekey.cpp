// The node's side of rekeying (link/rekey.hpp): each peer's session runs on
// the control thread, its messages leave through the control channel
// (wire/channel.hpp), and its key changes land on the Peer through PeerRing.
#include <algorithm>

#include "core/keys/key_generation.hpp"
#include "core/node_impl.hpp"

namespace cordon {
namespace {

constexpr int64_t kNever = INT64_MAX;
// How often the walk over every peer's session runs at the latest: the
// volume limit is checked then (docs/design.md, "Coordinator CPU": not per
// tick).
constexpr int64_t kRekeyWalkNs = kNsPerSecond;
// Generation probes (maybe_probe): after 1 s of silence from a peer this
// host keeps sending to, at most one every 10 s (ours: one walk of
// silence, and little traffic towards a peer that is gone).
constexpr int64_t kProbeSilenceNs = kNsPerSecond;
constexpr int64_t kProbeIntervalNs = 10 * kNsPerSecond;

// link::KeyRing on a Peer: builds generations, and hands every generation
// the peer stops holding to the node, which frees it once no worker can use
// it (Node::Impl::retire).
class PeerRing final : public link::KeyRing {
 public:
  PeerRing(Node::Impl& impl, const Snapshot& s, link::Peer& peer) : impl_(impl), s_(s), peer_(peer) {}

  bool install(uint32_t number, const crypto::SecretBytes& ikm) override {
    const link::Generation* sending = peer_.tx_generation();
    if (link::wire_generation(number) == sending->wire()) return false;  // never displace the sending one
    auto g = link::Generation::create(ikm, peer_.suite(), number, s_.self, peer_.id(), impl_.workers);
    if (!g) return false;
    impl_.retire(peer_.hold(std::move(g)));
    return true;
  }
  uint64_t switch_tx(uint32_t number) override { return peer_.send_with(peer_.held(number)); }
  void close_rx(uint32_t number, uint64_t from) override {
    if (const link::Generation* g = peer_.held(number)) g->set_rx_until(from);
  }
  void drop(uint32_t number) override {
    const link::Generation* g = peer_.held(number);
    if (number == 0 || !g || g == peer_.tx_generation()) return;
    impl_.retire(peer_.release(g->wire()));
  }
  // A fresh generation 0 in place of the one used so far: the same keys and
  // switch counter, none of the AEAD contexts the workers made for it
  // (about 1.2 KiB each: docs/design.md, "Coordinator memory").
  void rest_zero() override {
    const link::Generation* old = peer_.held(0);
    if (!old || old == peer_.tx_generation()) return;
    auto fresh = link::Generation::create(peer_.link_key(), peer_.suite(), 0, s_.self, peer_.id(), impl_.workers);
    if (!fresh) return;
    fresh->set_rx_until(old->rx_until());
    impl_.retire(peer_.hold(std::move(fresh)));
  }
  void reset() override {
    const link::Generation* zero = peer_.held(0);
    peer_.send_with(zero);
    zero->set_rx_until(UINT64_MAX);
    for (uint8_t w = 1; w < link::kWireGenerations; ++w) impl_.retire(peer_.release(w));
  }

 private:
  Node::Impl& impl_;
  const Snapshot& s_;
  link::Peer& peer_;
};

std::string phase_name(link::RekeySession::Phase p) {
  switch (p) {
    case link::RekeySession::Phase::kIdle: return "idle";
    case link::RekeySession::Phase::kOffered: return "offered";
    case link::RekeySession::Phase::kAnswered: return "answered";
    case link::RekeySession::Phase::kSwitching: return "switching";
  }
  return "idle";
}

}  // namespace

void Node::Impl::reclaim_generations() {
  if (retired_generations.empty()) return;
  const uint64_t safe = reclaimer.safe_epoch();
  std::erase_if(retired_generations, [&](const auto& r) { return r.first <= safe; });
}

// A peer gets a session when the node can draw randomness. A reload keeps
// the session with the peer; it only changes the period, unless the key
// master changed sides, which starts the chain again from generation 0.
void Node::Impl::ensure_rekey(const Snapshot& s, const PeerEntry& e, const Now& now) {
  if (!random) return;
  link::Peer& peer = *e.peer;
  if (auto& session = peer.rekey(); session && session->key_master() == e.key_master) {
    session->set_period(e.rekey_period_ns, now);
    // The snapshot is still being built: a flush this queues goes out on
    // the next walk's retransmission, a second later.
    link::RekeyOut later;
    session->set_arrays(e.key_arrays, now, later);
    rekey_check_mono_ns = INT64_MIN;
    return;
  } else if (session) {
    PeerRing(*this, s, peer).reset();
  }
  auto start = keys::chain_start(peer.link_key());
  if (!start) return;
  link::RekeySession::Params p;
  p.key_master = e.key_master;
  p.self = s.self;
  p.peer = peer.id();
  p.period_ns = e.rekey_period_ns;
  p.arrays = e.key_arrays;
  peer.rekey() = std::make_unique<link::RekeySession>(p, std::move(*start), random, now);
  rekey_check_mono_ns = INT64_MIN;
}

void Node::Impl::send_channel(const Snapshot& s, const Now& now, const PeerEntry& e, const wire::ChannelMessage& m) {
  std::vector<std::byte> encoded = wire::encode_channel(m);
  const size_t plain = s.padded(encoded.size());  // zero padding after the envelope
  std::vector<std::byte> buffer(wire::kHeadroom + plain + wire::kTailroom);
  std::copy(encoded.begin(), encoded.end(), buffer.begin() + wire::kHeadroom);
  crypto::wipe(encoded);
  const link::Hop p = path_to(s, *e.peer);
  if (!p.first_hop) {
    e.peer->stats().drops.add(DropReason::kNoEndpoint);
    return;
  }
  const auto datagram =
      seal_on_path(workers, now, s.self, *e.peer, *p.first_hop, buffer, wire::kHeadroom, plain, true);
  if (!datagram) {
    e.peer->stats().drops.add(datagram.error());
    return;
  }
  link::on_control_sent(*p.first_hop, now);
  control_out.push_back(Outgoing{p.to, std::vector<std::byte>(datagram->begin(), datagram->end())});
}

void Node::Impl::apply_rekey_out(const Snapshot& s, const PeerEntry& e, link::RekeyOut& out, const Now& now) {
  for (wire::ChannelMessage& m : out.messages) {
    send_channel(s, now, e, m);
    wire::wipe_secrets(m);
  }
  for (const link::RekeyEvent& ev : out.events) {
    rekey_events.push_back(RekeyLogEvent{e.peer->id(), link::rekey_event_name(ev.kind), ev.generation,
                                         link::rekey_reason_name(ev.reason)});
  }
  out.messages.clear();
  out.events.clear();
  rekey_check_mono_ns = std::min(rekey_check_mono_ns, e.peer->rekey()->next_deadline());
}

void Node::Impl::handle_channel(const Snapshot& s, const InboxItem& item, const Now& now) {
  const PeerEntry* e = s.find(item.peer);
  if (!e) return;
  if (item.kind == InboxItem::Kind::kChannel && handle_session(s, *e, item, now)) return;
  link::RekeySession* session = e->peer->rekey().get();
  if (!session) {
    // This host does not rekey: a channel message is one it cannot use.
    if (item.kind == InboxItem::Kind::kChannel) e->peer->stats().drops.add(DropReason::kUnknownControl);
    return;
  }
  if (item.kind == InboxItem::Kind::kUnknownGeneration) return nudge(s, *e, now);
  if (item.kind == InboxItem::Kind::kProbe) return send_keepalive(s, *e, now, false);
  if (item.kind == InboxItem::Kind::kHeard) {
    session->peer_heard(now);
    rekey_check_mono_ns = std::min(rekey_check_mono_ns, session->next_deadline());
    return;
  }
  PeerRing ring(*this, s, *e->peer);
  link::RekeyOut out;
  if (item.kind == InboxItem::Kind::kZeroAfterSwitch) {
    session->peer_datagram_in_zero(item.counter, now, ring, out);
  } else if (item.channel) {
    session->receive(*item.channel, now, ring, out);
  }
  apply_rekey_out(s, *e, out, now);
}

// A keepalive to `e` on its path, sealed with the sending generation, or
// with generation 0 for a generation probe (wire::kGenerationProbeByte
// first, docs/protocol.md "Key generations").
void Node::Impl::send_keepalive(const Snapshot& s, const PeerEntry& e, const Now& now, bool probe) {
  const link::Hop p = path_to(s, *e.peer);
  if (!p.first_hop) return;
  const size_t plain = s.padded(wire::kKeepaliveSize);
  std::vector<std::byte> buffer(wire::kHeadroom + plain + wire::kTailroom);  // zero: a keepalive
  if (probe) buffer[wire::kHeadroom] = wire::kGenerationProbeByte;
  const link::Generation* zero = probe ? e.peer->held(0) : nullptr;
  const auto datagram =
      seal_on_path(workers, now, s.self, *e.peer, *p.first_hop, buffer, wire::kHeadroom, plain, false, zero);
  if (!datagram) {
    e.peer->stats().drops.add(datagram.error());
    return;
  }
  control_out.push_back(Outgoing{p.to, std::vector<std::byte>(datagram->begin(), datagram->end())});
  link::on_keepalive_sent(*e.peer, now);
}

// This host holds only generation 0 and the peer sends with another: it
// restarted and the peer does not know yet. A keepalive on the peer's path
// (generation 0, the only one held) tells it (link/rekey.hpp,
// peer_datagram_in_zero), at most one a second. A restarted host that does
// not know where the peer is sends nothing: the datagram that came is not
// authentic to it, and its source may be forged. The peer's generation
// probe reaches it instead (send_probes).
void Node::Impl::nudge(const Snapshot& s, const PeerEntry& e, const Now& now) {
  if (e.peer->rekey()->may_nudge(now)) send_keepalive(s, e, now, false);
}

// A peer that has gone silent while this host sends to it, on a
// generation after 0, may have restarted and lost its generations: it can
// open nothing this host sends, and may not know where to answer. A
// generation probe (generation 0, which it holds) reaches it; its answer,
// a keepalive, comes under generation 0 if it restarted (and then
// peer_datagram_in_zero resets this side) or under the current one if not.
// At most one probe per kProbeIntervalNs per peer.
void Node::Impl::maybe_probe(const Snapshot& s, const PeerEntry& e, const Now& now) {
  const link::TimerStamps& t = e.peer->timers();
  const int64_t heard = t.last_rx_mono_ns.load(std::memory_order_relaxed);
  const int64_t busy = t.last_busy_tx_mono_ns.load(std::memory_order_relaxed);
  if (e.peer->tx_generation()->number() == 0 || busy <= heard || now.mono_ns - heard < kProbeSilenceNs) return;
  if (!e.peer->rekey()->may_probe(now, kProbeIntervalNs)) return;
  send_keepalive(s, e, now, true);
}

// Every session's timers, walked when one is due and at least once a
// second (the volume limit); returns when to walk next.
int64_t Node::Impl::run_rekeys(const Snapshot& s, const Now& now) {
  if (now.mono_ns < rekey_check_mono_ns) return rekey_check_mono_ns;
  int64_t next = now.mono_ns + kRekeyWalkNs;
  for (const PeerEntry& e : s.peers) {
    link::RekeySession* session = e.peer->rekey().get();
    // A session shut down here sends nothing until started again.
    if (!session || e.peer->gate() == link::Peer::Gate::kShut) continue;
    // A kHeard item lost to a full inbox: the walk catches up.
    if (!session->heard() && e.peer->timers().last_rx_mono_ns.load(std::memory_order_relaxed) != 0) {
      session->peer_heard(now);
    }
    const link::PeerStats& st = e.peer->stats();
    const uint64_t sent = st.tx_packets.load(std::memory_order_relaxed);
    const uint64_t received = st.rx_packets.load(std::memory_order_relaxed);
    PeerRing ring(*this, s, *e.peer);
    maybe_probe(s, e, now);
    link::RekeyOut out;
    session->tick(now, sent, received, ring, out);
    if (!out.messages.empty() || !out.events.empty()) apply_rekey_out(s, e, out, now);
    next = std::min(next, session->next_deadline());
  }
  rekey_check_mono_ns = next;
  return next;
}

bool Node::force_rekey(HostId peer, const Now& now) {
  Impl& impl = *impl_;
  const Snapshot& s = *impl.snapshot();
  const PeerEntry* e = s.find(peer);
  if (!e || !e->peer->rekey()) return false;
  link::RekeyOut out;
  const bool ok = e->peer->rekey()->force(now, out);
  impl.apply_rekey_out(s, *e, out, now);
  return ok;
}

Node::ArrayResult Node::array_command(HostId peer, ArrayCommand command, uint8_t kinds, const Now& now) {
  Impl& impl = *impl_;
  const Snapshot& s = *impl.snapshot();
  const PeerEntry* e = s.find(peer);
  if (!e || !e->peer->rekey()) return ArrayResult::kNoPeer;
  link::RekeySession& session = *e->peer->rekey();
  if (!session.key_master()) return ArrayResult::kNotKeyMaster;
  link::RekeyOut out;
  const bool ok = command == ArrayCommand::kNew ? session.renew_arrays(kinds, now, out)
                                                : session.flush_arrays(kinds, command == ArrayCommand::kFlushAndNew, now, out);
  if (!ok) return ArrayResult::kNoArrays;
  impl.apply_rekey_out(s, *e, out, now);
  impl.rekey_check_mono_ns = INT64_MIN;  // new arrays go out at the next walk
  return ArrayResult::kDone;
}

RekeyStatusView rekey_status(const PeerEntry& e) {
  RekeyStatusView v;
  v.generation = e.peer->tx_generation()->number();
  v.period_ns = e.rekey_period_ns;
  v.key_master = e.key_master;
  const link::RekeySession* session = e.peer->rekey().get();
  if (!session) return v;
  v.enabled = true;
  v.phase = phase_name(session->phase());
  v.last_real_ns = session->last_rekey_real_ns();
  if (const int64_t n = session->next_rekey_mono_ns(); n != kNever) v.next_mono_ns = n;
  v.done = session->counters().done;
  v.failed = session->counters().failed;
  v.refused = session->counters().refused;
  if (const link::KeyArrays* arrays = session->arrays(); arrays && arrays->params().size > 0) {
    v.arrays = {arrays->view(wire::ArrayKind::kData), arrays->view(wire::ArrayKind::kControl)};
  }
  return v;
}

}  // namespace cordon
