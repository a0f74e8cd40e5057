// Rekeying the IKE SA (RFC 7296 sections 1.3.2 and 2.18): a CREATE_CHILD_SA
// exchange makes a new IKE SA with new SPIs and keys; the children move to
// it, and the old one is deleted. Whoever started the rekey is the new IKE
// SA's initiator (section 2.18).
//
//   SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
#include <algorithm>

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

// The new IKE SA: the old one's connection and peer, with the new keys
// and no children yet. `we_initiated` says who started the rekey exchange.
std::unique_ptr<IkeSa::State> rekeyed_state(const IkeSa::State& old, const Chosen& chosen, bool we_initiated,
                                            uint64_t spi_i, uint64_t spi_r, std::span<const std::byte> nonce_i,
                                            std::span<const std::byte> nonce_r, const crypto::SecretBytes& g_ir,
                                            const Now& now) {
  auto seed = rekeyed_skeyseed(old.ike.prf, old.keys.sk_d.view(), g_ir.view(), nonce_i, nonce_r);
  if (!seed) return nullptr;
  auto keys = ike_sa_keys(chosen.prf, TransformKeySizes::of(chosen.cipher()), seed->view(), nonce_i, nonce_r, spi_i,
                          spi_r);
  if (!keys) return nullptr;
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
  if (!ike::make_ike_ciphers(s)) return nullptr;
  s.counters.ike_rekeys = old.counters.ike_rekeys + 1;
  s.counters.child_rekeys = old.counters.child_rekeys;
  s.created_ns = s.last_heard_ns = now.mono_ns;
  s.state = IkeState::kEstablished;
  s.established_ns = now.mono_ns;
  s.next_keepalive_ns = now.mono_ns + kNatKeepaliveNs;
  if (s.conn->rekey_time_ns > 0) s.rekey_at_ns = now.mono_ns + s.conn->rekey_time_ns;
  return state;
}

bool about_children(const QueuedRequest& q) {
  return q.kind == QueuedRequest::Kind::kNewChild || q.kind == QueuedRequest::Kind::kRekeyChild ||
         q.kind == QueuedRequest::Kind::kDeleteChild;
}

// Hands `next` to the gateway through the old SA's successors, and retires
// the old one. With `children`, the CHILD_SAs and our queued requests about
// them move to `next` (section 2.18: they belong to the new IKE SA); a
// request left behind would name children the old SA no longer has.
void hand_over(IkeSa::State& old, std::unique_ptr<IkeSa::State> next, bool children, const Now& now,
               IkeContext& context, IkeEvents& events) {
  IkeSa::State& s = *next;
  if (children) {
    s.children = std::move(old.children);
    old.children.clear();
    for (auto it = old.queue.begin(); it != old.queue.end();) {
      if (!about_children(*it)) {
        ++it;
        continue;
      }
      s.queue.push_back(*it);
      it = old.queue.erase(it);
    }
    events.note(old.name(), "ike_rekeyed",
                fmt::format("{} SPIs {:016x}_i {:016x}_r -> {:016x}_i {:016x}_r", old.remote.to_string(), old.spi_i,
                            old.spi_r, s.spi_i, s.spi_r));
  }
  old.retired = true;
  old.rekey_at_ns = 0;
  ike::start_next_request(s, now, context, events);
  old.successors.push_back(IkeSa::from_state(std::move(next)));
}

// Section 2.18: the rekey's initiator deletes the old IKE SA.
void delete_old(IkeSa::State& s) {
  s.queue.clear();
  s.queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteIke});
}

// The peer's new IKE SA, held since the collision, is the only one: our
// rekey failed or was overtaken. Its initiator, the peer, deletes the old.
void keep_theirs(IkeSa::State& s, std::string_view why, const Now& now, IkeContext& context, IkeEvents& events) {
  events.note(s.name(), "ike_rekey_collision", fmt::format("{}: {}; the peer's new IKE SA is kept (section 2.8.2)",
                                                           s.remote.to_string(), why));
  s.peer_delete_by_ns = now.mono_ns + ike_child::peer_delete_grace(s);
  hand_over(s, std::move(s.collision), true, now, context, events);
}

// Section 2.8.2: both ends rekeyed this IKE SA and both new IKE SAs exist.
// The one made with the lowest of the four nonces is redundant; whoever
// initiated its exchange deletes it. The other takes the children, and its
// initiator deletes the old IKE SA. The peer reaches the same verdict from
// the same four nonces.
void settle_collision(IkeSa::State& s, std::unique_ptr<IkeSa::State> ours, std::span<const std::byte> ours_low,
                      const Now& now, IkeContext& context, IkeEvents& events) {
  std::unique_ptr<IkeSa::State> theirs = std::move(s.collision);
  const bool ours_redundant = std::lexicographical_compare(ours_low.begin(), ours_low.end(),
                                                           s.collision_nonce_low.begin(), s.collision_nonce_low.end());
  const IkeSa::State& kept = ours_redundant ? *theirs : *ours;
  events.note(s.name(), "ike_rekey_collision",
              fmt::format("{}: both ends rekeyed; the lowest nonce is in {} exchange, IKE SA {:016x}_i {:016x}_r is kept "
                          "(section 2.8.2)",
                          s.remote.to_string(), ours_redundant ? "our" : "the peer's", kept.spi_i, kept.spi_r));
  const int64_t grace = now.mono_ns + ike_child::peer_delete_grace(s);
  if (ours_redundant) {
    ours->retired = true;
    ours->queue.push_back(QueuedRequest{QueuedRequest::Kind::kDeleteIke});
    s.peer_delete_by_ns = grace;
    hand_over(s, std::move(theirs), true, now, context, events);
    hand_over(s, std::move(ours), false, now, context, events);
    return;
  }
  theirs->retired = true;
  theirs->peer_delete_by_ns = grace;
  hand_over(s, std::move(ours), true, now, context, events);
  hand_over(s, std::move(theirs), false, now, context, events);
  delete_old(s);
}

}  // namespace

namespace ike_child {

int64_t peer_delete_grace(const IkeSa::State& s) {
  int64_t total = 0;
  for (int tries = 0; tries < ike::retransmit_tries(s); ++tries) total += ike::retransmit_delay(s, tries);
  return total;
}

void answer_ike_rekey(IkeSa::State& s, uint32_t message_id, const SaPayload& sa, const NoncePayload& nonce,
                      const KePayload* ke, const Now& now, IkeContext& context, IkeEvents& events) {
  // Section 2.25: a CHILD_SA exchange of ours in flight would race the
  // children's move, and a second rekey of the same SA has nothing to
  // replace: both are temporary conditions. Our own IKE SA rekey in flight
  // is a collision, answered as usual (section 2.8.2).
  const bool ours_in_flight = s.outstanding && std::holds_alternative<IkeRekeyExchange>(s.outstanding->exchange);
  const bool busy = s.outstanding && !ours_in_flight && !std::holds_alternative<LivenessExchange>(s.outstanding->exchange);
  if (busy || s.collision) {
    answer_error(s, message_id, NotifyType::kTemporaryFailure, events);
    return;
  }
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
  auto next = rekeyed_state(s, selection->chosen, false, *new_spi_i, new_spi_r, nonce.data, nonce_r, *g_ir, now);
  if (!next) {
    answer_error(s, message_id, NotifyType::kNoProposalChosen, events);
    return;
  }
  if (!ike::send_response(s, ExchangeType::kCreateChildSa, message_id, std::move(out), events)) return;
  if (ours_in_flight) {
    // Section 2.8.2: which new IKE SA survives is known once ours is
    // answered; until then the children stay here.
    s.collision_nonce_low = std::min(nonce.data, nonce_r);
    s.collision = std::move(next);
    return;
  }
  // The peer, which started the rekey, deletes this IKE SA (section 2.18).
  s.peer_delete_by_ns = now.mono_ns + peer_delete_grace(s);
  hand_over(s, std::move(next), true, now, context, events);
}

void finish_ike_rekey(IkeSa::State& s, IkeRekeyExchange& exchange, std::span<const Payload> payloads,
                      const Now& now, IkeContext& context, IkeEvents& events) {
  const auto* sa = find_payload<SaPayload>(payloads);
  const auto* nonce = find_payload<NoncePayload>(payloads);
  const auto* ke = find_payload<KePayload>(payloads);
  if (const NotifyPayload* error = ike::find_error(payloads)) {
    // Section 2.8.2: a peer that finished its rekey before it saw ours
    // answers TEMPORARY_FAILURE; its new IKE SA is the only one.
    if (s.collision) {
      keep_theirs(s, fmt::format("the peer answered our rekey {}", ike::notify_name(error->type)), now, context,
                  events);
      return;
    }
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
  std::unique_ptr<IkeSa::State> ours;
  if (chosen && new_spi_r && nonce && ke && exchange.dh && ke->group == exchange.dh->group() && chosen->dh == ke->group) {
    if (auto g_ir = exchange.dh->agree(ke->data)) {
      ours = rekeyed_state(s, *chosen, true, exchange.new_spi, *new_spi_r, exchange.nonce, nonce->data, *g_ir, now);
    }
  }
  if (!ours) {
    events.note(s.name(), "ike_rekey_failed", "the answer to our IKE SA rekey is unacceptable", true);
    if (s.collision) keep_theirs(s, "our rekey failed", now, context, events);
    return;
  }
  if (s.collision) {
    settle_collision(s, std::move(ours), std::min(exchange.nonce, nonce->data), now, context, events);
    return;
  }
  hand_over(s, std::move(ours), true, now, context, events);
  delete_old(s);
}

void peer_deleted_during_rekey(IkeSa::State& s, const Now& now, IkeContext& context, IkeEvents& events) {
  s.outstanding.reset();
  keep_theirs(s, "the peer deleted the old IKE SA before answering our rekey", now, context, events);
}

}  // namespace ike_child
}  // namespace cordon::ipsec
