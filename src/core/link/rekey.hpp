// The in-band rekey exchange of one link (docs/protocol.md, "Rekey
// exchange"), in the order of the P³ functional specification (Velocite
// Systems, 2011), section 2.1.6 "Encryption ReKeying":
//
//   key master                                   other side
//   offer(g, share_M, material)          ->      derives S_g, holds g for receiving
//                                        <-      status(g, ok, share_O)
//   derives S_g, holds g, seals with g
//   switch(g, first counter c_M)         ->      seals with g; M's g-1 closed from c_M
//                                        <-      switched(g, first counter c_O)
//   O's g-1 closed from c_O
//
// plus an ephemeral X25519 exchange in the same messages (forward secrecy,
// keys/key_generation.hpp). Every message travels in the control channel
// (wire/channel.hpp) under the sender's current generation.
//
// Which side is the key master: the primary of a site link; on every other
// link the side with the lower host ID (docs/protocol.md, "Rekey exchange").
//
// Timers (their sources):
//   rekey period     PeerConfig::rekey_period_ns, default 3600 s: the P³
//                    specification's rekey_wait. 0 turns rekeying off.
//   volume           a generation seals at most kVolumeLimit datagrams per
//                    direction before the next rekey starts: 2^24, under the
//                    2^24.5 full-size records RFC 8446, section 5.5 allows one
//                    AES-GCM key (the smallest limit of Cordon's suites).
//   retransmit       1 s without the answer: the same message again (ours).
//                    A switch is repeated until confirmed, the interval
//                    doubling after five tries up to 30 s.
//   attempt          5 retransmissions unanswered, or a status that is not
//                    success, ends an attempt; the key master tries up to four
//                    more times (P³ specification), then the round fails and
//                    the next one starts one period later.
//   grace            the previous generation is kept 10 s after the switch,
//                    for datagrams reordered across it (ours: far beyond any
//                    path's reordering), or until its header value is needed.
//   requests         forced rekeys and the other side's requests start at most
//                    one round a second; the rest are refused and counted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/crypto/x25519.hpp"
#include "core/link/key_array.hpp"
#include "core/types.hpp"
#include "core/wire/channel.hpp"

namespace cordon::link {

constexpr uint64_t kVolumeLimit = uint64_t{1} << 24;
constexpr int64_t kRekeyRetransmitNs = kNsPerSecond;
constexpr int64_t kRekeySwitchRetransmitMaxNs = 30 * kNsPerSecond;
constexpr unsigned kRekeyRetransmits = 5;
constexpr unsigned kRekeyAttempts = 5;  // the first and four more
constexpr int64_t kRekeyGraceNs = 10 * kNsPerSecond;
constexpr int64_t kRekeyRequestIntervalNs = kNsPerSecond;

// What the session does to the link's keys: the node implements it on a
// Peer (node_rekey.cpp), unit tests with a fake.
class KeyRing {
 public:
  virtual ~KeyRing() = default;
  // Builds generation `number` from `ikm` and holds it for receiving. False
  // when its keys cannot be made.
  virtual bool install(uint32_t number, const crypto::SecretBytes& ikm) = 0;
  // Seals with `number` (held) from now on; returns the counter from which
  // nothing is sealed with the generation before.
  virtual uint64_t switch_tx(uint32_t number) = 0;
  // The peer seals nothing under `number` from counter `from` on.
  virtual void close_rx(uint32_t number, uint64_t from) = 0;
  // Stops holding `number` (never generation 0, which stays for restarts).
  virtual void drop(uint32_t number) = 0;
  // Back to generation 0 alone, for sending and receiving.
  virtual void reset() = 0;
  // Generation 0's grace is over: it stays held (a restart of the peer is
  // seen through it), but what it cost to use it may go (the node frees its
  // AEAD contexts). Never called while sending with it.
  virtual void rest_zero() {}
};

// Why a round or a message did not go through: stable log names.
enum class RekeyReason : uint8_t {
  kNone,
  kNoAnswer,        // retransmissions unanswered
  kBadShare,        // X25519 failed (RFC 7748, section 6.1)
  kBadGeneration,   // the offer was not for the generation after the current one
  kNoArray,         // the offer named a key array entry not held
  kInternal,        // keys could not be made, or no randomness
  kNotKeyMaster,    // a message only the other role sends
  kOutOfOrder,      // a message for no exchange under way
  kRateLimited,     // a request or forced rekey within a second of the last
  kPeerRestarted,   // the peer sends generation 0 again: it lost its keys
};
std::string_view rekey_reason_name(RekeyReason r);

struct RekeyEvent {
  enum class Kind : uint8_t { kStarted, kDone, kAttemptFailed, kFailed, kRefused, kReset };
  Kind kind = Kind::kDone;
  uint32_t generation = 0;
  RekeyReason reason = RekeyReason::kNone;
};
std::string_view rekey_event_name(RekeyEvent::Kind k);

struct RekeyOut {
  std::vector<wire::ChannelMessage> messages;  // to the peer, in order
  std::vector<RekeyEvent> events;
};

struct RekeyCounters {
  uint64_t done = 0, failed = 0, refused = 0;
};

class RekeySession {
 public:
  struct Params {
    bool key_master = false;
    HostId self, peer;
    int64_t period_ns = 3600 * kNsPerSecond;  // 0: off
    uint64_t volume_limit = kVolumeLimit;
    KeyArrayParams arrays = {};  // size 0: none (every link but a site link)
  };
  // `chain_start` is S_0 (keys::chain_start of the link key). A key master
  // starts its first round as soon as it hears from the peer (peer_heard),
  // so that generation 0, which the link key alone opens, carries as little
  // as possible (docs/protocol.md, "Key generations"), and no offer goes to
  // a peer that is not there yet.
  // The node calls peer_heard once the peer has sent an authentic datagram
  // since this session began.
  void peer_heard(const Now& now);
  bool heard() const { return heard_; }
  RekeySession(Params params, crypto::SecretBytes chain_start, RandomFill random, const Now& now);

  // A reload may change the period; a round under way goes on.
  void set_period(int64_t period_ns, const Now& now);
  // A reload may change the key arrays' size and timers (key_array.hpp).
  void set_arrays(KeyArrayParams params, const Now& now, RekeyOut& out);
  // Administration (key master only; false otherwise, or without arrays):
  // new key arrays, or a flush with or without new ones (`kinds`: a mask
  // of kDataArray and kControlArray).
  bool renew_arrays(uint8_t kinds, const Now& now, RekeyOut& out);
  bool flush_arrays(uint8_t kinds, bool renew, const Now& now, RekeyOut& out);
  // Null until arrays are configured or the key master sends one.
  const KeyArrays* arrays() const { return arrays_.get(); }

  // Timers. `sent` and `received` count the datagrams sealed to and opened
  // from the peer since the session began (the volume limit).
  void tick(const Now& now, uint64_t sent, uint64_t received, KeyRing& ring, RekeyOut& out);
  void receive(const wire::ChannelMessage& m, const Now& now, KeyRing& ring, RekeyOut& out);
  // An administrator's forced rekey: the key master starts a round, the
  // other side asks for one. False when refused (rate limit).
  bool force(const Now& now, RekeyOut& out);
  // An authentic generation-0 datagram from the peer with counter `counter`:
  // if at or after the peer's switch away from generation 0, the peer has
  // restarted and lost its generations, so this side goes back to 0 too.
  void peer_datagram_in_zero(uint64_t counter, const Now& now, KeyRing& ring, RekeyOut& out);

  // Whether a keepalive may answer a datagram under a generation not held
  // (a restart this side's peer has not noticed): once a second.
  bool may_nudge(const Now& now) {
    if (last_nudge_at_ != INT64_MIN && now.mono_ns - last_nudge_at_ < kNsPerSecond) return false;
    last_nudge_at_ = now.mono_ns;
    return true;
  }

  // Whether a generation probe may go out now (node_rekey.cpp): at most
  // one per `interval`.
  bool may_probe(const Now& now, int64_t interval) {
    if (last_probe_at_ != INT64_MIN && now.mono_ns - last_probe_at_ < interval) return false;
    last_probe_at_ = now.mono_ns;
    return true;
  }

  enum class Phase : uint8_t { kIdle, kOffered, kAnswered, kSwitching };
  Phase phase() const { return phase_; }
  uint32_t current() const { return current_; }
  bool key_master() const { return params_.key_master; }
  int64_t next_deadline() const;
  // When the next round starts (mono ns; INT64_MAX: off, or not the key master).
  int64_t next_rekey_mono_ns() const;
  std::optional<int64_t> last_rekey_real_ns() const { return last_rekey_real_ns_; }
  const RekeyCounters& counters() const { return counters_; }

 private:
  void start_round(const Now& now, RekeyOut& out);
  void send_offer(const Now& now, RekeyOut& out);
  void attempt_failed(RekeyReason why, const Now& now, RekeyOut& out);
  void finish(const Now& now, RekeyOut& out);
  void refuse(RekeyReason why, uint32_t generation, RekeyOut& out);
  bool rate_limited(const Now& now);
  void retire_previous(const Now& now, KeyRing& ring);
  // One function per message (docs/design.md, practice 7).
  void on_offer(const wire::RekeyOffer& m, const Now& now, KeyRing& ring, RekeyOut& out);
  void on_status(const wire::RekeyStatus& m, const Now& now, KeyRing& ring, RekeyOut& out);
  void on_switch(const wire::RekeySwitch& m, const Now& now, KeyRing& ring, RekeyOut& out);
  void on_switched(const wire::RekeySwitched& m, const Now& now, KeyRing& ring, RekeyOut& out);
  void on_request(const Now& now, RekeyOut& out);
  void promote(uint32_t number, uint64_t first_counter, const Now& now, KeyRing& ring);
  HostId key_master_id() const { return params_.key_master ? params_.self : params_.peer; }
  HostId other_id() const { return params_.key_master ? params_.peer : params_.self; }

  Params params_;
  crypto::SecretBytes chain_start_;  // S_0: a reset goes back to it
  crypto::SecretBytes secret_;       // S_current
  RandomFill random_;
  Phase phase_ = Phase::kIdle;
  uint32_t current_ = 0;
  // The round under way.
  uint32_t next_ = 0;
  std::optional<crypto::X25519Key> ephemeral_;  // the key master's, until the status
  crypto::SecretBytes material_;                // the key master's, until the status
  crypto::SecretBytes next_secret_;             // the other side's S_next, until the switch
  wire::Share answered_share_{};                // the other side: the offer it answered
  // Repeated on retransmit or duplicate. Only the four exchange messages,
  // so not as large as a wire::ChannelMessage, whose key array chunk holds
  // 512 bytes (docs/design.md, "Coordinator memory").
  using ExchangeMessage = std::variant<wire::RekeyOffer, wire::RekeyStatus, wire::RekeySwitch, wire::RekeySwitched>;
  std::optional<ExchangeMessage> last_sent_;
  void resend(RekeyOut& out) const;
  unsigned retransmits_ = 0;
  unsigned attempts_ = 0;
  int64_t retransmit_at_ = INT64_MAX;
  int64_t next_rekey_at_ = INT64_MAX;
  bool forced_ = false;
  int64_t last_request_at_ = INT64_MIN;
  int64_t last_nudge_at_ = INT64_MIN;
  int64_t last_probe_at_ = INT64_MIN;
  bool heard_ = false;
  // The previous generation, dropped when its grace ends.
  std::optional<uint32_t> previous_;
  int64_t previous_until_ = INT64_MAX;
  // The peer's counter from which a generation-0 datagram means a restart.
  uint64_t peer_left_zero_ = UINT64_MAX;
  // Volume at the current generation's start.
  uint64_t sent_base_ = 0, received_base_ = 0;
  bool volume_pending_ = false;
  std::optional<int64_t> last_rekey_real_ns_;
  RekeyCounters counters_;
  // Allocated only where arrays are used (a site link): about 1.2 KiB of
  // bookkeeping that every other link, a coordinator's thousands of
  // clients among them, goes without (docs/design.md, "Coordinator memory").
  std::unique_ptr<KeyArrays> arrays_;
  KeyArrays& arrays_in_use();
  // Both sides have left generation 0 since the session began or was
  // reset: key arrays may travel (key_array.hpp).
  bool secure_ = false;
};

}  // namespace cordon::link
