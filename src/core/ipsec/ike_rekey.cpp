// Rekeying the IKE SA (RFC 7296 sections 1.3.2 and 2.18): a CREATE_CHILD_SA
// exchange makes a new IKE SA with new SPIs and keys; the children move to
// it, and the old one is deleted. Whoever started the rekey is the new IKE
// SA's initiator (section 2.18).
//
//   SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
#include <fmt/format.h>

#include "core/ipsec/ike_sa_state.hpp"
#include "core/ipsec/proposal_wire.hpp"

namespace cordon::ipsec {
namespace {

std::vector<std::byte> spi8(uint64_t spi) {
  std::vector<std::byte> b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::byte>(spi >> (56 - 8 * i));
  return b;
}

std::optional<uint64_t> spi8_of(std::span<const std::byte> b) {
  if (b.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (std::byte x : b) v = v << 8 | static_cast<uint8_t>(x);
  return v == 0 ? std::nullopt : std::optional<uint64_t>(v);
}

// The new IKE SA: the old one's connection, peer and children, with the
// new keys. `we_initiated` says who started the rekey exchange.
bool make_successor(IkeSa::State& old, const Chosen& chosen, bool we_initiated, uint64_t spi_i, uint64_t spi_r,
                    std::span<const std::byte> nonce_i, std::span<const std::byte> nonce_r,
                    const crypto::SecretBytes& g_ir, const Now& now, IkeEvents& events) {
  auto seed = rekeyed_skeyseed(old.ike.prf, old.keys.sk_d.view(), g_ir.view(), nonce_i, nonce_r);
  if (!seed) return false;
  auto keys = ike_sa_keys(chosen.prf, TransformKeySizes::of(chosen.cipher()), seed->view(), nonce_i, nonce_r, spi_i,
                          spi_r);
  if (!keys) return false;
  auto state = std::make_unique<IkeSa::State>();
  IkeSa::State& s = *state;
  s.conn = old.conn;
  s.candidates = old.candidates;
  s.initiator = we_initiated;
  s.spi_i = spi_i;
  s.spi_r = spi_r;
  s.local = old.local;
  s.remote = old.remote;
  s.nat_t = old.nat_t;
  s.behind_nat_local = old.behind_nat_local;
  s.behind_nat_remote = old.behind_nat_remote;
  s.peer_fragmentation = old.peer_fragmentation;
  s.peer_id = old.peer_id;
  s.peer_hashes = old.peer_hashes;
  s.virtual_ip = old.virtual_ip;
  s.ike = chosen;
  s.keys = std::move(*keys);
  s.nonce_i.assign(nonce_i.begin(), nonce_i.end());
  s.nonce_r.assign(nonce_r.begin(), nonce_r.end());
  if (!ike::make_ike_ciphers(s)) return false;
  s.children = std::move(old.children);
  old.children.clear();
  s.counters.ike_rekeys = old.counters.ike_rekeys + 1;
  s.counters.child_rekeys = old.counters.child_rekeys;
  s.created_ns = s.last_heard_ns = now.mono_ns;
  s.state = IkeState::kEstablished;
  s.established_ns = now.mono_ns;
  if (s.conn->rekey_time_ns > 0) s.rekey_at_ns = now.mono_ns + s.conn->rekey_time_ns;
  events.note(old.name(), "ike_rekeyed",
              fmt::format("{} SPIs {:016x}_i {:016x}_r -> {:016x}_i {:016x}_r", old.remote.to_string(), old.spi_i,
                          old.spi_r, spi_i, spi_r));
  old.successor = IkeSa::from_state(std::move(state));
  return true;
}

}  // namespace

namespace ike_child {

void answer_ike_rekey(IkeSa::State& s, uint32_t message_id, const SaPayload& sa, const NoncePayload& nonce,
                      const KePayload* ke, IkeContext& context, IkeEvents& events) {
  auto selection = select_from_wire(s.conn->proposals, sa.proposals);
  if (!selection) {
    answer_error(s, message_id, NotifyType::kNoProposalChosen, events);
    return;
  }
  const Proposal& theirs = sa.proposals[selection->their_index];
  const auto new_spi_i = spi8_of(theirs.spi);
  if (!new_spi_i) {
    answer_error(s, message_id, NotifyType::kInvalidSyntax, events);
    return;
  }
  if (!ke || ke->group != selection->chosen.dh) {
    const auto g = static_cast<uint16_t>(selection->chosen.dh);
    std::vector<Payload> out;
    out.push_back(ike::notify(NotifyType::kInvalidKePayload, {static_cast<std::byte>(g >> 8), static_cast<std::byte>(g)}));
    ike::send_response(s, ExchangeType::kCreateChildSa, message_id, std::move(out), events);
    return;
  }
  auto dh = ike::new_dh(selection->chosen.dh, context);
  const uint64_t new_spi_r = ike::new_ike_spi(context);
  auto nonce_r = ike::new_nonce(context);
  auto g_ir = dh ? dh->agree(ke->data) : Result<crypto::SecretBytes, DhError>(DhError::kOpenSsl);
  if (!dh || !g_ir || new_spi_r == 0 || nonce_r.empty()) {
    answer_error(s, message_id, NotifyType::kNoProposalChosen, events);
    return;
  }
  std::vector<Payload> out;
  out.push_back(Payload{SaPayload{{chosen_to_wire(selection->chosen, ProtocolId::kIke, theirs.number, spi8(new_spi_r))}}, false});
  out.push_back(Payload{NoncePayload{nonce_r}, false});
  out.push_back(ke_payload(*dh));
  // The new SA's keys are made before the answer leaves: an answer whose
  // SA we could not make would strand the peer on it.
  const Now now{s.last_heard_ns, 0};
  if (!make_successor(s, selection->chosen, false, *new_spi_i, new_spi_r, nonce.data, nonce_r, *g_ir, now, events)) {
    answer_error(s, message_id, NotifyType::kNoProposalChosen, events);
    return;
  }
  ike::send_response(s, ExchangeType::kCreateChildSa, message_id, std::move(out), events);
  // The peer, which started the rekey, deletes this IKE SA (section 2.18).
}

void finish_ike_rekey(IkeSa::State& s, IkeRekeyExchange& exchange, std::span<const Payload> payloads,
                      const Now& now, IkeEvents& events) {
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* nonce = find_payload<NoncePayload>(payloads);
  const auto* ke = find_payload<KePayload>(payloads);
  if (const NotifyPayload* error = ike::find_error(payloads)) {
    events.note(s.name(), "ike_rekey_failed", fmt::format("the peer answered {}", ike::notify_name(error->type)), true);
    if (s.conn->rekey_time_ns > 0) s.rekey_at_ns = now.mono_ns + 10 * kNsPerSecond;
    return;
  }
  std::optional<Chosen> chosen;
  std::optional<uint64_t> new_spi_r;
  if (sa && sa->proposals.size() == 1) {
    if (auto answer = from_wire(sa->proposals.front())) chosen = accept_answer(s.conn->proposals, *answer);
    new_spi_r = spi8_of(sa->proposals.front().spi);
  }
  if (!chosen || !new_spi_r || !nonce || !ke || !exchange.dh || ke->group != exchange.dh->group() ||
      chosen->dh != ke->group) {
    events.note(s.name(), "ike_rekey_failed", "the answer to our IKE SA rekey is unacceptable", true);
    return;
  }
  auto g_ir = exchange.dh->agree(ke->data);
  if (!g_ir || !make_successor(s, *chosen, true, exchange.new_spi, *new_spi_r, exchange.nonce, nonce->data, *g_ir,
                               now, events)) {
    events.note(s.name(), "ike_rekey_failed", "the new IKE SA's keys could not be made", true);
    return;
  }
  // Section 2.18: the rekey's initiator deletes the old IKE SA.
  s.queue.clear();
  s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteIke});
}

}  // namespace ike_child
}  // namespace cordon::ipsec
