// One IKE SA (RFC 7296), as initiator or responder, and the CHILD_SAs it
// negotiates. Pure: time comes in as `now`, randomness through IkeContext,
// and everything the SA wants done leaves through IkeEvents.
//
// States (section 1.2 for the initial exchanges):
//
//   initiator: kInitSent --IKE_SA_INIT response--> kAuthSent --IKE_AUTH
//              response--> kEstablished
//   responder: (IKE_SA_INIT request) kAuthWait --IKE_AUTH request-->
//              kEstablished
//   either:    kEstablished --delete sent--> kDeleting --> kClosed
//              kEstablished --rekeyed (ike_rekey.cpp)--> still kEstablished,
//              but retired: the children are the new IKE SA's, and only a
//              delete (ours or the peer's) is left
//              any --retransmissions exhausted, AUTH or proposal failure--> kClosed
//
// Exchanges: each message kind has one builder and one consumer, in
// ike_sa_init.cpp (IKE_SA_INIT, section 1.2), ike_sa_auth.cpp (IKE_AUTH,
// section 1.2), ike_child.cpp (CREATE_CHILD_SA, section 1.3) and
// ike_informational.cpp (INFORMATIONAL, section 1.4). This file's .cpp
// holds what they share: message IDs and retransmission (section 2.1-2.3),
// the Encrypted payload (section 3.14) and fragments (RFC 7383).
//
// Timers (all per IKE SA; defaults in the constants below):
//   retransmit  a request unanswered: retransmit_timeout (4 s), then x1.8
//               each time, retransmit_tries (5) in all (strongSwan's
//               retransmit_timeout/base/tries), then the SA is dead
//               (section 2.4);
//   liveness    nothing heard for dpd_delay: an empty INFORMATIONAL (2.4);
//   rekey       IKE_SA at rekey_time, each CHILD_SA at its rekey_time or
//               byte/packet limit (sections 2.8, 1.3.2, 1.3.3);
//   half-open   a responder's SA with no IKE_AUTH within 30 s is dropped;
//   retired     an IKE SA the peer should delete after a rekey (section
//               2.18, 2.8.2) and has not within the span of its
//               retransmissions (about 90 s): we delete it;
//   keepalive   behind a NAT, a one-byte NAT keepalive to the peer's 4500
//               every 20 s, so the mapping outlives quiet periods
//               (RFC 3948 section 4; strongSwan's keep_alive default).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/ipsec/cipher.hpp"
#include "core/ipsec/connection.hpp"
#include "core/ipsec/dh.hpp"
#include "core/ipsec/ike_keys.hpp"
#include "core/ipsec/ike_message.hpp"
#include "core/ipsec/proposal.hpp"
#include "core/types.hpp"

namespace cordon::ipsec {

constexpr double kRetransmitBase = 1.8;
constexpr int64_t kHalfOpenTimeoutNs = 30'000'000'000;
constexpr size_t kNonceSize = 32;          // section 2.10: at least half the PRF's key size
constexpr size_t kFragmentSize = 1280;     // RFC 7383 section 2.5.1: fits any IPv6 path
constexpr int64_t kNatKeepaliveNs = 20'000'000'000;

enum class IkeState : uint8_t { kInitSent, kAuthWait, kAuthSent, kEstablished, kDeleting, kClosed };
std::string_view ike_state_name(IkeState state);

// A UDP payload to send: IKE on port 500, or on 4500 with the non-ESP
// marker already in front (RFC 3948 section 2.2).
struct IkeDatagram {
  uint16_t local_port = kIkePort;
  Endpoint remote;
  std::vector<std::byte> payload;
};

// A CHILD_SA ready for the data path: both directions' keys, the SPIs,
// the selectors agreed (narrowed, section 2.9) and where to send.
struct ChildSaInstall {
  std::string connection;
  std::string child;
  uint64_t ike_spi_i = 0;
  uint32_t inbound_spi = 0;
  uint32_t outbound_spi = 0;
  ProtocolId protocol = ProtocolId::kEsp;
  ChildMode mode = ChildMode::kTunnel;
  Chosen chosen;
  crypto::SecretBytes inbound_encryption, inbound_integrity;
  crypto::SecretBytes outbound_encryption, outbound_integrity;
  std::vector<TrafficSelector> local_ts;
  std::vector<TrafficSelector> remote_ts;
  Endpoint local;
  Endpoint remote;
  bool udp_encapsulation = false;  // ESP in UDP on 4500 (RFC 3948)
  uint32_t replaces_inbound_spi = 0;  // a rekey: the SA this one replaces (kept until deleted)
  // Whoever started the exchange sends on the new SA at once; the other
  // end waits for a packet on it (data_path.hpp, make before break).
  bool send_now = true;
  uint64_t rekey_bytes = 0;    // the child's byte limit (0: none)
  uint64_t rekey_packets = 0;  // the child's packet limit (0: none)
  std::optional<IpAddress> virtual_ip;  // remote-access: the address the peer was given
};

// A stable event name and what it concerns, for the daemon's log
// (docs/ipsec.md, "Log events").
struct IkeLogEvent {
  std::string connection;
  std::string_view event;  // ike_established, ike_failed, child_up, no_proposal_chosen, ...
  std::string detail;
  bool warning = false;
};

struct IkeEvents {
  std::vector<IkeDatagram> send;
  // IKE SAs (by our SPI) whose peer sent INITIAL_CONTACT: the gateway drops
  // every other IKE SA with the same connection and identity (section 2.4).
  std::vector<uint64_t> initial_contact;
  std::vector<ChildSaInstall> child_up;
  std::vector<uint32_t> child_down;  // inbound SPIs to remove
  std::vector<IkeLogEvent> log;
  void note(std::string connection, std::string_view event, std::string detail, bool warning = false) {
    log.push_back(IkeLogEvent{std::move(connection), event, std::move(detail), warning});
  }
};

// What an IKE SA needs from its owner (the gateway): randomness, unique
// inbound SPIs, and virtual addresses for remote-access clients.
struct IkeContext {
  std::function<bool(std::span<std::byte>)> random;
  std::function<uint32_t()> new_child_spi;  // never 0, unique among inbound SPIs
  std::function<std::optional<IpAddress>(const std::string& pool, const Identity& peer)> lease;
  std::function<void(const IpAddress&)> release;
  std::span<const PoolConfig> pools;
};

// Counters of one IKE SA, for `cordon ipsec sa list` and the metrics.
struct IkeSaCounters {
  uint64_t retransmits = 0;
  uint64_t child_rekeys = 0;
  uint64_t ike_rekeys = 0;
  uint64_t dropped = 0;  // messages refused (bad ICV, wrong ID, malformed)
};

class IkeSa {
 public:
  // Starts IKE_SA_INIT as initiator towards `remote`, with `child` (may be
  // null) to be created in IKE_AUTH.
  static std::unique_ptr<IkeSa> initiate(std::shared_ptr<const ConnectionConfig> connection,
                                         const ChildConfig* child, Endpoint local, Endpoint remote, const Now& now,
                                         IkeContext& context, IkeEvents& events);
  // Answers an IKE_SA_INIT request with `connection` (chosen by the gateway
  // from the addresses and proposals). nullptr when the request is refused;
  // the refusal (NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD) is in `events`.
  static std::unique_ptr<IkeSa> respond(std::shared_ptr<const ConnectionConfig> connection,
                                        std::span<const std::shared_ptr<const ConnectionConfig>> candidates,
                                        const IkeMessage& request, std::span<const std::byte> raw,
                                        Endpoint local, Endpoint remote, const Now& now, IkeContext& context,
                                        IkeEvents& events);
  ~IkeSa();

  // A message for this SA (its SPIs matched). `raw` is the IKE message
  // without the non-ESP marker; `local_port` is the port it arrived on.
  void receive(const IkeMessage& message, std::span<const std::byte> raw, Endpoint from, uint16_t local_port,
               const Now& now, IkeContext& context, IkeEvents& events);
  // Timers; returns the next deadline (monotonic ns).
  int64_t tick(const Now& now, IkeContext& context, IkeEvents& events);

  // Operator actions (`cordon ipsec connection up|down`).
  void create_child(const ChildConfig& child, const Now& now, IkeContext& context, IkeEvents& events);
  void rekey_child(uint32_t inbound_spi, const Now& now, IkeContext& context, IkeEvents& events);
  void rekey_ike(const Now& now, IkeContext& context, IkeEvents& events);
  void close(const Now& now, IkeContext& context, IkeEvents& events);
  // Drops the SA and its children without telling the peer, which has
  // forgotten them (INITIAL_CONTACT, section 2.4).
  void abandon(IkeEvents& events);

  // The data path saw traffic on a child (so DPD need not probe), or hit a
  // child's soft limit (rekey now).
  void child_limit_reached(uint32_t inbound_spi, const Now& now, IkeContext& context, IkeEvents& events);

  uint64_t spi_i() const;
  uint64_t spi_r() const;
  bool initiator() const;
  IkeState state() const;
  const std::string& connection_name() const;
  Endpoint remote() const;
  const IkeSaCounters& counters() const;
  std::string remote_identity() const;
  std::string chosen_name() const;  // "aes256gcm16-prfsha256-ecp256", empty before IKE_SA_INIT ends
  int64_t established_at() const;
  // Remote-access: the address handed to the peer (section 3.15).
  std::optional<IpAddress> virtual_ip() const;
  // Closed because the peer stopped answering (section 2.4).
  bool died() const;
  // The inbound SPIs of the CHILD_SAs this IKE SA owns.
  std::vector<uint32_t> children() const;
  // An IKE SA that a rekey of this one made (section 2.18), one per call,
  // null when there is none left: the gateway adds it to its table. After
  // simultaneous rekeys there are two (section 2.8.2).
  std::unique_ptr<IkeSa> take_successor();

  struct State;
  // An IKE SA made from a rekey's state (ike_rekey.cpp).
  static std::unique_ptr<IkeSa> from_state(std::unique_ptr<State> state);

 private:
  explicit IkeSa(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace cordon::ipsec
