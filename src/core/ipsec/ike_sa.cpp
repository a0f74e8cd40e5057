// What every exchange of an IKE SA shares: message IDs, retransmission and
// the cached response (RFC 7296 sections 2.1-2.3), the Encrypted payload
// (section 3.14) and its fragments (RFC 7383), timers, and the accessors.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/ipsec/ike_sa_state.hpp"

namespace cordon::ipsec {

std::string_view ike_state_name(IkeState state) {
  switch (state) {
    case IkeState::kInitSent: return "init_sent";
    case IkeState::kAuthWait: return "auth_wait";
    case IkeState::kAuthSent: return "auth_sent";
    case IkeState::kEstablished: return "established";
    case IkeState::kDeleting: return "deleting";
    case IkeState::kClosed: return "closed";
  }
  return "unknown";
}

namespace ike {

bool random_bytes(IkeContext& context, std::span<std::byte> out) { return context.random && context.random(out); }

std::vector<std::byte> new_nonce(IkeContext& context) {
  std::vector<std::byte> nonce(kNonceSize);
  if (!random_bytes(context, nonce)) nonce.clear();
  return nonce;
}

uint64_t new_ike_spi(IkeContext& context) {
  std::array<std::byte, 8> b{};
  uint64_t spi = 0;
  // Section 3.1: an SPI is never zero.
  while (spi == 0) {
    if (!random_bytes(context, b)) return 0;
    for (std::byte x : b) spi = spi << 8 | static_cast<uint8_t>(x);
  }
  return spi;
}

std::optional<DhKey> new_dh(DhGroup group, IkeContext& context) {
  if (group == DhGroup::kNone) return std::nullopt;
  std::vector<std::byte> random(dh_random_size(group));
  if (random.empty() || !random_bytes(context, random)) return std::nullopt;
  auto key = DhKey::create(group, random);
  crypto::wipe(random);
  if (!key) return std::nullopt;
  return std::move(*key);
}


const NotifyPayload* find_error(std::span<const Payload> payloads) {
  for (const Payload& p : payloads) {
    if (const auto* n = std::get_if<NotifyPayload>(&p.body); n && static_cast<uint16_t>(n->type) < 16384) return n;
  }
  return nullptr;
}

Payload notify(NotifyType type, std::vector<std::byte> data, ProtocolId protocol, std::vector<std::byte> spi) {
  NotifyPayload n;
  n.type = type;
  n.data = std::move(data);
  n.protocol = protocol;
  n.spi = std::move(spi);
  return Payload{n, false};
}

std::string_view notify_name(NotifyType type) {
  switch (type) {
    case NotifyType::kUnsupportedCriticalPayload: return "UNSUPPORTED_CRITICAL_PAYLOAD";
    case NotifyType::kInvalidIkeSpi: return "INVALID_IKE_SPI";
    case NotifyType::kInvalidMajorVersion: return "INVALID_MAJOR_VERSION";
    case NotifyType::kInvalidSyntax: return "INVALID_SYNTAX";
    case NotifyType::kInvalidMessageId: return "INVALID_MESSAGE_ID";
    case NotifyType::kInvalidSpi: return "INVALID_SPI";
    case NotifyType::kNoProposalChosen: return "NO_PROPOSAL_CHOSEN";
    case NotifyType::kInvalidKePayload: return "INVALID_KE_PAYLOAD";
    case NotifyType::kAuthenticationFailed: return "AUTHENTICATION_FAILED";
    case NotifyType::kSinglePairRequired: return "SINGLE_PAIR_REQUIRED";
    case NotifyType::kNoAdditionalSas: return "NO_ADDITIONAL_SAS";
    case NotifyType::kInternalAddressFailure: return "INTERNAL_ADDRESS_FAILURE";
    case NotifyType::kFailedCpRequired: return "FAILED_CP_REQUIRED";
    case NotifyType::kTsUnacceptable: return "TS_UNACCEPTABLE";
    case NotifyType::kInvalidSelectors: return "INVALID_SELECTORS";
    case NotifyType::kTemporaryFailure: return "TEMPORARY_FAILURE";
    case NotifyType::kChildSaNotFound: return "CHILD_SA_NOT_FOUND";
    default: return "notify";
  }
}

bool make_ike_ciphers(IkeSa::State& s) {
  const CipherSpec spec = s.ike.cipher();
  // Section 2.14: the initiator protects with SK_ei/SK_ai, the responder
  // with SK_er/SK_ar.
  const auto& out_e = s.initiator ? s.keys.sk_ei : s.keys.sk_er;
  const auto& out_a = s.initiator ? s.keys.sk_ai : s.keys.sk_ar;
  const auto& in_e = s.initiator ? s.keys.sk_er : s.keys.sk_ei;
  const auto& in_a = s.initiator ? s.keys.sk_ar : s.keys.sk_ai;
  s.out_cipher = Cipher::create(spec, out_e.view(), out_a.view());
  s.in_cipher = Cipher::create(spec, in_e.view(), in_a.view());
  return s.out_cipher && s.in_cipher;
}

// Section 2.1: retransmission intervals grow; strongSwan's formula
// timeout * base^try, so two gateways configured alike give up alike.
int64_t retransmit_delay(const IkeSa::State& s, int tries) {
  const int64_t timeout = s.conn ? s.conn->retransmit_timeout_ns : kDefaultRetransmitTimeoutNs;
  return static_cast<int64_t>(static_cast<double>(timeout) * std::pow(kRetransmitBase, tries));
}

int retransmit_tries(const IkeSa::State& s) { return s.conn ? s.conn->retransmit_tries : kDefaultRetransmitTries; }

namespace {

SkLayout layout_of(const Cipher& c) { return SkLayout{c.iv_size(), c.block_size(), c.icv_size()}; }

IkeHeader header_for(const IkeSa::State& s, ExchangeType type, uint32_t message_id, bool response) {
  IkeHeader h;
  h.spi_i = s.spi_i;
  h.spi_r = s.spi_r;
  h.exchange = type;
  h.initiator = s.initiator;
  h.response = response;
  h.message_id = message_id;
  return h;
}

std::optional<std::vector<std::vector<std::byte>>> encode(IkeSa::State& s, const IkeHeader& header,
                                                          std::vector<Payload> payloads) {
  if (header.exchange == ExchangeType::kIkeSaInit) {
    IkeMessage m{header, std::move(payloads)};
    auto bytes = serialize_ike_message(m);
    if (!bytes) return std::nullopt;
    return std::vector<std::vector<std::byte>>{std::move(*bytes)};
  }
  return protect(s, header, payloads);
}

}  // namespace

std::optional<std::vector<std::vector<std::byte>>> protect(IkeSa::State& s, const IkeHeader& header,
                                                           std::span<const Payload> payloads) {
  if (!s.out_cipher) return std::nullopt;
  // An empty INFORMATIONAL (a liveness check) has an SK payload with no
  // inner payload: its Next Payload is "none" (section 1.4).
  auto inner = serialize_payload_chain(payloads);
  if (!inner) return std::nullopt;
  const PayloadType first = payloads.empty() ? PayloadType::kNone : payloads.front().type();
  Cipher& cipher = *s.out_cipher;
  const SkLayout layout = layout_of(cipher);
  const SkSealer seal = [&](const SkSealView& v) {
    cipher.make_iv(s.iv_counter++, v.iv);
    return cipher.seal(v.associated_data, v.iv, v.plaintext, v.icv);
  };
  // RFC 7383 section 2.5.1: fragment only when the peer said it can
  // reassemble and the message would not fit the fragment size.
  const size_t overhead = kIkeHeaderSize + 8 + layout.iv_size + layout.icv_size + layout.block_size;
  const size_t udp_room = kFragmentSize - (s.remote.address.is_v4() ? 28 : 48) - (s.nat_t ? 4 : 0);
  if (s.peer_fragmentation && s.conn->fragmentation && header.exchange != ExchangeType::kIkeSaInit &&
      inner->size() + overhead > udp_room) {
    auto fragments = build_encrypted_fragments(header, first, *inner, udp_room - overhead, layout, seal);
    if (!fragments) return std::nullopt;
    return std::move(*fragments);
  }
  auto message = build_encrypted_message(header, first, *inner, layout, seal);
  if (!message) return std::nullopt;
  return std::vector<std::vector<std::byte>>{std::move(*message)};
}

void transmit(const IkeSa::State& s, std::span<const std::vector<std::byte>> datagrams, IkeEvents& events) {
  for (const auto& d : datagrams) {
    IkeDatagram out;
    out.local_port = s.nat_t ? kNatTraversalPort : kIkePort;
    out.remote = s.remote;
    if (s.nat_t) out.payload.assign(4, std::byte{0});  // the non-ESP marker (RFC 3948 section 2.2)
    out.payload.insert(out.payload.end(), d.begin(), d.end());
    events.send.push_back(std::move(out));
  }
}

bool send_request(IkeSa::State& s, ExchangeType type, std::vector<Payload> payloads, Exchange exchange,
                  const Now& now, IkeEvents& events) {
  const uint32_t id = s.next_request_id;
  auto datagrams = encode(s, header_for(s, type, id, false), std::move(payloads));
  if (!datagrams) {
    fail(s, "ike_failed", "could not build a request", events);
    return false;
  }
  ++s.next_request_id;
  transmit(s, *datagrams, events);
  s.outstanding = Outstanding{id, type, std::move(*datagrams), 0, now.mono_ns + retransmit_delay(s, 0),
                              std::move(exchange)};
  return true;
}

bool send_response(IkeSa::State& s, ExchangeType type, uint32_t message_id, std::vector<Payload> payloads,
                   IkeEvents& events) {
  auto datagrams = encode(s, header_for(s, type, message_id, true), std::move(payloads));
  if (!datagrams) return false;
  transmit(s, *datagrams, events);
  s.have_last_response = true;
  s.last_response_id = message_id;
  s.last_response = std::move(*datagrams);
  return true;
}

std::optional<std::vector<Payload>> unprotect(IkeSa::State& s, const IkeMessage& message,
                                              std::span<const std::byte> raw, uint8_t* critical) {
  auto chain_of = [&](PayloadType first, std::span<const std::byte> inner) -> std::optional<std::vector<Payload>> {
    auto chain = parse_payload_chain(first, inner, message.header.role());
    if (chain) return std::move(*chain);
    if (critical && chain.error().kind == IkeParseError::Kind::kUnsupportedCritical) {
      *critical = chain.error().payload_type;
    }
    return std::nullopt;
  };
  if (!s.in_cipher || message.payloads.empty()) return std::nullopt;
  const Payload& last = message.payloads.back();
  const SkLayout layout = layout_of(*s.in_cipher);
  auto open = [&](std::span<const std::byte> body, size_t aad_end) -> std::optional<std::vector<std::byte>> {
    auto parts = split_encrypted_body(body, layout);
    if (!parts || aad_end > raw.size()) return std::nullopt;
    std::vector<std::byte> plain(parts->ciphertext.begin(), parts->ciphertext.end());
    if (!s.in_cipher->open(raw.first(aad_end), parts->iv, plain, parts->icv)) return std::nullopt;
    auto inner = strip_sk_padding(plain);
    if (!inner) return std::nullopt;
    return std::vector<std::byte>(inner->begin(), inner->end());
  };
  if (const auto* sk = std::get_if<EncryptedPayload>(&last.body)) {
    auto inner = open(sk->body, sk->offset + kGenericPayloadHeaderSize);
    if (!inner) return std::nullopt;
    return chain_of(sk->first_inner, *inner);
  }
  const auto* skf = std::get_if<EncryptedFragmentPayload>(&last.body);
  if (!skf) return std::nullopt;
  auto piece = open(skf->body, skf->offset + kGenericPayloadHeaderSize + 4);
  if (!piece) return std::nullopt;
  // RFC 7383 section 2.6: fragments of one message share its ID; a new
  // ID starts over.
  Reassembly& r = s.reassembly && s.reassembly->message_id == message.header.message_id &&
                          s.reassembly->response == message.header.response
                      ? *s.reassembly
                      : s.reassembly.emplace(Reassembly{message.header.message_id, message.header.response,
                                                        skf->total_fragments, PayloadType::kNone, {}});
  if (skf->total_fragments != r.total) return std::nullopt;
  if (skf->fragment_number == 1) r.first = skf->first_inner;
  r.pieces.emplace(skf->fragment_number, std::move(*piece));
  if (r.pieces.size() < r.total) return std::nullopt;
  std::vector<std::byte> whole;
  for (auto& [number, bytes] : r.pieces) whole.insert(whole.end(), bytes.begin(), bytes.end());
  const PayloadType first = r.first;
  s.reassembly.reset();
  return chain_of(first, whole);
}

void established(IkeSa::State& s, const Now& now, IkeEvents& events) {
  s.state = IkeState::kEstablished;
  s.established_ns = now.mono_ns;
  s.next_keepalive_ns = now.mono_ns + kNatKeepaliveNs;
  if (s.conn->rekey_time_ns > 0) s.rekey_at_ns = now.mono_ns + s.conn->rekey_time_ns;
  events.note(s.name(), "ike_established",
              fmt::format("{} {} as {}, {}", s.remote.to_string(), s.peer_id.text,
                          s.initiator ? "initiator" : "responder", chosen_name(s.ike, ProtocolId::kIke)));
}

void fail(IkeSa::State& s, std::string_view event, std::string detail, IkeEvents& events) {
  events.note(s.name(), event, fmt::format("{}: {}", s.remote.to_string(), detail), true);
  for (const auto& [spi, child] : s.children) events.child_down.push_back(spi);
  s.children.clear();
  s.state = IkeState::kClosed;
  s.outstanding.reset();
  s.queue.clear();
}

void start_next_request(IkeSa::State& s, const Now& now, IkeContext& context, IkeEvents& events) {
  while (!s.outstanding && !s.queue.empty() && s.state == IkeState::kEstablished) {
    const QueuedRequest next = s.queue.front();
    s.queue.pop_front();
    // A retired IKE SA (section 2.18) has nothing left to do but go.
    if (s.retired && next.kind != QueuedRequest::Kind::kDeleteIke) continue;
    switch (next.kind) {
      case QueuedRequest::Kind::kNewChild:
      case QueuedRequest::Kind::kRekeyChild:
      case QueuedRequest::Kind::kRekeyIke:
        ike_child::start(s, next, now, context, events);
        break;
      case QueuedRequest::Kind::kDeleteChild:
      case QueuedRequest::Kind::kDeleteIke:
      case QueuedRequest::Kind::kLiveness:
        ike_info::start(s, next, now, events);
        break;
    }
  }
}

}  // namespace ike

namespace {

// Section 2.23: once a protected message arrives on 4500, IKE and ESP stay
// there, answered where the peer's NAT maps it (its port may change).
void follow_peer(IkeSa::State& s, bool floated, const Endpoint& from) {
  if (!floated) return;
  s.nat_t = true;
  s.remote = from;
}

}  // namespace

IkeSa::IkeSa(std::unique_ptr<State> state) : s_(std::move(state)) {}
IkeSa::~IkeSa() = default;

std::unique_ptr<IkeSa> IkeSa::from_state(std::unique_ptr<State> state) {
  return std::unique_ptr<IkeSa>(new IkeSa(std::move(state)));
}

uint64_t IkeSa::spi_i() const { return s_->spi_i; }
uint64_t IkeSa::spi_r() const { return s_->spi_r; }
bool IkeSa::initiator() const { return s_->initiator; }
IkeState IkeSa::state() const { return s_->state; }
const std::string& IkeSa::connection_name() const { return s_->conn->name; }
Endpoint IkeSa::remote() const { return s_->remote; }
const IkeSaCounters& IkeSa::counters() const { return s_->counters; }
std::string IkeSa::remote_identity() const { return s_->peer_id.text; }
int64_t IkeSa::established_at() const { return s_->established_ns; }
std::optional<IpAddress> IkeSa::virtual_ip() const { return s_->virtual_ip; }
bool IkeSa::died() const { return s_->dead; }
std::unique_ptr<IkeSa> IkeSa::take_successor() {
  if (s_->successors.empty()) return nullptr;
  std::unique_ptr<IkeSa> next = std::move(s_->successors.back());
  s_->successors.pop_back();
  return next;
}

std::string IkeSa::chosen_name() const {
  return s_->out_cipher ? ipsec::chosen_name(s_->ike, ProtocolId::kIke) : std::string();
}

std::vector<uint32_t> IkeSa::children() const {
  std::vector<uint32_t> out;
  for (const auto& [spi, child] : s_->children) out.push_back(spi);
  return out;
}

namespace {

// The payloads of a protected message that decrypted, with the peer's
// address followed (section 2.23); nullopt when it is dropped or a
// fragment of one still incomplete.
std::optional<std::vector<Payload>> accept_protected(IkeSa::State& s, const IkeMessage& message,
                                                     std::span<const std::byte> raw, Endpoint from,
                                                     uint16_t local_port, const Now& now, uint8_t* critical = nullptr) {
  auto payloads = ike::unprotect(s, message, raw, critical);
  if (!payloads) {
    if (!s.reassembly) ++s.counters.dropped;
    return std::nullopt;
  }
  s.last_heard_ns = now.mono_ns;
  follow_peer(s, local_port == kNatTraversalPort, from);
  return payloads;
}

// Section 2.3: a response matches our outstanding request, or is dropped
// (a late duplicate).
void receive_response(IkeSa::State& s, const IkeMessage& message, std::span<const std::byte> raw, Endpoint from,
                      uint16_t local_port, const Now& now, IkeContext& context, IkeEvents& events) {
  const IkeHeader& h = message.header;
  if (!s.outstanding || h.message_id != s.outstanding->message_id || h.exchange != s.outstanding->type) {
    ++s.counters.dropped;
    return;
  }
  if (h.exchange == ExchangeType::kIkeSaInit) {
    auto& init = std::get<InitExchange>(s.outstanding->exchange);
    ike_init::consume_response(s, init, message, raw, now, context, events);
    return;
  }
  auto payloads = accept_protected(s, message, raw, from, local_port, now);
  if (!payloads) return;
  Outstanding done = std::move(*s.outstanding);
  s.outstanding.reset();
  switch (h.exchange) {
    case ExchangeType::kIkeAuth:
      ike_auth::consume_response(s, std::get<AuthExchange>(done.exchange), *payloads, now, context, events);
      break;
    case ExchangeType::kCreateChildSa:
      ike_child::consume_response(s, done.exchange, *payloads, now, context, events);
      break;
    case ExchangeType::kInformational:
      ike_info::consume_response(s, done.exchange, *payloads, now, context, events);
      break;
    default:
      break;
  }
}

// Section 2.1: a retransmission of the last request gets the same response
// again; older ones are dropped; the next one is processed.
void receive_request(IkeSa::State& s, const IkeMessage& message, std::span<const std::byte> raw, Endpoint from,
                     uint16_t local_port, const Now& now, IkeContext& context, IkeEvents& events) {
  const IkeHeader& h = message.header;
  if (s.have_last_response && h.message_id == s.last_response_id) {
    ike::transmit(s, s.last_response, events);
    ++s.counters.retransmits;
    return;
  }
  if (h.message_id != s.expected_request_id || h.exchange == ExchangeType::kIkeSaInit) {
    ++s.counters.dropped;
    return;
  }
  uint8_t critical = 0;
  auto payloads = accept_protected(s, message, raw, from, local_port, now, &critical);
  if (!payloads) {
    // Section 2.5: an authentic request with an unknown critical payload
    // is answered with UNSUPPORTED_CRITICAL_PAYLOAD naming it.
    if (critical != 0) {
      ++s.expected_request_id;
      std::vector<Payload> out;
      out.push_back(ike::notify(NotifyType::kUnsupportedCriticalPayload, {static_cast<std::byte>(critical)}));
      ike::send_response(s, h.exchange, h.message_id, std::move(out), events);
    }
    return;
  }
  ++s.expected_request_id;
  switch (h.exchange) {
    case ExchangeType::kIkeAuth:
      if (s.initiator || s.state != IkeState::kAuthWait) {
        ++s.counters.dropped;
        return;
      }
      ike_auth::consume_request(s, h.message_id, *payloads, now, context, events);
      break;
    case ExchangeType::kCreateChildSa:
      ike_child::consume_request(s, h.message_id, *payloads, now, context, events);
      break;
    case ExchangeType::kInformational:
      ike_info::consume_request(s, h.message_id, *payloads, now, context, events);
      break;
    default:
      ++s.counters.dropped;
      break;
  }
}

}  // namespace

void IkeSa::receive(const IkeMessage& message, std::span<const std::byte> raw, Endpoint from, uint16_t local_port,
                    const Now& now, IkeContext& context, IkeEvents& events) {
  State& s = *s_;
  if (s.state == IkeState::kClosed) return;
  if (message.header.response) {
    receive_response(s, message, raw, from, local_port, now, context, events);
  } else {
    receive_request(s, message, raw, from, local_port, now, context, events);
  }
  ike::start_next_request(s, now, context, events);
}

int64_t IkeSa::tick(const Now& now, IkeContext& context, IkeEvents& events) {
  State& s = *s_;
  constexpr int64_t kFar = INT64_MAX;
  if (s.state == IkeState::kClosed) return kFar;
  // Retransmission (section 2.1), then giving up (section 2.4).
  if (s.outstanding && now.mono_ns >= s.outstanding->deadline_ns) {
    if (s.outstanding->tries + 1 >= ike::retransmit_tries(s)) {
      // A delete the peer never answers ends the SA all the same, as does
      // silence on an SA a rekey retired: the peer may have deleted it
      // first (sections 2.4, 2.18). Not a dead peer to restart.
      if (s.state == IkeState::kDeleting || s.retired) {
        ike::fail(s, "ike_closed", "the peer did not answer our delete", events);
        return kFar;
      }
      s.dead = true;
      ike::fail(s, "peer_dead", fmt::format("no answer to {} retransmissions", ike::retransmit_tries(s)), events);
      return kFar;
    }
    ++s.outstanding->tries;
    ++s.counters.retransmits;
    s.outstanding->deadline_ns = now.mono_ns + ike::retransmit_delay(s, s.outstanding->tries);
    ike::transmit(s, s.outstanding->datagrams, events);
  }
  if (s.state == IkeState::kAuthWait && now.mono_ns - s.created_ns >= kHalfOpenTimeoutNs) {
    ike::fail(s, "half_open_timeout", "no IKE_AUTH within 30 s", events);
    return kFar;
  }
  if (s.state == IkeState::kEstablished && s.nat_t && s.behind_nat_local && now.mono_ns >= s.next_keepalive_ns) {
    events.send.push_back(IkeDatagram{kNatTraversalPort, s.remote, {std::byte{0xff}}});
    s.next_keepalive_ns = now.mono_ns + kNatKeepaliveNs;
  }
  if (s.state == IkeState::kEstablished && s.retired) {
    // Section 2.18: the peer should delete this SA; past the time its
    // retransmissions would take, we do.
    if (s.peer_delete_by_ns > 0 && now.mono_ns >= s.peer_delete_by_ns) {
      s.peer_delete_by_ns = 0;
      s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteIke});
    }
    ike::start_next_request(s, now, context, events);
  } else if (s.state == IkeState::kEstablished) {
    const bool queued = std::any_of(s.queue.begin(), s.queue.end(), [](const QueuedRequest& q) {
      return q.kind == QueuedRequest::Kind::kLiveness;
    });
    // Section 2.4: probe a peer heard from too long ago.
    if (s.conn->dpd_delay_ns > 0 && now.mono_ns - s.last_heard_ns >= s.conn->dpd_delay_ns && !s.outstanding &&
        !queued) {
      s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kLiveness});
    }
    if (s.rekey_at_ns > 0 && now.mono_ns >= s.rekey_at_ns) {
      s.rekey_at_ns = 0;
      s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kRekeyIke});
    }
    for (auto& [spi, child] : s.children) {
      if (child.rekey_at_ns > 0 && now.mono_ns >= child.rekey_at_ns && !child.rekeying && !child.replaced) {
        child.rekey_at_ns = 0;
        s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kRekeyChild, child.config, spi});
      }
    }
    ike::start_next_request(s, now, context, events);
  }
  int64_t next = kFar;
  if (s.outstanding) next = std::min(next, s.outstanding->deadline_ns);
  if (s.state == IkeState::kAuthWait) next = std::min(next, s.created_ns + kHalfOpenTimeoutNs);
  if (s.state == IkeState::kEstablished && s.retired) {
    if (s.peer_delete_by_ns > 0) next = std::min(next, s.peer_delete_by_ns);
  } else if (s.state == IkeState::kEstablished) {
    // The liveness check is due once nothing is outstanding (an
    // outstanding request is itself the check).
    if (s.conn->dpd_delay_ns > 0 && !s.outstanding) {
      next = std::min(next, std::max(now.mono_ns + 1, s.last_heard_ns + s.conn->dpd_delay_ns));
    }
    if (s.rekey_at_ns > 0) next = std::min(next, s.rekey_at_ns);
    if (s.nat_t && s.behind_nat_local) next = std::min(next, s.next_keepalive_ns);
    for (const auto& [spi, child] : s.children) {
      if (child.rekey_at_ns > 0) next = std::min(next, child.rekey_at_ns);
    }
  }
  return next;
}

void IkeSa::create_child(const ChildConfig& child, const Now& now, IkeContext& context, IkeEvents& events) {
  s_->queue.push_back(QueuedRequest{QueuedRequest::Kind::kNewChild, &child});
  ike::start_next_request(*s_, now, context, events);
}

void IkeSa::rekey_child(uint32_t inbound_spi, const Now& now, IkeContext& context, IkeEvents& events) {
  auto it = s_->children.find(inbound_spi);
  if (it == s_->children.end() || it->second.rekeying || it->second.replaced) return;
  s_->queue.push_back(QueuedRequest{QueuedRequest::Kind::kRekeyChild, it->second.config, inbound_spi});
  ike::start_next_request(*s_, now, context, events);
}

void IkeSa::child_limit_reached(uint32_t inbound_spi, const Now& now, IkeContext& context, IkeEvents& events) {
  rekey_child(inbound_spi, now, context, events);
}

void IkeSa::rekey_ike(const Now& now, IkeContext& context, IkeEvents& events) {
  s_->queue.push_back(QueuedRequest{QueuedRequest::Kind::kRekeyIke});
  ike::start_next_request(*s_, now, context, events);
}

void IkeSa::abandon(IkeEvents& events) {
  for (const auto& [spi, child] : s_->children) events.child_down.push_back(spi);
  s_->children.clear();
  s_->outstanding.reset();
  s_->queue.clear();
  s_->state = IkeState::kClosed;
  events.note(s_->name(), "ike_replaced", fmt::format("{}: the peer made contact anew (INITIAL_CONTACT)", s_->remote.to_string()));
}

void IkeSa::close(const Now& now, IkeContext& context, IkeEvents& events) {
  State& s = *s_;
  if (s.state == IkeState::kDeleting || s.state == IkeState::kClosed) return;  // already on its way
  if (s.state != IkeState::kEstablished) {
    ike::fail(s, "ike_closed", "closed before it was established", events);
    return;
  }
  s.queue.clear();
  s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteIke});
  ike::start_next_request(s, now, context, events);
}

}  // namespace cordon::ipsec
