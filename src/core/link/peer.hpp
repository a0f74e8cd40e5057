// One link as the data path sees it: keys, counters, replay window, endpoint
// and statistics. A Peer outlives configuration snapshots: when a reload
// leaves a peer's host ID, link key and suite as they were, the new snapshot
// shares the same Peer, so its traffic never notices the reload.
#pragma once

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
#include "core/link/packet_counter.hpp"
#include "core/link/path.hpp"
#include "core/link/replay_window.hpp"
#include "core/link/timers.hpp"
#include "core/sync.hpp"
#include "core/types.hpp"

namespace cordon::link {

struct PeerStats {
  std::atomic<uint64_t> rx_bytes{0}, rx_packets{0}, tx_bytes{0}, tx_packets{0};
  std::atomic<uint64_t> keepalives_sent{0}, keepalives_received{0}, roams{0};
  std::atomic<uint64_t> failovers{0};  // times a direct path was given up for the relay
  DropCounters drops;
};

class Peer {
 public:
  // Builds a peer with room for one AEAD context per slot (the data-path
  // workers) and direction, each made on the slot's first use: a keyed
  // context is about 1.2 KiB, and most of a coordinator's clients only ever
  // send it status reports through one worker (docs/design.md, "Coordinator
  // memory"). The control thread keeps no context per peer: it seals with
  // make_tx() contexts (link/sealer_cache.hpp). Returns nullptr if a key
  // cannot be derived.
  static std::unique_ptr<Peer> create(HostId self, HostId id, const crypto::SecretBytes& link_key,
                                      crypto::Suite suite, unsigned slots, uint64_t counter_start);

  HostId id() const { return id_; }
  crypto::Suite suite() const { return suite_; }
  uint32_t generation() const { return generation_; }
  // Names the link key in the counter-floor file (keys/traffic_keys.hpp).
  const keys::KeyFingerprint& fingerprint() const { return fingerprint_; }
  // True when `link_key` and `suite` are what this peer was built with.
  bool same_keys(const crypto::SecretBytes& link_key, crypto::Suite suite) const;

  // Each slot's contexts are used, and made, by exactly one thread, so
  // making one takes no lock. nullptr when OpenSSL cannot make it (the
  // caller drops the datagram as crypto_error); a later call tries again.
  crypto::Aead* tx(unsigned slot) { return context(tx_[slot], tx_key_); }
  crypto::Aead* rx(unsigned slot) { return context(rx_[slot], rx_key_); }
  // A new sealing context for this peer's sending direction, for a thread
  // without a slot of its own here.
  std::optional<crypto::Aead> make_tx() const { return crypto::Aead::create(suite_, tx_key_.view()); }
  // Names this Peer object for the process's lifetime (never reused), so a
  // cache of contexts can tell a new peer at a freed one's address apart.
  uint64_t serial() const { return serial_; }

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
  crypto::Aead* context(std::optional<crypto::Aead>& slot, const crypto::SecretBytes& key) {
    if (!slot) slot = crypto::Aead::create(suite_, key.view());
    return slot ? &*slot : nullptr;
  }

  HostId id_;
  crypto::Suite suite_;
  uint32_t generation_ = 0;
  crypto::SecretBytes link_key_;  // kept only to recognise an unchanged link on reload
  keys::KeyFingerprint fingerprint_{};
  uint64_t serial_;
  crypto::SecretBytes tx_key_, rx_key_;  // this generation's traffic keys, for contexts made later
  std::vector<std::optional<crypto::Aead>> tx_, rx_;  // per slot; empty until the slot's first use
  PacketCounter counter_;
  SpinLock lock_;
  ReplayWindow replay_ CORDON_GUARDED_BY(lock_);
  EndpointCell endpoint_;  // written only under lock_
  PathCell path_;
  TimerStamps timers_;
  PeerStats stats_;
};

}  // namespace cordon::link
