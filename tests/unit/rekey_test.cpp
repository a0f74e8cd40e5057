// The rekey exchange's state machine (link/rekey.hpp) on both sides, driven
// message by message through a fake key ring: every order of delivery, loss
// and duplication of the four messages, and the refusals.
#include "core/link/rekey.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>

#include "core/crypto/x25519.hpp"
#include "core/keys/key_generation.hpp"
#include "core/wire/channel.hpp"

namespace cordon::link {
namespace {

constexpr HostId kMaster{0x00010001};
constexpr HostId kOther{0x00010002};

// Records what the session did to the keys; a generation's "key" is a
// digest of the secret it was built from, so both sides can be compared.
struct FakeRing : KeyRing {
  std::map<uint32_t, std::vector<std::byte>> held{{0, {}}};
  uint32_t sending = 0;
  std::map<uint32_t, uint64_t> closed;
  uint64_t next_counter = 1000;
  int resets = 0;
  int rested = 0;  // rest_zero calls

  bool install(uint32_t number, const crypto::SecretBytes& ikm) override {
    held[number] = std::vector<std::byte>(ikm.view().begin(), ikm.view().end());
    return true;
  }
  uint64_t switch_tx(uint32_t number) override {
    EXPECT_TRUE(held.count(number)) << "switched to a generation not held: " << number;
    sending = number;
    return next_counter += 100;
  }
  void close_rx(uint32_t number, uint64_t from) override { closed[number] = from; }
  void drop(uint32_t number) override {
    EXPECT_NE(number, sending);
    held.erase(number);
  }
  void rest_zero() override { ++rested; }
  void reset() override {
    ++resets;
    held = {{0, {}}};
    sending = 0;
  }
};

RandomFill counting_random(uint8_t seed) {
  auto state = std::make_shared<std::mt19937>(seed);
  return [state](std::span<std::byte> out) {
    for (auto& b : out) b = static_cast<std::byte>((*state)() & 0xff);
    return true;
  };
}

crypto::SecretBytes chain0() {
  crypto::SecretBytes link(32);
  for (size_t i = 0; i < 32; ++i) link.mutable_view()[i] = static_cast<std::byte>(i);
  return *keys::chain_start(link);
}

Now at(int64_t s) { return Now{s * kNsPerSecond, 1'700'000'000 * kNsPerSecond + s * kNsPerSecond}; }

struct Pair {
  FakeRing mring, oring;
  RekeySession master, other;
  Pair(int64_t period_s = 60)
      : master({true, kMaster, kOther, period_s * kNsPerSecond}, chain0(), counting_random(1), at(0)),
        other({false, kOther, kMaster, period_s * kNsPerSecond}, chain0(), counting_random(2), at(0)) {
    master.peer_heard(at(0));
    other.peer_heard(at(0));
  }
};

using Messages = std::vector<wire::ChannelMessage>;

// Delivers `m` to the side it is for, returns what it answered.
Messages deliver(RekeySession& to, FakeRing& ring, const wire::ChannelMessage& m, const Now& now,
                 std::vector<RekeyEvent>* events = nullptr) {
  RekeyOut out;
  to.receive(m, now, ring, out);
  if (events) events->insert(events->end(), out.events.begin(), out.events.end());
  return out.messages;
}

TEST(Rekey, AKeyMasterWaitsToHearFromThePeerThenStartsAtOnce) {
  FakeRing ring;
  RekeySession master({true, kMaster, kOther, 60 * kNsPerSecond}, chain0(), counting_random(1), at(0));
  RekeyOut out;
  master.tick(at(5), 0, 0, ring, out);
  EXPECT_TRUE(out.messages.empty()) << "an offer to a peer not heard from";
  master.peer_heard(at(6));
  master.tick(at(6), 0, 0, ring, out);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::RekeyOffer>(out.messages[0]));
}

TEST(Rekey, BothSidesEndOnTheSameGeneration) {
  Pair p;
  RekeyOut out;
  p.master.tick(at(0), 0, 0, p.mring, out);
  ASSERT_EQ(out.messages.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<wire::RekeyOffer>(out.messages[0]));
  EXPECT_EQ(std::get<wire::RekeyOffer>(out.messages[0]).generation, 1u);

  const auto status = deliver(p.other, p.oring, out.messages[0], at(0));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(std::get<wire::RekeyStatus>(status[0]).code, wire::RekeyStatus::Code::kOk);
  EXPECT_TRUE(p.oring.held.count(1));  // held for receiving before the master sends with it
  EXPECT_EQ(p.oring.sending, 0u);

  const auto sw = deliver(p.master, p.mring, status[0], at(0));
  ASSERT_EQ(sw.size(), 1u);
  EXPECT_EQ(p.mring.sending, 1u);
  const auto switched = deliver(p.other, p.oring, sw[0], at(0));
  ASSERT_EQ(switched.size(), 1u);
  EXPECT_EQ(p.oring.sending, 1u);
  // The other side closed the master's generation 0 at the master's first counter.
  EXPECT_EQ(p.oring.closed[0], std::get<wire::RekeySwitch>(sw[0]).first_counter);
  EXPECT_TRUE(deliver(p.master, p.mring, switched[0], at(0)).empty());
  EXPECT_EQ(p.mring.closed[0], std::get<wire::RekeySwitched>(switched[0]).first_counter);
  // Both derived the same secret for generation 1.
  EXPECT_EQ(p.mring.held[1], p.oring.held[1]);
  EXPECT_EQ(p.master.current(), 1u);
  EXPECT_EQ(p.other.current(), 1u);
  EXPECT_EQ(p.master.counters().done, 1u);
  EXPECT_EQ(p.other.counters().done, 1u);
  EXPECT_EQ(p.master.phase(), RekeySession::Phase::kIdle);
  EXPECT_EQ(p.master.next_rekey_mono_ns(), at(60).mono_ns);
}

TEST(Rekey, TheLinkKeyAloneDoesNotGiveGenerationOne) {
  // What an observer holding the link key can compute from the offer and
  // the status (both public shares, the material) is not the secret: the
  // X25519 private values never leave the two sides.
  Pair p;
  RekeyOut out;
  p.master.tick(at(0), 0, 0, p.mring, out);
  const auto offer = std::get<wire::RekeyOffer>(out.messages[0]);
  const auto status = deliver(p.other, p.oring, offer, at(0));
  deliver(p.master, p.mring, status[0], at(0));
  const auto st = std::get<wire::RekeyStatus>(status[0]);
  // Trying with the shares themselves as the "shared secret".
  for (const auto& guess : {offer.share, st.share}) {
    const crypto::SecretBytes g{std::span<const std::byte>(guess)};
    const auto s1 = keys::chain_next(chain0(), g, offer.material, 1, kMaster, kOther);
    EXPECT_NE(std::vector<std::byte>(s1->view().begin(), s1->view().end()), p.mring.held[1]);
  }
}

// Runs one round with a scripted network: each message sent is delivered
// per `fate` (0 deliver, 1 lose, 2 deliver twice), in order, with the
// master's retransmissions on its timer. Returns after the round settles.
struct Script {
  std::vector<int> fates;
  size_t next = 0;
  int fate() { return next < fates.size() ? fates[next++] : 0; }
};

void run_round(Pair& p, Script& script, int64_t start_s) {
  std::deque<std::pair<bool, wire::ChannelMessage>> wire;  // (to master?, message)
  auto send = [&](bool to_master, const Messages& ms) {
    for (const auto& m : ms) {
      const int f = script.fate();
      if (f == 1) continue;
      wire.emplace_back(to_master, m);
      if (f == 2) wire.emplace_back(to_master, m);
    }
  };
  for (int64_t t = start_s; t < start_s + 40; ++t) {
    RekeyOut out;
    p.master.tick(at(t), 0, 0, p.mring, out);
    send(false, out.messages);
    RekeyOut oout;
    p.other.tick(at(t), 0, 0, p.oring, oout);
    send(true, oout.messages);
    while (!wire.empty()) {
      auto [to_master, m] = wire.front();
      wire.pop_front();
      if (to_master) {
        send(false, deliver(p.master, p.mring, m, at(t)));
      } else {
        send(true, deliver(p.other, p.oring, m, at(t)));
      }
    }
    if (p.master.phase() == RekeySession::Phase::kIdle && p.master.counters().done + p.master.counters().failed > 0 &&
        p.other.phase() == RekeySession::Phase::kIdle) {
      return;
    }
  }
}

// Every pattern of loss and duplication over the first six transmissions.
TEST(Rekey, EveryLossAndDuplicationPatternEndsInAgreement) {
  int patterns = 0;
  for (int code = 0; code < 729; ++code) {  // 3^6
    Script script;
    for (int c = code, i = 0; i < 6; ++i, c /= 3) script.fates.push_back(c % 3);
    Pair p;
    run_round(p, script, 0);
    SCOPED_TRACE(testing::Message() << "pattern " << code);
    ASSERT_EQ(p.master.counters().done, 1u);
    ASSERT_EQ(p.master.current(), 1u);
    ASSERT_EQ(p.other.current(), 1u);
    ASSERT_EQ(p.mring.sending, 1u);
    ASSERT_EQ(p.oring.sending, 1u);
    ASSERT_EQ(p.mring.held[1], p.oring.held[1]);
    ++patterns;
  }
  EXPECT_EQ(patterns, 729);
}

TEST(Rekey, MessagesOutOfOrderOrFromTheWrongRoleChangeNothing) {
  Pair p;
  std::vector<RekeyEvent> events;
  // A switch before any offer, a status nobody asked for, an offer to the
  // key master, a switched to the other side.
  EXPECT_TRUE(deliver(p.other, p.oring, wire::RekeySwitch{1, 5000}, at(1), &events).empty());
  EXPECT_TRUE(deliver(p.master, p.mring, wire::RekeyStatus{1, wire::RekeyStatus::Code::kOk, 0, {}}, at(1), &events).empty());
  EXPECT_TRUE(deliver(p.master, p.mring, wire::RekeyOffer{1, {}, {}, {}, 0, 0}, at(1), &events).empty());
  EXPECT_TRUE(deliver(p.other, p.oring, wire::RekeySwitched{1, 5000}, at(1), &events).empty());
  EXPECT_TRUE(deliver(p.other, p.oring, wire::RekeyRequest{}, at(1), &events).empty());
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].reason, RekeyReason::kOutOfOrder);
  EXPECT_EQ(events[1].reason, RekeyReason::kOutOfOrder);
  EXPECT_EQ(events[2].reason, RekeyReason::kNotKeyMaster);
  EXPECT_EQ(events[3].reason, RekeyReason::kNotKeyMaster);
  EXPECT_EQ(events[4].reason, RekeyReason::kNotKeyMaster);
  EXPECT_EQ(p.oring.held.size(), 1u);
  EXPECT_EQ(p.mring.held.size(), 1u);
  EXPECT_EQ(p.other.counters().refused, 3u);
  EXPECT_EQ(p.master.counters().refused, 2u);
}

TEST(Rekey, AnOfferForAnotherGenerationOrWithABadShareIsAnsweredWithAFailure) {
  Pair p;
  wire::RekeyOffer offer{5, {}, wire::RekeyOffer::Kind::kCarried, {}, 0, 0};
  offer.share[0] = std::byte{9};
  auto st = deliver(p.other, p.oring, offer, at(1));
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(std::get<wire::RekeyStatus>(st[0]).code, wire::RekeyStatus::Code::kBadGeneration);
  EXPECT_EQ(std::get<wire::RekeyStatus>(st[0]).current, 0u);
  // The all-zero share is a low-order point: X25519 gives zero (RFC 7748, 6.1).
  offer.generation = 1;
  offer.share = {};
  st = deliver(p.other, p.oring, offer, at(1));
  EXPECT_EQ(std::get<wire::RekeyStatus>(st[0]).code, wire::RekeyStatus::Code::kBadShare);
  // An array index that was never delivered.
  offer.kind = wire::RekeyOffer::Kind::kArrayIndex;
  offer.share[0] = std::byte{9};
  st = deliver(p.other, p.oring, offer, at(1));
  EXPECT_EQ(std::get<wire::RekeyStatus>(st[0]).code, wire::RekeyStatus::Code::kNoArray);
  EXPECT_EQ(p.oring.held.size(), 1u);
  EXPECT_EQ(p.other.current(), 0u);
}

TEST(Rekey, AFailedStatusIsRetriedFourTimesThenTheRoundFails) {
  Pair p;
  RekeyOut out;
  p.master.tick(at(0), 0, 0, p.mring, out);
  std::vector<RekeyEvent> events;
  int offers = 1;
  for (int i = 0; i < 10 && !out.messages.empty(); ++i) {
    const auto offer = std::get<wire::RekeyOffer>(out.messages.back());
    out.messages.clear();
    RekeyOut next;
    p.master.receive(wire::RekeyStatus{offer.generation, wire::RekeyStatus::Code::kBadShare, 0, {}}, at(1), p.mring,
                     next);
    events.insert(events.end(), next.events.begin(), next.events.end());
    if (!next.messages.empty()) ++offers;
    out = std::move(next);
  }
  EXPECT_EQ(offers, 5);  // the first and four more (the P³ specification)
  EXPECT_EQ(p.master.counters().failed, 1u);
  EXPECT_EQ(events.back().kind, RekeyEvent::Kind::kFailed);
  EXPECT_EQ(events.back().reason, RekeyReason::kBadShare);
  EXPECT_EQ(p.master.current(), 0u);
  EXPECT_EQ(p.mring.sending, 0u);
  EXPECT_EQ(p.master.next_rekey_mono_ns(), at(61).mono_ns);  // one period later
}

TEST(Rekey, AnUnansweredOfferIsRetransmittedThenTheAttemptFails) {
  Pair p;
  RekeyOut out;
  p.master.tick(at(0), 0, 0, p.mring, out);
  int sent = 1;
  std::vector<RekeyEvent> events;
  for (int t = 1; t <= 200; ++t) {
    RekeyOut o;
    p.master.tick(at(t), 0, 0, p.mring, o);
    sent += static_cast<int>(o.messages.size());
    events.insert(events.end(), o.events.begin(), o.events.end());
    if (p.master.counters().failed) break;
  }
  EXPECT_EQ(p.master.counters().failed, 1u);
  EXPECT_EQ(sent, 5 * (1 + 5));  // five attempts, each the offer and five retransmissions
  EXPECT_EQ(events.back().reason, RekeyReason::kNoAnswer);
}

TEST(Rekey, RequestsAndForcedRekeysAreRateLimited) {
  Pair p;
  RekeyOut out;
  p.master.tick(at(0), 0, 0, p.mring, out);  // the first round, under way
  std::vector<RekeyEvent> events;
  deliver(p.master, p.mring, wire::RekeyRequest{}, at(1), &events);
  deliver(p.master, p.mring, wire::RekeyRequest{}, at(1), &events);
  deliver(p.master, p.mring, wire::RekeyRequest{}, at(1), &events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].reason, RekeyReason::kRateLimited);
  EXPECT_EQ(p.master.counters().refused, 2u);
  RekeyOut f;
  EXPECT_FALSE(p.master.force(at(1), f));
  EXPECT_TRUE(p.master.force(at(3), f));
}

TEST(Rekey, ThePeerSendingGenerationZeroAfterItsSwitchResetsTheChain) {
  Pair p;
  Script none;
  run_round(p, none, 0);
  ASSERT_EQ(p.other.current(), 1u);
  const uint64_t master_first = p.oring.closed[0];
  RekeyOut out;
  // A generation-0 datagram from before the switch is just late.
  p.other.peer_datagram_in_zero(master_first - 1, at(2), p.oring, out);
  EXPECT_EQ(p.oring.resets, 0);
  // One at or after it: the master restarted.
  p.other.peer_datagram_in_zero(master_first + 5, at(2), p.oring, out);
  EXPECT_EQ(p.oring.resets, 1);
  EXPECT_EQ(p.other.current(), 0u);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].reason, RekeyReason::kPeerRestarted);
  // A second one changes nothing more.
  p.other.peer_datagram_in_zero(master_first + 6, at(2), p.oring, out);
  EXPECT_EQ(p.oring.resets, 1);
  // The restarted master's offer of generation 1 goes through.
  Pair fresh;
  RekeyOut o;
  fresh.master.tick(at(3), 0, 0, fresh.mring, o);
  const auto st = deliver(p.other, p.oring, o.messages[0], at(3));
  EXPECT_EQ(std::get<wire::RekeyStatus>(st[0]).code, wire::RekeyStatus::Code::kOk);
}

TEST(Rekey, AKeyMasterResetByItsPeerRekeysAtOnce) {
  Pair p;
  Script none;
  run_round(p, none, 0);
  const uint64_t other_first = p.mring.closed[0];
  RekeyOut out;
  p.master.peer_datagram_in_zero(other_first, at(10), p.mring, out);
  EXPECT_EQ(p.mring.resets, 1);
  EXPECT_EQ(p.master.next_rekey_mono_ns(), at(10).mono_ns);
  RekeyOut o;
  p.master.tick(at(10), 0, 0, p.mring, o);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_EQ(std::get<wire::RekeyOffer>(o.messages[0]).generation, 1u);
}

TEST(Rekey, TheVolumeLimitStartsARoundOrAsksForOne) {
  Pair p(0);  // no period: only the volume
  RekeyOut out;
  p.master.tick(at(0), 0, 0, p.mring, out);
  EXPECT_TRUE(out.messages.empty());
  p.master.tick(at(1), kVolumeLimit, 0, p.mring, out);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::RekeyOffer>(out.messages[0]));
  RekeyOut o;
  p.other.tick(at(1), 0, kVolumeLimit - 1, p.oring, o);
  EXPECT_TRUE(o.messages.empty());
  p.other.tick(at(2), kVolumeLimit, 0, p.oring, o);
  ASSERT_EQ(o.messages.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::RekeyRequest>(o.messages[0]));
  p.other.tick(at(3), kVolumeLimit + 10, 0, p.oring, o);
  EXPECT_EQ(o.messages.size(), 1u);  // asked once
}

TEST(Rekey, ThePreviousGenerationIsDroppedAfterItsGrace) {
  Pair p(1);
  Script none;
  run_round(p, none, 0);
  run_round(p, none, 2);
  ASSERT_EQ(p.master.current(), 2u);
  EXPECT_TRUE(p.mring.held.count(1));  // in its grace
  EXPECT_TRUE(p.mring.held.count(0));  // generation 0 is never dropped
  EXPECT_EQ(p.mring.rested, 1);        // but its grace ended at the second switch
  RekeyOut out;
  p.master.tick(at(2 + 11), 0, 0, p.mring, out);
  EXPECT_FALSE(p.mring.held.count(1));
  EXPECT_TRUE(p.mring.held.count(0));
}

}  // namespace
}  // namespace cordon::link
