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
#include "core/link/replay_window.hpp"
#include "core/sync.hpp"
#include "core/types.hpp"

namespace cordon::link {

struct PeerStats {
  std::atomic<uint64_t> rx_bytes{0}, rx_packets{0}, tx_bytes{0}, tx_packets{0};
  std::atomic<uint64_t> keepalives_sent{0}, keepalives_received{0}, roams{0};
  std::atomic<int64_t> last_rx_real_ns{0}, last_tx_real_ns{0};
  std::atomic<int64_t> last_tx_mono_ns{0};  // drives the keepalive timer
  std::atomic<int64_t> last_rx_mono_ns{0};  // any authentic datagram from the peer (the registry's "heard")
  std::atomic<int64_t> last_data_tx_mono_ns{0};  // an inner packet went to the peer (rendezvous: "traffic flows")
  DropCounters drops;
};

// How a worker reaches a peer (docs/protocol.md, "Rendezvous"). The control
// thread decides; workers read it on every packet and set `direct` when an
// authentic datagram arrives straight from the peer.
struct PathCell {
  std::atomic<bool> direct{false};
  std::atomic<uint32_t> relay{0};  // HostId value of the coordinator that relays; 0 = none
  std::atomic<int64_t> last_direct_rx_mono_ns{0};
  std::atomic<int64_t> last_udp_rx_mono_ns{0};
};

class Peer {
 public:
  // Builds a peer and one AEAD context per slot and direction. Slots are the
  // data-path workers plus one for the control thread. Returns nullptr if a
  // key cannot be derived.
  static std::unique_ptr<Peer> create(HostId self, HostId id, const crypto::SecretBytes& link_key,
                                      crypto::Suite suite, unsigned slots, uint64_t counter_start);

  HostId id() const { return id_; }
  crypto::Suite suite() const { return suite_; }
  uint32_t generation() const { return generation_; }
  // Names the link key in the counter-floor file (keys/traffic_keys.hpp).
  const keys::KeyFingerprint& fingerprint() const { return fingerprint_; }
  // True when `link_key` and `suite` are what this peer was built with.
  bool same_keys(const crypto::SecretBytes& link_key, crypto::Suite suite) const;

  // Each slot's contexts are used by exactly one thread.
  crypto::Aead& tx(unsigned slot) { return tx_[slot]; }
  crypto::Aead& rx(unsigned slot) { return rx_[slot]; }

  PacketCounter& counter() { return counter_; }
  PeerStats& stats() { return stats_; }
  const PeerStats& stats() const { return stats_; }

  std::optional<Endpoint> endpoint() const { return endpoint_.load(); }
  void set_endpoint(const std::optional<Endpoint>& e);

  PathCell& path() { return path_; }
  const PathCell& path() const { return path_; }

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
  // docs/protocol.md "Roaming") and marks the path direct.
  Accepted replay_accept(uint64_t counter, const Endpoint& from, bool roam, uint64_t live_from, int64_t now_mono_ns);

 private:
  Peer(HostId id, crypto::Suite suite, crypto::SecretBytes link_key, uint64_t counter_start);

  HostId id_;
  crypto::Suite suite_;
  uint32_t generation_ = 0;
  crypto::SecretBytes link_key_;  // kept only to recognise an unchanged link on reload
  keys::KeyFingerprint fingerprint_{};
  std::vector<crypto::Aead> tx_, rx_;
  PacketCounter counter_;
  SpinLock lock_;
  ReplayWindow replay_ CORDON_GUARDED_BY(lock_);
  EndpointCell endpoint_;  // written only under lock_
  PathCell path_;
  PeerStats stats_;
};

}  // namespace cordon::link
