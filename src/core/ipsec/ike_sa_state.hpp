// The inside of an IKE SA (ike_sa.hpp), shared by the files that hold its
// exchanges. Not for use outside src/core/ipsec.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "core/ipsec/ike_auth.hpp"
#include "core/ipsec/ike_sa.hpp"

namespace cordon::ipsec {

// The exchange an outstanding request of ours belongs to, with what its
// response consumer needs.
struct InitExchange {
  std::optional<DhKey> dh;
  const ChildConfig* child = nullptr;  // created in IKE_AUTH
};
struct AuthExchange {
  const ChildConfig* child = nullptr;
  uint32_t inbound_spi = 0;  // the child's, offered in the SA payload
  std::vector<TrafficSelector> ts_i, ts_r;
  bool asked_for_address = false;
};
struct ChildExchange {  // a new CHILD_SA, or a rekey of one (section 1.3.1, 1.3.3)
  const ChildConfig* child = nullptr;
  uint32_t inbound_spi = 0;
  uint32_t rekeyed_spi = 0;  // 0: a new CHILD_SA
  std::vector<std::byte> nonce;
  std::optional<DhKey> dh;
  std::vector<TrafficSelector> ts_i, ts_r;
};
struct IkeRekeyExchange {  // section 1.3.2
  uint64_t new_spi = 0;
  std::vector<std::byte> nonce;
  std::optional<DhKey> dh;
};
struct DeleteExchange {
  std::vector<uint32_t> spis;  // empty: the IKE SA itself
};
struct LivenessExchange {};

using Exchange = std::variant<InitExchange, AuthExchange, ChildExchange, IkeRekeyExchange, DeleteExchange,
                              LivenessExchange>;

// An exchange waiting for the window (we keep one request outstanding:
// section 2.3, window size 1).
struct QueuedRequest {
  enum class Kind : uint8_t { kNewChild, kRekeyChild, kRekeyIke, kDeleteChild, kDeleteIke, kLiveness };
  Kind kind = Kind::kLiveness;
  const ChildConfig* child = nullptr;
  uint32_t spi = 0;
};

struct Outstanding {
  uint32_t message_id = 0;
  ExchangeType type = ExchangeType::kInformational;
  std::vector<std::vector<std::byte>> datagrams;  // as sent: retransmitted unchanged (section 2.1)
  int tries = 0;
  int64_t deadline_ns = 0;
  Exchange exchange;
};

struct ChildSa {
  const ChildConfig* config = nullptr;
  uint32_t inbound_spi = 0;
  uint32_t outbound_spi = 0;
  Chosen chosen;
  std::vector<TrafficSelector> local_ts, remote_ts;
  int64_t rekey_at_ns = 0;  // 0: never
  bool rekeying = false;    // a rekey of ours is outstanding
  bool replaced = false;    // rekeyed: deleted once the new one is up
  std::vector<std::byte> rekey_nonces_low;  // simultaneous rekey (section 2.8.1)
  std::optional<IpAddress> virtual_ip;
};

// Fragments of one message being reassembled (RFC 7383 section 2.6).
struct Reassembly {
  uint32_t message_id = 0;
  bool response = false;
  uint16_t total = 0;
  PayloadType first = PayloadType::kNone;
  std::map<uint16_t, std::vector<std::byte>> pieces;  // decrypted contents by fragment number
};

struct IkeSa::State {
  std::shared_ptr<const ConnectionConfig> conn;
  std::vector<std::shared_ptr<const ConnectionConfig>> candidates;  // responder: for IKE_AUTH's choice
  bool initiator = true;
  IkeState state = IkeState::kInitSent;
  uint64_t spi_i = 0, spi_r = 0;
  Endpoint local, remote;
  bool nat_t = false;            // floated to 4500 (RFC 3948; section 2.23)
  bool behind_nat_local = false, behind_nat_remote = false;
  bool peer_fragmentation = false;

  Chosen ike;
  IkeSaKeys keys;
  std::optional<Cipher> out_cipher, in_cipher;
  uint64_t iv_counter = 0;
  std::vector<std::byte> nonce_i, nonce_r;
  std::vector<std::byte> init_request, init_response;  // IKE_SA_INIT as sent/received, for AUTH (2.15)
  std::vector<std::byte> cookie;                       // the responder's COOKIE, echoed (2.6)
  Identity peer_id;
  std::vector<SignatureHash> peer_hashes;  // RFC 7427 section 4: what the peer verifies
  bool peer_wants_certificate = false;     // it sent CERTREQ (section 3.7)
  std::optional<IpAddress> virtual_ip;     // remote-access: what we gave the peer (section 3.15)

  uint32_t next_request_id = 0;      // our next request's message ID
  uint32_t expected_request_id = 0;  // the peer's next request
  std::optional<Outstanding> outstanding;
  std::deque<QueuedRequest> queue;
  bool have_last_response = false;
  uint32_t last_response_id = 0;
  std::vector<std::vector<std::byte>> last_response;  // resent for a retransmitted request (2.1)
  std::optional<Reassembly> reassembly;

  std::map<uint32_t, ChildSa> children;  // by inbound SPI
  int64_t created_ns = 0, established_ns = 0, last_heard_ns = 0, rekey_at_ns = 0;
  int64_t next_keepalive_ns = 0;  // behind a NAT: the next NAT keepalive (RFC 3948 section 4)
  IkeSaCounters counters;
  bool dead = false;  // closed after retransmissions went unanswered (section 2.4)
  // Replaced by a rekey (section 2.18), or the redundant one of two
  // simultaneous rekeys (2.8.2): it holds no children and only waits to be
  // deleted, by whoever section 2.18 says, or by us past peer_delete_by_ns.
  bool retired = false;
  int64_t peer_delete_by_ns = 0;  // 0: the peer is not expected to delete it
  // Section 2.8.2: the peer's rekey of this IKE SA, answered while ours was
  // in flight. Its new IKE SA waits here, children not yet moved, until
  // ours is answered or the peer deletes this one; `collision_nonce_low`
  // is the lower of that exchange's two nonces.
  std::unique_ptr<State> collision;
  std::vector<std::byte> collision_nonce_low;
  std::vector<std::unique_ptr<IkeSa>> successors;  // for the gateway to take

  const std::string& name() const { return conn->name; }
};

// Shared machinery (ike_sa.cpp), used by every exchange's file.
namespace ike {

// Random bytes from the context; false (and the SA fails) if there are none.
bool random_bytes(IkeContext& context, std::span<std::byte> out);
std::vector<std::byte> new_nonce(IkeContext& context);
uint64_t new_ike_spi(IkeContext& context);
// A key exchange of `group` from the context's randomness; nullopt for
// kNone, an unsupported group or no randomness.
std::optional<DhKey> new_dh(DhGroup group, IkeContext& context);

// Sends `payloads` as a new request of `type` (SK-protected unless
// IKE_SA_INIT), records it as outstanding with `exchange`.
bool send_request(IkeSa::State& s, ExchangeType type, std::vector<Payload> payloads, Exchange exchange,
                  const Now& now, IkeEvents& events);
// Sends `payloads` as the response to request `message_id`, keeping it for
// retransmitted requests.
bool send_response(IkeSa::State& s, ExchangeType type, uint32_t message_id, std::vector<Payload> payloads,
                   IkeEvents& events);
// The datagram(s) of a protected message (SK, or SKF fragments when the
// peer supports them and the message is large).
std::optional<std::vector<std::vector<std::byte>>> protect(IkeSa::State& s, const IkeHeader& header,
                                                           std::span<const Payload> payloads);
// Puts datagrams on the wire from this SA's port (with the non-ESP marker
// on 4500).
void transmit(const IkeSa::State& s, std::span<const std::vector<std::byte>> datagrams, IkeEvents& events);

// Section 2.1: the wait before retransmission number `tries` (0: the first
// send).
int64_t retransmit_delay(const IkeSa::State& s, int tries);
int retransmit_tries(const IkeSa::State& s);
// Builds the Cipher pair of the IKE SA from its keys.
bool make_ike_ciphers(IkeSa::State& s);
// The payloads of an SK-protected message, decrypted; nullopt when the ICV
// fails or the content is malformed (counted as dropped). For fragments,
// nullopt until the last one arrives.
// `critical` receives the type of an unknown payload with the critical
// bit inside a message that decrypted (section 2.5).
std::optional<std::vector<Payload>> unprotect(IkeSa::State& s, const IkeMessage& message,
                                              std::span<const std::byte> raw, uint8_t* critical = nullptr);

// The first Notify of an error type (below 16384, section 3.10.1), if any.
const NotifyPayload* find_error(std::span<const Payload> payloads);
Payload notify(NotifyType type, std::vector<std::byte> data = {}, ProtocolId protocol = ProtocolId::kNone,
               std::vector<std::byte> spi = {});
std::string_view notify_name(NotifyType type);

// The state transitions every exchange uses.
void established(IkeSa::State& s, const Now& now, IkeEvents& events);
void fail(IkeSa::State& s, std::string_view event, std::string detail, IkeEvents& events);
void start_next_request(IkeSa::State& s, const Now& now, IkeContext& context, IkeEvents& events);

}  // namespace ike

// The exchanges (one file each).
namespace ike_init {
std::optional<std::vector<Payload>> build_request(IkeSa::State& s, InitExchange& exchange, IkeContext& context);
void consume_response(IkeSa::State& s, InitExchange& exchange, const IkeMessage& message,
                      std::span<const std::byte> raw, const Now& now, IkeContext& context, IkeEvents& events);
}  // namespace ike_init

namespace ike_auth {
// Section 3.7: CERTREQ naming the CAs we trust for the peer's certificate.
std::optional<CertReqPayload> certificate_request(const ConnectionConfig& conn);
void send_request(IkeSa::State& s, const ChildConfig* child, const Now& now, IkeContext& context,
                  IkeEvents& events);
void consume_request(IkeSa::State& s, uint32_t message_id, std::span<const Payload> payloads, const Now& now,
                     IkeContext& context, IkeEvents& events);
void consume_response(IkeSa::State& s, AuthExchange& exchange, std::span<const Payload> payloads, const Now& now,
                      IkeContext& context, IkeEvents& events);
}  // namespace ike_auth

namespace ike_child {
// The child proposals, selectors and keys shared by IKE_AUTH and
// CREATE_CHILD_SA (sections 1.3 and 2.9).
std::vector<TrafficSelector> local_selectors(const IkeSa::State& s, const ChildConfig& child);
std::vector<TrafficSelector> remote_selectors(const IkeSa::State& s, const ChildConfig& child,
                                              const std::optional<IpAddress>& virtual_ip);
// Section 2.9: the intersection of what the peer proposed and what we
// allow; empty when nothing is left (TS_UNACCEPTABLE).
std::vector<TrafficSelector> narrow(std::span<const TrafficSelector> proposed, std::span<const TrafficSelector> allowed);
// Installs a child whose transforms and SPIs are settled: derives KEYMAT
// (section 2.17) and emits child_up.
bool install(IkeSa::State& s, const ChildConfig& child, const Chosen& chosen, uint32_t inbound_spi,
             uint32_t outbound_spi, std::span<const std::byte> g_ir, std::span<const std::byte> nonce_i,
             std::span<const std::byte> nonce_r, std::vector<TrafficSelector> local_ts,
             std::vector<TrafficSelector> remote_ts, uint32_t replaces, bool exchange_initiator,
             std::optional<IpAddress> virtual_ip, const Now& now, IkeEvents& events);
void start(IkeSa::State& s, const QueuedRequest& request, const Now& now, IkeContext& context, IkeEvents& events);
void consume_request(IkeSa::State& s, uint32_t message_id, std::span<const Payload> payloads, const Now& now,
                     IkeContext& context, IkeEvents& events);
void consume_response(IkeSa::State& s, Exchange& exchange, std::span<const Payload> payloads, const Now& now,
                      IkeContext& context, IkeEvents& events);
void answer_error(IkeSa::State& s, uint32_t message_id, NotifyType type, IkeEvents& events);
std::vector<std::byte> spi_bytes(uint32_t spi);
std::optional<uint32_t> spi_of(std::span<const std::byte> bytes);
Payload ke_payload(const DhKey& dh);
// IKE SA rekey (section 1.3.2, ike_rekey.cpp): the responder's answer and
// the initiator's use of it. Both hand the new IKE SA to the old one's
// `successors` with the children moved over; when both ends rekeyed at
// once, the one made with the lowest nonce is the redundant one (2.8.2).
void answer_ike_rekey(IkeSa::State& s, uint32_t message_id, const SaPayload& sa, const NoncePayload& nonce,
                      const KePayload* ke, const Now& now, IkeContext& context, IkeEvents& events);
void finish_ike_rekey(IkeSa::State& s, IkeRekeyExchange& exchange, std::span<const Payload> payloads,
                      const Now& now, IkeContext& context, IkeEvents& events);
// The peer deletes this IKE SA while our rekey of it is in flight: it
// finished its own rekey without seeing ours (section 2.8.2), so the IKE SA
// it made takes the children and ours is forgotten.
void peer_deleted_during_rekey(IkeSa::State& s, const Now& now, IkeContext& context, IkeEvents& events);
// Section 2.25: how long the peer's retransmissions of a request last
// (taken to be as long as ours); an SA the peer should delete and has not
// by then, we delete.
int64_t peer_delete_grace(const IkeSa::State& s);
// The ChildConfig of this connection whose selectors fit the proposed ones.
const ChildConfig* match_child(const IkeSa::State& s, std::span<const TrafficSelector> ts_i,
                               std::span<const TrafficSelector> ts_r);
}  // namespace ike_child

namespace ike_info {
void start(IkeSa::State& s, const QueuedRequest& request, const Now& now, IkeEvents& events);
void consume_request(IkeSa::State& s, uint32_t message_id, std::span<const Payload> payloads, const Now& now,
                     IkeContext& context, IkeEvents& events);
void consume_response(IkeSa::State& s, Exchange& exchange, std::span<const Payload> payloads, const Now& now,
                      IkeContext& context, IkeEvents& events);
}  // namespace ike_info

}  // namespace cordon::ipsec
