// One link as the data path sees it: keys, counters, replay window, endpoint
// and statistics. A Peer outlives configuration snapshots: when a reload
// leaves a peer's host ID, link key and suite as they were, the new snapshot
// shares the same Peer, so its traffic never notices the reload.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/drop_reason.hpp"
#include "core/keys/traffic_keys.hpp"
#include "core/link/endpoint_cell.hpp"
#include "core/link/generation.hpp"
#include "core/link/packet_counter.hpp"
#include "core/link/path.hpp"
#include "core/link/replay_window.hpp"
#include "core/link/session.hpp"
#include "core/link/timers.hpp"
#include "core/sync.hpp"
#include "core/types.hpp"

namespace cordon::link {

class RekeySession;  // link/rekey.hpp

struct PeerStats {
  std::atomic<uint64_t> rx_bytes{0}, rx_packets{0}, tx_bytes{0}, tx_packets{0};
  std::atomic<uint64_t> keepalives_sent{0}, keepalives_received{0}, roams{0};
  std::atomic<uint64_t> failovers{0};  // times a direct path was given up for the relay
  // A coordinator: datagrams this peer sent that it relayed on to another host.
  std::atomic<uint64_t> relayed{0};
  DropCounters drops;
};

class Peer {
 public:
  // Builds a peer holding generation 0 (link/generation.hpp), with room for
  // one AEAD context per slot (the data-path workers) and direction, each
  // made on the slot's first use: a keyed context is about 1.2 KiB, and most
  // of a coordinator's clients only ever send it status reports through one
  // worker (docs/design.md, "Coordinator memory"). The control thread keeps
  // no context per peer: it seals with Generation::make_tx() contexts
  // (link/sealer_cache.hpp). Returns nullptr if a key cannot be derived.
  static std::unique_ptr<Peer> create(HostId self, HostId id, const crypto::SecretBytes& link_key,
                                      crypto::Suite suite, unsigned slots, uint64_t counter_start);
  ~Peer();

  HostId id() const { return id_; }
  crypto::Suite suite() const { return suite_; }
  // Names the link key in the counter-floor file (keys/traffic_keys.hpp).
  const keys::KeyFingerprint& fingerprint() const { return fingerprint_; }
  // True when `link_key` and `suite` are what this peer was built with.
  bool same_keys(const crypto::SecretBytes& link_key, crypto::Suite suite) const;
  // The link key, for the rekey chain's start (keys/key_generation.hpp).
  // Control thread.
  const crypto::SecretBytes& link_key() const { return link_key_; }

  // Key generations (docs/protocol.md, "Key generations"). Workers read
  // them; the control thread alone changes them, and frees a generation it
  // replaced only once no worker can hold it (Node::Impl::retire).
  //  - tx_generation: what datagrams to the peer are sealed with. A sender
  //    takes its counter before it loads this (both sequentially consistent),
  //    so every datagram sealed with an earlier generation has a counter
  //    below the one send_with returns.
  //  - rx_generation: the generation the header's field names, or nullptr.
  const Generation* tx_generation() const { return tx_.load(std::memory_order_seq_cst); }
  const Generation* rx_generation(uint8_t wire) const {
    return rx_[wire % kWireGenerations].load(std::memory_order_acquire);
  }
  // Control thread. The generation held under `number`'s header value, if
  // it is that one.
  const Generation* held(uint32_t number) const;
  // Holds `g` for receiving under its header value; returns the generation
  // it displaced (the caller retires it), if any. The sending one is never
  // displaced: the caller checks first.
  std::unique_ptr<Generation> hold(std::unique_ptr<Generation> g);
  // Stops holding the generation under header value `wire` (not the sending
  // one); returns it for the caller to retire.
  std::unique_ptr<Generation> release(uint8_t wire);
  // Seals with `g` (held) from now on; returns the counter from which no
  // datagram is sealed with the previous generation.
  uint64_t send_with(const Generation* g);
  // Number of the generation under each header value, for status; -1: none.
  std::array<int64_t, kWireGenerations> held_numbers() const;

  // True for the first call only: a worker's first authentic datagram from
  // the peer since this Peer was made tells the control thread (Node,
  // InboxItem::Kind::kHeard). Any thread.
  // The load first: after the first datagram this is a read of a line the
  // workers share, not a write to it per datagram.
  bool first_heard() {
    return !heard_.load(std::memory_order_relaxed) && !heard_.exchange(true, std::memory_order_relaxed);
  }

  // The rekey exchange's state (link/rekey.hpp). Control thread only;
  // created by the node when it first needs it, and kept across reloads with
  // the peer.
  std::unique_ptr<RekeySession>& rekey() { return rekey_; }
  const RekeySession* rekey() const { return rekey_.get(); }

  // A site link's session (link/session.hpp). Control thread only; made by
  // the node for a peer configured with one, and kept across reloads. A
  // pointer: most peers have none (a coordinator's clients, whose memory
  // is counted: docs/design.md, "Coordinator memory").
  std::unique_ptr<SiteSession>& session() { return session_; }
  const std::unique_ptr<SiteSession>& session() const { return session_; }
  // What workers do with traffic while a site link's session is not up:
  // kOpen passes it; kDown answers packets from the tunnel with a reset or
  // an ICMP error (wire/unreachable.hpp) and passes what the peer sends (it
  // brings the session back); kShut, a session shut down here, also drops
  // what the peer sends. The control thread sets it after each session
  // change; workers read it per packet.
  enum class Gate : uint8_t { kOpen, kDown, kShut };
  Gate gate() const { return gate_.load(std::memory_order_relaxed); }
  void set_gate(Gate g) { gate_.store(g, std::memory_order_relaxed); }

  PacketCounter& counter() { return counter_; }
  PeerStats& stats() { return stats_; }
  const PeerStats& stats() const { return stats_; }

  std::optional<Endpoint> endpoint() const { return endpoint_.load(); }
  // Configuration and the control-thread hooks of link/timers.hpp set it;
  // workers move it only in replay_accept.
  void set_endpoint(const std::optional<Endpoint>& e);

  // How traffic to the peer goes (link/path.hpp); path_cell().update is its one writer.
  Path path() const { return path_.load(); }
  PathCell& path_cell() { return path_; }

  // Written only by the hooks of link/timers.hpp.
  TimerStamps& timers() { return timers_; }
  const TimerStamps& timers() const { return timers_; }

  ReplayWindow::Verdict replay_check(uint64_t counter);
  // The receive floor persisted before a restart: counters at or below it
  // are refused (ReplayWindow::start_at).
  void set_receive_floor(uint64_t floor);
  // The highest counter accepted so far (0 if none): what the next receive
  // floor persists.
  uint64_t highest_received();
  // What replay_accept found.
  struct Accepted {
    ReplayWindow::Verdict verdict = ReplayWindow::Verdict::kReplay;
    // The counter raised the window's top (above every counter accepted so
    // far, not a hole filled inside the window) and its time is at or after
    // `live_from`, this process's start. Only such a datagram may move the
    // endpoint, turn a path direct or draw an answer: after a restart the
    // window is empty (or starts at a receive floor up to a second old), and
    // a datagram captured before the restart can authenticate once more
    // (docs/protocol.md, "Replay protection" and "Roaming").
    bool live = false;
  };
  // Records an authenticated counter. When live and `roam` is true (a
  // datagram straight from the peer that may move it: not a relayed one, not
  // a probe), moves the endpoint to `from` if it differs (roaming,
  // docs/protocol.md "Roaming"), under the same lock as the window, so the
  // datagram with the highest counter decides where the peer is. The caller
  // then runs link::on_live_rx_from.
  Accepted replay_accept(uint64_t counter, const Endpoint& from, bool roam, uint64_t live_from);

 private:
  Peer(HostId id, crypto::Suite suite, crypto::SecretBytes link_key, uint64_t counter_start);

  HostId id_;
  crypto::Suite suite_;
  crypto::SecretBytes link_key_;  // recognises an unchanged link on reload; starts the rekey chain
  keys::KeyFingerprint fingerprint_{};
  // owned_[w] is the generation under header value w; rx_[w] publishes it.
  std::array<std::unique_ptr<Generation>, kWireGenerations> owned_;  // control thread
  std::array<std::atomic<const Generation*>, kWireGenerations> rx_{};
  std::atomic<const Generation*> tx_{nullptr};
  std::unique_ptr<RekeySession> rekey_;
  std::unique_ptr<SiteSession> session_;
  std::atomic<Gate> gate_{Gate::kOpen};
  std::atomic<bool> heard_{false};
  PacketCounter counter_;
  SpinLock lock_;
  ReplayWindow replay_ CORDON_GUARDED_BY(lock_);
  EndpointCell endpoint_;  // written only under lock_
  PathCell path_;
  TimerStamps timers_;
  PeerStats stats_;
};

}  // namespace cordon::link
