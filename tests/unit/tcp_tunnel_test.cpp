// The pure parts of daemon/tcp_tunnel.hpp: the reconnect backoff, the
// stream numbers and the slot rules of daemon/stream_slots.hpp, each also
// checked against a naive twin.
#include "daemon/tcp_tunnel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "daemon/status_format.hpp"
#include "daemon/status_json.hpp"

namespace cordon::daemon {
namespace {

constexpr int64_t kS = kNsPerSecond;

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

// A stranger's idle connection must let go of its socket within seconds,
// not half a minute (docs/protocol.md, "Streams under flood").
TEST(TcpTunnelTimers, StrangersGetSecondsNotHalfAMinute) {
  EXPECT_LE(kTcpFirstDatagramNs, 5 * kS);
  EXPECT_LE(kTcpFrameNs, 5 * kS);
  EXPECT_LE(kTcpWriteStallNs, 10 * kS);
}

TEST(TcpTunnelTimers, AStrangerGetsFiveSecondsForItsFirstDatagram) {
  const StreamTimes t{.accepted = true, .since_ns = 100 * kS};
  EXPECT_EQ(passed_deadline(t, 105 * kS - 1, 300 * kS), StreamDeadline::kNone);
  EXPECT_EQ(passed_deadline(t, 105 * kS, 300 * kS), StreamDeadline::kFirstDatagram);
  // A client's own stream to its coordinator has no such deadline.
  EXPECT_EQ(passed_deadline(StreamTimes{.since_ns = 100 * kS}, 200 * kS, 300 * kS), StreamDeadline::kNone);
}

TEST(TcpTunnelTimers, AFrameBegunMustFinishAndQueuedBytesMustMove) {
  StreamTimes t{.accepted = true, .authentic = true, .since_ns = 0, .last_authentic_ns = 100 * kS};
  t.frame_since_ns = 101 * kS;
  EXPECT_EQ(passed_deadline(t, 106 * kS - 1, 300 * kS), StreamDeadline::kNone);
  EXPECT_EQ(passed_deadline(t, 106 * kS, 300 * kS), StreamDeadline::kFrame);
  t.frame_since_ns = -1;
  t.bytes_queued = true;
  t.write_progress_ns = 102 * kS;
  EXPECT_EQ(passed_deadline(t, 112 * kS - 1, 300 * kS), StreamDeadline::kNone);
  EXPECT_EQ(passed_deadline(t, 112 * kS, 300 * kS), StreamDeadline::kWriteStall);
  t.bytes_queued = false;
  EXPECT_EQ(passed_deadline(t, 400 * kS - 1, 300 * kS), StreamDeadline::kNone);
  EXPECT_EQ(passed_deadline(t, 400 * kS, 300 * kS), StreamDeadline::kIdle);
}

// ---- StreamNumbers

TEST(StreamNumbers, StartAtOneAndNeverRepeatWhileOpen) {
  StreamNumbers n;
  EXPECT_EQ(n.next(0), 1u);
  EXPECT_EQ(n.next(0), 2u);
  EXPECT_EQ(n.next(0), 3u);
}

TEST(StreamNumbers, WrapPastTheEndSkippingOpenAndQuarantinedNumbers) {
  StreamNumbers n;
  ASSERT_EQ(n.next(0), 1u);
  ASSERT_EQ(n.next(0), 2u);
  ASSERT_EQ(n.next(0), 3u);
  n.release(2, 0);
  n.restart_after(UINT32_MAX - 1);
  EXPECT_EQ(n.next(kS), UINT32_MAX);
  EXPECT_EQ(n.next(kS), 4u);  // never 0; 1 and 3 open, 2 in quarantine
  n.restart_after(0);
  EXPECT_EQ(n.next(StreamNumbers::kQuarantineNs - 1), 5u);  // 2 still in quarantine
  n.restart_after(0);
  EXPECT_EQ(n.next(StreamNumbers::kQuarantineNs), 2u);  // released long enough ago
  EXPECT_EQ(n.in_quarantine(), 0u);
}

TEST(StreamNumbers, NeverRunOut) {
  StreamNumbers n(UINT32_MAX - 2);
  EXPECT_EQ(n.next(0), UINT32_MAX - 1);
  EXPECT_EQ(n.next(0), UINT32_MAX);
  EXPECT_EQ(n.next(0), 1u);
}

// The obvious version: every number's state in one map, scanned in order.
class NaiveNumbers {
 public:
  uint32_t next(int64_t now) {
    for (;;) {
      last_ = last_ == UINT32_MAX ? 1 : last_ + 1;
      auto it = state_.find(last_);
      if (it == state_.end() || (it->second >= 0 && now - it->second >= StreamNumbers::kQuarantineNs)) {
        state_[last_] = -1;  // open
        return last_;
      }
    }
  }
  void release(uint32_t number, int64_t now) {
    if (auto it = state_.find(number); it != state_.end() && it->second == -1) it->second = now;
  }
  std::vector<uint32_t> open() const {
    std::vector<uint32_t> out;
    for (auto [n, t] : state_) if (t == -1) out.push_back(n);
    return out;
  }
  void restart_after(uint32_t last) { last_ = last; }

 private:
  uint32_t last_ = 0;
  std::map<uint32_t, int64_t> state_;  // -1: open; else released at
};

TEST(StreamNumbers, AgreeWithANaiveTwinAcrossWraps) {
  std::mt19937 rng(7);
  StreamNumbers fast;
  NaiveNumbers naive;
  int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned op = rng() % 10;
    if (op < 5) {
      ASSERT_EQ(fast.next(now), naive.next(now)) << "step " << step;
    } else if (op < 8) {
      const auto open = naive.open();
      if (open.empty()) continue;
      const uint32_t victim = open[rng() % open.size()];
      fast.release(victim, now);
      naive.release(victim, now);
    } else if (op == 8) {
      now += static_cast<int64_t>(rng() % 3000) * 1'000'000;  // up to 3 s
    } else if (rng() % 20 == 0) {
      // Come round to the start again: the numbers given so far are near it.
      const uint32_t last = rng() % 2 ? 0 : UINT32_MAX - rng() % 4;
      fast.restart_after(last);
      naive.restart_after(last);
    }
  }
}

// ---- StreamSlots

IpAddress v4(const char* text) { return *IpAddress::parse(text); }

TEST(StreamSlots, AFullPendingPoolEvictsItsOldestInsteadOfRefusing) {
  StreamSlots slots({.authenticated = 4, .pending = 3, .pending_per_source = 8});
  slots.add(1, v4("192.0.2.1"));
  slots.add(2, v4("192.0.2.2"));
  EXPECT_EQ(slots.admit(v4("192.0.2.3")).admit, StreamSlots::Admit::kFree);
  slots.add(3, v4("192.0.2.3"));
  const auto d = slots.admit(v4("198.51.100.9"));
  EXPECT_EQ(d.admit, StreamSlots::Admit::kEvictOldest);
  EXPECT_EQ(d.victim, 1u);
}

TEST(StreamSlots, StrangersNeverTakeOrEvictAuthenticatedStreams) {
  StreamSlots slots({.authenticated = 2, .pending = 2, .pending_per_source = 8});
  slots.add(1, v4("192.0.2.1"));
  slots.add(2, v4("192.0.2.2"));
  EXPECT_TRUE(slots.authenticated(1));
  EXPECT_TRUE(slots.authenticated(2));
  // A flood of strangers only ever evicts each other.
  uint32_t id = 10;
  for (int i = 0; i < 100; ++i, ++id) {
    const auto d = slots.admit(v4("203.0.113.7"));
    EXPECT_NE(d.victim, 1u);
    EXPECT_NE(d.victim, 2u);
    if (d.admit != StreamSlots::Admit::kFree) slots.remove(d.victim);
    slots.add(id, v4(i % 2 ? "203.0.113.7" : "203.0.113.8"));
  }
  EXPECT_EQ(slots.authenticated_count(), 2u);
  EXPECT_EQ(slots.pending(), 2u);
  // The authenticated pool is full: a third client waits as pending.
  EXPECT_FALSE(slots.authenticated(id - 1));
  EXPECT_TRUE(slots.is_pending(id - 1));
  slots.remove(1);
  EXPECT_TRUE(slots.authenticated(id - 1));
}

TEST(StreamSlots, OneSourceAtItsCapEvictsOnlyItsOwnOldest) {
  StreamSlots slots({.authenticated = 8, .pending = 8, .pending_per_source = 2});
  slots.add(1, v4("192.0.2.1"));
  slots.add(2, v4("203.0.113.5"));
  slots.add(3, v4("203.0.113.5"));
  const auto d = slots.admit(v4("203.0.113.5"));
  EXPECT_EQ(d.admit, StreamSlots::Admit::kEvictSameSource);
  EXPECT_EQ(d.victim, 2u);
  EXPECT_EQ(slots.admit(v4("192.0.2.1")).admit, StreamSlots::Admit::kFree);
  // Authenticated streams of a source do not count against its pending cap.
  EXPECT_TRUE(slots.authenticated(2));
  EXPECT_EQ(slots.admit(v4("203.0.113.5")).admit, StreamSlots::Admit::kFree);
}

TEST(StreamSlots, AnIpv6SourceIsItsSlash64) {
  EXPECT_EQ(stream_source(v4("2001:db8::1")), stream_source(v4("2001:db8::ffff:2")));
  EXPECT_NE(stream_source(v4("2001:db8::1")), stream_source(v4("2001:db8:0:1::1")));
  EXPECT_NE(stream_source(v4("192.0.2.1")), stream_source(v4("192.0.2.2")));
  // An IPv4 address is not the /64 that starts with the same bytes.
  EXPECT_NE(stream_source(v4("192.0.2.1")), stream_source(v4("c000:201::")));
  StreamSlots slots({.authenticated = 8, .pending = 8, .pending_per_source = 1});
  slots.add(1, v4("2001:db8::1"));
  EXPECT_EQ(slots.admit(v4("2001:db8::2")).admit, StreamSlots::Admit::kEvictSameSource);
  EXPECT_EQ(slots.admit(v4("2001:db8:0:1::1")).admit, StreamSlots::Admit::kFree);
}

// The obvious version: a list in arrival order, scanned.
class NaiveSlots {
 public:
  explicit NaiveSlots(const StreamSlots::Limits& l) : l_(l) {}
  StreamSlots::Decision admit(const IpAddress& source) const {
    size_t same = 0, pending = 0;
    std::optional<uint32_t> oldest_same, oldest;
    for (const auto& e : list_) {
      if (e.authenticated) continue;
      ++pending;
      if (!oldest) oldest = e.id;
      if (stream_source(e.source) == stream_source(source)) {
        ++same;
        if (!oldest_same) oldest_same = e.id;
      }
    }
    if (same >= l_.pending_per_source) return {StreamSlots::Admit::kEvictSameSource, *oldest_same};
    if (pending >= l_.pending) return {StreamSlots::Admit::kEvictOldest, *oldest};
    return {};
  }
  void add(uint32_t id, const IpAddress& s) { list_.push_back({id, s, false}); }
  bool authenticated(uint32_t id) {
    const auto n = std::count_if(list_.begin(), list_.end(), [](const Entry& e) { return e.authenticated; });
    for (auto& e : list_) {
      if (e.id != id) continue;
      if (!e.authenticated && static_cast<size_t>(n) >= l_.authenticated) return false;
      e.authenticated = true;
      return true;
    }
    return false;
  }
  void remove(uint32_t id) {
    std::erase_if(list_, [&](const Entry& e) { return e.id == id; });
  }
  std::vector<uint32_t> ids() const {
    std::vector<uint32_t> out;
    for (const auto& e : list_) out.push_back(e.id);
    return out;
  }

 private:
  struct Entry {
    uint32_t id;
    IpAddress source;
    bool authenticated;
  };
  StreamSlots::Limits l_;
  std::vector<Entry> list_;
};

TEST(StreamSlots, AgreeWithANaiveTwin) {
  const StreamSlots::Limits limits{.authenticated = 6, .pending = 5, .pending_per_source = 2};
  StreamSlots fast(limits);
  NaiveSlots naive(limits);
  std::mt19937 rng(11);
  const char* sources[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "2001:db8::2", "2001:db8:1::1"};
  uint32_t next_id = 1;
  for (int step = 0; step < 20000; ++step) {
    const unsigned op = rng() % 10;
    const auto ids = naive.ids();
    if (op < 5) {
      const IpAddress source = v4(sources[rng() % std::size(sources)]);
      const auto want = naive.admit(source);
      const auto got = fast.admit(source);
      ASSERT_EQ(got.admit, want.admit) << "step " << step;
      ASSERT_EQ(got.victim, want.victim) << "step " << step;
      if (got.admit != StreamSlots::Admit::kFree) {
        fast.remove(got.victim);
        naive.remove(got.victim);
      }
      fast.add(next_id, source);
      naive.add(next_id, source);
      ++next_id;
    } else if (!ids.empty() && op < 8) {
      const uint32_t id = ids[rng() % ids.size()];
      ASSERT_EQ(fast.authenticated(id), naive.authenticated(id)) << "step " << step;
    } else if (!ids.empty()) {
      const uint32_t id = ids[rng() % ids.size()];
      fast.remove(id);
      naive.remove(id);
    }
    ASSERT_LE(fast.pending(), limits.pending);
    ASSERT_LE(fast.authenticated_count(), limits.authenticated);
  }
}

// ---- cordon status

TEST(TcpTunnelStatus, ACoordinatorShowsItsPoolsAndWhatItLetGoOf) {
  StatusContext context{"cordon0", 51820, 1'800'000'000 * kS};
  context.tcp_port = 443;
  context.tcp_streams = 5;
  context.tcp_tunnel = TcpTunnelStats{.pending = 3,
                                      .authenticated = 2,
                                      .evicted_same_source = 40,
                                      .evicted_oldest = 7,
                                      .refused = 1,
                                      .no_first_datagram = 12,
                                      .frame_timeouts = 4,
                                      .write_stalls = 2,
                                      .idle = 9};
  NodeStatus node;
  node.role = keys::Role::kCoordinator;
  const nlohmann::json j = status_to_json(node, context);
  EXPECT_EQ(j["tcp_tunnel"], (nlohmann::json{
                                 {"pending", 3},
                                 {"authenticated", 2},
                                 {"evicted", {{"same_source", 40}, {"oldest", 7}}},
                                 {"refused", 1},
                                 {"closed", {{"no_first_datagram", 12}, {"frame_timeout", 4}, {"write_stall", 2}, {"idle", 9}}},
                             }));
  const std::string out = format_status(j, 1'800'000'000);
  EXPECT_NE(out.find("tcp streams  pending 3  authenticated 2  evicted 47 (same source 40, oldest 7)  refused 1  "
                     "closed: no first datagram 12, frame timeout 4, write stall 2, idle 9\n"),
            std::string::npos)
      << out;

  context.tcp_port = 0;  // not listening: nothing to show
  EXPECT_TRUE(status_to_json(node, context)["tcp_tunnel"].is_null());
}

}  // namespace
}  // namespace cordon::daemon
