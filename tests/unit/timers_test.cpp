// The per-peer timer hooks (core/link/timers.hpp) and the path state's one
// writer (core/link/path.hpp).
#include "core/link/timers.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <thread>

#include "core/link/path.hpp"
#include "core/link/peer.hpp"
#include "core/node.hpp"
#include "core/wire/header.hpp"

namespace cordon::link {
namespace {

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
const HostId kSelf{0x0001000a}, kOther{0x0001000b}, kRelay{0x00010001}, kRelay2{0x00010002};

crypto::SecretBytes key(uint8_t fill) {
  crypto::SecretBytes k(kLinkKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

std::unique_ptr<Peer> make_peer() {
  return Peer::create(kSelf, kOther, key(7), crypto::Suite::kAes256Gcm, 2, wire::counter_units(kT0));
}

Now at_ns(int64_t mono_ns) { return Now{mono_ns, kT0 + mono_ns}; }

TEST(Timers, WorkerHooksWriteAtMostOncePerStampInterval) {
  auto p = make_peer();
  ASSERT_NE(p, nullptr);
  const TimerStamps& t = p->timers();
  on_authenticated_rx(*p, at_ns(10 * kNsPerMs));
  EXPECT_EQ(t.last_rx_mono_ns.load(), 10 * kNsPerMs);
  EXPECT_EQ(t.last_rx_real_ns.load(), kT0 + 10 * kNsPerMs);
  on_authenticated_rx(*p, at_ns(10 * kNsPerMs + kStampIntervalNs));  // not older than the interval: kept
  EXPECT_EQ(t.last_rx_real_ns.load(), kT0 + 10 * kNsPerMs);
  on_authenticated_rx(*p, at_ns(10 * kNsPerMs + kStampIntervalNs + 1));
  EXPECT_EQ(t.last_rx_real_ns.load(), kT0 + 10 * kNsPerMs + kStampIntervalNs + 1);

  on_any_sent(*p, at_ns(5 * kNsPerMs));
  on_any_sent(*p, at_ns(5 * kNsPerMs + 1));
  EXPECT_EQ(t.last_tx_mono_ns.load(), 5 * kNsPerMs);
  on_data_sent(*p, at_ns(5 * kNsPerMs));
  on_data_sent(*p, at_ns(5 * kNsPerMs + 1));
  EXPECT_EQ(t.last_data_tx_mono_ns.load(), 5 * kNsPerMs);
  on_live_rx_from(*p, at_ns(5 * kNsPerMs));
  on_live_rx_from(*p, at_ns(5 * kNsPerMs + 1));
  EXPECT_EQ(t.last_direct_rx_mono_ns.load(), 5 * kNsPerMs);
}

TEST(Timers, ControlThreadHooksAlwaysWrite) {
  auto p = make_peer();
  on_control_sent(*p, at_ns(5 * kNsPerMs));
  on_control_sent(*p, at_ns(5 * kNsPerMs + 1));
  EXPECT_EQ(p->timers().last_tx_mono_ns.load(), 5 * kNsPerMs + 1);
  on_keepalive_sent(*p, at_ns(5 * kNsPerMs + 2));
  EXPECT_EQ(p->timers().last_tx_real_ns.load(), kT0 + 5 * kNsPerMs + 2);
  EXPECT_EQ(p->stats().keepalives_sent.load(), 1u);
}

TEST(Timers, KeepaliveIsDueAnIntervalAfterTheLastDatagram) {
  auto p = make_peer();
  EXPECT_EQ(keepalive_deadline(*p, 25 * kNsPerSecond), INT64_MIN);  // none sent: due now
  on_any_sent(*p, at_ns(3 * kNsPerSecond));
  EXPECT_EQ(keepalive_deadline(*p, 25 * kNsPerSecond), 28 * kNsPerSecond);
}

TEST(Timers, TrafficFlowsForSixtySecondsAfterData) {
  auto p = make_peer();
  EXPECT_FALSE(traffic_flows(*p, at_ns(kNsPerSecond)));
  on_data_sent(*p, at_ns(kNsPerSecond));
  EXPECT_TRUE(traffic_flows(*p, at_ns(kNsPerSecond + kTrafficRecentNs - 1)));
  EXPECT_FALSE(traffic_flows(*p, at_ns(kNsPerSecond + kTrafficRecentNs)));
}

// The passive keepalive answers data received after the last datagram sent,
// 1 s after that one; nothing is due without such data.
TEST(Timers, PassiveKeepaliveAnswersDataAfterOneSecond) {
  auto p = make_peer();
  EXPECT_EQ(passive_keepalive_deadline(*p), INT64_MAX);
  on_any_sent(*p, at_ns(kNsPerSecond));
  EXPECT_EQ(passive_keepalive_deadline(*p), INT64_MAX);
  on_data_received(*p, at_ns(2 * kNsPerSecond));
  EXPECT_EQ(passive_keepalive_deadline(*p), kNsPerSecond + kPassiveKeepaliveNs);
  on_keepalive_sent(*p, at_ns(3 * kNsPerSecond));
  EXPECT_EQ(passive_keepalive_deadline(*p), INT64_MAX);
}

// Data sent after the last live datagram straight from the peer is owed an
// answer; giving up a direct path for the relay is counted once.
TEST(Timers, UnansweredDataAndFailovers) {
  auto p = make_peer();
  EXPECT_FALSE(data_unanswered(*p));
  on_live_rx_from(*p, at_ns(kNsPerSecond));
  on_data_sent(*p, at_ns(2 * kNsPerSecond));
  EXPECT_TRUE(data_unanswered(*p));
  on_live_rx_from(*p, at_ns(3 * kNsPerSecond));
  EXPECT_FALSE(data_unanswered(*p));
  ASSERT_TRUE(p->path().direct());
  on_path_lost(*p, kRelay);
  on_path_lost(*p, kRelay);  // already relayed: not another failover
  EXPECT_EQ(p->stats().failovers.load(), 1u);
}

TEST(Timers, RoamingHooksMoveTheEndpointAndThePath) {
  auto p = make_peer();
  const Endpoint a = *Endpoint::parse("192.0.2.1:51820"), b = *Endpoint::parse("192.0.2.2:51820");
  on_client_probe_from(*p, a);  // learnt, not a roam
  EXPECT_EQ(p->endpoint(), a);
  EXPECT_EQ(p->stats().roams.load(), 0u);
  on_client_probe_from(*p, b);
  EXPECT_EQ(p->endpoint(), b);
  EXPECT_EQ(p->stats().roams.load(), 1u);
  Endpoint stream = a;
  stream.stream = 9;
  on_stream_opened(*p, stream);
  on_client_probe_from(*p, a);  // on the TCP tunnel, a UDP probe only tests UDP
  EXPECT_EQ(p->endpoint(), stream);
  on_stream_left(*p, std::nullopt);
  EXPECT_EQ(p->endpoint(), std::nullopt);

  p->path_cell().update([](Path) { return Path::relayed(kRelay); });
  on_path_proven(*p, a, at_ns(7));
  EXPECT_EQ(p->path(), (Path{PathKind::kDirect, kRelay}));  // the relay is kept to fall back to
  EXPECT_EQ(p->timers().last_direct_rx_mono_ns.load(), 7);
  on_path_lost(*p, kRelay2);
  EXPECT_EQ(p->path(), Path::relayed(kRelay));
  on_path_remembered(*p, b);
  EXPECT_EQ(p->endpoint(), b);
  EXPECT_TRUE(p->path().direct());
}

TEST(Path, RelayedThroughNoOneIsUnset) {
  EXPECT_EQ(Path::relayed(HostId{}), Path{});
  auto p = make_peer();
  on_path_lost(*p, HostId{});  // no relay kept, none to fall back to
  EXPECT_EQ(p->path().kind, PathKind::kUnset);
  on_path_lost(*p, kRelay2);
  EXPECT_EQ(p->path(), Path::relayed(kRelay2));
}

// A worker turning the path direct and the control thread choosing a relay
// at the same time: neither change is lost.
TEST(Path, ConcurrentWritersKeepEachOthersField) {
  PathCell cell;
  constexpr uint32_t kRounds = 20000;
  std::thread worker([&] {
    for (uint32_t i = 0; i < kRounds; ++i) cell.update([](Path p) { return p.to_direct(); });
  });
  for (uint32_t i = 1; i <= kRounds; ++i) {
    cell.update([&](Path p) { return Path{p.kind, HostId{kRelay.value + i}}; });
  }
  worker.join();
  EXPECT_EQ(cell.load(), (Path{PathKind::kDirect, HostId{kRelay.value + kRounds}}));
}

// Receive stamps are throttled like send stamps: a second datagram within
// the stamp interval does not rewrite them (status shows the first).
TEST(Timers, ReceiveStampsAreThrottledOnTheDataPath) {
  auto peer_config = [](uint32_t host, const char* prefix, std::optional<Endpoint> e) {
    PeerConfig p;
    p.id = HostId{host};
    p.endpoint = e;
    p.link_key = key(7);
    p.allowed_prefixes = {*Prefix::parse(prefix)};
    return p;
  };
  const Now t0{1, kT0};
  NodeConfig ca, cb;
  ca.self = kSelf;
  ca.peers.push_back(peer_config(kOther.value, "10.77.0.2/32", *Endpoint::parse("192.0.2.2:51820")));
  cb.self = kOther;
  cb.peers.push_back(peer_config(kSelf.value, "10.77.0.1/32", std::nullopt));
  Node a(std::move(ca), 1, 0, t0), b(std::move(cb), 1, 0, t0);
  a.counter_floor_persisted(*a.tick(t0).persist_counter_floor);

  const uint8_t ip[] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 77, 0, 1, 10, 77, 0, 2};
  auto deliver = [&](const Now& now) {
    std::vector<std::byte> buf(wire::kHeadroom + sizeof ip + wire::kTailroom);
    std::memcpy(buf.data() + wire::kHeadroom, ip, sizeof ip);
    TxSlot tx{.buffer = buf, .headroom = wire::kHeadroom, .length = sizeof ip};
    a.process_tun(0, now, std::span(&tx, 1));
    ASSERT_EQ(tx.verdict, Verdict::kDeliver);
    std::vector<std::byte> datagram(tx.wire.begin(), tx.wire.end());
    RxSlot rx{.from = *Endpoint::parse("192.0.2.1:51820"), .data = datagram};
    b.process_wire(0, now, std::span(&rx, 1));
    ASSERT_EQ(rx.verdict, Verdict::kDeliver);
  };
  deliver(Now{2 * kNsPerMs, kT0 + 2 * kNsPerMs});
  deliver(Now{2 * kNsPerMs + kNsPerMs / 2, kT0 + 2 * kNsPerMs + kNsPerMs / 2});
  EXPECT_EQ(b.status().peers.at(0).last_rx_real_ns, kT0 + 2 * kNsPerMs);
  deliver(Now{4 * kNsPerMs, kT0 + 4 * kNsPerMs});
  EXPECT_EQ(b.status().peers.at(0).last_rx_real_ns, kT0 + 4 * kNsPerMs);
}

}  // namespace
}  // namespace cordon::link
