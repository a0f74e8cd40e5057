// What every host does with a control message before its role sees it.
#include "core/coord/role.hpp"

#include "core/node_impl.hpp"

namespace cordon::coord {
namespace {

// Every host answers a probe the way it came (docs/protocol.md,
// "Rendezvous"): straight back to the source, or through the same relay.
void answer_probe(NodeLink& link, const Snapshot& s, const Now& now, const InboxItem& item, const wire::Probe& probe) {
  wire::ProbeAck ack{probe.probe_id, std::nullopt};
  if (item.via.value == 0) {
    ack.observed = item.from;
    if (!item.from.is_udp()) ack.observed.reset();
    link.send_control(s, now, item.peer, ack, item.from.is_udp() ? Via::direct(item.from) : Via::path());
  } else {
    link.send_control(s, now, item.peer, ack, Via::through(item.via));
  }
}

}  // namespace

bool is_coordinator(const Snapshot& s, HostId id) {
  const PeerEntry* e = s.find(id);
  return e && e->role == keys::Role::kCoordinator;
}

void handle_control(NodeLink& link, Role& role, const Snapshot& s, const InboxItem& item, const Now& now) {
  const PeerEntry* from = s.find(item.peer);
  if (!from) return;  // the peer went away in a reload since the worker queued it
  const auto* probe = std::get_if<wire::Probe>(&item.message);
  if (!probe) return role.handle(s, item, now);
  // A probe that is not live may be one captured before this host
  // restarted, replayed from a spoofed source: answering it would reflect
  // traffic there and following it would move the peer (docs/protocol.md,
  // "Replay protection").
  if (!item.live) return from->peer->stats().drops.add(DropReason::kOldControl);
  answer_probe(link, s, now, item, *probe);
  role.probed(s, item, now);
}

}  // namespace cordon::coord
