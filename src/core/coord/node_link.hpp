// What the mesh roles (coord/registry.hpp, coord/rendezvous.hpp) need from
// the node, and no more: sending a control message on a path, the path a
// peer's traffic takes, and the relay routes workers forward by. Node::Impl
// implements it; the roles never see the node itself. Peers are looked up
// in the Snapshot each call is handed.
#pragma once

#include <cstdint>
#include <span>

#include "core/coord/relay_routes.hpp"
#include "core/link/path.hpp"
#include "core/status.hpp"
#include "core/types.hpp"
#include "core/wire/control.hpp"

namespace cordon {
struct PeerEntry;
struct Snapshot;
}

namespace cordon::coord {

// How a control message leaves.
struct Via {
  enum class Kind : uint8_t { kPath, kDirect, kRelay } kind = Kind::kPath;
  Endpoint endpoint;  // kDirect
  HostId relay;       // kRelay
  static Via path() { return {}; }  // the way the peer's traffic goes now
  static Via direct(const Endpoint& e) { return Via{Kind::kDirect, e, {}}; }
  static Via through(HostId coordinator) { return Via{Kind::kRelay, {}, coordinator}; }
};

// What a hop says about a peer's path (core/status.hpp, PathKind).
inline PathKind path_kind(const link::Hop& hop, const link::Peer& peer) {
  if (!hop.first_hop) return PathKind::kNone;
  if (hop.first_hop == &peer) return hop.to.is_udp() ? PathKind::kDirect : PathKind::kTcp;
  return hop.to.is_udp() ? PathKind::kRelayed : PathKind::kTcp;
}

class NodeLink {
 public:
  // Seals control message `m` for peer `to` on the control thread's AEAD
  // contexts and queues the datagram the way `via` says; Node::tick hands
  // it out. A message that cannot leave is a drop counted on `to`.
  virtual void send_control(const Snapshot& s, const Now& now, HostId to, const wire::ControlMessage& m,
                            const Via& via) = 0;
  // The first hop and endpoint of traffic to `peer` now.
  virtual link::Hop path_to(const Snapshot& s, link::Peer& peer) const = 0;
  // Applies `changes` to the relay routes (destination host ID -> neighbour
  // coordinator) workers forward other coordinators' clients' datagrams by,
  // and publishes the result; `replace` starts from an empty table.
  virtual void update_relay_routes(std::span<const RelayRoutes::Change> changes, bool replace) = 0;
  virtual RelayCounters relay_counters() const = 0;

 protected:
  ~NodeLink() = default;
};

}  // namespace cordon::coord
