// A peer's timers and roaming, in one place, in the manner of WireGuard,
// timers.c: the rest of the core only calls the named event hooks below,
// each with a one-line contract. The timers (docs/protocol.md, "Timers",
// gives each number's source):
//
//   keepalive        25 s by default (PeerConfig::keepalive_ns, 0: off): a
//                    sealed zero byte when nothing went to a peer on a direct
//                    path for a whole interval; 25 s holds NAT mappings open
//                    (the ViPNet technology description, "Principles of
//                    Establishing Connections"). Run by Node::tick.
//   traffic flows    60 s: data went to the peer this recently, so the
//                    rendezvous keeps probing for a direct path (ours).
//   direct silence   30 s without a live datagram straight from the peer:
//                    probe it; 40 s: fall back to the relay (ours: keepalives
//                    arrive every 25 s on a live path). While data flows to
//                    the peer, much sooner: data sent and nothing straight
//                    from the peer for max(2 s, 3 round trips), or the
//                    peer heard only through the relay for 2 s, moves
//                    traffic to the relay at once. Run by the rendezvous
//                    (coord/rendezvous.hpp, which lists its own timers).
//   passive keepalive 1 s: data arrived from a peer on a direct path that
//                    has a relay to fall back to, and nothing went back for
//                    1 s: a keepalive answers, so that the sender never takes
//                    a one-way flow for a dead path (after WireGuard's
//                    passive keepalive, shortened to fit the 2 s detection).
//                    Run by Node::tick.
//   heard            the last authentic datagram from the peer: a registry
//                    marks a silent client unreachable after its poll period.
//
// Throttling, the one rule: a hook a worker calls per datagram writes a
// stamp only when the stored one is more than kStampIntervalNs older than
// `now`, with relaxed stores, so that workers do not write a shared cache
// line per datagram (a millisecond is precise enough for timers of seconds).
// Control-thread hooks write every time: they run a few times a second.
//
// Roaming (docs/protocol.md, "Roaming"): a peer's endpoint moves only
//   - in Peer::replay_accept, under the peer's lock, for a live datagram
//     straight from the peer that is not a probe (a worker); then
//     on_live_rx_from marks the path direct;
//   - by the control-thread hooks below (probes, remembered paths, the TCP
//     tunnel), and by configuration (Peer::set_endpoint).
// The path state (link/path.hpp) changes only through PathCell::update.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "core/types.hpp"

namespace cordon::link {

class Peer;

constexpr int64_t kStampIntervalNs = kNsPerMs;
constexpr int64_t kTrafficRecentNs = 60 * kNsPerSecond;
constexpr int64_t kPassiveKeepaliveNs = kNsPerSecond;

// The stamps the hooks write (monotonic unless named _real_). Anyone reads.
struct TimerStamps {
  std::atomic<int64_t> last_tx_mono_ns{0}, last_tx_real_ns{0};  // any datagram to the peer: the keepalive timer
  std::atomic<int64_t> last_data_tx_mono_ns{0};                 // an inner packet to the peer: "traffic flows"
  std::atomic<int64_t> last_rx_mono_ns{0}, last_rx_real_ns{0};  // any authentic datagram from it: "heard"
  std::atomic<int64_t> last_data_rx_mono_ns{0};                 // an inner packet from it: "passive keepalive"
  std::atomic<int64_t> last_direct_rx_mono_ns{0};               // a live one straight from it: "direct silence"
  // Any datagram to the peer but a keepalive (data, relay hops, control
  // messages): something the peer would answer or act on. A generation probe
  // goes out when these meet silence (Node, send_probes).
  std::atomic<int64_t> last_busy_tx_mono_ns{0};
};

// ---- Worker hooks (throttled).
// Call after any authentic datagram from the peer: straight, relayed, or a relay hop.
void on_authenticated_rx(Peer& peer, const Now& now);
// Call after a live datagram straight from the peer that may move it (replay_accept with roam).
void on_live_rx_from(Peer& peer, const Now& now);
// Call when an inner packet from the peer is delivered.
void on_data_received(Peer& peer, const Now& now);
// Call when an inner packet is routed to the peer, even if it is then dropped: it starts rendezvous.
void on_data_sent(Peer& peer, const Now& now);
// Call after a datagram is sealed for the peer, or for it as a relay's first hop.
void on_any_sent(Peer& peer, const Now& now);

// ---- Control-thread hooks (not throttled).
// Call after a control message is sealed with `first_hop` as the first hop.
void on_control_sent(Peer& first_hop, const Now& now);
// Call after a keepalive is sealed for the peer.
void on_keepalive_sent(Peer& peer, const Now& now);
// When the next keepalive is due (INT64_MIN: now, none sent yet).
int64_t keepalive_deadline(const Peer& peer, int64_t interval_ns);
// When a passive keepalive is due: data arrived after the last datagram
// sent to the peer, kPassiveKeepaliveNs after that one; INT64_MAX: none.
int64_t passive_keepalive_deadline(const Peer& peer);
// True when data went to the peer after the last live datagram straight
// from it: the direct path owes an answer.
bool data_unanswered(const Peer& peer);
// True when data went to the peer within kTrafficRecentNs.
bool traffic_flows(const Peer& peer, const Now& now);

// ---- Roaming and paths (control thread).
// Call at a coordinator for a live probe straight from a client over UDP:
// follows a new source (a new NAT mapping), unless the client is on the TCP
// tunnel, whose UDP probes only test UDP (docs/protocol.md, "TCP tunnel").
void on_client_probe_from(Peer& peer, const Endpoint& from);
// Call when a live probe or probe ack straight from the peer proved `to`.
void on_path_proven(Peer& peer, const Endpoint& to, const Now& now);
// Call to try a direct path remembered with the peer's unchanged record.
void on_path_remembered(Peer& peer, const Endpoint& to);
// Call when the direct path is given up: back to the relay, `fallback` if none is kept.
void on_path_lost(Peer& peer, HostId fallback);
// Call when the peer is to be reached over TCP stream `stream`, or back
// over UDP (or nowhere) after its stream ended.
void on_stream_opened(Peer& peer, const Endpoint& stream);
void on_stream_left(Peer& peer, const std::optional<Endpoint>& back_to);

}  // namespace cordon::link
