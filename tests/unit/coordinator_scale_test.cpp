// A coordinator's per-client costs (docs/design.md, "Coordinator memory"):
// AEAD contexts made on each slot's first use, the control thread's cached
// sealing contexts, and an upper bound on the heap a registered client costs;
// and the lane a relayed datagram keeps from hop to hop (docs/design.md,
// "Lanes").
#include <malloc.h>

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/node.hpp"
#include "core/wire/control.hpp"
#include "core/wire/header.hpp"
#include "testing/forge.hpp"

namespace cordon {
namespace {

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
const HostId kC{0x00010001}, kA{0x00010002}, kB{0x00010003};

crypto::SecretBytes key_for(uint32_t x, uint32_t y) {
  crypto::SecretBytes k(kLinkKeySize);
  auto v = k.mutable_view();
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::byte(static_cast<uint8_t>((x * 131 + y * 71 + i * 7) & 0xff));
  return k;
}

PeerConfig peer(HostId self, HostId id, keys::Role role, std::optional<Endpoint> endpoint, const char* prefix) {
  PeerConfig p;
  p.id = id;
  p.link_key = key_for(std::min(self.value, id.value), std::max(self.value, id.value));
  p.allowed_prefixes = {*Prefix::parse(prefix)};
  p.endpoint = endpoint;
  p.role = role;
  p.rendezvous = role == keys::Role::kClient ? kC : HostId{};
  p.keepalive_ns = 0;
  return p;
}

std::unique_ptr<Node> ready(NodeConfig config, unsigned workers, const Now& now) {
  auto node = std::make_unique<Node>(std::move(config), workers, 0, now);
  const auto t = node->tick(now);
  if (t.persist_counter_floor) node->counter_floor_persisted(*t.persist_counter_floor);
  return node;
}

// A client of kC that reaches its other client only through kC.
std::unique_ptr<Node> client(HostId self, HostId other, const char* other_prefix, const Now& now,
                             unsigned workers = 1) {
  NodeConfig c;
  c.self = self;
  c.mesh.rendezvous = kC;
  c.mesh.registry = kC;
  c.peers.push_back(peer(self, kC, keys::Role::kCoordinator, Endpoint::parse("192.0.2.1:51820"), "10.0.0.1/32"));
  c.peers.push_back(peer(self, other, keys::Role::kClient, std::nullopt, other_prefix));
  return ready(std::move(c), workers, now);
}

// kC with two workers, serving kA and kB, each linked with the other.
std::unique_ptr<Node> coordinator_of_a_and_b(const Now& now) {
  NodeConfig cc;
  cc.self = kC;
  cc.role = keys::Role::kCoordinator;
  cc.peers.push_back(peer(kC, kA, keys::Role::kClient, Endpoint::parse("192.0.2.2:51820"), "10.0.0.2/32"));
  cc.peers.push_back(peer(kC, kB, keys::Role::kClient, Endpoint::parse("192.0.2.3:51820"), "10.0.0.3/32"));
  cc.mesh.served = {ServedClientConfig{kA, {kB}}, ServedClientConfig{kB, {kA}}};
  return ready(std::move(cc), 2, now);
}

// An inner IPv4/UDP header from 10.0.0.<from> to 10.0.0.<to>, sealed by `node` on `worker`.
std::vector<std::byte> sealed_packet(Node& node, uint8_t from, uint8_t to, const Now& now, unsigned worker = 0) {
  std::vector<std::byte> buf(wire::kHeadroom + 64 + wire::kTailroom);
  const uint8_t ip[] = {0x45, 0, 0, 64, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, from, 10, 0, 0, to};
  for (size_t k = 0; k < sizeof ip; ++k) buf[wire::kHeadroom + k] = std::byte{ip[k]};
  TxSlot tx{.buffer = buf, .headroom = wire::kHeadroom, .length = 64};
  node.process_tun(worker, now, std::span(&tx, 1));
  EXPECT_EQ(tx.verdict, Verdict::kDeliver);
  return {tx.wire.begin(), tx.wire.end()};
}

// Contexts are made on a slot's first use: a client first heard on one
// worker and later relaying through the other, in both directions, and the
// control thread's answers, all still authenticate.
TEST(CoordinatorContexts, EveryWorkerAndTheControlThreadSealAndOpenAfterFirstUse) {
  const Now now{1, kT0};
  auto c = coordinator_of_a_and_b(now);
  auto a = client(kA, kB, "10.0.0.3/32", now);
  auto b = client(kB, kA, "10.0.0.2/32", now);
  const Endpoint from_a = *Endpoint::parse("192.0.2.2:51820"), from_b = *Endpoint::parse("192.0.2.3:51820");

  // Each node's own tick sends its status report to kC; kC answers from its
  // control thread.
  const Now later{2, kT0 + kNsPerMs};
  for (auto [node, from, worker] : {std::tuple{a.get(), from_a, 0u}, std::tuple{b.get(), from_b, 1u}}) {
    for (Outgoing& o : node->tick(later).datagrams) {
      RxSlot rx{.from = from, .data = o.datagram};
      c->process_wire(worker, later, std::span(&rx, 1));
      EXPECT_EQ(rx.verdict, Verdict::kControl) << drop_reason_name(rx.reason);
    }
  }
  size_t answers = 0;
  for (Outgoing& o : c->tick(later).datagrams) {
    Node& to = o.to == from_a ? *a : *b;
    RxSlot rx{.from = *Endpoint::parse("192.0.2.1:51820"), .data = o.datagram};
    to.process_wire(0, later, std::span(&rx, 1));
    EXPECT_NE(rx.verdict, Verdict::kDrop) << drop_reason_name(rx.reason);
    ++answers;
  }
  EXPECT_GE(answers, 2u);

  // Data both ways through both workers: each worker makes the hop's
  // opening context and the next hop's sealing context on first use.
  for (unsigned worker : {1u, 0u, 1u}) {
    for (auto [src, dst, from, f, t] : {std::tuple{a.get(), b.get(), from_a, uint8_t{2}, uint8_t{3}},
                                        std::tuple{b.get(), a.get(), from_b, uint8_t{3}, uint8_t{2}}}) {
      auto d = sealed_packet(*src, f, t, later);
      RxSlot hop{.from = from, .data = d};
      c->process_wire(worker, later, std::span(&hop, 1));
      ASSERT_EQ(hop.verdict, Verdict::kForward) << drop_reason_name(hop.reason) << " worker " << worker;
      std::vector<std::byte> fwd(hop.wire.begin(), hop.wire.end());
      RxSlot rx{.from = *Endpoint::parse("192.0.2.1:51820"), .data = fwd};
      dst->process_wire(0, later, std::span(&rx, 1));
      EXPECT_EQ(rx.verdict, Verdict::kDeliver) << drop_reason_name(rx.reason) << " worker " << worker;
    }
  }
}

// A datagram carries the lane of the worker that sealed it, in the hop
// header and the inner header; the coordinator forwards it under the same
// lane whichever of its workers relays it; and the lane is authenticated.
TEST(Lanes, ARelayedDatagramKeepsTheSourcesLaneAndALaneChangeFailsItsTag) {
  const Now now{1, kT0};
  auto c = coordinator_of_a_and_b(now);
  auto a = client(kA, kB, "10.0.0.3/32", now, 6);
  auto b = client(kB, kA, "10.0.0.2/32", now);
  const Endpoint from_a = *Endpoint::parse("192.0.2.2:51820");

  for (unsigned worker = 0; worker < 6; ++worker) {
    SCOPED_TRACE(worker);
    auto d = sealed_packet(*a, 2, 3, now, worker);
    ASSERT_GT(d.size(), 2 * wire::kHeaderSize);
    EXPECT_EQ(wire::lane_of(d), worker % wire::kLanes);
    EXPECT_EQ(wire::lane_of(std::span(d).subspan(wire::kHeaderSize)), worker % wire::kLanes);
    RxSlot hop{.from = from_a, .data = d};
    c->process_wire(1 - worker % 2, now, std::span(&hop, 1));
    ASSERT_EQ(hop.verdict, Verdict::kForward) << drop_reason_name(hop.reason);
    std::vector<std::byte> fwd(hop.wire.begin(), hop.wire.end());
    EXPECT_EQ(wire::lane_of(fwd), worker % wire::kLanes);
    RxSlot rx{.from = *Endpoint::parse("192.0.2.1:51820"), .data = fwd};
    b->process_wire(0, now, std::span(&rx, 1));
    EXPECT_EQ(rx.verdict, Verdict::kDeliver) << drop_reason_name(rx.reason);
  }
  // The hop header's lane moved: the coordinator's tag check fails.
  auto d = sealed_packet(*a, 2, 3, now, 1);
  d[0] ^= std::byte{0x3};
  RxSlot hop{.from = from_a, .data = d};
  c->process_wire(0, now, std::span(&hop, 1));
  EXPECT_EQ(hop.verdict, Verdict::kDrop);
  EXPECT_EQ(hop.reason, DropReason::kAuthFailure) << drop_reason_name(hop.reason);
}

// Heap bytes per client of a coordinator whose clients each registered (one
// status report, acknowledged and answered). Each client is linked with two
// others, as in bench/mesh_scale. With `rekey`, the node can draw randomness
// (NodeConfig::random), so every link has a rekey session and, the
// coordinator being the key master (the lower host ID), a round under way
// once the client is heard from: its offer sent, its ephemeral X25519 key
// held, the answer not come (the clients here do not answer).
size_t bytes_per_registered_client(bool rekey) {
  constexpr uint32_t kClients = 2000;
  const Now now{1, kT0};
  auto client_id = [](uint32_t i) { return HostId{0x00020000u + 1 + i}; };
  NodeConfig c;
  c.self = kC;
  c.role = keys::Role::kCoordinator;
  if (rekey) {
    c.random = [](std::span<std::byte> out) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 13 + 7);
      return true;
    };
  }
  for (uint32_t i = 0; i < kClients; ++i) {
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "10.100.%u.%u/32", (i >> 8) & 0xff, i & 0xff);
    c.peers.push_back(peer(kC, client_id(i), keys::Role::kClient, std::nullopt, prefix));
    c.mesh.served.push_back(
        ServedClientConfig{client_id(i), {client_id((i + 1) % kClients), client_id((i + 2) % kClients), kC}});
  }
  std::vector<std::vector<std::byte>> reports;
  for (uint32_t i = 0; i < kClients; ++i) {
    const auto plain = *wire::encode_control(wire::StatusReport{1, {*Endpoint::parse("10.9.0.1:51820")}});
    reports.push_back(testing::forge_direct(key_for(kC.value, client_id(i).value), client_id(i), kC, plain,
                                            wire::counter_units(kT0) + 1));
  }
  std::vector<Endpoint> sources;
  for (uint32_t i = 0; i < kClients; ++i) {
    char ep[32];
    std::snprintf(ep, sizeof ep, "198.18.%u.%u:51820", (i >> 8) & 0xff, i & 0xff);
    sources.push_back(*Endpoint::parse(ep));
  }
  std::vector<RxSlot> slots(32);

  const size_t heap0 = mallinfo2().uordblks;
  auto node = ready(std::move(c), 1, now);
  const Now round{2, kT0 + kNsPerMs};
  for (uint32_t i = 0; i < kClients; i += static_cast<uint32_t>(slots.size())) {
    const size_t n = std::min<size_t>(slots.size(), kClients - i);
    for (size_t k = 0; k < n; ++k) slots[k] = RxSlot{.from = sources[i + k], .data = reports[i + k]};
    node->process_wire(0, round, std::span(slots).first(n));
    node->tick(round);
  }
  const size_t heap1 = mallinfo2().uordblks;

  size_t reachable = 0, offered = 0;
  const NodeStatus status = node->status();
  for (const RegisteredClient& rc : status.clients) reachable += rc.state == Reachability::kReachable;
  for (const PeerStatus& p : status.peers) offered += p.rekey.phase == "offered";
  EXPECT_EQ(reachable, kClients);
  EXPECT_EQ(offered, rekey ? kClients : 0u);
  return (heap1 - heap0) / kClients;
}

// The upper bound the coordinator's memory target sets: a registered
// client costs at most 4 KiB of heap (docs/design.md, "Coordinator memory").
TEST(CoordinatorMemory, ARegisteredClientCostsAtMost4KiB) {
  const size_t bytes = bytes_per_registered_client(false);
  RecordProperty("bytes_per_client", std::to_string(bytes));
  EXPECT_LE(bytes, 4096u);
}

// With rekeying on (every daemon), while every client's first round waits
// for its answer: the session and the round's state (docs/design.md,
// "Coordinator memory" gives the measured figure).
TEST(CoordinatorMemory, ARegisteredClientWithARekeyUnderWayCostsAtMost8KiB) {
  const size_t bytes = bytes_per_registered_client(true);
  RecordProperty("bytes_per_client", std::to_string(bytes));
  std::printf("bytes per registered client with a rekey round under way: %zu\n", bytes);
  EXPECT_LE(bytes, 8192u);
}

}  // namespace
}  // namespace cordon
