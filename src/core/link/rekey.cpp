// The rekey exchange (rekey.hpp has the message order and the timers).
#include "core/link/rekey.hpp"

#include <algorithm>
#include <array>

#include "core/keys/key_generation.hpp"

namespace cordon::link {
namespace {

constexpr int64_t kNever = INT64_MAX;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

RekeyReason reason_of(wire::RekeyStatus::Code c) {
  switch (c) {
    case wire::RekeyStatus::Code::kOk:
      return RekeyReason::kNone;
    case wire::RekeyStatus::Code::kBadGeneration:
      return RekeyReason::kBadGeneration;
    case wire::RekeyStatus::Code::kBadShare:
      return RekeyReason::kBadShare;
    case wire::RekeyStatus::Code::kNoArray:
      return RekeyReason::kNoArray;
    case wire::RekeyStatus::Code::kInternal:
      break;
  }
  return RekeyReason::kInternal;
}

}  // namespace

std::string_view rekey_reason_name(RekeyReason r) {
  switch (r) {
    case RekeyReason::kNone: return "none";
    case RekeyReason::kNoAnswer: return "no_answer";
    case RekeyReason::kBadShare: return "bad_share";
    case RekeyReason::kBadGeneration: return "bad_generation";
    case RekeyReason::kNoArray: return "no_array";
    case RekeyReason::kInternal: return "internal";
    case RekeyReason::kNotKeyMaster: return "not_key_master";
    case RekeyReason::kOutOfOrder: return "out_of_order";
    case RekeyReason::kRateLimited: return "rate_limited";
    case RekeyReason::kPeerRestarted: return "peer_restarted";
  }
  return "unknown";
}

std::string_view rekey_event_name(RekeyEvent::Kind k) {
  switch (k) {
    case RekeyEvent::Kind::kStarted: return "rekey_started";
    case RekeyEvent::Kind::kDone: return "rekey_done";
    case RekeyEvent::Kind::kAttemptFailed: return "rekey_attempt_failed";
    case RekeyEvent::Kind::kFailed: return "rekey_failed";
    case RekeyEvent::Kind::kRefused: return "rekey_message_refused";
    case RekeyEvent::Kind::kReset: return "rekey_reset";
  }
  return "unknown";
}

RekeySession::RekeySession(Params params, crypto::SecretBytes chain_start, RandomFill random, const Now& now)
    : params_(params),
      chain_start_(chain_start),
      secret_(std::move(chain_start)),
      random_(std::move(random)),
      arrays_(params.arrays.size > 0 ? std::make_unique<KeyArrays>(params.arrays, params.key_master) : nullptr) {}

KeyArrays& RekeySession::arrays_in_use() {
  if (!arrays_) arrays_ = std::make_unique<KeyArrays>(params_.arrays, params_.key_master);
  return *arrays_;
}

void RekeySession::peer_heard(const Now& now) {
  if (heard_) return;
  heard_ = true;
  if (params_.key_master && params_.period_ns > 0 && phase_ == Phase::kIdle && current_ == 0) {
    next_rekey_at_ = now.mono_ns;
  }
}

void RekeySession::set_period(int64_t period_ns, const Now& now) {
  if (period_ns == params_.period_ns) return;
  params_.period_ns = period_ns;
  if (!params_.key_master) return;
  // A shorter period takes effect now; a longer one at the next round.
  next_rekey_at_ = period_ns <= 0 ? kNever : std::min(next_rekey_at_, now.mono_ns + period_ns);
}

void RekeySession::set_arrays(KeyArrayParams params, const Now& now, RekeyOut& out) {
  params_.arrays = params;
  if (arrays_ || params.size > 0) arrays_in_use().set_params(params, now, out.messages);
}

bool RekeySession::renew_arrays(uint8_t kinds, const Now& now, RekeyOut& out) {
  if (!params_.key_master || params_.arrays.size == 0) return false;
  arrays_in_use().renew(kinds, now, out.messages);
  return true;
}

bool RekeySession::flush_arrays(uint8_t kinds, bool renew, const Now& now, RekeyOut& out) {
  if (!params_.key_master || params_.arrays.size == 0) return false;
  arrays_in_use().flush(kinds, renew, now, out.messages);
  return true;
}

int64_t RekeySession::next_rekey_mono_ns() const { return params_.key_master ? next_rekey_at_ : kNever; }

int64_t RekeySession::next_deadline() const {
  int64_t d = std::min(retransmit_at_, previous_until_);
  if (params_.key_master && phase_ == Phase::kIdle) d = std::min(d, next_rekey_at_);
  if (secure_ && arrays_) d = std::min(d, arrays_->next_deadline());
  return d;
}

bool RekeySession::rate_limited(const Now& now) {
  if (last_request_at_ != INT64_MIN && now.mono_ns - last_request_at_ < kRekeyRequestIntervalNs) return true;
  last_request_at_ = now.mono_ns;
  return false;
}

void RekeySession::refuse(RekeyReason why, uint32_t generation, RekeyOut& out) {
  ++counters_.refused;
  out.events.push_back({RekeyEvent::Kind::kRefused, generation, why});
}

// ------------------------------------------------------------ key master

void RekeySession::start_round(const Now& now, RekeyOut& out) {
  attempts_ = 0;
  next_ = current_ + 1;
  out.events.push_back({RekeyEvent::Kind::kStarted, next_, RekeyReason::kNone});
  send_offer(now, out);
}

void RekeySession::send_offer(const Now& now, RekeyOut& out) {
  ++attempts_;
  // One draw for the ephemeral private value and the material.
  crypto::SecretBytes drawn(crypto::kX25519Size + wire::kMaterialSize);
  if (!random_ || !random_(drawn.mutable_view())) return attempt_failed(RekeyReason::kInternal, now, out);
  const auto view = drawn.view();
  ephemeral_ = crypto::X25519Key::from_private(view.first<crypto::kX25519Size>());
  if (!ephemeral_) return attempt_failed(RekeyReason::kInternal, now, out);
  wire::RekeyOffer offer;
  offer.generation = next_;
  offer.share = ephemeral_->public_value();
  if (auto pick = arrays_ ? arrays_->take() : std::nullopt) {
    // An entry of each key array in place of carried material.
    offer.kind = wire::RekeyOffer::Kind::kArrayIndex;
    offer.data_array = pick->data_array;
    offer.data_index = pick->data_index;
    offer.control_array = pick->control_array;
    offer.control_index = pick->control_index;
    material_ = std::move(pick->material);
  } else {
    offer.kind = wire::RekeyOffer::Kind::kCarried;
    material_ = crypto::SecretBytes(view.subspan(crypto::kX25519Size));
    std::copy(material_.view().begin(), material_.view().end(), offer.material.begin());
  }
  phase_ = Phase::kOffered;
  retransmits_ = 0;
  retransmit_at_ = now.mono_ns + kRekeyRetransmitNs;
  last_sent_ = offer;
  out.messages.push_back(offer);
  crypto::wipe(std::span(offer.material));
}

void RekeySession::resend(RekeyOut& out) const {
  std::visit([&](const auto& m) { out.messages.push_back(m); }, *last_sent_);
}

void RekeySession::attempt_failed(RekeyReason why, const Now& now, RekeyOut& out) {
  ephemeral_.reset();
  material_.wipe();
  if (last_sent_) {
    if (auto* o = std::get_if<wire::RekeyOffer>(&*last_sent_)) crypto::wipe(std::span(o->material));
  }
  last_sent_.reset();
  retransmit_at_ = kNever;
  if (attempts_ < kRekeyAttempts) {
    out.events.push_back({RekeyEvent::Kind::kAttemptFailed, next_, why});
    return send_offer(now, out);
  }
  // The P³ specification then starts session recovery; a site link does
  // (its session watches these events), every other link keeps its current
  // generation and tries again one period later.
  ++counters_.failed;
  out.events.push_back({RekeyEvent::Kind::kFailed, next_, why});
  phase_ = Phase::kIdle;
  forced_ = false;
  next_rekey_at_ = params_.period_ns > 0 ? now.mono_ns + params_.period_ns : kNever;
}

void RekeySession::on_status(const wire::RekeyStatus& m, const Now& now, KeyRing& ring, RekeyOut& out) {
  if (!params_.key_master) return refuse(RekeyReason::kNotKeyMaster, m.generation, out);
  // A copy of the status this round already used (the network duplicated
  // it, or the other side answered a retransmitted offer): nothing to do.
  if (phase_ != Phase::kOffered && m.generation == current_) return;
  if (phase_ != Phase::kOffered || m.generation != next_) return refuse(RekeyReason::kOutOfOrder, m.generation, out);
  // The other side lacks the arrays this side holds (it restarted, or lost
  // a flush's effect): both go, new ones follow, and the next attempt
  // carries its material (key_array.hpp).
  if (m.code == wire::RekeyStatus::Code::kNoArray && params_.arrays.size > 0) {
    arrays_in_use().flush(kBothArrays, true, now, out.messages);
  }
  if (m.code != wire::RekeyStatus::Code::kOk) return attempt_failed(reason_of(m.code), now, out);
  const auto shared = ephemeral_->agree(m.share);
  if (!shared) return attempt_failed(RekeyReason::kBadShare, now, out);
  auto next = keys::chain_next(secret_, *shared, material_.view(), next_, key_master_id(), other_id());
  if (!next || !ring.install(next_, *next)) return attempt_failed(RekeyReason::kInternal, now, out);
  ephemeral_.reset();
  material_.wipe();
  crypto::wipe(std::span(std::get<wire::RekeyOffer>(*last_sent_).material));
  secret_ = std::move(*next);
  const uint64_t first = ring.switch_tx(next_);
  promote(next_, 0, now, ring);
  phase_ = Phase::kSwitching;
  retransmits_ = 0;
  retransmit_at_ = now.mono_ns + kRekeyRetransmitNs;
  const wire::RekeySwitch sw{current_, first};
  last_sent_ = sw;
  out.messages.push_back(sw);
}

void RekeySession::on_switched(const wire::RekeySwitched& m, const Now& now, KeyRing& ring, RekeyOut& out) {
  if (!params_.key_master) return refuse(RekeyReason::kNotKeyMaster, m.generation, out);
  if (phase_ == Phase::kIdle && m.generation == current_) return;  // a copy: the round is done
  if (phase_ != Phase::kSwitching || m.generation != current_) {
    return refuse(RekeyReason::kOutOfOrder, m.generation, out);
  }
  if (previous_) {
    ring.close_rx(*previous_, m.first_counter);
    if (*previous_ == 0) peer_left_zero_ = m.first_counter;
  }
  finish(now, out);
}

void RekeySession::on_request(const Now& now, RekeyOut& out) {
  if (!params_.key_master) return refuse(RekeyReason::kNotKeyMaster, 0, out);
  if (rate_limited(now)) return refuse(RekeyReason::kRateLimited, 0, out);
  if (phase_ == Phase::kIdle) start_round(now, out);
}

// ------------------------------------------------------------ other side

void RekeySession::on_offer(const wire::RekeyOffer& m, const Now& now, KeyRing& ring, RekeyOut& out) {
  if (params_.key_master) return refuse(RekeyReason::kNotKeyMaster, m.generation, out);
  // A retransmitted offer whose status was lost: the same answer again.
  if (phase_ == Phase::kAnswered && m.generation == next_ && m.share == answered_share_ && last_sent_) {
    resend(out);
    return;
  }
  if (m.generation == current_ && phase_ == Phase::kIdle) return;  // a late copy of the offer already done
  wire::RekeyStatus status{m.generation, wire::RekeyStatus::Code::kOk, current_, {}};
  auto answer = [&](wire::RekeyStatus::Code code) {
    status.code = code;
    out.messages.push_back(status);
    out.events.push_back({RekeyEvent::Kind::kAttemptFailed, m.generation, reason_of(code)});
  };
  if (m.generation != current_ + 1) return answer(wire::RekeyStatus::Code::kBadGeneration);
  // The material: carried, or an entry of each key array (wiped as taken).
  std::optional<crypto::SecretBytes> from_arrays;
  if (m.kind == wire::RekeyOffer::Kind::kArrayIndex) {
    if (arrays_) from_arrays = arrays_->use(m);
    if (!from_arrays) return answer(wire::RekeyStatus::Code::kNoArray);
  }
  const std::span<const std::byte> material =
      from_arrays ? from_arrays->view() : std::span<const std::byte>(m.material);
  std::array<std::byte, crypto::kX25519Size> drawn{};
  if (!random_ || !random_(drawn)) return answer(wire::RekeyStatus::Code::kInternal);
  const auto own = crypto::X25519Key::from_private(drawn);
  crypto::wipe(drawn);
  if (!own) return answer(wire::RekeyStatus::Code::kInternal);
  const auto shared = own->agree(m.share);
  if (!shared) return answer(wire::RekeyStatus::Code::kBadShare);
  auto next = keys::chain_next(secret_, *shared, material, m.generation, key_master_id(), other_id());
  if (!next || !ring.install(m.generation, *next)) return answer(wire::RekeyStatus::Code::kInternal);
  next_ = m.generation;
  next_secret_ = std::move(*next);
  answered_share_ = m.share;
  status.share = own->public_value();
  phase_ = Phase::kAnswered;
  last_sent_ = status;
  out.messages.push_back(status);
}

void RekeySession::on_switch(const wire::RekeySwitch& m, const Now& now, KeyRing& ring, RekeyOut& out) {
  if (params_.key_master) return refuse(RekeyReason::kNotKeyMaster, m.generation, out);
  // Our switched was lost: the same answer again.
  if (phase_ == Phase::kIdle && m.generation == current_ && last_sent_ &&
      std::holds_alternative<wire::RekeySwitched>(*last_sent_)) {
    resend(out);
    return;
  }
  if (phase_ != Phase::kAnswered || m.generation != next_) return refuse(RekeyReason::kOutOfOrder, m.generation, out);
  secret_ = std::move(next_secret_);
  const uint64_t first = ring.switch_tx(next_);
  promote(next_, m.first_counter, now, ring);
  if (previous_ && *previous_ == 0) peer_left_zero_ = m.first_counter;
  const wire::RekeySwitched sw{current_, first};
  last_sent_ = sw;
  out.messages.push_back(sw);
  finish(now, out);
}

// ------------------------------------------------------------ both

// `number` becomes current; the generation before it is kept for the grace
// period. `peer_first` (the other side only) closes the old one for the
// peer's counters from there.
void RekeySession::promote(uint32_t number, uint64_t peer_first, const Now& now, KeyRing& ring) {
  retire_previous(now, ring);  // a previous one still in its grace goes now: its header value is needed
  previous_ = current_;
  current_ = number;
  if (peer_first != 0) ring.close_rx(*previous_, peer_first);
  previous_until_ = now.mono_ns + kRekeyGraceNs;
}

void RekeySession::finish(const Now& now, RekeyOut& out) {
  phase_ = Phase::kIdle;
  retransmit_at_ = kNever;
  forced_ = false;
  volume_pending_ = false;
  secure_ = true;
  ++counters_.done;
  last_rekey_real_ns_ = now.real_ns;
  if (params_.key_master) next_rekey_at_ = params_.period_ns > 0 ? now.mono_ns + params_.period_ns : kNever;
  if (params_.key_master && last_sent_ && std::holds_alternative<wire::RekeySwitch>(*last_sent_)) last_sent_.reset();
  out.events.push_back({RekeyEvent::Kind::kDone, current_, RekeyReason::kNone});
}

void RekeySession::retire_previous(const Now&, KeyRing& ring) {
  if (previous_ && *previous_ != 0) ring.drop(*previous_);
  if (previous_ && *previous_ == 0) ring.rest_zero();
  previous_.reset();
  previous_until_ = kNever;
}

void RekeySession::receive(const wire::ChannelMessage& m, const Now& now, KeyRing& ring, RekeyOut& out) {
  std::visit(Overloaded{
                 [&](const wire::RekeyOffer& x) { on_offer(x, now, ring, out); },
                 [&](const wire::RekeyStatus& x) { on_status(x, now, ring, out); },
                 [&](const wire::RekeySwitch& x) { on_switch(x, now, ring, out); },
                 [&](const wire::RekeySwitched& x) { on_switched(x, now, ring, out); },
                 [&](const wire::RekeyRequest&) { on_request(now, out); },
                 // Session messages: the node handles them (node_session.cpp).
                 [&](const wire::Heartbeat&) {},
                 [&](const wire::HeartbeatAck&) {},
                 [&](const wire::SessionShutdown&) {},
                 [&](const auto& array_message) {
                   if (!arrays_in_use().receive(array_message, now, secure_, out.messages)) {
                     refuse(RekeyReason::kNotKeyMaster, current_, out);
                   }
                 },
             },
             m);
}

bool RekeySession::force(const Now& now, RekeyOut& out) {
  if (rate_limited(now)) {
    refuse(RekeyReason::kRateLimited, 0, out);
    return false;
  }
  if (!params_.key_master) {
    out.messages.push_back(wire::RekeyRequest{});
    return true;
  }
  if (phase_ == Phase::kIdle) start_round(now, out);
  return true;
}

void RekeySession::peer_datagram_in_zero(uint64_t counter, const Now& now, KeyRing& ring, RekeyOut& out) {
  if (counter < peer_left_zero_) return;  // from before the peer's switch, or already handled
  ring.reset();
  secret_ = chain_start_;
  current_ = 0;
  previous_.reset();
  previous_until_ = kNever;
  ephemeral_.reset();
  material_.wipe();
  next_secret_.wipe();
  last_sent_.reset();
  phase_ = Phase::kIdle;
  retransmit_at_ = kNever;
  peer_left_zero_ = UINT64_MAX;
  if (arrays_) arrays_->reset();  // the peer lost its arrays with its generations
  secure_ = false;
  out.events.push_back({RekeyEvent::Kind::kReset, 0, RekeyReason::kPeerRestarted});
  // Back off generation 0 at once: it is the one the link key alone opens.
  // The peer was just heard from.
  heard_ = true;
  if (params_.key_master && params_.period_ns > 0) next_rekey_at_ = now.mono_ns;
}

void RekeySession::tick(const Now& now, uint64_t sent, uint64_t received, KeyRing& ring, RekeyOut& out) {
  if (now.mono_ns >= previous_until_) retire_previous(now, ring);
  if (now.mono_ns >= retransmit_at_ && last_sent_) {
    ++retransmits_;
    if (phase_ == Phase::kOffered && retransmits_ > kRekeyRetransmits) {
      attempt_failed(RekeyReason::kNoAnswer, now, out);
    } else {
      // A switch is repeated until the other side confirms it: only its
      // first counter tells this side when a generation-0 datagram from it
      // means a restart. Past the retransmissions of an offer, the interval
      // doubles up to kRekeySwitchRetransmitMaxNs (a peer that is gone).
      const unsigned over = retransmits_ > kRekeyRetransmits ? retransmits_ - kRekeyRetransmits : 0;
      const int64_t wait = std::min(kRekeyRetransmitNs << std::min(over, 5u), kRekeySwitchRetransmitMaxNs);
      resend(out);
      retransmit_at_ = now.mono_ns + wait;
    }
  }
  if (arrays_) arrays_->tick(now, secure_, random_, out.messages);
  const bool over = sent - sent_base_ >= params_.volume_limit || received - received_base_ >= params_.volume_limit;
  if (params_.key_master) {
    if (phase_ == Phase::kIdle && (now.mono_ns >= next_rekey_at_ || over)) {
      sent_base_ = sent;
      received_base_ = received;
      start_round(now, out);
    }
  } else if (over && !volume_pending_ && phase_ == Phase::kIdle) {
    volume_pending_ = true;
    sent_base_ = sent;
    received_base_ = received;
    out.messages.push_back(wire::RekeyRequest{});
  }
}

}  // namespace cordon::link
