// The pure parts of daemon/tcp_tunnel.hpp: the reconnect backoff and the
// stream numbers.
#include "daemon/tcp_tunnel.hpp"

#include <gtest/gtest.h>

namespace cordon::daemon {
namespace {

TEST(TcpBackoff, OneSecondDoublingToThirty) {
  TcpBackoff b;
  EXPECT_TRUE(b.due(0));  // the first connect goes at once
  int64_t now = 100 * kNsPerSecond;
  const int64_t want[] = {1, 2, 4, 8, 16, 30, 30};
  for (int64_t seconds : want) {
    b.failed(now);
    EXPECT_EQ(b.next_attempt_ns() - now, seconds * kNsPerSecond);
    EXPECT_FALSE(b.due(now + seconds * kNsPerSecond - 1));
    EXPECT_TRUE(b.due(now + seconds * kNsPerSecond));
    now += seconds * kNsPerSecond;
  }
}

TEST(TcpBackoff, AnAuthenticDatagramResetsTheDelay) {
  TcpBackoff b;
  for (int i = 0; i < 5; ++i) b.failed(0);
  b.succeeded();
  b.failed(10 * kNsPerSecond);
  EXPECT_EQ(b.next_attempt_ns(), 11 * kNsPerSecond);
}

TEST(StreamNumbers, StartAtOneAndNeverRepeat) {
  StreamNumbers n;
  EXPECT_EQ(n.next(), 1u);
  EXPECT_EQ(n.next(), 2u);
  EXPECT_EQ(n.next(), 3u);
}

TEST(StreamNumbers, StopRatherThanWrapToZero) {
  StreamNumbers n(UINT32_MAX - 2);
  EXPECT_EQ(n.next(), UINT32_MAX - 1);
  EXPECT_EQ(n.next(), UINT32_MAX);
  EXPECT_EQ(n.next(), std::nullopt);
  EXPECT_EQ(n.next(), std::nullopt);
}

}  // namespace
}  // namespace cordon::daemon
