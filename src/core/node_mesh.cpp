// The node's side of the mesh (coord/node_link.hpp): control messages
// leave here on a path, relay routes are published, and status gathers what
// the roles know.
#include <algorithm>

#include "core/coord/registry.hpp"
#include "core/coord/rendezvous.hpp"
#include "core/node_impl.hpp"

namespace cordon {

coord::Role& Node::Impl::role(const Snapshot& s) {
  if (s.role == keys::Role::kCoordinator) return *registry;
  return *rendezvous;
}

void Node::Impl::send_control(const Snapshot& s, const Now& now, HostId to, const wire::ControlMessage& m,
                              const coord::Via& via) {
  const PeerEntry* peer = s.find(to);
  if (!peer) return;
  const auto encoded = wire::encode_control(m);
  if (!encoded) return;  // cannot happen for messages built here; nothing to send
  const size_t plain = s.padded(encoded->size());  // zero padding after the message
  std::vector<std::byte> buffer(wire::kHeadroom + plain + wire::kTailroom);
  std::copy(encoded->begin(), encoded->end(), buffer.begin() + wire::kHeadroom);

  link::Peer* first_hop = peer->peer.get();
  std::optional<Endpoint> dest;
  switch (via.kind) {
    case coord::Via::Kind::kPath: {
      const link::Hop p = path_to(s, *peer->peer);
      first_hop = p.first_hop;
      if (first_hop) dest = p.to;
      break;
    }
    case coord::Via::Kind::kDirect:
      dest = via.endpoint;
      break;
    case coord::Via::Kind::kRelay: {
      const PeerEntry* relay = s.find(via.relay);
      first_hop = relay ? relay->peer.get() : nullptr;
      if (first_hop) dest = first_hop->endpoint();
      break;
    }
  }
  if (!first_hop || !dest) {
    peer->peer->stats().drops.add(DropReason::kNoEndpoint);
    return;
  }
  const unsigned slot = workers;  // the control thread's AEAD contexts
  const auto datagram =
      seal_on_path(slot, now, s.self, *peer->peer, *first_hop, buffer, wire::kHeadroom, plain);
  if (!datagram) {
    peer->peer->stats().drops.add(datagram.error());
    return;
  }
  link::on_control_sent(*first_hop, now);
  control_out.push_back(Outgoing{*dest, std::vector<std::byte>(datagram->begin(), datagram->end())});
}

void Node::Impl::take_courier(const Snapshot& s, const InboxItem& item, std::vector<std::byte> body) {
  const PeerEntry* from = s.find(item.peer);
  if (!from) return;  // the peer went away in a reload
  // Replayed from before this start: the courier never sees it.
  if (!item.live) return from->peer->stats().drops.add(DropReason::kOldControl);
  courier_in.push_back(CourierMessage{item.peer, std::move(body)});
}

bool Node::send_courier(HostId peer, std::span<const std::byte> body, const Now& now) {
  Impl& impl = *impl_;
  const Snapshot* s = impl.snapshot();
  const PeerEntry* entry = s->find(peer);
  if (!entry || body.empty() || body.size() > wire::kMaxCourierBody) return false;
  if (!impl.path_to(*s, *entry->peer).first_hop) return false;
  impl.send_control(*s, now, peer, wire::CourierData{std::vector<std::byte>(body.begin(), body.end())},
                    coord::Via::path());
  return true;
}

void Node::Impl::update_relay_routes(std::span<const coord::RelayRoutes::Change> changes, bool replace) {
  set_relay_routes(replace ? RelayRoutes().with(changes) : relay_routes()->with(changes));
}

RelayCounters Node::Impl::relay_counters() const {
  RelayCounters out{};
  for (unsigned w = 0; w < workers; ++w) {
    out.packets += relayed[w].packets.load(std::memory_order_relaxed);
    out.bytes += relayed[w].bytes.load(std::memory_order_relaxed);
  }
  return out;
}

// Both roles report: the one not in use has nothing to say.
void Node::Impl::fill_mesh_status(const Snapshot& s, NodeStatus& out) const {
  rendezvous->fill_status(s, out);
  registry->fill_status(s, out);
  out.relay = relay_counters();
}

void Node::Impl::fill_mesh_peer_status(const Snapshot& s, const PeerEntry& e, PeerStatus& out) const {
  out.role = e.role;
  const link::Hop p = path_to(s, *e.peer);
  out.path = coord::path_kind(p, *e.peer);
  if (p.first_hop && p.first_hop != e.peer.get()) out.via = p.first_hop->id();
  rendezvous->fill_peer_status(e, out);
  registry->fill_peer_status(e, out);
}

}  // namespace cordon
