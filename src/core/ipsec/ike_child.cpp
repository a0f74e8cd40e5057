// CHILD_SAs: selectors and their narrowing (RFC 7296 section 2.9), KEYMAT
// (section 2.17), and the CREATE_CHILD_SA exchange (section 1.3) that makes
// new ones, rekeys them (1.3.3) and rekeys the IKE SA itself (1.3.2).
//
//   new or rekeyed child:  HDR, SK {[N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr}  -->
//                          <--  HDR, SK {SA, Nr, [KEr], TSi, TSr}
//   IKE SA rekey:          HDR, SK {SA, Ni, KEi}  -->  <--  HDR, SK {SA, Nr, KEr}
//
// Rekeying is make-before-break (section 2.8): the new CHILD_SA is installed
// before the old one is deleted, so packets in flight on either are
// accepted. Simultaneous rekeys resolve by section 2.8.1: of the two new
// SAs, the one made with the lowest nonce is deleted by its initiator.
#include <algorithm>

#include <fmt/format.h>

#include "core/ipsec/ike_sa_state.hpp"
#include "core/ipsec/proposal_wire.hpp"

namespace cordon::ipsec {
namespace {

TrafficSelector host_selector(const IpAddress& a) {
  TrafficSelector t;
  t.type = a.is_v4() ? TsType::kIpv4AddrRange : TsType::kIpv6AddrRange;
  std::copy_n(a.bytes.begin(), a.size(), t.start_address.begin());
  std::copy_n(a.bytes.begin(), a.size(), t.end_address.begin());
  return t;
}

}  // namespace

std::vector<std::byte> ike_child::spi_bytes(uint32_t spi) {
  return {static_cast<std::byte>(spi >> 24), static_cast<std::byte>(spi >> 16), static_cast<std::byte>(spi >> 8),
          static_cast<std::byte>(spi)};
}

std::optional<uint32_t> ike_child::spi_of(std::span<const std::byte> b) {
  if (b.size() != 4) return std::nullopt;
  uint32_t v = 0;
  for (std::byte x : b) v = v << 8 | static_cast<uint8_t>(x);
  return v;
}

namespace {

}  // namespace


namespace {

DhGroup preferred_child_group(const ChildConfig& child) {
  for (const ProposalSpec& p : child.proposals) {
    if (!p.dh.empty() && p.dh.front() != DhGroup::kNone) return p.dh.front();
  }
  return DhGroup::kNone;
}

}  // namespace

Payload ike_child::ke_payload(const DhKey& dh) {
  const Octets pub = dh.public_value();
  return Payload{KePayload{dh.group(), std::vector<std::byte>(pub.begin(), pub.end())}, false};
}

namespace {

SaPayload child_sa_payload(const ChildConfig& child, uint32_t inbound_spi) {
  SaPayload sa;
  const auto spi = ike_child::spi_bytes(inbound_spi);
  for (size_t i = 0; i < child.proposals.size(); ++i) {
    sa.proposals.push_back(to_wire(child.proposals[i], static_cast<uint8_t>(i + 1), spi));
  }
  return sa;
}

// The g^ir of an exchange with KE payloads, or empty without them.
std::optional<crypto::SecretBytes> agree(const std::optional<DhKey>& ours, const KePayload* theirs) {
  if (!ours && !theirs) return crypto::SecretBytes();
  if (!ours || !theirs || theirs->group != ours->group()) return std::nullopt;
  auto g = ours->agree(theirs->data);
  if (!g) return std::nullopt;
  return std::move(*g);
}

}  // namespace

namespace ike_child {

std::vector<TrafficSelector> local_selectors(const IkeSa::State& s, const ChildConfig& child) {
  if (!child.local_ts.empty()) return child.local_ts;
  return {host_selector(s.local.address)};
}

std::vector<TrafficSelector> remote_selectors(const IkeSa::State& s, const ChildConfig& child,
                                              const std::optional<IpAddress>& virtual_ip) {
  // Section 3.15: a remote-access client's traffic is its virtual address.
  if (virtual_ip) return {host_selector(*virtual_ip)};
  if (!child.remote_ts.empty()) return child.remote_ts;
  return {host_selector(s.remote.address)};
}

std::vector<TrafficSelector> narrow(std::span<const TrafficSelector> proposed, std::span<const TrafficSelector> allowed) {
  std::vector<TrafficSelector> out;
  for (const TrafficSelector& p : proposed) {
    for (const TrafficSelector& a : allowed) {
      if (p.type != a.type) continue;
      if (p.ip_protocol != 0 && a.ip_protocol != 0 && p.ip_protocol != a.ip_protocol) continue;
      TrafficSelector t = p;
      t.ip_protocol = p.ip_protocol != 0 ? p.ip_protocol : a.ip_protocol;
      t.start_port = std::max(p.start_port, a.start_port);
      t.end_port = std::min(p.end_port, a.end_port);
      t.start_address = std::max(p.start_address, a.start_address);
      t.end_address = std::min(p.end_address, a.end_address);
      if (t.start_port > t.end_port || t.start_address > t.end_address) continue;
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
  }
  return out;
}

const ChildConfig* match_child(const IkeSa::State& s, std::span<const TrafficSelector> ts_i,
                               std::span<const TrafficSelector> ts_r) {
  // We answer: the initiator's selectors are the remote ones (section 2.9).
  for (const ChildConfig& child : s.conn->children) {
    if (narrow(ts_r, local_selectors(s, child)).empty()) continue;
    if (narrow(ts_i, remote_selectors(s, child, s.virtual_ip)).empty()) continue;
    return &child;
  }
  return nullptr;
}

bool install(IkeSa::State& s, const ChildConfig& child, const Chosen& chosen, uint32_t inbound_spi,
             uint32_t outbound_spi, std::span<const std::byte> g_ir, std::span<const std::byte> nonce_i,
             std::span<const std::byte> nonce_r, std::vector<TrafficSelector> local_ts,
             std::vector<TrafficSelector> remote_ts, uint32_t replaces, bool exchange_initiator,
             std::optional<IpAddress> virtual_ip, const Now& now, IkeEvents& events) {
  const TransformKeySizes sizes = child.protocol == ProtocolId::kAh
                                      ? TransformKeySizes{0, integrity_key_size(chosen.integrity)}
                                      : TransformKeySizes::of(chosen.cipher());
  auto keys = child_sa_keys(s.ike.prf, sizes, s.keys.sk_d.view(), g_ir, nonce_i, nonce_r);
  if (!keys) return false;
  ChildSaInstall in;
  in.connection = s.name();
  in.child = child.name;
  in.ike_spi_i = s.spi_i;
  in.inbound_spi = inbound_spi;
  in.outbound_spi = outbound_spi;
  in.protocol = child.protocol;
  in.mode = child.mode;
  in.chosen = chosen;
  // Section 2.17: the outbound keys of whoever started this exchange are
  // the i-to-r ones (for IKE_AUTH, the IKE SA's initiator).
  const bool i = exchange_initiator;
  in.outbound_encryption = i ? keys->encryption_i_to_r : keys->encryption_r_to_i;
  in.outbound_integrity = i ? keys->integrity_i_to_r : keys->integrity_r_to_i;
  in.inbound_encryption = i ? keys->encryption_r_to_i : keys->encryption_i_to_r;
  in.inbound_integrity = i ? keys->integrity_r_to_i : keys->integrity_i_to_r;
  in.local_ts = local_ts;
  in.remote_ts = remote_ts;
  in.local = s.local;
  if (s.nat_t) in.local.port = kNatTraversalPort;
  in.remote = s.remote;
  in.udp_encapsulation = s.nat_t;
  in.replaces_inbound_spi = replaces;
  in.send_now = exchange_initiator;
  in.rekey_bytes = child.rekey_bytes;
  in.rekey_packets = child.rekey_packets;
  in.virtual_ip = virtual_ip;
  ChildSa c;
  c.config = &child;
  c.inbound_spi = inbound_spi;
  c.outbound_spi = outbound_spi;
  c.chosen = chosen;
  c.local_ts = std::move(local_ts);
  c.remote_ts = std::move(remote_ts);
  c.virtual_ip = virtual_ip;
  if (child.rekey_time_ns > 0) c.rekey_at_ns = now.mono_ns + child.rekey_time_ns;
  s.children[inbound_spi] = std::move(c);
  events.note(s.name(), replaces ? "child_rekeyed" : "child_up",
              fmt::format("{} {} SPIs {:08x}_i {:08x}_o, {}{}", child.name, s.remote.to_string(), inbound_spi,
                          outbound_spi, chosen_name(chosen, child.protocol),
                          s.nat_t ? ", UDP-encapsulated" : ""));
  events.child_up.push_back(std::move(in));
  return true;
}

void start(IkeSa::State& s, const QueuedRequest& request, const Now& now, IkeContext& context, IkeEvents& events) {
  if (request.kind == QueuedRequest::Kind::kRekeyIke) {
    // Section 1.3.2: SA with the new IKE SPI, a nonce and a KE.
    IkeRekeyExchange x;
    x.new_spi = ike::new_ike_spi(context);
    x.nonce = ike::new_nonce(context);
    x.dh = ike::new_dh(s.ike.dh, context);
    if (x.new_spi == 0 || x.nonce.empty() || !x.dh) return;
    std::vector<std::byte> spi(8);
    for (int b = 0; b < 8; ++b) spi[b] = static_cast<std::byte>(x.new_spi >> (56 - 8 * b));
    SaPayload sa;
    for (size_t i = 0; i < s.conn->proposals.size(); ++i) {
      sa.proposals.push_back(to_wire(s.conn->proposals[i], static_cast<uint8_t>(i + 1), spi));
    }
    std::vector<Payload> out;
    out.push_back(Payload{std::move(sa), false});
    out.push_back(Payload{NoncePayload{x.nonce}, false});
    out.push_back(ke_payload(*x.dh));
    ike::send_request(s, ExchangeType::kCreateChildSa, std::move(out), std::move(x), now, events);
    return;
  }
  const ChildConfig* child = request.child;
  if (!child) return;
  ChildExchange x;
  x.child = child;
  x.inbound_spi = context.new_child_spi();
  x.nonce = ike::new_nonce(context);
  x.dh = ike::new_dh(preferred_child_group(*child), context);
  if (x.nonce.empty() || (preferred_child_group(*child) != DhGroup::kNone && !x.dh)) return;
  std::optional<IpAddress> vip;
  if (request.kind == QueuedRequest::Kind::kRekeyChild) {
    auto it = s.children.find(request.spi);
    if (it == s.children.end()) return;
    it->second.rekeying = true;
    x.rekeyed_spi = request.spi;
    vip = it->second.virtual_ip;
    // Section 2.8: the rekey proposes the selectors in use; whoever starts
    // the exchange puts its own side in TSi.
    x.ts_i = it->second.local_ts;
    x.ts_r = it->second.remote_ts;
  } else {
    x.ts_i = local_selectors(s, *child);
    x.ts_r = remote_selectors(s, *child, std::nullopt);
  }
  std::vector<Payload> out;
  if (x.rekeyed_spi) {
    out.push_back(ike::notify(NotifyType::kRekeySa, {}, child->protocol, spi_bytes(x.rekeyed_spi)));
  }
  if (child->mode == ChildMode::kTransport) out.push_back(ike::notify(NotifyType::kUseTransportMode));
  out.push_back(Payload{child_sa_payload(*child, x.inbound_spi), false});
  out.push_back(Payload{NoncePayload{x.nonce}, false});
  if (x.dh) out.push_back(ke_payload(*x.dh));
  out.push_back(Payload{TsiPayload{x.ts_i}, false});
  out.push_back(Payload{TsrPayload{x.ts_r}, false});
  ike::send_request(s, ExchangeType::kCreateChildSa, std::move(out), std::move(x), now, events);
}

void answer_error(IkeSa::State& s, uint32_t message_id, NotifyType type, IkeEvents& events) {
  std::vector<Payload> out;
  out.push_back(ike::notify(type));
  ike::send_response(s, ExchangeType::kCreateChildSa, message_id, std::move(out), events);
}

void consume_request(IkeSa::State& s, uint32_t message_id, std::span<const Payload> payloads, const Now& now,
                     IkeContext& context, IkeEvents& events) {
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* nonce = find_payload<NoncePayload>(payloads);
  const auto* ke = find_payload<KePayload>(payloads);
  const auto* tsi = find_payload<TsiPayload>(payloads);
  const auto* tsr = find_payload<TsrPayload>(payloads);
  // Section 2.25.2: an IKE SA being closed, or retired by a rekey, takes
  // no new work.
  if (s.state != IkeState::kEstablished || s.retired) {
    answer_error(s, message_id, NotifyType::kTemporaryFailure, events);
    return;
  }
  if (!sa || !nonce || sa->proposals.empty()) {
    answer_error(s, message_id, NotifyType::kInvalidSyntax, events);
    return;
  }
  if (sa->proposals.front().protocol == ProtocolId::kIke) {
    answer_ike_rekey(s, message_id, *sa, *nonce, ke, now, context, events);
    return;
  }
  if (!tsi || !tsr) {
    answer_error(s, message_id, NotifyType::kInvalidSyntax, events);
    return;
  }
  uint32_t rekeyed = 0;
  const ChildConfig* child = nullptr;
  if (const NotifyPayload* rekey = find_notify(payloads, NotifyType::kRekeySa)) {
    // Section 1.3.3: REKEY_SA names the SA being replaced by the SPI the
    // peer receives on: our outbound SPI.
    const auto spi = spi_of(rekey->spi);
    for (auto& [in, c] : s.children) {
      if (spi && c.outbound_spi == *spi) {
        rekeyed = in;
        child = c.config;
      }
    }
    if (!child) {
      answer_error(s, message_id, NotifyType::kChildSaNotFound, events);
      return;
    }
  } else {
    child = match_child(s, tsi->selectors, tsr->selectors);
    if (!child) {
      events.note(s.name(), "ts_unacceptable", fmt::format("{}: no child matches the proposed selectors",
                                                           s.remote.to_string()), true);
      answer_error(s, message_id, NotifyType::kTsUnacceptable, events);
      return;
    }
  }
  auto selection = select_from_wire(child->proposals, sa->proposals);
  if (!selection) {
    events.note(s.name(), "no_proposal_chosen",
                fmt::format("child {}: the peer proposed {} proposal(s), none of {}", child->name,
                            sa->proposals.size(), proposals_name(child->proposals)),
                true);
    answer_error(s, message_id, NotifyType::kNoProposalChosen, events);
    return;
  }
  const Proposal& theirs = sa->proposals[selection->their_index];
  const auto outbound = spi_of(theirs.spi);
  if (!outbound) {
    answer_error(s, message_id, NotifyType::kInvalidSyntax, events);
    return;
  }
  // Section 1.3.1: a KE of another group than the chosen one.
  if (selection->chosen.dh != DhGroup::kNone && (!ke || ke->group != selection->chosen.dh)) {
    const auto g = static_cast<uint16_t>(selection->chosen.dh);
    std::vector<Payload> out;
    out.push_back(ike::notify(NotifyType::kInvalidKePayload, {static_cast<std::byte>(g >> 8), static_cast<std::byte>(g)}));
    ike::send_response(s, ExchangeType::kCreateChildSa, message_id, std::move(out), events);
    return;
  }
  std::optional<IpAddress> vip;
  if (rekeyed) vip = s.children[rekeyed].virtual_ip;
  auto local_ts = narrow(tsr->selectors, local_selectors(s, *child));
  auto remote_ts = narrow(tsi->selectors, remote_selectors(s, *child, vip ? vip : s.virtual_ip));
  if (local_ts.empty() || remote_ts.empty()) {
    answer_error(s, message_id, NotifyType::kTsUnacceptable, events);
    return;
  }
  auto dh = ike::new_dh(selection->chosen.dh, context);
  auto g_ir = agree(dh, selection->chosen.dh == DhGroup::kNone ? nullptr : ke);
  auto nonce_r = ike::new_nonce(context);
  if (!g_ir || nonce_r.empty()) {
    answer_error(s, message_id, NotifyType::kNoProposalChosen, events);
    return;
  }
  const uint32_t inbound = context.new_child_spi();
  std::vector<Payload> out;
  if (child->mode == ChildMode::kTransport) out.push_back(ike::notify(NotifyType::kUseTransportMode));
  out.push_back(Payload{SaPayload{{chosen_to_wire(selection->chosen, child->protocol, theirs.number, spi_bytes(inbound))}}, false});
  out.push_back(Payload{NoncePayload{nonce_r}, false});
  if (dh) out.push_back(ke_payload(*dh));
  out.push_back(Payload{TsiPayload{remote_ts}, false});
  out.push_back(Payload{TsrPayload{local_ts}, false});
  if (!ike::send_response(s, ExchangeType::kCreateChildSa, message_id, std::move(out), events)) return;
  // Make before break: the new SA is installed now; the old one stays
  // until the peer (the rekey's initiator) deletes it (section 2.8).
  if (rekeyed) {
    ChildSa& old = s.children[rekeyed];
    // Section 2.8.1: our own rekey of the same SA is in flight; remember
    // this exchange's nonces to decide which new SA survives.
    if (old.rekeying) old.rekey_nonces_low = std::min(nonce->data, nonce_r);
    old.replaced = !old.rekeying;
    ++s.counters.child_rekeys;
  }
  install(s, *child, selection->chosen, inbound, *outbound, g_ir->view(), nonce->data, nonce_r, std::move(local_ts),
          std::move(remote_ts), rekeyed, false, vip, now, events);
}

void consume_response(IkeSa::State& s, Exchange& exchange, std::span<const Payload> payloads, const Now& now,
                      IkeContext& context, IkeEvents& events) {
  if (auto* rekey = std::get_if<IkeRekeyExchange>(&exchange)) {
    finish_ike_rekey(s, *rekey, payloads, now, context, events);
    return;
  }
  auto* x = std::get_if<ChildExchange>(&exchange);
  if (!x || !x->child) return;
  const ChildConfig& child = *x->child;
  auto old = x->rekeyed_spi ? s.children.find(x->rekeyed_spi) : s.children.end();
  if (old != s.children.end()) old->second.rekeying = false;
  if (const NotifyPayload* error = ike::find_error(payloads)) {
    events.note(s.name(), "child_failed",
                fmt::format("{}: the peer answered {} to {} of {}", child.name, ike::notify_name(error->type),
                            x->rekeyed_spi ? "a rekey" : "a new CHILD_SA", proposals_name(child.proposals)),
                true);
    // Section 2.25: a rekey that collides with the peer's delete is dropped;
    // retry a failed rekey later rather than let the SA expire.
    if (old != s.children.end() && child.rekey_time_ns > 0) old->second.rekey_at_ns = now.mono_ns + 10 * kNsPerSecond;
    return;
  }
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* nonce = find_payload<NoncePayload>(payloads);
  const auto* ke = find_payload<KePayload>(payloads);
  const auto* tsi = find_payload<TsiPayload>(payloads);
  const auto* tsr = find_payload<TsrPayload>(payloads);
  std::optional<Chosen> chosen;
  std::optional<uint32_t> outbound;
  if (sa && sa->proposals.size() == 1) {
    if (auto answer = from_wire(sa->proposals.front())) chosen = accept_answer(child.proposals, *answer);
    outbound = spi_of(sa->proposals.front().spi);
  }
  auto g_ir = chosen ? agree(x->dh, chosen->dh == DhGroup::kNone ? nullptr : ke) : std::nullopt;
  // Section 2.9: the responder may only narrow what we proposed.
  const bool narrowed = tsi && tsr && narrow(tsi->selectors, x->ts_i) == tsi->selectors &&
                        narrow(tsr->selectors, x->ts_r) == tsr->selectors;
  if (!chosen || !outbound || !nonce || !g_ir || !narrowed) {
    events.note(s.name(), "child_failed", fmt::format("{}: the CREATE_CHILD_SA answer is unacceptable", child.name),
                true);
    // Section 1.3: delete what the peer installed for an answer we refuse.
    if (outbound) s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteChild, nullptr, x->inbound_spi});
    return;
  }
  const bool simultaneous = old != s.children.end() && !old->second.rekey_nonces_low.empty();
  install(s, child, *chosen, x->inbound_spi, *outbound, g_ir->view(), x->nonce, nonce->data, tsi->selectors,
          tsr->selectors, x->rekeyed_spi, true, old != s.children.end() ? old->second.virtual_ip : std::nullopt, now,
          events);
  if (old == s.children.end()) return;
  ++s.counters.child_rekeys;
  if (simultaneous) {
    // Section 2.8.1: the new SA made with the lowest of the four nonces is
    // redundant; whoever initiated that exchange deletes it.
    const auto ours_low = std::min(x->nonce, nonce->data);
    if (ours_low < old->second.rekey_nonces_low) {
      s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteChild, nullptr, x->inbound_spi});
    }
  }
  // Make before break: the old SA goes once the new one is in (section 2.8).
  old->second.replaced = true;
  s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteChild, nullptr, x->rekeyed_spi});
}

}  // namespace ike_child

}  // namespace cordon::ipsec
