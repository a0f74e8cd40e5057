// IKE_SA_INIT (RFC 7296 section 1.2): proposals, the key exchange, nonces,
// NAT detection (section 2.23), cookies (section 2.6) and the IKE SA's keys
// (section 2.14).
//
//   Initiator                         Responder
//   HDR, SAi1, KEi, Ni,
//     N(NAT_DETECTION_*), N(FRAG)  -->
//                                <--  HDR, SAr1, KEr, Nr, [CERTREQ],
//                                       N(NAT_DETECTION_*), N(FRAG)
#include <array>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "core/ipsec/ike_auth.hpp"
#include "core/ipsec/ike_sa_state.hpp"
#include "core/ipsec/proposal_wire.hpp"

namespace cordon::ipsec {
namespace {

void put64(std::vector<std::byte>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::byte>(v >> shift));
}

// Section 2.23: SHA-1(SPIi | SPIr | IP address | port), from OpenSSL.
std::vector<std::byte> nat_hash(uint64_t spi_i, uint64_t spi_r, const Endpoint& e) {
  std::vector<std::byte> input;
  put64(input, spi_i);
  put64(input, spi_r);
  for (size_t i = 0; i < e.address.size(); ++i) input.push_back(static_cast<std::byte>(e.address.bytes[i]));
  input.push_back(static_cast<std::byte>(e.port >> 8));
  input.push_back(static_cast<std::byte>(e.port));
  std::vector<std::byte> digest(20);
  unsigned int size = 0;
  if (EVP_Digest(input.data(), input.size(), reinterpret_cast<unsigned char*>(digest.data()), &size, EVP_sha1(),
                 nullptr) != 1) {
    digest.clear();
  }
  return digest;
}

void add_nat_detection(const IkeSa::State& s, std::vector<Payload>& out) {
  // When the connection forces UDP encapsulation, the source hash is made
  // not to match, so the peer believes in a NAT and floats with us (as
  // strongSwan's `encap = yes` does).
  std::vector<std::byte> source = nat_hash(s.spi_i, s.spi_r, s.local);
  if (s.conn->force_encapsulation && !source.empty()) source[0] ^= std::byte{0xff};
  out.push_back(ike::notify(NotifyType::kNatDetectionSourceIp, std::move(source)));
  out.push_back(ike::notify(NotifyType::kNatDetectionDestinationIp, nat_hash(s.spi_i, s.spi_r, s.remote)));
}

// Section 2.23: a NAT is between us when the peer's hash of our address
// (its destination hash) differs from ours, or its source hash differs
// from what we compute for where the message came from.
void detect_nat(IkeSa::State& s, std::span<const Payload> payloads) {
  const auto expected_local = nat_hash(s.spi_i, s.spi_r, s.local);
  const auto expected_remote = nat_hash(s.spi_i, s.spi_r, s.remote);
  bool saw_source = false, source_match = false;
  for (const Payload& p : payloads) {
    const auto* n = std::get_if<NotifyPayload>(&p.body);
    if (!n) continue;
    if (n->type == NotifyType::kNatDetectionDestinationIp) {
      s.behind_nat_local = n->data != expected_local;
    } else if (n->type == NotifyType::kNatDetectionSourceIp) {
      saw_source = true;
      source_match = source_match || n->data == expected_remote;
    }
  }
  s.behind_nat_remote = saw_source && !source_match;
  if (s.conn->force_encapsulation) s.behind_nat_local = true;
}

void add_common_notifies(const IkeSa::State& s, std::vector<Payload>& out) {
  add_nat_detection(s, out);
  if (s.conn->fragmentation) out.push_back(ike::notify(NotifyType::kFragmentationSupported));
  // RFC 7427 section 4: announce the hashes we verify, for certificate auth.
  if (s.conn->local.kind == AuthKind::kPubkey || s.conn->remote.kind == AuthKind::kPubkey) {
    out.push_back(ike::notify(NotifyType::kSignatureHashAlgorithms,
                              signature_hashes_notify_data(supported_signature_hashes())));
  }
}

bool derive_keys(IkeSa::State& s, const DhKey& dh, std::span<const std::byte> peer_public, IkeEvents& events) {
  auto g_ir = dh.agree(peer_public);
  if (!g_ir) {
    ike::fail(s, "ike_failed", fmt::format("the peer's key exchange value is refused: {}", to_string(g_ir.error())),
              events);
    return false;
  }
  auto seed = skeyseed(s.ike.prf, s.nonce_i, s.nonce_r, g_ir->view());
  if (!seed) return false;
  auto keys = ike_sa_keys(s.ike.prf, TransformKeySizes::of(s.ike.cipher()), seed->view(), s.nonce_i, s.nonce_r,
                          s.spi_i, s.spi_r);
  if (!keys) return false;
  s.keys = std::move(*keys);
  return ike::make_ike_ciphers(s);
}


DhGroup preferred_group(const ConnectionConfig& conn) {
  for (const ProposalSpec& p : conn.proposals) {
    if (!p.dh.empty()) return p.dh.front();
  }
  return DhGroup::kEcp256;
}

bool offered_group(const ConnectionConfig& conn, DhGroup group) {
  for (const ProposalSpec& p : conn.proposals) {
    for (DhGroup g : p.dh) {
      if (g == group) return true;
    }
  }
  return false;
}

// Sends (or sends again, after a COOKIE or INVALID_KE_PAYLOAD) the request.
bool send_init(IkeSa::State& s, InitExchange exchange, IkeContext& context, const Now& now, IkeEvents& events) {
  auto payloads = ike_init::build_request(s, exchange, context);
  if (!payloads) {
    ike::fail(s, "ike_failed", "no randomness or key exchange value for IKE_SA_INIT", events);
    return false;
  }
  s.next_request_id = 0;  // section 2.6: a retry after COOKIE is again message 0
  if (!ike::send_request(s, ExchangeType::kIkeSaInit, std::move(*payloads), std::move(exchange), now, events)) {
    return false;
  }
  s.init_request = s.outstanding->datagrams.front();
  return true;
}

}  // namespace

namespace ike_init {

std::optional<std::vector<Payload>> build_request(IkeSa::State& s, InitExchange& exchange, IkeContext& context) {
  if (!exchange.dh) exchange.dh = ike::new_dh(preferred_group(*s.conn), context);
  if (!exchange.dh || s.nonce_i.empty()) return std::nullopt;
  std::vector<Payload> out;
  // Section 2.6: the cookie goes first.
  if (!s.cookie.empty()) out.push_back(ike::notify(NotifyType::kCookie, s.cookie));
  SaPayload sa;
  for (size_t i = 0; i < s.conn->proposals.size(); ++i) {
    sa.proposals.push_back(to_wire(s.conn->proposals[i], static_cast<uint8_t>(i + 1), {}));
  }
  out.push_back(Payload{std::move(sa), false});
  const Octets pub = exchange.dh->public_value();
  out.push_back(Payload{KePayload{exchange.dh->group(), std::vector<std::byte>(pub.begin(), pub.end())}, false});
  out.push_back(Payload{NoncePayload{s.nonce_i}, false});
  add_common_notifies(s, out);
  return out;
}

void consume_response(IkeSa::State& s, InitExchange& exchange, const IkeMessage& message,
                      std::span<const std::byte> raw, const Now& now, IkeContext& context, IkeEvents& events) {
  const auto& payloads = message.payloads;
  // Section 2.6: the responder wants a cookie; send again with it.
  if (const NotifyPayload* cookie = find_notify(payloads, NotifyType::kCookie)) {
    if (!s.cookie.empty() && s.cookie == cookie->data) return;  // the same cookie twice: wait and retransmit
    s.cookie = cookie->data;
    events.note(s.name(), "cookie_requested", s.remote.to_string());
    send_init(s, std::move(exchange), context, now, events);
    return;
  }
  // Section 1.2: the responder wants another DH group.
  if (const NotifyPayload* ke = find_notify(payloads, NotifyType::kInvalidKePayload)) {
    const DhGroup wanted =
        ke->data.size() == 2 ? static_cast<DhGroup>(static_cast<uint16_t>(ke->data[0]) << 8 | static_cast<uint16_t>(ke->data[1]))
                             : DhGroup::kNone;
    if (!offered_group(*s.conn, wanted) || (exchange.dh && exchange.dh->group() == wanted)) {
      ike::fail(s, "ike_failed", "the peer asked for a DH group this connection does not offer", events);
      return;
    }
    events.note(s.name(), "invalid_ke_payload", fmt::format("retrying with DH group {}", static_cast<int>(wanted)));
    exchange.dh = ike::new_dh(wanted, context);
    send_init(s, std::move(exchange), context, now, events);
    return;
  }
  if (const NotifyPayload* error = ike::find_error(payloads)) {
    const std::string ours = proposals_name(s.conn->proposals);
    ike::fail(s, error->type == NotifyType::kNoProposalChosen ? "no_proposal_chosen" : "ike_failed",
              fmt::format("the peer answered {}; we proposed {}", ike::notify_name(error->type), ours), events);
    return;
  }
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* ke = find_payload<KePayload>(payloads);
  const auto* nonce = find_payload<NoncePayload>(payloads);
  if (!sa || !ke || !nonce || sa->proposals.size() != 1 || message.header.spi_r == 0) {
    ++s.counters.dropped;
    return;  // section 2.21.1: a malformed response is ignored; retransmission goes on
  }
  auto answer = from_wire(sa->proposals.front());
  std::optional<Chosen> chosen = answer ? accept_answer(s.conn->proposals, *answer) : std::nullopt;
  if (!chosen || !exchange.dh || ke->group != chosen->dh || ke->group != exchange.dh->group()) {
    ike::fail(s, "no_proposal_chosen",
              fmt::format("the peer chose {} (DH group {}), which we did not propose ({})",
                          answer ? proposal_name(*answer) : std::string("something unknown"),
                          static_cast<int>(ke->group), proposals_name(s.conn->proposals)),
              events);
    return;
  }
  s.ike = *chosen;
  s.spi_r = message.header.spi_r;
  s.nonce_r = nonce->data;
  s.init_response.assign(raw.begin(), raw.end());
  s.peer_fragmentation = find_notify(payloads, NotifyType::kFragmentationSupported) != nullptr;
  if (const NotifyPayload* hashes = find_notify(payloads, NotifyType::kSignatureHashAlgorithms)) {
    if (auto parsed = parse_signature_hashes_notify(hashes->data)) s.peer_hashes = std::move(*parsed);
  }
  for (const Payload& p : payloads) {
    if (const auto* req = std::get_if<CertReqPayload>(&p.body)) s.peer_wants_certificate = true, (void)req;
  }
  detect_nat(s, payloads);
  if (!derive_keys(s, *exchange.dh, ke->data, events)) {
    if (s.state != IkeState::kClosed) ike::fail(s, "ike_failed", "the IKE SA's keys could not be derived", events);
    return;
  }
  s.outstanding.reset();
  // Section 2.23: with a NAT on either side, IKE_AUTH and everything after
  // go to port 4500 with the non-ESP marker.
  if (s.behind_nat_local || s.behind_nat_remote) {
    s.nat_t = true;
    s.remote.port = kNatTraversalPort;
  }
  s.state = IkeState::kAuthSent;
  ike_auth::send_request(s, exchange.child, now, context, events);
}

}  // namespace ike_init

std::unique_ptr<IkeSa> IkeSa::initiate(std::shared_ptr<const ConnectionConfig> connection, const ChildConfig* child,
                                       Endpoint local, Endpoint remote, const Now& now, IkeContext& context,
                                       IkeEvents& events) {
  auto state = std::make_unique<State>();
  State& s = *state;
  s.conn = std::move(connection);
  s.initiator = true;
  s.state = IkeState::kInitSent;
  s.local = local;
  s.remote = remote;
  s.created_ns = s.last_heard_ns = now.mono_ns;
  s.spi_i = ike::new_ike_spi(context);
  s.nonce_i = ike::new_nonce(context);
  std::unique_ptr<IkeSa> sa(new IkeSa(std::move(state)));
  if (s.spi_i == 0 || s.nonce_i.empty()) {
    ike::fail(s, "ike_failed", "no randomness for the IKE SPI and nonce", events);
    return sa;
  }
  send_init(s, InitExchange{std::nullopt, child}, context, now, events);
  return sa;
}

namespace {

// An unprotected IKE_SA_INIT response that carries only a notification
// (section 1.2: NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD).
void refuse_init(const IkeMessage& request, Endpoint remote, uint16_t local_port, Payload notify, IkeEvents& events) {
  IkeMessage m;
  m.header = request.header;
  m.header.spi_r = 0;
  m.header.response = true;
  m.header.initiator = false;
  m.payloads.push_back(std::move(notify));
  auto bytes = serialize_ike_message(m);
  if (!bytes) return;
  IkeDatagram out{local_port, remote, {}};
  if (local_port == kNatTraversalPort) out.payload.assign(4, std::byte{0});
  out.payload.insert(out.payload.end(), bytes->begin(), bytes->end());
  events.send.push_back(std::move(out));
}

}  // namespace

std::unique_ptr<IkeSa> IkeSa::respond(std::shared_ptr<const ConnectionConfig> connection,
                                      std::span<const std::shared_ptr<const ConnectionConfig>> candidates,
                                      const IkeMessage& request, std::span<const std::byte> raw, Endpoint local,
                                      Endpoint remote, const Now& now, IkeContext& context, IkeEvents& events) {
  const auto& payloads = request.payloads;
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* ke = find_payload<KePayload>(payloads);
  const auto* nonce = find_payload<NoncePayload>(payloads);
  const uint16_t port = local.port;
  if (!sa || !ke || !nonce) {
    events.note(connection->name, "malformed_request", fmt::format("{}: IKE_SA_INIT without SA, KE or Nonce",
                                                                   remote.to_string()), true);
    return nullptr;
  }
  auto selection = select_from_wire(connection->proposals, sa->proposals);
  if (!selection) {
    std::vector<std::string> theirs;
    for (const Proposal& p : sa->proposals) {
      auto spec = from_wire(p);
      theirs.push_back(spec ? proposal_name(*spec) : std::string("(unknown algorithms)"));
    }
    events.note(connection->name, "no_proposal_chosen",
                fmt::format("{} proposed {}; we accept {}", remote.to_string(), fmt::join(theirs, ", "),
                            proposals_name(connection->proposals)),
                true);
    refuse_init(request, remote, port, ike::notify(NotifyType::kNoProposalChosen), events);
    return nullptr;
  }
  // Section 1.2: a KE of another group than the chosen one is answered with
  // INVALID_KE_PAYLOAD naming the group we want.
  if (ke->group != selection->chosen.dh) {
    const auto g = static_cast<uint16_t>(selection->chosen.dh);
    events.note(connection->name, "invalid_ke_payload",
                fmt::format("{} sent DH group {}; asking for {}", remote.to_string(), static_cast<int>(ke->group), g));
    refuse_init(request, remote, port,
                ike::notify(NotifyType::kInvalidKePayload, {static_cast<std::byte>(g >> 8), static_cast<std::byte>(g)}),
                events);
    return nullptr;
  }
  auto state = std::make_unique<State>();
  State& s = *state;
  s.conn = std::move(connection);
  s.candidates.assign(candidates.begin(), candidates.end());
  s.initiator = false;
  s.state = IkeState::kAuthWait;
  s.local = local;
  s.remote = remote;
  s.nat_t = port == kNatTraversalPort;
  s.created_ns = s.last_heard_ns = now.mono_ns;
  s.ike = selection->chosen;
  s.spi_i = request.header.spi_i;
  s.spi_r = ike::new_ike_spi(context);
  s.nonce_i = nonce->data;
  s.nonce_r = ike::new_nonce(context);
  s.init_request.assign(raw.begin(), raw.end());
  s.expected_request_id = 1;
  s.peer_fragmentation = find_notify(payloads, NotifyType::kFragmentationSupported) != nullptr;
  if (const NotifyPayload* hashes = find_notify(payloads, NotifyType::kSignatureHashAlgorithms)) {
    if (auto parsed = parse_signature_hashes_notify(hashes->data)) s.peer_hashes = std::move(*parsed);
  }
  std::unique_ptr<IkeSa> result(new IkeSa(std::move(state)));
  auto dh = ike::new_dh(s.ike.dh, context);
  if (!dh || s.spi_r == 0 || s.nonce_r.empty()) {
    ike::fail(s, "ike_failed", "no randomness for the IKE SPI, nonce or key exchange", events);
    return result;
  }
  detect_nat(s, payloads);
  if (!derive_keys(s, *dh, ke->data, events)) {
    if (s.state != IkeState::kClosed) ike::fail(s, "ike_failed", "the IKE SA's keys could not be derived", events);
    return result;
  }
  std::vector<Payload> out;
  out.push_back(Payload{SaPayload{{chosen_to_wire(s.ike, ProtocolId::kIke, sa->proposals[selection->their_index].number, {})}}, false});
  const Octets pub = dh->public_value();
  out.push_back(Payload{KePayload{dh->group(), std::vector<std::byte>(pub.begin(), pub.end())}, false});
  out.push_back(Payload{NoncePayload{s.nonce_r}, false});
  add_common_notifies(s, out);
  // Section 3.7: ask for a certificate issued by one of our trusted CAs.
  if (s.conn->remote.kind == AuthKind::kPubkey) {
    if (auto req = ike_auth::certificate_request(*s.conn)) out.push_back(Payload{std::move(*req), false});
  }
  if (!ike::send_response(s, ExchangeType::kIkeSaInit, 0, std::move(out), events)) {
    ike::fail(s, "ike_failed", "could not build the IKE_SA_INIT response", events);
    return result;
  }
  s.init_response = s.last_response.front();
  return result;
}

}  // namespace cordon::ipsec
