// Node internals shared by node.cpp (configuration and status), node_rx.cpp
// (underlay -> tunnel), node_tx.cpp (tunnel -> underlay) and node_timers.cpp
// (keepalives and the counter floor). Not part of the public API.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/coord/node_link.hpp"
#include "core/filter/conntrack.hpp"
#include "core/filter/ruleset.hpp"
#include "core/link/peer.hpp"
#include "core/link/rekey.hpp"
#include "core/link/sealer_cache.hpp"
#include "core/node.hpp"
#include "core/publish.hpp"
#include "core/result.hpp"
#include "core/route/prefix_table.hpp"
#include "core/sync.hpp"
#include "core/wire/channel.hpp"
#include "core/wire/control.hpp"
#include "core/wire/relay.hpp"
#include "core/wire/size_classes.hpp"

namespace cordon {

namespace coord {
class Registry;
class Rendezvous;
class Role;
}  // namespace coord

// What the configuration says about a peer, next to its shared state.
struct PeerEntry {
  std::shared_ptr<link::Peer> peer;
  std::string name;
  std::vector<Prefix> allowed_prefixes;
  int64_t keepalive_ns = 0;
  keys::Role role = keys::Role::kClient;
  bool fixed = false;  // configured endpoint: the path starts direct (coord/rendezvous.cpp)
  HostId rendezvous;   // the peer's rendezvous coordinator
  std::optional<std::vector<Prefix>> reach;  // PeerConfig::reach
  int64_t rekey_period_ns = 0;  // PeerConfig::rekey_period_ns
  bool key_master = false;      // PeerConfig::key_master, resolved
  std::optional<link::SessionTimers> session;  // PeerConfig::session
  link::KeyArrayParams key_arrays = {};         // PeerConfig::key_arrays
};

// An immutable view of the configuration, published on reload (publish.hpp):
// workers load it once per batch.
struct Snapshot {
  HostId self;
  keys::Role role = keys::Role::kClient;
  uint64_t time_window_units = 0;
  std::vector<PeerEntry> peers;
  std::unordered_map<uint16_t, std::vector<uint32_t>> by_sender_host;  // header hint -> peer indexes
  std::unordered_map<uint32_t, uint32_t> by_id;                         // host ID -> peer index
  route::PrefixTable routes;                                            // overlay address -> peer index
  std::vector<Prefix> tunneled_subnets;                                 // NodeConfig::tunneled_subnets
  std::vector<uint16_t> size_classes;                                   // NodeConfig::size_classes, sorted
  std::optional<IpAddress> tunnel_v4, tunnel_v6;                        // NodeConfig::tunnel_addresses, first of each
  // The plaintext length `length` bytes are sealed as (wire/size_classes.hpp).
  size_t padded(size_t length) const { return wire::padded_length(size_classes, length); }
  MeshConfig mesh;
  // The protected-traffic rules (filter/ruleset.hpp), shared with the
  // previous snapshot when a reload leaves them as they were, and the
  // connection table they use (Impl::conntrack; null until rules exist).
  std::shared_ptr<const filter::Ruleset> filter;
  filter::ConnTable* conntrack = nullptr;
  // A coordinator's served links (mesh.served) for the relay's check:
  // served client -> the hosts it is linked with, sorted.
  std::unordered_map<uint32_t, std::vector<uint32_t>> served_links;
  // NodeConfig::revoked, sorted: whole IDs (relay) and host numbers (the
  // header names the sender by number).
  std::vector<uint32_t> revoked_ids;
  std::vector<uint16_t> revoked_numbers;
  bool revoked(HostId id) const { return std::binary_search(revoked_ids.begin(), revoked_ids.end(), id.value); }
  bool revoked_number(uint16_t number) const {
    return std::binary_search(revoked_numbers.begin(), revoked_numbers.end(), number);
  }

  // False when `e` is limited to a reach list and `address`, inside one of
  // this host's tunneled subnets, is outside it (docs/gateways.md, "Reach").
  bool reachable(const PeerEntry& e, const IpAddress& address) const;

  const PeerEntry* find(HostId id) const {
    const auto it = by_id.find(id.value);
    return it == by_id.end() ? nullptr : &peers[it->second];
  }
};

// What `cordon status` shows about a peer's key generations (node_rekey.cpp).
RekeyStatusView rekey_status(const PeerEntry& e);
// And about a site link's session (node_session.cpp); nullopt: none.
std::optional<SessionStatusView> session_status(const PeerEntry& e);

// A coordinator's relay routes to other coordinators' clients
// (coord/relay_routes.hpp): published by the control thread like the
// snapshot (publish.hpp), read by workers per relayed datagram with one
// acquire load.
using RelayRoutes = coord::RelayRoutes;

// What opened a datagram: its generation, counter and header, which the
// control channel's inner seal uses again (wire/channel.hpp).
struct AuthKey {
  const link::Generation* generation = nullptr;
  uint64_t counter = 0;
  std::span<const std::byte> header;
};

// A control message a worker authenticated, checked and the control thread
// parsed (docs/protocol.md, "Control messages").
struct InboxItem {
  // kControl: `message`. kChannel: `channel`, a control channel message
  // whose inner seal the worker opened (wire/channel.hpp). kZeroAfterSwitch:
  // no message; an authentic generation-0 datagram with `counter` came after
  // the peer's switch away from generation 0 (link/rekey.hpp).
  // kUnknownGeneration: a datagram from the peer under a generation this
  // host does not hold (it restarted and lost them): answered with a
  // generation-0 keepalive, at most one a second, so the peer notices.
  // kHeard: the first authentic datagram from the peer since the start (a
  // key master's first rekey waits for it: link/rekey.hpp, peer_heard).
  // kProbe: a generation probe from the peer (wire::kGenerationProbeByte):
  // answered with a keepalive under this host's sending generation.
  enum class Kind : uint8_t { kControl, kChannel, kZeroAfterSwitch, kUnknownGeneration, kHeard, kProbe };
  Kind kind = Kind::kControl;
  HostId peer;
  Endpoint from;  // the underlay source (direct), or the relay's endpoint
  HostId via;     // the coordinator it came through; 0 = straight from the peer
  // Raised the peer's replay window and is dated after this start
  // (link::Peer::Accepted): only then may it draw an answer or move anything.
  bool live = false;
  wire::ControlMessage message;
  std::optional<wire::ChannelMessage> channel;
  uint64_t counter = 0;
};
// The inbox holds at most kMaxInbox messages, and each peer at most its fair
// share, inbox_share(peers): one flooding peer (a compromised client) fills
// its own share and no more, so the others' messages still get in
// (docs/protocol.md, "Control messages"). The floor of 16 leaves room for a
// burst of host records even on a coordinator with many peers.
constexpr size_t kMaxInbox = 1024;
constexpr size_t kMinInboxShare = 16;
constexpr size_t inbox_share(size_t peers) {
  return peers == 0 ? kMaxInbox : (kMaxInbox / peers > kMinInboxShare ? kMaxInbox / peers : kMinInboxShare);
}

// The control inbox (workers -> control thread), double-buffered and
// allocated up front, so that a worker's post() only copies: it takes the
// spin lock, appends the message's header and raw bytes (checked with
// wire::check_control, at most wire::kMaxControlSize) to the filling buffer
// and releases it. take() swaps the buffers under the lock and the control
// thread parses the full one outside it. The byte arena starts at
// kInboxInitialBytes; a message refused for want of room there is dropped as
// `control_backlog` like one over the message limit, and the control thread
// doubles the arena at the next take (up to kMaxInbox full-size messages).
class Inbox {
 public:
  static constexpr size_t kInboxInitialBytes = 64 * 1024;
  static constexpr size_t kMaxBytes = kMaxInbox * wire::kMaxControlSize;

  struct Header {
    HostId peer;
    Endpoint from;
    HostId via;
    bool live = false;
    InboxItem::Kind kind = InboxItem::Kind::kControl;
    uint64_t counter = 0;  // kZeroAfterSwitch
  };

  Inbox();
  // Worker: queues `bytes` from `h.peer` unless the inbox, the peer's
  // `share` or the arena is full; false then.
  bool post(const Header& h, std::span<const std::byte> bytes, size_t share);
  // Control thread: the messages posted since the last take, parsed; those
  // that fail to parse (none: post's caller checked them) are counted.
  std::vector<InboxItem> take(DropCounters& drops);
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  // Messages posted and not taken yet, for `cordon status` and metrics
  // (docs/metrics.md): a gauge of the backlog that `control_backlog` drops
  // guard. Any thread; a relaxed read, so a moment's value.
  size_t queued() const { return queued_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    Header header;
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  // Messages queued per peer: open addressing over 2 * kMaxInbox slots keyed
  // by host ID + 1 (0 = free), so it never holds more than half its slots.
  struct PeerCounts {
    std::vector<uint64_t> keys;
    std::vector<uint32_t> counts;
    std::vector<uint32_t> used;  // slot indexes in use, to clear them
    PeerCounts();
    uint32_t& at(HostId peer);
    void clear();
  };
  struct Buffer {
    std::vector<Entry> entries;  // capacity kMaxInbox
    std::vector<std::byte> bytes;
    size_t used_bytes = 0;
    bool short_of_bytes = false;
    PeerCounts counts;
  };
  SpinLock lock_;
  unsigned filling_ CORDON_GUARDED_BY(lock_) = 0;
  Buffer buffers_[2];  // buffers_[filling_] under lock_; the other, the control thread's
  std::atomic<bool> pending_{false};
  std::atomic<uint32_t> queued_{0};  // buffers_[filling_].entries.size(), written under lock_
};

// Counter-floor tunables (docs/protocol.md, "Nonce uniqueness").
//  - kFloorLead: how far ahead of the clock the persisted floor stays, 16 s;
//    a restart right after a crash starts at most this far ahead.
//  - kFloorReserve: reservation beyond the highest counter in use when the
//    counters run ahead of the clock, 1/16 s at the full counter rate.
//  - kFloorCheckNs: the longest interval between floor checks, 1 s;
//    kFloorCheckAheadNs applies while counters are ahead of the clock.
constexpr uint64_t kFloorLead = 16 * wire::kCounterUnitsPerSecond;
constexpr uint64_t kFloorReserve = wire::kCounterUnitsPerSecond / 16;
constexpr int64_t kFloorCheckNs = kNsPerSecond;
constexpr int64_t kFloorCheckAheadNs = 20 * kNsPerMs;
// Receive floors are offered for persisting at most once a second: a crash
// forgets at most the last second of accepted counters (docs/protocol.md,
// "Replay protection").
constexpr int64_t kReceiveFloorIntervalNs = kNsPerSecond;
constexpr size_t kConntrackSweepBuckets = 64;

struct Node::Impl final : coord::NodeLink {
  Impl(unsigned workers, uint64_t persisted_floor, std::vector<ReceiveFloor> receive_floors, uint64_t boot_random,
       uint64_t live_from);
  ~Impl();

  // The current snapshot: for a worker, valid until the end of its batch
  // (Node brackets batches with reclaimer.enter/leave); for the control
  // thread, until it next publishes one.
  const Snapshot* snapshot() const { return current.load(); }
  std::unique_ptr<const Snapshot> build(NodeConfig config, const Now& now, const Snapshot* previous);
  uint64_t counter_start(const Now& now) const;

  // Receive path, one datagram (node_rx.cpp; relayed ones in node_relay.cpp).
  void receive(unsigned worker, const Now& now, const Snapshot& s, RxSlot& slot);
  void receive_relayed(unsigned worker, const Now& now, const Snapshot& s, const wire::Header& hop, RxSlot& slot);
  // The plaintext of an authentic datagram from `peer`: keepalive, control
  // message or inner packet. `via` is the relay it came through, if any.
  void deliver_payload(unsigned worker, const Now& now, const Snapshot& s, link::Peer& peer, const AuthKey& key,
                       std::span<std::byte> body, HostId via, bool live, RxSlot& slot);
  // The protected-traffic filter's verdict on an inner packet to or from
  // `peer` (filter/filter.hpp): nullopt when it passes.
  std::optional<DropReason> filtered(unsigned slot, const Now& now, const Snapshot& s, filter::Direction d, HostId peer,
                                     std::span<const std::byte> packet) const;
  // The ruleset for `config`: the previous one when its rules are the same.
  std::shared_ptr<const filter::Ruleset> build_filter(FilterConfig& config, const Snapshot* previous);
  // Made when a ruleset first has rules, with the capacity the config gave
  // then; it lives as long as the Node, across reloads.
  std::unique_ptr<filter::ConnTable> conntrack;
  uint64_t conntrack_secret = 0;  // keys the table's hash: from the boot random
  uint64_t filter_version = 0;  // control thread only
  void forward(unsigned worker, const Now& now, const Snapshot& s, link::Peer& hop_peer,
               const wire::RelayedParts& parts, const wire::RoutingBlock& routing, RxSlot& slot);
  const RelayRoutes* relay_routes() const { return relay_routes_.load(); }
  // Control thread: publishes new relay routes (coordinators).
  void set_relay_routes(std::unique_ptr<const RelayRoutes> routes) {
    relay_routes_.publish(std::move(routes), reclaimer);
  }
  // Send path, one inner packet.
  void send(unsigned worker, const Now& now, const Snapshot& s, TxSlot& slot);
  // Seals `length` bytes at buffer[headroom] for `peer` in place; returns
  // the datagram, or why it cannot be sealed.
  using Sealed = Result<std::span<const std::byte>, DropReason>;
  // With `channel`, the plaintext is a control channel envelope
  // (wire::encode_channel), whose inner part is sealed first with the
  // generation's control key.
  // `generation`, when given, seals with that held generation instead of
  // the sending one (a generation probe: generation 0).
  Sealed seal(unsigned slot, const Now& now, HostId self, link::Peer& peer, std::span<std::byte> buffer,
              size_t headroom, size_t length, bool channel = false, const link::Generation* generation = nullptr);
  // Wraps the format-0 datagram at buffer[start, start + length) for the hop
  // to `relay` (wire/relay.hpp) in place; returns the relayed datagram.
  // Needs wire::kHeaderSize before and kRoutingBlockSize + kTagSize after.
  Sealed wrap(unsigned slot, const Now& now, HostId self, link::Peer& relay, std::span<std::byte> buffer,
              size_t start, size_t length, const wire::RoutingBlock& routing);
  // Seals `length` bytes at buffer[headroom] for `peer` and, when the first
  // hop is a relay, wraps the result for it (relayed datagrams need
  // wire::kHeadroom and wire::kTailroom). Every path's datagrams go through here.
  Sealed seal_on_path(unsigned slot, const Now& now, HostId self, link::Peer& peer, link::Peer& first_hop,
                      std::span<std::byte> buffer, size_t headroom, size_t length, bool channel = false,
                      const link::Generation* generation = nullptr);
  // Seals the hop header and routing block of the relayed datagram `data`
  // (hop header and inner datagram already in place) for `next`.
  Status<DropReason> seal_hop(unsigned slot, const Now& now, HostId self, link::Peer& next,
                              const wire::RelayedParts& parts, const wire::RoutingBlock& routing);
  // Where a packet for `peer` goes now (link/path.hpp): the peer itself
  // (direct) or a relay. No first hop when there is no path (`no_endpoint`).
  link::Hop path_to(const Snapshot& s, link::Peer& peer) const override;
  // The context that seals for `peer` in `slot`: a worker's own, made on
  // first use, or the control thread's cached one (link/sealer_cache.hpp).
  crypto::Aead* sealer(unsigned slot, const link::Generation& g) {
    return slot < workers ? g.tx(slot) : control_sealers.for_generation(g);
  }
  link::SealerCache control_sealers;  // control thread only

  const unsigned workers;  // control slot index == workers
  // This process's start in counter units (wire::counter_units of the `now`
  // the Node was built with): datagrams dated before it are never live.
  const uint64_t live_from;
  const uint64_t boot_floor;
  std::atomic<uint64_t> confirmed_floor;
  uint64_t requested_floor = 0;  // control thread only
  // Control thread only (node_timers.cpp): when Node::tick next walks every
  // peer for the counter floor and for keepalives, and the highest counter
  // the last floor walk found. A reload resets the keepalive walk's.
  int64_t floor_check_mono_ns = INT64_MIN;
  int64_t keepalive_check_mono_ns = INT64_MIN;
  uint64_t highest_counter = 0;
  uint64_t keepalive_check_floor = 0;  // the confirmed floor the last keepalive walk saw
  const std::vector<ReceiveFloor> boot_receive_floors;
  // Control thread only: what the last persist_receive_floors offered, and when.
  std::vector<ReceiveFloor> offered_receive_floors;
  std::optional<int64_t> receive_floors_offered_mono_ns;
  void offer_receive_floors(const Snapshot& s, const Now& now, TickResult& result);
  static std::vector<ReceiveFloor> receive_floors_of(const Snapshot& s);
  // Declared before what it guards, so that it outlives them.
  Reclaimer reclaimer;
  Published<Snapshot> current;
  Published<RelayRoutes> relay_routes_{std::make_unique<const RelayRoutes>()};
  // Control thread: frees the snapshots, relay routes and key generations
  // no worker still holds.
  void reclaim() {
    current.reclaim(reclaimer);
    relay_routes_.reclaim(reclaimer);
    reclaim_generations();
  }
  // A generation a peer stopped holding: freed once no worker can still use
  // it (publish.hpp's epochs, as for snapshots).
  void retire(std::unique_ptr<link::Generation> g) {
    if (g) retired_generations.push_back({reclaimer.retire(), std::move(g)});
  }
  void reclaim_generations();
  std::vector<std::pair<uint64_t, std::unique_ptr<link::Generation>>> retired_generations;

  // Rekeying (node_rekey.cpp; link/rekey.hpp). Control thread.
  link::RandomFill random;  // NodeConfig::random; empty: no rekeying
  int64_t rekey_check_mono_ns = INT64_MIN;
  std::vector<RekeyLogEvent> rekey_events;  // handed out by the next tick
  void ensure_rekey(const Snapshot& s, const PeerEntry& e, const Now& now);
  void handle_channel(const Snapshot& s, const InboxItem& item, const Now& now);
  void nudge(const Snapshot& s, const PeerEntry& e, const Now& now);
  void send_keepalive(const Snapshot& s, const PeerEntry& e, const Now& now, bool probe);
  void maybe_probe(const Snapshot& s, const PeerEntry& e, const Now& now);
  int64_t run_rekeys(const Snapshot& s, const Now& now);
  void apply_rekey_out(const Snapshot& s, const PeerEntry& e, link::RekeyOut& out, const Now& now);
  void send_channel(const Snapshot& s, const Now& now, const PeerEntry& e, const wire::ChannelMessage& m);
  // Site-link sessions (node_session.cpp; link/session.hpp). Control thread.
  std::vector<SessionLogEvent> session_events;  // handed out by the next tick
  std::vector<CourierMessage> courier_in;       // likewise
  int64_t session_check_mono_ns = INT64_MIN;
  uint32_t heartbeat_sequence = 0;
  void ensure_session(const PeerEntry& e, const Now& now);
  int64_t run_sessions(const Snapshot& s, const Now& now);
  // True when `item` was a session message (heartbeat, ack, shutdown).
  bool handle_session(const Snapshot& s, const PeerEntry& e, const InboxItem& item, const Now& now);
  void session_event(const PeerEntry& e, std::string_view event, link::SessionReason reason, int64_t wait_ns = 0);
  static void update_gate(link::Peer& peer);
  // Worker: answers the inner packet in `slot` with a reset or an ICMP
  // error written back into the tunnel (Verdict::kReflect), or drops it.
  // An ICMP error comes from `icmp_source` (this gateway's tunnel address
  // of the packet's family), when known.
  static void reflect(link::Peer& peer, TxSlot& slot, std::span<const std::byte> packet,
                      const std::optional<IpAddress>& icmp_source);
  // Worker: the plaintext of a control channel datagram; opens its inner
  // seal and posts the message.
  void receive_channel(const Snapshot& s, link::Peer& peer, const AuthKey& key, std::span<std::byte> body,
                       const Inbox::Header& h, RxSlot& slot);
  DropCounters drops;
  // What this coordinator relayed, one cache line per worker: each worker
  // adds to its own with a plain store, not a locked add on a line every
  // worker writes per forwarded datagram (docs/design.md, "Coordinator CPU").
  struct alignas(64) RelayTally {
    std::atomic<uint64_t> packets{0}, bytes{0};
    void add(uint64_t size) {  // the owning worker only
      packets.store(packets.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      bytes.store(bytes.load(std::memory_order_relaxed) + size, std::memory_order_relaxed);
    }
  };
  const std::unique_ptr<RelayTally[]> relayed;  // [workers]

  // Control messages from workers to the control thread.
  Inbox inbox;
  // Worker: queues the checked control message `body` from `peer`, or drops
  // it as `control_backlog`.
  void post(const Snapshot& s, const Inbox::Header& h, std::span<const std::byte> body, link::Peer& peer,
            RxSlot& slot);
  std::vector<InboxItem> take_inbox() { return inbox.take(drops); }
  // Worker: tells the control thread that `peer` sent generation 0 after
  // its switch away from it (AuthResult::zero_after_switch).
  void post_zero_after_switch(const Snapshot& s, link::Peer& peer, uint64_t counter, const Endpoint& from);
  // Worker: a datagram from `peer` under a generation not held, while this
  // host sends with generation 0 (InboxItem::Kind::kUnknownGeneration).
  void post_unknown_generation(const Snapshot& s, link::Peer& peer, const Endpoint& from);
  // Worker: before link::on_authenticated_rx; tells the control thread when
  // this is the first authentic datagram from `peer` (InboxItem::Kind::kHeard).
  void note_heard(const Snapshot& s, link::Peer& peer, const Endpoint& from);
  // Control thread: a sealed keepalive for `peer`, to `to`.
  std::optional<Outgoing> make_keepalive(const Snapshot& s, const Now& now, link::Peer& peer, const Endpoint& to);

  // The control thread's mesh roles (coord/role.hpp), both kept so that a
  // reload may change the role; role() picks the snapshot's. Their control
  // messages wait in control_out until Node::tick hands them out.
  std::unique_ptr<coord::Registry> registry;
  std::unique_ptr<coord::Rendezvous> rendezvous;
  coord::Role& role(const Snapshot& s);
  std::vector<Outgoing> control_out;
  // coord::NodeLink (node_mesh.cpp).
  void send_control(const Snapshot& s, const Now& now, HostId to, const wire::ControlMessage& m,
                    const coord::Via& via) override;
  void update_relay_routes(std::span<const coord::RelayRoutes::Change> changes, bool replace) override;
  RelayCounters relay_counters() const override;
  void fill_mesh_status(const Snapshot& s, NodeStatus& out) const;
  // A courier message the control thread took from the inbox (node_mesh.cpp).
  void take_courier(const Snapshot& s, const InboxItem& item, std::vector<std::byte> body);
  void fill_mesh_peer_status(const Snapshot& s, const PeerEntry& e, PeerStatus& out) const;
};

}  // namespace cordon
