// The node under real threads (core/node.hpp, "Threads"; core/publish.hpp):
// several workers run process_tun on A and process_wire on B while the
// control thread reconfigures both and ticks them. Every sealed datagram is
// handed to B twice, by whichever receivers take the two copies, so that
// two workers race on the same counter.
//
// What is checked:
//  - no (key, nonce) pair repeats: A's link key with B is fixed, so the
//    header's generation and counter bits name the nonce, and no two
//    datagrams A sent to B (workers' and the control thread's keepalives)
//    share them (docs/protocol.md, "Nonce uniqueness");
//  - no inner packet is delivered twice, though each datagram arrives twice
//    (docs/protocol.md, "Replay protection");
//  - traffic flows throughout (something is delivered).
// The ThreadSanitizer build of this test (unit_tests_tsan) checks in
// addition that no snapshot is read after it is freed or written racily.
//
// Also here: a reload with many peers keeps each carried peer's state.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "testing/fake_tun.hpp"
#include "testing/sim_link.hpp"

namespace cordon {
namespace {

using testing::make_sim_link;
using testing::SimLink;

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
constexpr unsigned kWorkers = 3;
constexpr unsigned kPacketsPerSender = 4000;
constexpr size_t kBatch = 16;

crypto::SecretBytes filled_key(uint8_t fill) {
  crypto::SecretBytes k(kLinkKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

PeerConfig extra_peer(uint32_t host, uint8_t key_fill, const std::string& prefix, std::optional<Endpoint> endpoint) {
  PeerConfig p;
  p.id = HostId{host};
  p.link_key = filled_key(key_fill);
  p.allowed_prefixes = {*Prefix::parse(prefix)};
  p.endpoint = endpoint;
  return p;
}

const Endpoint kThirdPeer = *Endpoint::parse("203.0.113.3:51820");

// A's and B's configurations; `variant` adds a third peer and moves B's
// configured endpoint, so that reloads alternate between two shapes that
// both carry the A-B link over.
NodeConfig config_of(bool a_side, unsigned variant) {
  SimLink link = make_sim_link();
  NodeConfig c = a_side ? std::move(link.a_config) : std::move(link.b_config);
  if (variant % 2 == 1) {
    c.peers.push_back(extra_peer(0x0001000c, 9, "10.77.0.3/32", kThirdPeer));
    if (a_side) c.peers.front().endpoint = *Endpoint::parse("198.51.100.2:51821");
  }
  return c;
}

// Ticks `n` and persists the floor it asks for, as the daemon does; keeps
// the datagrams it made for peers other than the third in `sent`.
void tick_and_persist(Node& n, const Now& now, std::vector<std::vector<std::byte>>* sent) {
  TickResult t = n.tick(now);
  if (t.persist_counter_floor) n.counter_floor_persisted(*t.persist_counter_floor);
  if (!sent) return;
  for (Outgoing& o : t.datagrams) {
    if (o.to != kThirdPeer) sent->push_back(std::move(o.datagram));
  }
}

// Datagrams from A's workers waiting for B's, each queued twice.
class Wire {
 public:
  void push(std::span<const std::byte> d) {
    std::lock_guard<std::mutex> g(m_);
    queue_.emplace_back(d.begin(), d.end());
    queue_.emplace_back(d.begin(), d.end());
  }
  std::vector<std::vector<std::byte>> take(size_t most) {
    std::lock_guard<std::mutex> g(m_);
    const size_t n = std::min(most, queue_.size());
    std::vector<std::vector<std::byte>> out(std::make_move_iterator(queue_.end() - static_cast<ptrdiff_t>(n)),
                                            std::make_move_iterator(queue_.end()));
    queue_.resize(queue_.size() - n);
    return out;
  }

 private:
  std::mutex m_;
  std::vector<std::vector<std::byte>> queue_;
};

// One sender: kPacketsPerSender numbered packets through A's process_tun.
std::vector<std::vector<std::byte>> run_sender(Node& a, unsigned worker, const SimLink& link, Wire& wire) {
  std::vector<std::vector<std::byte>> sealed;
  std::vector<std::vector<std::byte>> buffers(kBatch);
  std::vector<TxSlot> slots(kBatch);
  for (uint64_t seq = 0; seq < kPacketsPerSender; seq += kBatch) {
    for (size_t i = 0; i < kBatch; ++i) {
      const auto p = testing::make_test_packet(
          {.src = link.a.tunnel_v4, .dst = link.b.tunnel_v4, .stream = worker, .seq = seq + i});
      buffers[i].assign(wire::kHeadroom + p.size() + wire::kTailroom, std::byte{0});
      std::copy(p.begin(), p.end(), buffers[i].begin() + wire::kHeadroom);
      slots[i] = TxSlot{.buffer = buffers[i], .headroom = wire::kHeadroom, .length = p.size()};
    }
    a.process_tun(worker, Now{1, kT0}, slots);
    for (const TxSlot& s : slots) {
      if (s.verdict != Verdict::kDeliver) continue;
      sealed.emplace_back(s.wire.begin(), s.wire.end());
      wire.push(s.wire);
    }
  }
  return sealed;
}

// One receiver: B's process_wire on whatever the wire holds, until the
// senders are done and the wire is empty. Returns (stream, seq) delivered.
std::vector<std::pair<uint32_t, uint64_t>> run_receiver(Node& b, unsigned worker, const SimLink& link, Wire& wire,
                                                        const std::atomic<bool>& senders_done) {
  std::vector<std::pair<uint32_t, uint64_t>> delivered;
  for (;;) {
    const bool last = senders_done.load(std::memory_order_acquire);
    auto datagrams = wire.take(kBatch);
    if (datagrams.empty()) {
      if (last) return delivered;
      std::this_thread::yield();
      continue;
    }
    std::vector<RxSlot> slots(datagrams.size());
    for (size_t i = 0; i < datagrams.size(); ++i) slots[i] = RxSlot{.from = link.a.underlay, .data = datagrams[i]};
    b.process_wire(worker, Now{1, kT0}, slots);
    for (const RxSlot& s : slots) {
      if (s.verdict != Verdict::kDeliver) continue;
      const auto info = testing::parse_test_packet(s.inner);
      if (info) delivered.emplace_back(info->stream, info->seq);
    }
  }
}

TEST(NodeConcurrency, NoNonceRepeatsAndNothingIsDeliveredTwiceWhileReloading) {
  const SimLink link = make_sim_link();
  const Now now{1, kT0};
  Node a(config_of(true, 0), kWorkers, 0, now);
  Node b(config_of(false, 0), kWorkers, 0, now);
  std::vector<std::vector<std::byte>> control_sent;
  tick_and_persist(a, now, &control_sent);

  Wire wire;
  std::atomic<bool> senders_done{false};
  std::vector<std::vector<std::vector<std::byte>>> sealed(kWorkers);
  std::vector<std::vector<std::pair<uint32_t, uint64_t>>> delivered(kWorkers);
  std::vector<std::thread> senders, receivers;
  for (unsigned w = 0; w < kWorkers; ++w) {
    senders.emplace_back([&, w] { sealed[w] = run_sender(a, w, link, wire); });
    receivers.emplace_back([&, w] { delivered[w] = run_receiver(b, w, link, wire, senders_done); });
  }
  // The control thread: reload both sides and tick them while traffic flows.
  std::atomic<bool> senders_running{true};
  std::thread watcher([&] {
    for (auto& t : senders) t.join();
    senders_running.store(false, std::memory_order_release);
  });
  unsigned reloads = 0;
  while (senders_running.load(std::memory_order_acquire)) {
    ++reloads;
    a.reconfigure(config_of(true, reloads), now);
    b.reconfigure(config_of(false, reloads), now);
    tick_and_persist(a, now, &control_sent);
    tick_and_persist(b, now, nullptr);
  }
  watcher.join();
  senders_done.store(true, std::memory_order_release);
  for (auto& t : receivers) t.join();

  // A's datagrams to B: every worker's and the control thread's keepalives
  // (those to the third peer use another key and are left out).
  std::set<std::pair<uint8_t, uint64_t>> nonces;
  size_t to_b = 0;
  auto record = [&](const std::vector<std::byte>& d) {
    const auto h = wire::parse_header(d);
    ASSERT_TRUE(h.header);
    ++to_b;
    EXPECT_TRUE(nonces.emplace(h.header->generation, h.header->wire_counter).second)
        << "counter " << h.header->wire_counter << " used twice";
  };
  for (const auto& per_worker : sealed) {
    for (const auto& d : per_worker) record(d);
  }
  for (const auto& d : control_sent) record(d);
  EXPECT_GT(to_b, 0u);

  std::set<std::pair<uint32_t, uint64_t>> once;
  size_t total = 0;
  for (const auto& per_worker : delivered) {
    for (const auto& p : per_worker) {
      ++total;
      EXPECT_TRUE(once.insert(p).second) << "stream " << p.first << " seq " << p.second << " delivered twice";
    }
  }
  EXPECT_GT(total, 0u);
  EXPECT_GT(reloads, 0u);
}

// A reload of a node with thousands of peers carries every unchanged peer
// over (its counters and statistics) and replaces only the one whose key
// changed; the peer table is looked up by host ID, once per peer.
TEST(NodeReload, ManyPeersKeepTheirStateAcrossAReload) {
  constexpr uint32_t kPeers = 3000;
  const Now now{1, kT0};
  const HostId self{0x00010001};
  auto peer_at = [](uint32_t i, uint8_t key_fill) {
    const std::string prefix = "10.78." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + "/32";
    return extra_peer(0x00020000 + i, key_fill, prefix,
                      *Endpoint::parse("192.0.2." + std::to_string(i % 250 + 1) + ":" + std::to_string(40000 + i)));
  };
  auto config = [&](uint32_t rekeyed) {
    NodeConfig c;
    c.self = self;
    for (uint32_t i = kPeers; i-- > 0;) c.peers.push_back(peer_at(i, i == rekeyed ? 200 : 1 + i % 100));
    return c;
  };
  Node n(config(kPeers), 1, 0, now);
  tick_and_persist(n, now, nullptr);
  std::vector<std::byte> buffer(wire::kHeadroom + 64 + wire::kTailroom);
  for (uint32_t i = 0; i < kPeers; ++i) {
    const auto dst = IpAddress::parse("10.78." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
    const auto p = testing::make_test_packet({.src = *IpAddress::parse("10.78.200.1"), .dst = *dst, .seq = i});
    std::copy(p.begin(), p.end(), buffer.begin() + wire::kHeadroom);
    TxSlot slot{.buffer = buffer, .headroom = wire::kHeadroom, .length = p.size()};
    n.process_tun(0, now, std::span(&slot, 1));
    ASSERT_EQ(slot.verdict, Verdict::kDeliver) << drop_reason_name(slot.reason);
  }

  constexpr uint32_t kRekeyed = 1234;
  n.reconfigure(config(kRekeyed), now);
  const NodeStatus st = n.status();
  ASSERT_EQ(st.peers.size(), kPeers);
  for (const PeerStatus& p : st.peers) {
    const uint32_t i = p.id.value - 0x00020000;
    EXPECT_EQ(p.tx_packets, i == kRekeyed ? 0u : 1u) << "peer " << i;
  }
}

}  // namespace
}  // namespace cordon
