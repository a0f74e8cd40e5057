// Key arrays (link/key_array.hpp): delivery in chunks under loss, use of
// each entry once on both sides, replacement on the timers, flushes, the
// roles, and whole rekey rounds that name array entries.
#include "core/link/key_array.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>
#include <set>

#include "core/keys/key_generation.hpp"
#include "core/link/rekey.hpp"

namespace cordon::link {
namespace {

constexpr HostId kMaster{0x00010001};
constexpr HostId kOther{0x00010002};

Now at(int64_t s) { return Now{s * kNsPerSecond, 1'700'000'000 * kNsPerSecond + s * kNsPerSecond}; }

RandomFill seeded(uint32_t seed) {
  auto state = std::make_shared<std::mt19937>(seed);
  return [state](std::span<std::byte> out) {
    for (auto& b : out) b = static_cast<std::byte>((*state)() & 0xff);
    return true;
  };
}

KeyArrayParams params(uint16_t size, int64_t data_s = 100, int64_t control_s = 90) {
  return KeyArrayParams{size, data_s * kNsPerSecond, control_s * kNsPerSecond};
}

using Messages = std::vector<wire::ChannelMessage>;

struct Pair {
  KeyArrays master, other;
  RandomFill random = seeded(7);
  explicit Pair(uint16_t size) : master(params(size), true), other(params(size), false) {}

  // The other side's answers to `ms`; `lose(i)` drops message i.
  Messages to_other(const Messages& ms, const Now& now, const std::function<bool(size_t)>& lose = nullptr) {
    Messages answers;
    for (size_t i = 0; i < ms.size(); ++i) {
      if (lose && lose(i)) continue;
      EXPECT_TRUE(other.receive(ms[i], now, true, answers));
    }
    return answers;
  }
  void to_master(const Messages& ms, const Now& now) {
    Messages none;
    for (const auto& m : ms) EXPECT_TRUE(master.receive(m, now, true, none));
    EXPECT_TRUE(none.empty());
  }
  // Ticks at `now` and carries every message both ways, losing nothing.
  void settle(const Now& now) {
    Messages out;
    master.tick(now, true, random, out);
    to_master(to_other(out, now), now);
  }
};

wire::RekeyOffer offer_of(const ArrayPick& pick) {
  wire::RekeyOffer o{1, {}, wire::RekeyOffer::Kind::kArrayIndex, {}, pick.data_array, pick.data_index,
                     pick.control_array, pick.control_index};
  return o;
}

TEST(KeyArrays, NothingTravelsBeforeTheLinkLeavesGenerationZero) {
  Pair p(32);
  Messages out;
  p.master.tick(at(0), false, p.random, out);
  EXPECT_TRUE(out.empty());
  p.master.tick(at(0), true, p.random, out);
  ASSERT_EQ(out.size(), 4u);  // two chunks of each array
  // The other side, still on generation 0, takes none of it and answers nothing.
  Messages answers;
  for (const auto& m : out) p.other.receive(m, at(0), false, answers);
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(p.other.view(wire::ArrayKind::kData).id, 0u);
}

TEST(KeyArrays, BothSidesTakeTheSameEntriesOnceEach) {
  Pair p(20);  // a full chunk and a short one
  p.settle(at(0));
  const KeyArrayView mv = p.master.view(wire::ArrayKind::kData);
  const KeyArrayView ov = p.other.view(wire::ArrayKind::kData);
  ASSERT_NE(mv.id, 0u);
  EXPECT_EQ(mv.id, ov.id);
  EXPECT_EQ(mv.size, 20);
  EXPECT_EQ(ov.left, 20);
  std::set<std::vector<std::byte>> seen;
  for (int i = 0; i < 20; ++i) {
    auto pick = p.master.take();
    ASSERT_TRUE(pick);
    EXPECT_EQ(pick->data_index, i);
    EXPECT_EQ(pick->material.size(), 64u);
    const auto offer = offer_of(*pick);
    const auto got = p.other.use(offer);
    ASSERT_TRUE(got);
    EXPECT_TRUE(*got == pick->material);
    seen.insert(std::vector<std::byte>(got->view().begin(), got->view().end()));
    // The same entry a second time: wiped on the other side.
    EXPECT_FALSE(p.other.use(offer));
  }
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_FALSE(p.master.take()) << "a spent array gives nothing until its successor is delivered";
  EXPECT_EQ(p.other.view(wire::ArrayKind::kControl).left, 0);
  // A spent array is replaced at the next tick.
  p.settle(at(1));
  auto pick = p.master.take();
  ASSERT_TRUE(pick);
  EXPECT_NE(pick->data_array, mv.id);
  EXPECT_TRUE(p.other.use(offer_of(*pick)));
}

TEST(KeyArrays, LostChunksAndAcksAreSentAgainUntilTheArrayIsComplete) {
  Pair p(64);  // four chunks per array
  Messages out;
  p.master.tick(at(0), true, p.random, out);
  ASSERT_EQ(out.size(), 8u);
  // Chunks 1 and 6 lost on the way; the ack of chunk 2 lost on the way back.
  auto acks = p.to_other(out, at(0), [](size_t i) { return i == 1 || i == 6; });
  ASSERT_EQ(acks.size(), 6u);
  acks.erase(acks.begin() + 1);
  p.to_master(acks, at(0));
  EXPECT_FALSE(p.master.take()) << "an array is used only once every chunk is acknowledged";
  out.clear();
  p.master.tick(at(0) , true, p.random, out);
  EXPECT_TRUE(out.empty()) << "nothing again before a second";
  p.master.tick(at(1), true, p.random, out);
  EXPECT_EQ(out.size(), 3u) << "only the chunks not acknowledged";
  p.to_master(p.to_other(out, at(1)), at(1));
  auto pick = p.master.take();
  ASSERT_TRUE(pick);
  EXPECT_TRUE(p.other.use(offer_of(*pick)));
  EXPECT_EQ(p.master.view(wire::ArrayKind::kData).chunks, 0u);
}

TEST(KeyArrays, EachArrayIsReplacedOnItsOwnTimer) {
  Pair p(16);
  p.settle(at(0));
  const uint32_t data = p.master.view(wire::ArrayKind::kData).id;
  const uint32_t control = p.master.view(wire::ArrayKind::kControl).id;
  EXPECT_EQ(p.master.next_deadline(), at(90).mono_ns);  // the control array's timer (90 s), before the data one's
  p.settle(at(89));
  EXPECT_EQ(p.master.view(wire::ArrayKind::kControl).id, control);
  p.settle(at(90));
  EXPECT_NE(p.master.view(wire::ArrayKind::kControl).id, control);
  EXPECT_EQ(p.master.view(wire::ArrayKind::kData).id, data);
  // An offer under way that names the replaced control array still works
  // on the other side, which keeps the array before the newest.
  wire::RekeyOffer old{1, {}, wire::RekeyOffer::Kind::kArrayIndex, {}, data, 3, control, 3};
  EXPECT_TRUE(p.other.use(old));
  p.settle(at(100));
  EXPECT_NE(p.master.view(wire::ArrayKind::kData).id, data);
  // Once an offer names the newest arrays, the older ones are gone.
  auto pick = p.master.take();
  ASSERT_TRUE(pick);
  EXPECT_TRUE(p.other.use(offer_of(*pick)));
  old.data_index = old.control_index = 4;
  EXPECT_FALSE(p.other.use(old));
}

TEST(KeyArrays, AFlushWipesBothSidesAndANewArrayFollowsOnlyWhenAsked) {
  Pair p(16);
  p.settle(at(0));
  const uint32_t data = p.master.view(wire::ArrayKind::kData).id;
  Messages out;
  p.master.flush(kDataArray, false, at(5), out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<wire::KeyArrayFlush>(out[0]));
  EXPECT_FALSE(p.master.take());
  // The flush is lost once, sent again after a second, then answered.
  out.clear();
  p.master.tick(at(6), true, p.random, out);
  ASSERT_EQ(out.size(), 1u);
  const auto answers = p.to_other(out, at(6));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<wire::KeyArrayFlushed>(answers[0]));
  EXPECT_EQ(p.other.view(wire::ArrayKind::kData).id, 0u);
  EXPECT_NE(p.other.view(wire::ArrayKind::kControl).id, 0u) << "only the data array was named";
  p.to_master(answers, at(6));
  out.clear();
  p.master.tick(at(30), true, p.random, out);
  EXPECT_TRUE(out.empty()) << "answered flushes stop; no new data array before its timer";
  // The data array's timer, counted from the flush, brings a new one.
  p.settle(at(105));
  EXPECT_NE(p.master.view(wire::ArrayKind::kData).id, 0u);
  EXPECT_NE(p.master.view(wire::ArrayKind::kData).id, data);
  // Flush with renew, and renew alone, deliver at the next tick.
  out.clear();
  p.master.flush(kBothArrays, true, at(106), out);
  p.to_master(p.to_other(out, at(106)), at(106));
  p.settle(at(106));
  auto pick = p.master.take();
  ASSERT_TRUE(pick);
  EXPECT_TRUE(p.other.use(offer_of(*pick)));
  const uint32_t before = pick->control_array;
  out.clear();
  p.master.renew(kControlArray, at(107), out);
  p.settle(at(107));
  EXPECT_NE(p.master.view(wire::ArrayKind::kControl).id, before);
}

TEST(KeyArrays, EachMessageIsRefusedFromTheWrongRole) {
  Pair p(16);
  Messages out;
  p.master.tick(at(0), true, p.random, out);
  Messages answers;
  EXPECT_FALSE(p.master.receive(out[0], at(0), true, answers)) << "a chunk at the key master";
  EXPECT_FALSE(p.master.receive(wire::KeyArrayFlush{wire::ArrayKind::kData, 1}, at(0), true, answers));
  EXPECT_FALSE(p.other.receive(wire::KeyArrayAck{wire::ArrayKind::kData, 1, 0}, at(0), true, answers));
  EXPECT_FALSE(p.other.receive(wire::KeyArrayFlushed{wire::ArrayKind::kData, 1}, at(0), true, answers));
  EXPECT_TRUE(answers.empty());
  // The other side never delivers arrays of its own.
  p.other.tick(at(0), true, p.random, answers);
  EXPECT_TRUE(answers.empty());
}

TEST(KeyArrays, AResetWipesEverythingAndSizeZeroFlushes) {
  Pair p(16);
  p.settle(at(0));
  p.master.reset();
  p.other.reset();
  EXPECT_FALSE(p.master.take());
  EXPECT_EQ(p.other.view(wire::ArrayKind::kData).id, 0u);
  p.settle(at(1));
  ASSERT_NE(p.master.view(wire::ArrayKind::kData).id, 0u);
  Messages out;
  p.master.set_params(params(0), at(2), out);
  EXPECT_EQ(out.size(), 2u);  // a flush of each
  EXPECT_FALSE(p.master.take());
  out.clear();
  p.master.tick(at(200), true, p.random, out);
  for (const auto& m : out) EXPECT_FALSE(std::holds_alternative<wire::KeyArrayChunk>(m));
}

// ------------------------------------------------------------ with rounds

struct Ring : KeyRing {
  std::map<uint32_t, std::vector<std::byte>> held{{0, {}}};
  uint64_t counter = 1000;
  bool install(uint32_t n, const crypto::SecretBytes& ikm) override {
    held[n] = std::vector<std::byte>(ikm.view().begin(), ikm.view().end());
    return true;
  }
  uint64_t switch_tx(uint32_t) override { return counter += 10; }
  void close_rx(uint32_t, uint64_t) override {}
  void drop(uint32_t n) override { held.erase(n); }
  void reset() override { held = {{0, {}}}; }
};

crypto::SecretBytes chain0() {
  crypto::SecretBytes link(32);
  return *keys::chain_start(link);
}

// A key master and its other side rekeying every second, every message
// delivered at once.
struct Rounds {
  Ring mring, oring;
  RekeySession master, other;
  int indexed = 0, carried = 0;
  static RekeySession::Params params_for(bool key_master) {
    RekeySession::Params p{key_master, key_master ? kMaster : kOther, key_master ? kOther : kMaster, kNsPerSecond};
    p.arrays = params(16, 40, 30);
    return p;
  }
  Rounds()
      : master(params_for(true), chain0(), seeded(1), at(0)), other(params_for(false), chain0(), seeded(2), at(0)) {
    master.peer_heard(at(0));
    other.peer_heard(at(0));
  }
  void step(int64_t t) {
    RekeyOut out;
    master.tick(at(t), 0, 0, mring, out);
    RekeyOut oout;
    other.tick(at(t), 0, 0, oring, oout);
    Messages to_other = out.messages, to_master = oout.messages;
    while (!to_other.empty() || !to_master.empty()) {
      Messages next_other, next_master;
      for (const auto& m : to_other) {
        if (const auto* o = std::get_if<wire::RekeyOffer>(&m)) {
          (o->kind == wire::RekeyOffer::Kind::kArrayIndex ? indexed : carried)++;
        }
        RekeyOut r;
        other.receive(m, at(t), oring, r);
        next_master.insert(next_master.end(), r.messages.begin(), r.messages.end());
      }
      for (const auto& m : to_master) {
        RekeyOut r;
        master.receive(m, at(t), mring, r);
        next_other.insert(next_other.end(), r.messages.begin(), r.messages.end());
      }
      to_other = std::move(next_other);
      to_master = std::move(next_master);
    }
  }
  bool agree() { return master.current() == other.current() && mring.held[master.current()] == oring.held[other.current()]; }
};

// A link without arrays (every link but a site link) allocates none: a
// coordinator's clients do not pay for them.
TEST(KeyArrays, ALinkWithoutArraysHoldsNone) {
  RekeySession::Params p{true, kMaster, kOther, kNsPerSecond};
  RekeySession plain(p, chain0(), seeded(1), at(0));
  EXPECT_EQ(plain.arrays(), nullptr);
  RekeyOut out;
  EXPECT_FALSE(plain.renew_arrays(kBothArrays, at(0), out));
  EXPECT_EQ(plain.arrays(), nullptr);
  p.arrays = params(16);
  RekeySession site(p, chain0(), seeded(1), at(0));
  EXPECT_NE(site.arrays(), nullptr);
}

TEST(KeyArrays, RoundsNameArrayEntriesOnceArraysAreDeliveredAndAgreeEveryTime) {
  Rounds r;
  for (int64_t t = 0; t < 200; ++t) {
    r.step(t);
    ASSERT_TRUE(r.agree()) << "at " << t;
  }
  EXPECT_EQ(r.master.counters().failed, 0u);
  EXPECT_GE(r.master.counters().done, 190u);
  // The first round carries material (no array yet); a spent or expired
  // array's successor takes one round to arrive.
  EXPECT_GE(r.carried, 1);
  EXPECT_GT(r.indexed, 150);
}

// The other side lost its arrays without the key master knowing: the
// offer naming them is answered no_array, the key master drops its arrays
// and the next attempt carries material; the round completes.
TEST(KeyArrays, AnOfferForArraysTheOtherSideLacksFallsBackAndRenews) {
  Rounds r;
  for (int64_t t = 0; t < 5; ++t) r.step(t);
  ASSERT_GT(r.indexed, 0);
  for (const auto kind : {wire::ArrayKind::kData, wire::ArrayKind::kControl}) {
    RekeyOut ignored;
    r.other.receive(wire::KeyArrayFlush{kind, r.master.arrays()->view(kind).id}, at(5), r.oring, ignored);
  }
  const uint64_t done = r.master.counters().done;
  const int carried = r.carried;
  r.step(5);
  EXPECT_EQ(r.master.counters().done, done + 1);
  EXPECT_EQ(r.master.counters().failed, 0u);
  EXPECT_EQ(r.carried, carried + 1) << "the retry carried its material";
  EXPECT_TRUE(r.agree());
  for (int64_t t = 6; t < 10; ++t) r.step(t);
  EXPECT_NE(r.other.arrays()->view(wire::ArrayKind::kData).id, 0u) << "new arrays delivered";
  EXPECT_TRUE(r.agree());
}

}  // namespace
}  // namespace cordon::link
