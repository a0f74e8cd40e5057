// A site link's session (link/session.hpp): heartbeats, loss after
// heartbeat_fail, the secondary's recovery back-off 5, 10, ... 60 s, then
// once a minute, administration shutdown and start, standby.
#include "core/link/session.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace cordon::link {
namespace {

constexpr int64_t kS = kNsPerSecond;

SessionTimers secondary() { return SessionTimers{15 * kS, 120 * kS, true, false}; }
SessionTimers primary() { return SessionTimers{15 * kS, 120 * kS, false, false}; }

// Steps the session every second from `from` to `to` (exclusive), with
// nothing heard; returns the times at which a heartbeat went out.
std::vector<int64_t> run_silent(SiteSession& s, int64_t from, int64_t to, int64_t heard = 0) {
  std::vector<int64_t> sent;
  for (int64_t t = from; t < to; t += kS) {
    if (s.step(t, heard).send_heartbeat) sent.push_back(t);
  }
  return sent;
}

TEST(SiteSession, ASecondaryConnectsAtOnceAndBacksOffByFiveSecondsUpToAMinute) {
  SiteSession s(secondary(), 1000 * kS);
  EXPECT_EQ(s.state(), SessionState::kConnecting);
  EXPECT_FALSE(s.open());
  std::vector<int64_t> waits;
  for (int64_t t = 1000 * kS; t < 1000 * kS + 1500 * kS; t += kS) {
    const auto step = s.step(t, 0);
    if (step.retry) waits.push_back(step.retry_wait_ns / kS);
  }
  // At once, then 5, 10, ... 60, then every minute (section 2.1.7).
  std::vector<int64_t> expected{0};
  for (int64_t w = 5; w <= 60; w += 5) expected.push_back(w);
  while (expected.size() < waits.size()) expected.push_back(60);
  EXPECT_EQ(waits, expected);
  EXPECT_EQ(s.tries(), waits.size());
}

TEST(SiteSession, APrimaryWaitsForItsSecondaryAndNeverConnects) {
  SiteSession s(primary(), 0);
  EXPECT_TRUE(run_silent(s, 0, 600 * kS).empty());
  EXPECT_EQ(s.state(), SessionState::kConnecting);
  EXPECT_TRUE(s.heard(600 * kS));
  EXPECT_TRUE(s.open());
}

TEST(SiteSession, QuietBringsHeartbeatsAndHeartbeatFailLosesTheSession) {
  SiteSession s(primary(), 0);
  ASSERT_TRUE(s.heard(10 * kS));
  // Heard at 10 s: the first heartbeat at 25 s, then every 15 s; lost 120 s
  // after the first unanswered one.
  const auto sent = run_silent(s, 11 * kS, 145 * kS, 10 * kS);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), 25 * kS);
  for (size_t i = 1; i < sent.size(); ++i) EXPECT_EQ(sent[i] - sent[i - 1], 15 * kS);
  EXPECT_TRUE(s.open());
  const auto step = s.step(145 * kS, 10 * kS);
  ASSERT_TRUE(step.lost);
  EXPECT_EQ(*step.lost, SessionReason::kHeartbeatTimeout);
  EXPECT_EQ(s.state(), SessionState::kLost);
  EXPECT_EQ(s.losses(), 1u);
  // A primary does not try to reconnect.
  EXPECT_TRUE(run_silent(s, 146 * kS, 400 * kS, 10 * kS).empty());
}

TEST(SiteSession, AnAnswerBeforeHeartbeatFailKeepsTheSessionUp) {
  SiteSession s(secondary(), 0);
  ASSERT_TRUE(s.heard(1 * kS));
  run_silent(s, 2 * kS, 100 * kS, 1 * kS);
  EXPECT_FALSE(s.heard(100 * kS));  // already up: no event
  EXPECT_TRUE(run_silent(s, 101 * kS, 115 * kS, 100 * kS).empty());
  for (int64_t t = 101 * kS; t < 1000 * kS; t += kS) EXPECT_FALSE(s.step(t, t - kS).lost);
  EXPECT_TRUE(s.open());
}

TEST(SiteSession, ASecondaryRetriesFiveSecondsAfterALossAndComesBackWhenHeard) {
  SiteSession s(secondary(), 0);
  ASSERT_TRUE(s.heard(0));
  int64_t lost_at = 0;
  for (int64_t t = kS; t < 200 * kS && lost_at == 0; t += kS) {
    if (s.step(t, 0).lost) lost_at = t;
  }
  ASSERT_NE(lost_at, 0);
  std::vector<int64_t> tries;
  for (int64_t t = lost_at + kS; t < lost_at + 40 * kS; t += kS) {
    if (s.step(t, 0).retry) tries.push_back(t - lost_at);
  }
  EXPECT_EQ(tries, (std::vector<int64_t>{5 * kS, 15 * kS, 30 * kS}));
  // A datagram stamped before the loss does not bring it back; one after does.
  EXPECT_FALSE(s.step(lost_at + 41 * kS, lost_at - kS).up);
  const auto step = s.step(lost_at + 42 * kS, lost_at + 41 * kS);
  EXPECT_TRUE(step.up);
  EXPECT_TRUE(s.open());
  EXPECT_EQ(s.next_try_ns(), 0);
}

TEST(SiteSession, AShutdownSessionHearsNothingUntilStarted) {
  SiteSession s(secondary(), 0);
  ASSERT_TRUE(s.heard(0));
  s.shutdown(5 * kS);
  EXPECT_EQ(s.state(), SessionState::kShutdown);
  EXPECT_EQ(s.last_reason(), SessionReason::kAdminShutdown);
  EXPECT_FALSE(s.heard(6 * kS));
  EXPECT_FALSE(s.may_answer(6 * kS));
  EXPECT_TRUE(run_silent(s, 6 * kS, 600 * kS, 500 * kS).empty());
  s.start(600 * kS);
  EXPECT_EQ(s.state(), SessionState::kConnecting);
  EXPECT_TRUE(s.step(600 * kS, 0).retry);  // a secondary connects at once
}

TEST(SiteSession, APeerShutdownIsALossWithItsReasonCountedOnce) {
  SiteSession s(secondary(), 0);
  ASSERT_TRUE(s.heard(0));
  s.peer_shutdown(3 * kS);
  EXPECT_EQ(s.state(), SessionState::kLost);
  EXPECT_EQ(s.last_reason(), SessionReason::kPeerShutdown);
  s.peer_shutdown(4 * kS);
  EXPECT_EQ(s.losses(), 1u);
  EXPECT_EQ(s.next_try_ns(), 8 * kS);
}

TEST(SiteSession, AStandbySessionDoesNothingUntilMadeActive) {
  SessionTimers t = secondary();
  t.standby = true;
  SiteSession s(t, 0);
  EXPECT_EQ(s.state(), SessionState::kStandby);
  EXPECT_FALSE(s.heard(kS));
  EXPECT_TRUE(run_silent(s, 0, 300 * kS).empty());
  t.standby = false;
  s.configure(t, 300 * kS);
  EXPECT_EQ(s.state(), SessionState::kConnecting);
  EXPECT_TRUE(s.step(300 * kS, 0).send_heartbeat);
  ASSERT_TRUE(s.heard(301 * kS));
  t.standby = true;
  s.configure(t, 302 * kS);
  EXPECT_EQ(s.state(), SessionState::kStandby);
  EXPECT_FALSE(s.open());
}

TEST(SiteSession, HeartbeatsAreAnsweredAtMostOnceASecond) {
  SiteSession s(primary(), 0);
  ASSERT_TRUE(s.heard(0));
  EXPECT_TRUE(s.may_answer(10 * kS));
  EXPECT_FALSE(s.may_answer(10 * kS + kS / 2));
  EXPECT_TRUE(s.may_answer(11 * kS));
}

}  // namespace
}  // namespace cordon::link
