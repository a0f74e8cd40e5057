// The one facade of the portable core (docs/design.md, "Architecture").
//
// The core never performs I/O, reads a clock, or starts a thread. The caller
// hands it packets and the current time, and it answers with verdicts,
// datagrams to send and the next deadline:
//
//   process_wire(worker, now, batch)  datagrams from the underlay -> inner packets,
//                                     relayed datagrams to forward, control messages
//   process_tun(worker, now, batch)   inner packets from the tunnel -> datagrams
//   tick(now)                         timers and control messages: keepalives, the
//                                     counter floor, registry, rendezvous, routes;
//                                     next deadline
//
// Threads: any number of data-path workers may call process_wire and
// process_tun at once, each with its own index in [0, workers). The other
// calls (tick, reconfigure, status, self, receive_floors, ...) belong to one
// control thread; control_pending may be asked from any. Workers read an immutable peer table that reconfigure publishes
// (docs/design.md, practice 8) by quiescent-state reclamation (publish.hpp):
// each process_* call is one batch, which loads the table with one acquire
// load and marks the worker's own slot on entry and exit; tick frees old
// tables once no worker can hold them. A worker never waits for the control
// thread; it takes two short spin locks, a peer's replay window (uncontended
// in practice) and the control inbox (only when it posts a control message,
// to copy at most wire::kMaxControlSize bytes). The destructor frees every
// table: no worker may be inside a batch then.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/drop_reason.hpp"
#include "core/keys/traffic_keys.hpp"
#include "core/node_config.hpp"
#include "core/status.hpp"
#include "core/types.hpp"

namespace cordon {

enum class Verdict : uint8_t {
  kDrop,      // counted under `reason`
  kDeliver,   // hand `inner` to the tunnel (rx) or `wire` to `to` (tx)
  kConsumed,  // valid but nothing to pass on (a keepalive)
  kForward,   // rx at a coordinator: send `wire` (the relayed datagram, rewritten in place) to `to`
  kControl,   // rx: a control message, queued for the control thread; call tick() soon
  kReflect,   // tx: write `wire` (an inner packet inside `buffer`: a reset or an ICMP error) back into the
              // tunnel; the packet it answers, to a site link whose session is down, is counted under `reason`
};

// One datagram from the underlay (UDP, or a TCP tunnel stream: from.stream).
// The core decrypts it in place.
struct RxSlot {
  Endpoint from;
  std::span<std::byte> data;
  // Out:
  Verdict verdict = Verdict::kDrop;
  DropReason reason = DropReason::kTooShort;
  std::span<const std::byte> inner;  // on kDeliver: the inner IP packet, inside `data`
  Endpoint to;                       // on kForward
  std::span<const std::byte> wire;   // on kForward: inside `data`
};

// One inner IP packet from the tunnel, at buffer[headroom, headroom + length).
// headroom >= wire::kHeadroom and tailroom >= wire::kTailroom are required
// for every path (a relayed datagram needs them; a direct one needs only
// wire::kHeaderSize and wire::kTagSize). The core seals the packet in place.
// With size classes on (NodeConfig::size_classes) it first pads the packet
// with zeros up to its class, inside `buffer`: a packet that needs padding
// needs room for the padded length plus wire::kTailroom (the daemon's
// workers give every slot room for the MTU), or it is dropped as too_big.
struct TxSlot {
  std::span<std::byte> buffer;
  size_t headroom = 0;
  size_t length = 0;
  // Out:
  Verdict verdict = Verdict::kDrop;
  DropReason reason = DropReason::kNoRoute;
  Endpoint to;
  std::span<const std::byte> wire;  // on kDeliver: the datagram; on kReflect: the inner reply; inside `buffer`
};

// A datagram made on the control path (keepalives, control messages).
struct Outgoing {
  Endpoint to;  // to.stream != 0: write it to that TCP tunnel stream
  std::vector<std::byte> datagram;
};

// A TCP tunnel a client wants open to its rendezvous coordinator
// (docs/protocol.md, "TCP tunnel").
struct TcpTarget {
  HostId coordinator;
  Endpoint endpoint;  // the coordinator's address and TCP tunnel port
  friend bool operator==(const TcpTarget&, const TcpTarget&) = default;
};

// The highest counter accepted from a peer under one link key, persisted
// so that a restarted receiver refuses datagrams captured before the
// restart (docs/protocol.md, "Replay protection").
struct ReceiveFloor {
  HostId peer;
  keys::KeyFingerprint key{};  // the link key the counter belongs to
  uint64_t counter = 0;
  friend bool operator==(const ReceiveFloor&, const ReceiveFloor&) = default;
};

// A rekey or key-generation event on a link (link/rekey.hpp), for the
// daemon's log: stable names, docs/protocol.md "Rekey exchange".
struct RekeyLogEvent {
  HostId peer;
  std::string_view event;   // rekey_started, rekey_done, rekey_failed, ...
  uint32_t generation = 0;
  std::string_view reason;  // "none", or why
};

// A site link's session event (link/session.hpp), for the daemon's log:
// stable names, docs/site-links.md "Sessions".
struct SessionLogEvent {
  HostId peer;
  std::string_view event;   // session_up, session_lost, session_retry, session_shutdown, session_started
  std::string_view reason;  // "none", heartbeat_timeout, peer_shutdown, admin_shutdown
  int64_t wait_ns = 0;      // session_retry: the wait that ended with this try
};

// A courier message from a peer (docs/couriers.md), for the daemon's
// courier (courier/courier.hpp). Only live ones are handed out: one that
// came before this start, replayed, is dropped as `old_control`.
struct CourierMessage {
  HostId peer;
  std::vector<std::byte> body;
};

struct TickResult {
  std::vector<Outgoing> datagrams;
  std::vector<CourierMessage> courier;
  // The TCP tunnels this node wants open now, listed on every tick while
  // wanted; the caller connects the missing ones (then stream_opened), and
  // closes the ones no longer listed. When the node stops listing a target
  // it has already moved its traffic back to UDP and forgotten the stream:
  // stream_closed is then not needed, and using the stream again needs a
  // new stream_opened.
  std::vector<TcpTarget> tcp_targets;
  // When set, the caller must persist this counter floor durably (fsync) and
  // then call counter_floor_persisted with it. Until the floor covers the
  // counters in use, sending stops with `nonce_reservation`.
  std::optional<uint64_t> persist_counter_floor;
  // When set (at most once per kReceiveFloorIntervalNs, and only when a
  // peer's highest accepted counter moved): every peer's receive floor, for
  // the caller to persist when convenient. Losing one costs only the
  // protection of the datagrams accepted since the last one stored.
  std::optional<std::vector<ReceiveFloor>> persist_receive_floors;
  std::vector<RekeyLogEvent> rekey_events;
  std::vector<SessionLogEvent> session_events;
  int64_t next_deadline_mono_ns = 0;  // call tick() again at this monotonic time at the latest
};

class Node {
 public:
  // `persisted_floor` is the counter floor read back from durable storage (0
  // on first start). Every counter this node uses is at or above it, and
  // every counter used before lies below it, so no nonce repeats across
  // restarts, crashes or a clock set back (docs/protocol.md).
  //
  // `receive_floors` are the ones persisted before (TickResult): a peer whose
  // host ID and link-key fingerprint match one starts its replay window at
  // that counter, at start and whenever a reload adds it.
  Node(NodeConfig config, unsigned workers, uint64_t persisted_floor, const Now& now,
       std::vector<ReceiveFloor> receive_floors = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  void process_wire(unsigned worker, const Now& now, std::span<RxSlot> batch);
  void process_tun(unsigned worker, const Now& now, std::span<TxSlot> batch);

  TickResult tick(const Now& now);
  void counter_floor_persisted(uint64_t floor);

  // Swaps in a new configuration. Peers whose host ID, link key and suite are
  // unchanged keep their counters, replay windows, endpoint and statistics,
  // so their traffic is not interrupted.
  void reconfigure(NodeConfig config, const Now& now);

  // This host's underlay addresses with its UDP port, as the daemon finds
  // them on its interfaces. A change is reported to the registry at once.
  void set_local_endpoints(std::vector<Endpoint> endpoints, const Now& now);
  // A TCP tunnel stream to `coordinator` (one of tcp_targets) is connected;
  // the node now sends to the coordinator over it.
  void stream_opened(HostId coordinator, uint32_t stream, const Now& now);
  // A stream closed (either side): peers reached over it fall back to UDP.
  void stream_closed(uint32_t stream, const Now& now);
  // True when process_wire queued control messages that tick() has not
  // handled yet. Any thread may ask.
  bool control_pending() const;

  // Every peer's receive floor now (as persist_receive_floors offers them),
  // for a last write when the daemon stops after its workers did. Control
  // thread.
  std::vector<ReceiveFloor> receive_floors() const;

  // An administrator's forced rekey of the link with `peer` (the key master
  // starts a round, the other side asks for one). False when there is no
  // such peer, rekeying is off, or the last one was within a second.
  // Control thread.
  bool force_rekey(HostId peer, const Now& now);

  // Key arrays (docs/protocol.md, "Key arrays"): new arrays of the kinds in
  // `kinds` (link::kDataArray, link::kControlArray), or a flush with or
  // without new ones. Only the key master holds the arrays' source.
  // Control thread.
  enum class ArrayCommand : uint8_t { kNew, kFlush, kFlushAndNew };
  enum class ArrayResult : uint8_t { kDone, kNoPeer, kNotKeyMaster, kNoArrays };
  ArrayResult array_command(HostId peer, ArrayCommand command, uint8_t kinds, const Now& now);

  // A site link's administration commands (docs/site-links.md): shut the
  // session with `peer` down here and tell the peer, or start it again.
  // False when `peer` has no session. Control thread.
  enum class SessionCommand : uint8_t { kShutdown, kStart };
  bool session_command(HostId peer, SessionCommand command, const Now& now);

  // A courier message to `peer` over its link (docs/couriers.md): sealed
  // now, sent with the next tick's datagrams. False when `peer` is not a
  // peer, has no path now, or `body` is empty or longer than
  // wire::kMaxCourierBody. Control thread.
  bool send_courier(HostId peer, std::span<const std::byte> body, const Now& now);

  NodeStatus status() const;
  HostId self() const;
  unsigned workers() const;

  struct Impl;  // opaque outside src/core

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cordon
