// A host's part in the mesh (docs/protocol.md, "Coordinators"), run on the
// control thread: a coordinator's registry (coord/registry.hpp) or a
// client's rendezvous (coord/rendezvous.hpp). The node holds one of each
// (a reload may change the role; each keeps its state) and hands every call
// to the one the snapshot's role names (Node::Impl::role), the only place
// that chooses. Workers queue authentic control messages (node_rx.cpp);
// Node::tick hands them to handle_control and runs the role's timers.
#pragma once

#include <cstdint>

#include "core/coord/node_link.hpp"

namespace cordon {
struct InboxItem;
struct TickResult;
}  // namespace cordon

namespace cordon::coord {

constexpr int64_t kMeshTickNs = kNsPerSecond;  // a role's timers are checked this often

class Role {
 public:
  virtual ~Role() = default;
  // After every new snapshot (start and reload), before workers see it.
  virtual void configure(const Snapshot& s, const Now& now) = 0;
  // A live probe from a peer, already answered (handle_control): what the
  // role does beyond the answer.
  virtual void probed(const Snapshot& s, const InboxItem& item, const Now& now) = 0;
  // Any other control message from a peer in `s`.
  virtual void handle(const Snapshot& s, const InboxItem& item, const Now& now) = 0;
  // Timers. Returns the next deadline; TCP wishes go to `out` (datagrams
  // leave through NodeLink::send_control).
  virtual int64_t tick(const Snapshot& s, const Now& now, TickResult& out) = 0;
  // The TCP tunnel's stream `stream` ended: peers reached over it move.
  virtual void stream_closed(const Snapshot& s, uint32_t stream) = 0;
};

// One control message a worker queued: a live probe is answered the way it
// came (every host does so), then `role` takes it.
void handle_control(NodeLink& link, Role& role, const Snapshot& s, const InboxItem& item, const Now& now);

bool is_coordinator(const Snapshot& s, HostId id);

}  // namespace cordon::coord
