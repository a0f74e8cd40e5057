// IKE_AUTH (RFC 7296 section 1.2): identities, authentication by shared key
// or certificate (section 2.15; RFC 7427), the configuration payload of
// remote-access clients (section 3.15), and the first CHILD_SA.
//
//   HDR, SK {IDi, [CERT+], [CERTREQ], [IDr], AUTH, [CP(REQUEST)],
//            [N(INITIAL_CONTACT)], [N(USE_TRANSPORT_MODE)], SAi2, TSi, TSr}  -->
//   <--  HDR, SK {IDr, [CERT+], AUTH, [CP(REPLY)], [N(USE_TRANSPORT_MODE)],
//                 SAr2, TSi, TSr}
#include <algorithm>

#include <fmt/format.h>

#include "core/ipsec/ike_sa_state.hpp"
#include "core/ipsec/proposal_wire.hpp"
#include "core/ipsec/x509.hpp"

namespace cordon::ipsec {
namespace {

// The ID payload's body after the generic header: ID Type | RESERVED(3) |
// data (section 2.15, "RestOfInitIDPayload").
std::vector<std::byte> id_body(IdType type, std::span<const std::byte> data) {
  std::vector<std::byte> b = {static_cast<std::byte>(type), std::byte{0}, std::byte{0}, std::byte{0}};
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// Our identity: the configured one, else our address (section 3.5).
std::pair<IdType, std::vector<std::byte>> own_identity(const IkeSa::State& s) {
  const Identity& id = s.conn->local.id;
  if (!id.any && !id.data.empty()) return {id.type, id.data};
  const IpAddress& a = s.local.address;
  return {a.is_v4() ? IdType::kIpv4Addr : IdType::kIpv6Addr,
          std::vector<std::byte>(reinterpret_cast<const std::byte*>(a.bytes.data()),
                                 reinterpret_cast<const std::byte*>(a.bytes.data()) + a.size())};
}

std::string id_text(IdType type, std::span<const std::byte> data) {
  switch (type) {
    case IdType::kFqdn:
    case IdType::kRfc822Addr:
      return std::string(reinterpret_cast<const char*>(data.data()), data.size());
    case IdType::kIpv4Addr:
      if (data.size() == 4) {
        return IpAddress::v4({static_cast<uint8_t>(data[0]), static_cast<uint8_t>(data[1]),
                              static_cast<uint8_t>(data[2]), static_cast<uint8_t>(data[3])})
            .to_string();
      }
      break;
    case IdType::kIpv6Addr:
      if (data.size() == 16) {
        std::array<uint8_t, 16> b{};
        std::transform(data.begin(), data.end(), b.begin(), [](std::byte x) { return static_cast<uint8_t>(x); });
        return IpAddress::v6(b).to_string();
      }
      break;
    default:
      break;
  }
  return fmt::format("(ID type {}, {} bytes)", static_cast<int>(type), data.size());
}

bool identity_matches(const Identity& configured, IdType type, std::span<const std::byte> data) {
  if (configured.any) return true;
  return configured.type == type && std::equal(configured.data.begin(), configured.data.end(), data.begin(), data.end());
}

// Our AUTH payload: a shared-key MIC, or a signature with our key
// (section 2.15; RFC 7427 section 3).
std::optional<AuthPayload> make_auth(const IkeSa::State& s, std::span<const std::byte> body) {
  const auto& real_message = s.initiator ? s.init_request : s.init_response;
  const auto& peer_nonce = s.initiator ? s.nonce_r : s.nonce_i;
  const auto& sk_p = s.initiator ? s.keys.sk_pi : s.keys.sk_pr;
  auto octets = signed_octets(s.ike.prf, sk_p.view(), real_message, peer_nonce, body);
  if (!octets) return std::nullopt;
  const AuthConfig& local = s.conn->local;
  if (local.kind == AuthKind::kPsk) {
    auto mic = shared_key_auth(s.ike.prf, local.psk.view(), *octets);
    if (!mic) return std::nullopt;
    return AuthPayload{AuthMethod::kSharedKeyMic, std::move(*mic)};
  }
  auto key = PrivateKey::from_pem(local.private_key.view());
  if (!key) key = PrivateKey::from_der(local.private_key.view());
  if (!key) return std::nullopt;
  auto choice = choose_signature(*key, s.peer_hashes, false);
  if (!choice) return std::nullopt;
  auto signature = sign_auth(*key, *choice, *octets);
  if (!signature) return std::nullopt;
  return AuthPayload{choice->method, std::move(*signature)};
}

// Checks the peer's AUTH against `conn`'s remote side. The error says why,
// for the log line that names the identity.
Result<Ok, std::string> check_auth(const IkeSa::State& s, const ConnectionConfig& conn, IdType id_type,
                                   std::span<const std::byte> id_data, const AuthPayload& auth,
                                   std::span<const Payload> payloads, const Now& now) {
  const auto& real_message = s.initiator ? s.init_response : s.init_request;
  const auto& own_nonce = s.initiator ? s.nonce_i : s.nonce_r;
  const auto& sk_p = s.initiator ? s.keys.sk_pr : s.keys.sk_pi;
  auto octets = signed_octets(s.ike.prf, sk_p.view(), real_message, own_nonce, id_body(id_type, id_data));
  if (!octets) return fail(std::string("the signed octets could not be computed"));
  const AuthConfig& remote = conn.remote;
  if (remote.kind == AuthKind::kPsk) {
    if (auth.method != AuthMethod::kSharedKeyMic) {
      return fail(fmt::format("the peer signed (method {}) where a pre-shared key is configured",
                              static_cast<int>(auth.method)));
    }
    if (!verify_shared_key_auth(s.ike.prf, remote.psk.view(), *octets, auth.data)) {
      return fail(std::string("the pre-shared key does not match"));
    }
    return Ok{};
  }
  if (auth.method == AuthMethod::kSharedKeyMic) {
    return fail(std::string("the peer used a pre-shared key where a certificate is required"));
  }
  std::vector<Certificate> certs;
  for (const Payload& p : payloads) {
    const auto* c = std::get_if<CertPayload>(&p.body);
    if (!c || c->encoding != CertEncoding::kX509Signature) continue;
    auto cert = Certificate::from_der(c->data);
    if (!cert) return fail(fmt::format("a certificate does not parse: {}", to_string(cert.error())));
    certs.push_back(std::move(*cert));
  }
  if (certs.empty()) return fail(std::string("no certificate was sent"));
  std::vector<Certificate> cas;
  std::vector<Crl> crls;
  for (const auto& der : remote.ca_certificates) {
    if (auto ca = Certificate::from_der(der)) cas.push_back(std::move(*ca));
  }
  for (const auto& der : remote.crls) {
    if (auto crl = Crl::from_der(der)) crls.push_back(std::move(*crl));
  }
  auto store = TrustStore::create(cas, crls);
  if (!store) return fail(std::string("the configured CA certificates could not be loaded"));
  const std::span<const Certificate> intermediates(certs.data() + 1, certs.size() - 1);
  if (auto ok = store->verify(certs.front(), intermediates, now.real_ns / kNsPerSecond); !ok) {
    return fail(fmt::format("certificate refused: {}", to_string(ok.error())));
  }
  if (auto ok = check_identity(certs.front(), id_type, id_data); !ok) {
    return fail(fmt::format("the identity is not the certificate's: {}", to_string(ok.error())));
  }
  auto key = certs.front().public_key();
  if (!key) return fail(std::string("the certificate's key is not usable"));
  if (auto ok = verify_auth(*key, auth.method, auth.data, *octets, supported_signature_hashes()); !ok) {
    return fail(fmt::format("the signature does not verify: {}", to_string(ok.error())));
  }
  return Ok{};
}

void add_credentials(const IkeSa::State& s, std::vector<Payload>& out) {
  const AuthConfig& local = s.conn->local;
  if (local.kind != AuthKind::kPubkey) return;
  out.push_back(Payload{CertPayload{CertEncoding::kX509Signature, local.certificate}, false});
  for (const auto& der : local.intermediates) out.push_back(Payload{CertPayload{CertEncoding::kX509Signature, der}, false});
}

// Section 3.15: a remote-access client asked for an address; hand one out
// from the connection's pools, with the pool's DNS servers.
std::optional<ConfigPayload> answer_configuration(IkeSa::State& s, const ConfigPayload& request, IkeContext& context) {
  if (request.type != CfgType::kRequest || s.conn->pools.empty()) return std::nullopt;
  bool wants4 = false, wants6 = false;
  for (const ConfigAttribute& a : request.attributes) {
    wants4 = wants4 || a.type == static_cast<uint16_t>(CfgAttribute::kInternalIp4Address);
    wants6 = wants6 || a.type == static_cast<uint16_t>(CfgAttribute::kInternalIp6Address);
  }
  if (!wants4 && !wants6) return std::nullopt;
  for (const std::string& name : s.conn->pools) {
    const PoolConfig* pool = nullptr;
    for (const PoolConfig& p : context.pools) {
      if (p.name == name) pool = &p;
    }
    if (!pool || (pool->addresses.address.is_v4() ? !wants4 : !wants6)) continue;
    auto address = context.lease ? context.lease(name, s.peer_id) : std::nullopt;
    if (!address) continue;
    s.virtual_ip = address;
    ConfigPayload reply;
    reply.type = CfgType::kReply;
    const auto bytes = [](const IpAddress& a) {
      return std::vector<std::byte>(reinterpret_cast<const std::byte*>(a.bytes.data()),
                                    reinterpret_cast<const std::byte*>(a.bytes.data()) + a.size());
    };
    if (address->is_v4()) {
      reply.attributes.push_back({static_cast<uint16_t>(CfgAttribute::kInternalIp4Address), bytes(*address)});
    } else {
      auto v = bytes(*address);
      v.push_back(std::byte{128});  // section 3.15.1: address | prefix length
      reply.attributes.push_back({static_cast<uint16_t>(CfgAttribute::kInternalIp6Address), std::move(v)});
    }
    for (const IpAddress& dns : pool->dns) {
      reply.attributes.push_back({static_cast<uint16_t>(dns.is_v4() ? CfgAttribute::kInternalIp4Dns
                                                                    : CfgAttribute::kInternalIp6Dns),
                                  bytes(dns)});
    }
    return reply;
  }
  return std::nullopt;
}

// The responder's choice of connection once the peer's identity is known
// (strongSwan's rule: the configured remote identity decides among the
// connections that matched the addresses).
const ConnectionConfig* choose_connection(const IkeSa::State& s, IdType id_type, std::span<const std::byte> id_data,
                                          const AuthPayload& auth) {
  const bool psk = auth.method == AuthMethod::kSharedKeyMic;
  auto fits = [&](const ConnectionConfig& c) {
    return identity_matches(c.remote.id, id_type, id_data) && (c.remote.kind == AuthKind::kPsk) == psk;
  };
  if (fits(*s.conn)) return s.conn.get();
  for (const auto& c : s.candidates) {
    if (fits(*c)) return c.get();
  }
  return nullptr;
}

// The first CHILD_SA of IKE_AUTH, answered as the responder: what goes in
// the response. A failure leaves the IKE SA up (section 1.2) and answers
// with the error notify alone.
void answer_child(IkeSa::State& s, std::span<const Payload> payloads, std::vector<Payload>& out, const Now& now,
                  IkeContext& context, IkeEvents& events) {
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* tsi = find_payload<TsiPayload>(payloads);
  const auto* tsr = find_payload<TsrPayload>(payloads);
  if (!sa || !tsi || !tsr) return;  // childless (RFC 6023): nothing to answer
  const ChildConfig* child = ike_child::match_child(s, tsi->selectors, tsr->selectors);
  if (!child) {
    events.note(s.name(), "ts_unacceptable",
                fmt::format("{}: no child of this connection matches the proposed selectors", s.remote.to_string()),
                true);
    out.push_back(ike::notify(NotifyType::kTsUnacceptable));
    return;
  }
  // No KE in IKE_AUTH (section 1.2): its CHILD_SA takes its keys from the
  // IKE SA, so the DH groups (for later rekeys) are left out of the choice.
  std::vector<ProposalSpec> ours = child->proposals;
  for (ProposalSpec& p : ours) p.dh.clear();
  std::vector<Proposal> offered = sa->proposals;
  for (Proposal& p : offered) {
    std::erase_if(p.transforms, [](const Transform& t) { return t.type == TransformType::kDhGroup; });
  }
  auto selection = select_from_wire(ours, offered);
  const bool transport = find_notify(payloads, NotifyType::kUseTransportMode) != nullptr;
  if (!selection) {
    events.note(s.name(), "no_proposal_chosen",
                fmt::format("child {}: {} offered nothing of {}", child->name, s.remote.to_string(),
                            proposals_name(child->proposals)),
                true);
    out.push_back(ike::notify(NotifyType::kNoProposalChosen));
    return;
  }
  const Proposal& theirs = sa->proposals[selection->their_index];
  const auto outbound = ike_child::spi_of(theirs.spi);
  auto local_ts = ike_child::narrow(tsr->selectors, ike_child::local_selectors(s, *child));
  auto remote_ts = ike_child::narrow(tsi->selectors, ike_child::remote_selectors(s, *child, s.virtual_ip));
  if (!outbound || local_ts.empty() || remote_ts.empty()) {
    out.push_back(ike::notify(NotifyType::kTsUnacceptable));
    return;
  }
  if (transport != (child->mode == ChildMode::kTransport)) {
    // Section 1.3.1: transport mode only when both ask for it; we stay
    // with what the child is configured for.
    if (child->mode == ChildMode::kTransport) {
      out.push_back(ike::notify(NotifyType::kNoProposalChosen));
      return;
    }
  }
  const uint32_t inbound = context.new_child_spi();
  if (child->mode == ChildMode::kTransport) out.push_back(ike::notify(NotifyType::kUseTransportMode));
  out.push_back(Payload{SaPayload{{chosen_to_wire(selection->chosen, child->protocol, theirs.number,
                                                  ike_child::spi_bytes(inbound))}},
                        false});
  out.push_back(Payload{TsiPayload{remote_ts}, false});
  out.push_back(Payload{TsrPayload{local_ts}, false});
  ike_child::install(s, *child, selection->chosen, inbound, *outbound, {}, s.nonce_i, s.nonce_r, std::move(local_ts),
                     std::move(remote_ts), 0, false, s.virtual_ip, now, events);
}

}  // namespace

namespace ike_auth {

std::optional<CertReqPayload> certificate_request(const ConnectionConfig& conn) {
  std::vector<Certificate> cas;
  for (const auto& der : conn.remote.ca_certificates) {
    if (auto ca = Certificate::from_der(der)) cas.push_back(std::move(*ca));
  }
  if (cas.empty()) return std::nullopt;
  auto store = TrustStore::create(cas, {});
  if (!store) return std::nullopt;
  return CertReqPayload{CertEncoding::kX509Signature, store->certreq_data()};
}

void send_request(IkeSa::State& s, const ChildConfig* child, const Now& now, IkeContext& context, IkeEvents& events) {
  if (!child && !s.conn->children.empty()) child = &s.conn->children.front();
  const auto [type, data] = own_identity(s);
  std::vector<Payload> out;
  out.push_back(Payload{IdiPayload{type, data}, false});
  add_credentials(s, out);
  if (s.conn->remote.kind == AuthKind::kPubkey) {
    if (auto req = certificate_request(*s.conn)) out.push_back(Payload{std::move(*req), false});
  }
  if (!s.conn->remote.id.any && !s.conn->remote.id.data.empty()) {
    out.push_back(Payload{IdrPayload{s.conn->remote.id.type, s.conn->remote.id.data}, false});
  }
  auto auth = make_auth(s, id_body(type, data));
  if (!auth) {
    ike::fail(s, "ike_failed", "our AUTH payload could not be made (check the key and certificate)", events);
    return;
  }
  out.push_back(Payload{std::move(*auth), false});
  AuthExchange x;
  x.child = child;
  if (s.conn->request_virtual_ip) {
    ConfigPayload cp;
    cp.type = CfgType::kRequest;
    cp.attributes.push_back({static_cast<uint16_t>(CfgAttribute::kInternalIp4Address), {}});
    cp.attributes.push_back({static_cast<uint16_t>(CfgAttribute::kInternalIp4Dns), {}});
    out.push_back(Payload{std::move(cp), false});
    x.asked_for_address = true;
  }
  // Section 2.4: tells the peer to drop SAs of an earlier instance of us.
  out.push_back(ike::notify(NotifyType::kInitialContact));
  if (child) {
    if (child->mode == ChildMode::kTransport) out.push_back(ike::notify(NotifyType::kUseTransportMode));
    x.inbound_spi = context.new_child_spi();
    SaPayload sa;
    for (size_t i = 0; i < child->proposals.size(); ++i) {
      // No PFS in IKE_AUTH: its CHILD_SA takes its keys from the IKE SA
      // (section 1.2); the DH groups are kept for the rekeys.
      ProposalSpec p = child->proposals[i];
      p.dh.clear();
      sa.proposals.push_back(to_wire(p, static_cast<uint8_t>(i + 1), ike_child::spi_bytes(x.inbound_spi)));
    }
    out.push_back(Payload{std::move(sa), false});
    x.ts_i = ike_child::local_selectors(s, *child);
    x.ts_r = ike_child::remote_selectors(s, *child, std::nullopt);
    // A remote-access client proposes any address; the gateway narrows it
    // to the one it hands out (section 2.9).
    if (x.asked_for_address) x.ts_i = {*parse_selector(s.local.address.is_v4() ? "0.0.0.0/0" : "::/0")};
    out.push_back(Payload{TsiPayload{x.ts_i}, false});
    out.push_back(Payload{TsrPayload{x.ts_r}, false});
  }
  ike::send_request(s, ExchangeType::kIkeAuth, std::move(out), std::move(x), now, events);
}

void consume_request(IkeSa::State& s, uint32_t message_id, std::span<const Payload> payloads, const Now& now,
                     IkeContext& context, IkeEvents& events) {
  const auto* idi = find_payload<IdiPayload>(payloads);
  const auto* auth = find_payload<AuthPayload>(payloads);
  auto refuse = [&](std::string why) {
    std::vector<Payload> out;
    out.push_back(ike::notify(NotifyType::kAuthenticationFailed));
    ike::send_response(s, ExchangeType::kIkeAuth, message_id, std::move(out), events);
    ike::fail(s, "authentication_failed", std::move(why), events);
  };
  if (!idi || !auth) {
    refuse("IKE_AUTH without IDi or AUTH (EAP is not supported)");
    return;
  }
  const std::string who = id_text(idi->id_type, idi->data);
  if (const auto* hashes = find_notify(payloads, NotifyType::kSignatureHashAlgorithms)) (void)hashes;
  const ConnectionConfig* conn = choose_connection(s, idi->id_type, idi->data, *auth);
  if (!conn) {
    refuse(fmt::format("no connection accepts the identity {} with this authentication", who));
    return;
  }
  if (conn != s.conn.get()) {
    for (const auto& c : s.candidates) {
      if (c.get() == conn) s.conn = c;
    }
  }
  if (auto ok = check_auth(s, *conn, idi->id_type, idi->data, *auth, payloads, now); !ok) {
    refuse(fmt::format("peer {}: {}", who, ok.error()));
    return;
  }
  s.peer_id.type = idi->id_type;
  s.peer_id.data = idi->data;
  s.peer_id.text = who;
  s.peer_wants_certificate = find_payload<CertReqPayload>(payloads) != nullptr;
  if (find_notify(payloads, NotifyType::kInitialContact)) {
    events.note(s.name(), "initial_contact", fmt::format("{} ({})", who, s.remote.to_string()));
    events.initial_contact.push_back(s.spi_r);
  }
  const auto [type, data] = own_identity(s);
  std::vector<Payload> out;
  out.push_back(Payload{IdrPayload{type, data}, false});
  add_credentials(s, out);
  auto own = make_auth(s, id_body(type, data));
  if (!own) {
    refuse("our AUTH payload could not be made (check the key and certificate)");
    return;
  }
  out.push_back(Payload{std::move(*own), false});
  bool address_failed = false;
  if (const auto* cp = find_payload<ConfigPayload>(payloads)) {
    if (auto reply = answer_configuration(s, *cp, context)) {
      out.push_back(Payload{std::move(*reply), false});
    } else {
      // Section 3.15.4: no address to give; the IKE SA is still made, but
      // not the CHILD_SA that was to carry that address's traffic.
      out.push_back(ike::notify(NotifyType::kInternalAddressFailure));
      events.note(s.name(), "internal_address_failure",
                  fmt::format("{} ({}) asked for an address; no pool of this connection has one", who,
                              s.remote.to_string()),
                  true);
      address_failed = true;
    }
  }
  if (!address_failed) answer_child(s, payloads, out, now, context, events);
  ike::established(s, now, events);
  if (!ike::send_response(s, ExchangeType::kIkeAuth, message_id, std::move(out), events)) {
    ike::fail(s, "ike_failed", "could not build the IKE_AUTH response", events);
  }
}

void consume_response(IkeSa::State& s, AuthExchange& exchange, std::span<const Payload> payloads, const Now& now,
                      IkeContext& context, IkeEvents& events) {
  (void)context;
  const auto* idr = find_payload<IdrPayload>(payloads);
  const auto* auth = find_payload<AuthPayload>(payloads);
  if (!idr || !auth) {
    const NotifyPayload* error = ike::find_error(payloads);
    ike::fail(s, error && error->type == NotifyType::kAuthenticationFailed ? "authentication_failed" : "ike_failed",
              fmt::format("the peer answered {} to our IKE_AUTH as {}",
                          error ? ike::notify_name(error->type) : std::string_view("without IDr or AUTH"),
                          s.conn->local.id.text),
              events);
    return;
  }
  const std::string who = id_text(idr->id_type, idr->data);
  if (!identity_matches(s.conn->remote.id, idr->id_type, idr->data)) {
    ike::fail(s, "authentication_failed",
              fmt::format("the peer is {}, not the configured {}", who, s.conn->remote.id.text), events);
    return;
  }
  if (auto ok = check_auth(s, *s.conn, idr->id_type, idr->data, *auth, payloads, now); !ok) {
    ike::fail(s, "authentication_failed", fmt::format("peer {}: {}", who, ok.error()), events);
    return;
  }
  s.peer_id.type = idr->id_type;
  s.peer_id.data = idr->data;
  s.peer_id.text = who;
  ike::established(s, now, events);
  if (!exchange.child) return;
  const ChildConfig& child = *exchange.child;
  if (const NotifyPayload* error = ike::find_error(payloads)) {
    events.note(s.name(), "child_failed",
                fmt::format("{}: the peer answered {}; we proposed {}", child.name, ike::notify_name(error->type),
                            proposals_name(child.proposals)),
                true);
    return;
  }
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* tsi = find_payload<TsiPayload>(payloads);
  const auto* tsr = find_payload<TsrPayload>(payloads);
  std::optional<Chosen> chosen;
  std::optional<uint32_t> outbound;
  if (sa && sa->proposals.size() == 1) {
    std::vector<ProposalSpec> offered = child.proposals;
    for (ProposalSpec& p : offered) p.dh.clear();
    if (auto answer = from_wire(sa->proposals.front())) chosen = accept_answer(offered, *answer);
    outbound = ike_child::spi_of(sa->proposals.front().spi);
  }
  const bool narrowed = tsi && tsr && ike_child::narrow(tsi->selectors, exchange.ts_i) == tsi->selectors &&
                        ike_child::narrow(tsr->selectors, exchange.ts_r) == tsr->selectors;
  if (!chosen || !outbound || !narrowed) {
    events.note(s.name(), "child_failed", fmt::format("{}: the IKE_AUTH answer's CHILD_SA is unacceptable", child.name),
                true);
    s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteChild, nullptr, exchange.inbound_spi});
    return;
  }
  ike_child::install(s, child, *chosen, exchange.inbound_spi, *outbound, {}, s.nonce_i, s.nonce_r, tsi->selectors,
                     tsr->selectors, 0, true, std::nullopt, now, events);
}

}  // namespace ike_auth
}  // namespace cordon::ipsec
