// Console sessions, CSRF tokens and the login rate limit
// (src/admin/console/session.hpp), on a hand-driven clock.
#include "admin/console/session.hpp"

#include <gtest/gtest.h>

#include <set>

namespace cordon::admin::console {
namespace {

constexpr int64_t kT0 = 1'800'000'000;

TEST(ConsoleSession, TokensAre256BitHexAndFresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = random_token();
    ASSERT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(seen.insert(t).second);
  }
}

TEST(ConsoleSession, FoundUntilIdleFor15Minutes) {
  SessionStore store;
  const Session s = store.create("alice", kT0);
  EXPECT_NE(s.id, s.csrf);
  ASSERT_TRUE(store.find(s.id, kT0 + kIdleTimeout));  // restarts the idle clock
  EXPECT_EQ(store.find(s.id, kT0 + 2 * kIdleTimeout)->user, "alice");
  EXPECT_FALSE(store.find(s.id, kT0 + 3 * kIdleTimeout + 1));
  EXPECT_FALSE(store.find(s.id, kT0 + 3 * kIdleTimeout)) << "an expired session is dropped, not revived";
}

TEST(ConsoleSession, EndsAfter8HoursWhateverTheUse) {
  SessionStore store;
  const Session s = store.create("alice", kT0);
  int64_t t = kT0;
  while (t + 600 <= kT0 + kAbsoluteTimeout) {
    t += 600;
    ASSERT_TRUE(store.find(s.id, t)) << t - kT0;
  }
  EXPECT_FALSE(store.find(s.id, kT0 + kAbsoluteTimeout + 1));
}

TEST(ConsoleSession, UnknownOrMalformedIdsFindNothing) {
  SessionStore store;
  const Session s = store.create("alice", kT0);
  EXPECT_FALSE(store.find("", kT0));
  EXPECT_FALSE(store.find(s.csrf, kT0));
  EXPECT_FALSE(store.find(s.id.substr(1), kT0));
  std::string flipped = s.id;
  flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(store.find(flipped, kT0));
}

TEST(ConsoleSession, WriteNeedsTheSessionsCsrfToken) {
  SessionStore store;
  const Session a = store.create("alice", kT0);
  const Session b = store.create("bob", kT0);
  EXPECT_TRUE(store.find_for_write(a.id, a.csrf, kT0));
  EXPECT_FALSE(store.find_for_write(a.id, "", kT0));
  EXPECT_FALSE(store.find_for_write(a.id, b.csrf, kT0)) << "another session's token";
  EXPECT_FALSE(store.find_for_write(a.id, a.csrf.substr(0, 63), kT0));
  EXPECT_FALSE(store.find_for_write(a.id, a.id, kT0));
  EXPECT_FALSE(store.find_for_write("", a.csrf, kT0));
}

TEST(ConsoleSession, ForgedWriteDoesNotKeepASessionAlive) {
  SessionStore store;
  const Session s = store.create("alice", kT0);
  EXPECT_FALSE(store.find_for_write(s.id, "wrong", kT0 + kIdleTimeout));
  EXPECT_FALSE(store.find(s.id, kT0 + kIdleTimeout + 1));
}

TEST(ConsoleSession, LogoutRemovesAndStoreStaysBounded) {
  SessionStore store;
  const Session first = store.create("u", kT0);
  store.remove(first.id);
  EXPECT_FALSE(store.find(first.id, kT0));
  for (size_t i = 0; i < kMaxSessions + 10; ++i) store.create("u", kT0 + static_cast<int64_t>(i));
  EXPECT_EQ(store.size(), kMaxSessions);
}

TEST(ConsoleLoginLimit, DelayDoublesAfterThreeAndIsCapped) {
  EXPECT_EQ(login_delay(0), 0);
  EXPECT_EQ(login_delay(kFreeFailures - 1), 0);
  EXPECT_EQ(login_delay(kFreeFailures), 1);
  EXPECT_EQ(login_delay(kFreeFailures + 1), 2);
  EXPECT_EQ(login_delay(kFreeFailures + 5), 32);
  EXPECT_EQ(login_delay(kFreeFailures + 30), kMaxDelay);
  EXPECT_EQ(login_delay(1000), kMaxDelay);
}

TEST(ConsoleLoginLimit, PerAddressAndPerUser) {
  LoginLimiter limiter;
  for (int i = 0; i < kFreeFailures; ++i) {
    EXPECT_EQ(limiter.wait("10.0.0.1", "alice", kT0), 0);
    limiter.failed("10.0.0.1", "alice", kT0);
  }
  EXPECT_EQ(limiter.wait("10.0.0.1", "alice", kT0), 1);
  EXPECT_EQ(limiter.wait("10.0.0.1", "bob", kT0), 1) << "the address is limited whatever the name";
  EXPECT_EQ(limiter.wait("10.0.0.2", "alice", kT0), 1) << "the name is limited whatever the address";
  EXPECT_EQ(limiter.wait("10.0.0.2", "bob", kT0), 0);
  EXPECT_EQ(limiter.wait("10.0.0.1", "alice", kT0 + 1), 0);
  limiter.failed("10.0.0.1", "alice", kT0 + 1);
  EXPECT_EQ(limiter.wait("10.0.0.1", "alice", kT0 + 1), 2);
}

TEST(ConsoleLoginLimit, SuccessClearsAndQuietForgets) {
  LoginLimiter limiter;
  for (int i = 0; i < 10; ++i) limiter.failed("10.0.0.1", "alice", kT0);
  EXPECT_GT(limiter.wait("10.0.0.1", "alice", kT0), 0);
  EXPECT_EQ(limiter.wait("10.0.0.1", "alice", kT0 + kForgetAfter + 1), 0);
  for (int i = 0; i < 10; ++i) limiter.failed("10.0.0.3", "carol", kT0);
  limiter.succeeded("10.0.0.3", "carol");
  EXPECT_EQ(limiter.wait("10.0.0.3", "carol", kT0), 0);
}

}  // namespace
}  // namespace cordon::admin::console
