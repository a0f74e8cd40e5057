// The mesh: what a host does with coordinators, on the control thread
// (docs/protocol.md, "Coordinators"). Workers queue authentic control
// messages (node_rx.cpp); Node::tick hands them here and runs the timers.
//
// Timers (defaults and sources in docs/protocol.md, "Timers"):
//   client      status report (5 min; at start, on address change; retried
//               1 s doubling to 30 s until acked), UDP check of the
//               rendezvous coordinator (a probe when no UDP reply for 25 s,
//               every 10 s while on TCP), TCP fallback (30 s without a UDP
//               reply), per peer: probes (at once, every 2 s for 10 s, then
//               every 25 s while traffic flows), direct silence (probe after
//               30 s, fall back to the relay after 40 s), optimistic direct
//               check (3 s).
//   coordinator poll period (5 min 30 s), coordinator exchange (15 min),
//               route lifetime (35 min), report request (at most every 5 s
//               per client).
//
// Client side: mesh_rendezvous.cpp. Coordinator side: mesh_registry.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/coord/routes.hpp"
#include "core/node_impl.hpp"

namespace cordon::coord {

constexpr int64_t kReportRetryFirstNs = kNsPerSecond;
constexpr int64_t kReportRetryMaxNs = 30 * kNsPerSecond;
constexpr int64_t kUdpCheckNs = 25 * kNsPerSecond;       // a UDP reply is expected this often
constexpr int64_t kUdpRetryNs = 5 * kNsPerSecond;        // probe again when one got no reply
constexpr int64_t kUdpRetryOnTcpNs = 10 * kNsPerSecond;  // docs/protocol.md, "TCP tunnel"
constexpr int64_t kProbeFastNs = 2 * kNsPerSecond;
constexpr int64_t kProbeFastSpanNs = 10 * kNsPerSecond;
constexpr int64_t kProbeSlowNs = 25 * kNsPerSecond;
constexpr int64_t kTrafficRecentNs = 60 * kNsPerSecond;  // "while traffic flows"
constexpr int64_t kDirectSilenceProbeNs = 30 * kNsPerSecond;
constexpr int64_t kDirectSilenceFallbackNs = 40 * kNsPerSecond;
constexpr int64_t kOptimisticCheckNs = 3 * kNsPerSecond;
constexpr int64_t kRouteLifetimeNs = 35 * 60 * kNsPerSecond;
constexpr int64_t kReportRequestGapNs = 5 * kNsPerSecond;
constexpr int64_t kMeshTickNs = kNsPerSecond;  // the mesh's timers are checked this often
// A probe's ack is awaited this long; a later one is `unmatched_ack`. Probes
// are repeated every 2 s at the fastest, and an ack slower than that is no
// path worth switching to.
constexpr int64_t kProbeAnswerNs = 10 * kNsPerSecond;
constexpr size_t kMaxPendingProbes = 4096;  // bounds the table if acks never come

// How a control message leaves.
struct Via {
  enum class Kind : uint8_t { kPath, kDirect, kRelay, kUdp } kind = Kind::kPath;
  Endpoint endpoint;  // kDirect
  HostId relay;       // kRelay
  static Via path() { return {}; }
  static Via direct(const Endpoint& e) { return Via{Kind::kDirect, e, {}}; }
  static Via through(HostId coordinator) { return Via{Kind::kRelay, {}, coordinator}; }
  static Via udp() { return Via{Kind::kUdp, {}, {}}; }
};

class Mesh {
 public:
  // `boot_random` (NodeConfig::boot_random) seeds this start's probe IDs and
  // report sequence numbers.
  Mesh(Node::Impl& impl, uint64_t boot_random)
      : report_seq_(static_cast<uint32_t>(boot_random)), report_first_unacked_(report_seq_ + 1),
        probe_prefix_(boot_random & ~uint64_t{UINT32_MAX}),
        impl_(impl) {}

  // After every new snapshot (start and reload).
  void configure(const Snapshot& s, const Now& now);
  // A control message a worker queued.
  void handle(const Snapshot& s, const InboxItem& item, const Now& now);
  // Timers. Returns the next deadline; datagrams and TCP wishes go to `out`.
  int64_t tick(const Snapshot& s, const Now& now, TickResult& out);

  void set_local_endpoints(std::vector<Endpoint> endpoints, const Now& now);
  // The TCP tunnels wanted now (also on a tick whose timers were skipped).
  void fill_tcp_targets(const Snapshot& s, TickResult& out) const;
  void stream_opened(const Snapshot& s, HostId coordinator, uint32_t stream);
  void stream_closed(const Snapshot& s, uint32_t stream);

  void fill_status(const Snapshot& s, NodeStatus& out) const;
  void fill_peer_status(const Snapshot& s, const PeerEntry& e, PeerStatus& out) const;

 private:
  // ---- common (mesh.cpp)
  void send(const Snapshot& s, const Now& now, HostId to, const wire::ControlMessage& m, const Via& via);
  void send_records(const Snapshot& s, const Now& now, HostId to, const std::vector<wire::HostRecord>& records);
  bool is_coordinator(const Snapshot& s, HostId id) const;
  void answer_probe(const Snapshot& s, const Now& now, const InboxItem& item, const wire::Probe& probe);

  // ---- client (mesh_rendezvous.cpp)
  struct PeerState {
    std::optional<wire::HostRecord> record;
    int64_t record_real_ns = 0;
    int64_t probe_started_mono_ns = 0;  // 0: not probing
    int64_t next_probe_mono_ns = 0;
    int64_t next_silence_probe_mono_ns = 0;
    int64_t punch_until_mono_ns = 0;  // probe back after a relayed probe from the peer
    std::optional<Endpoint> remembered;  // a direct path found before...
    std::optional<wire::HostRecord> remembered_record;  // ...while the peer's record was this
    int64_t optimistic_since_mono_ns = 0;  // 0: not on an unverified remembered path
  };
  void client_configure(const Snapshot& s, const Now& now);
  void client_handle(const Snapshot& s, const InboxItem& item, const Now& now);
  void client_tick(const Snapshot& s, const Now& now, TickResult& out);
  void client_records(const Snapshot& s, const InboxItem& item, const wire::HostRecords& m, const Now& now);
  void client_probe_ack(const Snapshot& s, const InboxItem& item, const wire::ProbeAck& m, const Now& now);
  void client_probed(const Snapshot& s, const InboxItem& item, const Now& now);
  void peer_tick(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now);
  static bool traffic_flows(const PeerEntry& e, const Now& now);  // data went to the peer lately
  void probe_round(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now, bool direct_only);
  void send_report(const Snapshot& s, const Now& now);
  void rendezvous_tick(const Snapshot& s, const Now& now, TickResult& out);
  void go_direct(const PeerEntry& e, PeerState& st, const Endpoint& to, const Now& now);
  void go_relayed(const Snapshot& s, const PeerEntry& e);
  // Sends `peer` a probe with a new ID, remembered until its ack or kProbeAnswerNs.
  void send_probe(const Snapshot& s, const Now& now, HostId peer, const Via& via);
  // True (and forgotten) when `ack` answers a probe this node sent `peer`
  // and still waits for.
  bool take_probe(HostId peer, uint64_t probe_id);
  void expire_probes(const Now& now);
  bool report_awaited(uint32_t seq) const;

  std::unordered_map<uint32_t, PeerState> peers_;
  std::vector<Endpoint> local_;
  std::optional<Endpoint> public_;
  // Reports since the last ack carry report_first_unacked_..report_seq_; an
  // ack of any of them is awaited (docs/protocol.md, "Registry").
  uint32_t report_seq_ = 0;
  uint32_t report_first_unacked_ = 0;
  bool report_acked_ = false;
  int64_t next_report_mono_ns_ = 0;
  int64_t report_retry_ns_ = kReportRetryFirstNs;
  int64_t started_mono_ns_ = 0;
  int64_t last_udp_reply_mono_ns_ = 0;
  int64_t next_udp_probe_mono_ns_ = 0;
  bool tcp_wanted_ = false;
  uint32_t tcp_stream_ = 0;
  std::optional<Endpoint> rendezvous_udp_;  // the rendezvous coordinator's configured UDP endpoint
  // Probe ID = this start's random high 32 bits | a 32-bit sequence.
  uint64_t probe_prefix_ = 0;
  uint32_t probe_seq_ = 0;
  struct PendingProbe {
    HostId peer;
    int64_t sent_mono_ns = 0;
  };
  std::map<uint64_t, PendingProbe> pending_probes_;  // probe ID -> whom it went to, oldest first

  // ---- coordinator (mesh_registry.cpp)
  struct ClientEntry {
    Reachability state = Reachability::kUnknown;
    bool reported = false;  // a status report arrived since this coordinator started
    std::optional<Endpoint> public_endpoint;
    std::vector<Endpoint> local;
    int64_t last_heard_mono_ns = 0;
    int64_t last_heard_real_ns = 0;
    int64_t last_request_mono_ns = 0;
  };
  void registry_configure(const Snapshot& s, const Now& now);
  void registry_handle(const Snapshot& s, const InboxItem& item, const Now& now);
  void registry_tick(const Snapshot& s, const Now& now);
  void registry_report(const Snapshot& s, const InboxItem& item, const wire::StatusReport& m, const Now& now);
  void registry_records(const Snapshot& s, const InboxItem& item, const wire::HostRecords& m, const Now& now);
  std::optional<wire::HostRecord> own_record(HostId client, const Now& now) const;
  std::optional<wire::HostRecord> known_record(HostId host, const Now& now) const;
  void announce(const Snapshot& s, const Now& now, const std::vector<HostId>& hosts, HostId except_neighbor);
  void publish_relay_routes();
  void send_table(const Snapshot& s, const Now& now, HostId neighbor);
  std::vector<HostId> neighbors(const Snapshot& s) const;

  std::map<uint32_t, ClientEntry> clients_;                       // served clients
  std::unordered_map<uint32_t, std::vector<HostId>> linked_to_;   // host -> served clients linked with it
  std::unordered_map<uint32_t, std::vector<HostId>> links_of_;    // served client -> its linked hosts
  RouteTable routes_;
  int64_t next_exchange_mono_ns_ = 0;
  bool ask_neighbors_ = true;  // at start: ask every neighbour for its table

  Node::Impl& impl_;
  std::vector<Outgoing>* out_ = nullptr;  // where send() puts datagrams during a call
  std::vector<Outgoing> pending_;         // datagrams made outside tick (handled at the next one)
};

}  // namespace cordon::coord
