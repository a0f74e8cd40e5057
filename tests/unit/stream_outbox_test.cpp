// daemon/stream_outbox.hpp: the workers' handoff of TCP tunnel datagrams to
// the control thread.
#include "daemon/stream_outbox.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace cordon::daemon {
namespace {

std::vector<std::byte> bytes(size_t n, uint8_t fill) { return std::vector<std::byte>(n, std::byte{fill}); }

TEST(StreamOutbox, TakesWhatWasPushedInOrder) {
  StreamOutbox outbox;
  ASSERT_TRUE(outbox.push(3, bytes(10, 0xaa)));
  ASSERT_TRUE(outbox.push(1, bytes(1, 0xbb)));
  StreamOutbox::Batch batch;
  outbox.take(batch);
  ASSERT_EQ(batch.entries.size(), 2u);
  EXPECT_EQ(batch.entries[0].stream, 3u);
  EXPECT_EQ(std::vector<std::byte>(batch.datagram(batch.entries[0]).begin(), batch.datagram(batch.entries[0]).end()),
            bytes(10, 0xaa));
  EXPECT_EQ(batch.entries[1].stream, 1u);
  EXPECT_EQ(batch.datagram(batch.entries[1]).size(), 1u);

  outbox.take(batch);  // nothing new
  EXPECT_TRUE(batch.entries.empty());
  EXPECT_TRUE(batch.bytes.empty());
}

TEST(StreamOutbox, RefusesBeyondTheLimitUntilTaken) {
  StreamOutbox outbox;
  const auto big = bytes(60000, 1);
  size_t pushed = 0;
  while (outbox.push(1, big)) ++pushed;
  EXPECT_EQ(pushed, StreamOutbox::kLimitBytes / big.size());
  StreamOutbox::Batch batch;
  outbox.take(batch);
  EXPECT_EQ(batch.entries.size(), pushed);
  EXPECT_TRUE(outbox.push(1, big));
}

TEST(StreamOutbox, ConcurrentPushersLoseNothing) {
  StreamOutbox outbox;
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&outbox, t] {
      for (int i = 0; i < kEach; ++i) {
        while (!outbox.push(static_cast<uint32_t>(t + 1), bytes(8, static_cast<uint8_t>(i)))) std::this_thread::yield();
      }
    });
  }
  std::vector<int> seen(kThreads, 0);
  StreamOutbox::Batch batch;
  int total = 0;
  while (total < kThreads * kEach) {
    outbox.take(batch);
    for (const auto& e : batch.entries) {
      // Each pusher's datagrams arrive in its order.
      const int t = static_cast<int>(e.stream) - 1;
      ASSERT_EQ(batch.datagram(e)[0], std::byte{static_cast<uint8_t>(seen[t]++)});
      ++total;
    }
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(seen, std::vector<int>(kThreads, kEach));
}

}  // namespace
}  // namespace cordon::daemon
