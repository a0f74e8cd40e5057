// The client's part of the mesh (docs/protocol.md, "Registry" and
// "Rendezvous"): status reports to its registry, host records, probing for
// direct paths, falling back to the relay, and the TCP tunnel decision.
//
// Timers (defaults and sources in docs/protocol.md, "Timers"): status
// report (5 min, MeshConfig; at start, on address change; retried 1 s
// doubling to 30 s until acked), UDP check of the rendezvous coordinator (a
// probe when no UDP reply for 25 s, every 10 s while on TCP), TCP fallback
// (30 s without a UDP reply, MeshConfig), and per peer: probes (at once,
// every 2 s for 10 s, then every 25 s while traffic flows), direct silence
// (idle: probe after 30 s, fall back to the relay after 40 s; while data
// flows: fall back at once after max(2 s, 3 round trips) unanswered, or
// 2 s of the peer heard only through the relay, and probe), optimistic
// direct check (3 s). The per-peer stamps these read are
// link/timers.hpp's.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/coord/role.hpp"

namespace cordon::coord {

constexpr int64_t kReportRetryFirstNs = kNsPerSecond;
constexpr int64_t kReportRetryMaxNs = 30 * kNsPerSecond;
constexpr int64_t kUdpCheckNs = 25 * kNsPerSecond;       // a UDP reply is expected this often
constexpr int64_t kUdpRetryNs = 5 * kNsPerSecond;        // probe again when one got no reply
constexpr int64_t kUdpRetryOnTcpNs = 10 * kNsPerSecond;  // docs/protocol.md, "TCP tunnel"
constexpr int64_t kPathCheckNs = 5 * kNsPerSecond;     // a changed path is reported within this
constexpr int64_t kProbeFastNs = 2 * kNsPerSecond;
constexpr int64_t kProbeFastSpanNs = 10 * kNsPerSecond;
constexpr int64_t kProbeSlowNs = 25 * kNsPerSecond;
constexpr int64_t kDirectSilenceProbeNs = 30 * kNsPerSecond;
constexpr int64_t kDirectSilenceFallbackNs = 40 * kNsPerSecond;
constexpr int64_t kOptimisticCheckNs = 3 * kNsPerSecond;
// Data sent and no live datagram straight from the peer for this long (or
// kFailoverRoundTrips round trips, if longer) moves traffic to the relay:
// the loss window of a broken direct path stays under 5 s with the 1 s mesh
// tick (docs/coordinators.md, "When a direct path breaks"). The peer's
// passive keepalive (link/timers.hpp) answers one-way flows within it.
constexpr int64_t kFailoverSilenceNs = 2 * kNsPerSecond;
constexpr int64_t kFailoverRoundTrips = 3;
// A probe's ack is awaited this long; a later one is `unmatched_ack`. Probes
// are repeated every 2 s at the fastest, and an ack slower than that is no
// path worth switching to.
constexpr int64_t kProbeAnswerNs = 10 * kNsPerSecond;
constexpr size_t kMaxPendingProbes = 4096;  // bounds the table if acks never come

class Rendezvous final : public Role {
 public:
  // `boot_random` (NodeConfig::boot_random) seeds this start's probe IDs and
  // report sequence numbers.
  Rendezvous(NodeLink& link, uint64_t boot_random)
      : report_seq_(static_cast<uint32_t>(boot_random)), report_first_unacked_(report_seq_ + 1),
        probe_prefix_(boot_random & ~uint64_t{UINT32_MAX}), link_(link) {}

  void configure(const Snapshot& s, const Now& now) override;
  void probed(const Snapshot& s, const InboxItem& item, const Now& now) override;
  void handle(const Snapshot& s, const InboxItem& item, const Now& now) override;
  int64_t tick(const Snapshot& s, const Now& now, TickResult& out) override;
  void stream_closed(const Snapshot& s, uint32_t stream) override;

  void set_local_endpoints(std::vector<Endpoint> endpoints, const Now& now);
  // The TCP tunnels wanted now (also on a tick whose timers were skipped).
  void fill_tcp_targets(const Snapshot& s, TickResult& out) const;
  void stream_opened(const Snapshot& s, HostId coordinator, uint32_t stream);

  void fill_status(const Snapshot& s, NodeStatus& out) const;
  void fill_peer_status(const PeerEntry& e, PeerStatus& out) const;

 private:
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
    int64_t direct_since_mono_ns = 0;  // the first tick that saw the path direct; 0: not direct
    int64_t unanswered_since_mono_ns = 0;  // 0: the direct path owes no answer to data
    int64_t round_trip_ns = 0;  // of the last direct probe's ack; 0: none measured
  };
  void status_ack(const Snapshot& s, const InboxItem& item, const wire::StatusAck& m, const Now& now);
  void records(const Snapshot& s, const InboxItem& item, const wire::HostRecords& m, const Now& now);
  void probe_ack(const Snapshot& s, const InboxItem& item, int64_t sent_mono_ns, const Now& now);
  void peer_tick(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now);
  void direct_tick(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now);
  // True when data went unanswered long enough to leave the direct path.
  bool direct_failed(const PeerEntry& e, PeerState& st, int64_t last_rx, const Now& now);
  void fall_back(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now);
  void probe_round(const Snapshot& s, const PeerEntry& e, PeerState& st, const Now& now, bool direct_only);
  void send_report(const Snapshot& s, const Now& now);
  wire::PathReport path_report(const Snapshot& s) const;
  void send_paths(const Snapshot& s, const Now& now, wire::PathReport paths);
  void report_now(int64_t at_mono_ns);  // a report is due then, with the retry gap reset
  void rendezvous_tick(const Snapshot& s, const Now& now, TickResult& out);
  void go_direct(const PeerEntry& e, PeerState& st, const Endpoint& to, const Now& now);
  // Sends `peer` a probe with a new ID, remembered until its ack or kProbeAnswerNs.
  void send_probe(const Snapshot& s, const Now& now, HostId peer, const Via& via);
  // When `ack` answers a probe this node sent `peer` and still waits for:
  // when that probe was sent (and it is forgotten); nullopt otherwise.
  std::optional<int64_t> take_probe(HostId peer, uint64_t probe_id);
  void expire_probes(const Now& now);
  bool report_awaited(uint32_t seq) const;

  std::unordered_map<uint32_t, PeerState> peers_;
  std::vector<Endpoint> local_;
  std::optional<Endpoint> public_;
  // Reports since the last ack carry report_first_unacked_..report_seq_; an
  // ack of any of them is awaited (docs/protocol.md, "Registry").
  uint32_t report_seq_ = 0;
  // Path reports (wire/control.hpp): the last one sent, and when to look
  // for a change.
  wire::PathReport sent_paths_;
  int64_t next_path_check_mono_ns_ = 0;
  uint32_t report_first_unacked_ = 0;
  bool report_acked_ = false;
  // The registry's own reachability (docs/coordinators.md, "What `cordon
  // status` shows"): reachable once it acknowledges a report, unreachable
  // while unheard for the poll period.
  HostId registry_;
  int64_t registry_ack_real_ns_ = 0;  // the last ack; 0: none since start
  bool registry_silent_ = false;
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
  NodeLink& link_;
};

}  // namespace cordon::coord
