// bench/mesh_scale: the coordinator's costs, in one process on the real core
// (README.md, "Benchmark"). Prints key=value lines:
//
//   direct_gbps, relayed_gbps, relay_ratio_vs_direct
//       1400-byte inner packets from client a to client b: directly (a seals,
//       b opens) and through coordinator c (a seals and wraps, c checks the
//       hop and reseals it, b opens both layers), one thread, same run.
//   relay_pps
//       64-byte inner packets forwarded by c alone (hop check + reseal).
//       Median of three rounds, in this thread's CPU time.
//   sim_clients, sim_bytes_per_client, status_round_ms, status_round_us_per_client
//       a coordinator serving 10,000 clients, each linked with two others:
//       heap bytes per registered client after one status round (peer, keys,
//       AEAD contexts, replay window, registry entry), and the CPU time of
//       that round: every client's report authenticated, registered,
//       acknowledged and answered with its linked hosts' records.
//   sim_bytes_per_client_configured, sim_bytes_per_client_relaying
//       the same heap before any client was heard from, and after every
//       client also relayed one datagram to a linked client through the
//       coordinator (docs/design.md, "Coordinator memory").
//   sim100k_*
//       100,000 clients across 10 coordinators (bench/mesh_sim100k.cpp),
//       about a minute of CPU; left out with --no-sim100k.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

#include "core/node.hpp"
#include "core/wire/control.hpp"
#include "core/wire/header.hpp"
#include "testing/forge.hpp"

using namespace cordon;

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

std::unique_ptr<Node> ready(NodeConfig config, const Now& now) {
  auto node = std::make_unique<Node>(std::move(config), 1, 0, now);
  const auto t = node->tick(now);
  if (t.persist_counter_floor) node->counter_floor_persisted(*t.persist_counter_floor);
  return node;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

size_t heap_in_use() { return mallinfo2().uordblks; }

// One packet a -> b through `nodes` (a first, b last, relays between);
// returns false if any step did not pass it on.
struct Path {
  std::vector<Node*> nodes;
  std::vector<std::byte> buf;
  size_t size;
  Path(std::vector<Node*> n, size_t inner) : nodes(std::move(n)), buf(wire::kHeadroom + inner + wire::kTailroom), size(inner) {}
  bool one(const Now& now) {
    std::fill(buf.begin(), buf.end(), std::byte{0});
    const uint8_t ip[] = {0x45, 0, static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size), 0, 0, 0, 0,
                          64,   17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3};
    for (size_t i = 0; i < sizeof ip; ++i) buf[wire::kHeadroom + i] = std::byte{ip[i]};
    TxSlot tx{.buffer = buf, .headroom = wire::kHeadroom, .length = size};
    nodes.front()->process_tun(0, now, std::span(&tx, 1));
    if (tx.verdict != Verdict::kDeliver) return false;
    std::span<std::byte> d(const_cast<std::byte*>(tx.wire.data()), tx.wire.size());
    for (size_t i = 1; i < nodes.size(); ++i) {
      RxSlot rx{.from = *Endpoint::parse("192.0.2.9:51820"), .data = d};
      nodes[i]->process_wire(0, now, std::span(&rx, 1));
      if (i + 1 < nodes.size()) {
        if (rx.verdict != Verdict::kForward) return false;
        d = std::span<std::byte>(const_cast<std::byte*>(rx.wire.data()), rx.wire.size());
      } else if (rx.verdict != Verdict::kDeliver) {
        return false;
      }
    }
    return true;
  }
};

double gbps(Path& p, const Now& now, size_t count) {
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < count; ++i) {
    if (!p.one(now)) {
      std::fprintf(stderr, "mesh_scale: a packet was dropped at packet %zu\n", i);
      return 0;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(count * p.size * 8) / s / 1e9;
}

void data_path() {
  const Now now{1, kT0};
  NodeConfig c;
  c.self = kC;
  c.role = keys::Role::kCoordinator;
  c.peers.push_back(peer(kC, kA, keys::Role::kClient, Endpoint::parse("192.0.2.2:51820"), "10.0.0.2/32"));
  c.peers.push_back(peer(kC, kB, keys::Role::kClient, Endpoint::parse("192.0.2.3:51820"), "10.0.0.3/32"));
  auto coordinator = ready(std::move(c), now);
  auto client_a = [&](bool direct) {
    NodeConfig a;
    a.self = kA;
    a.mesh.rendezvous = kC;
    a.peers.push_back(peer(kA, kC, keys::Role::kCoordinator, Endpoint::parse("192.0.2.1:51820"), "10.0.0.1/32"));
    a.peers.push_back(peer(kA, kB, keys::Role::kClient,
                           direct ? Endpoint::parse("192.0.2.3:51820") : std::nullopt, "10.0.0.3/32"));
    return ready(std::move(a), now);
  };
  auto b_node = [&] {
    NodeConfig b;
    b.self = kB;
    b.peers.push_back(peer(kB, kC, keys::Role::kCoordinator, Endpoint::parse("192.0.2.1:51820"), "10.0.0.1/32"));
    b.peers.push_back(peer(kB, kA, keys::Role::kClient, std::nullopt, "10.0.0.2/32"));
    return ready(std::move(b), now);
  };
  auto a_direct = client_a(true), a_relayed = client_a(false);
  auto b1 = b_node(), b2 = b_node();
  constexpr size_t kCount = 200000;
  Path direct({a_direct.get(), b1.get()}, 1400);
  Path relayed({a_relayed.get(), coordinator.get(), b2.get()}, 1400);
  const double d = gbps(direct, now, kCount), r = gbps(relayed, now, kCount);
  std::printf("direct_gbps=%.3f\nrelayed_gbps=%.3f\nrelay_ratio_vs_direct=%.3f\n", d, r, d > 0 ? r / d : 0.0);

  // relay_pps: the coordinator alone, 64-byte inner packets (pre-sealed).
  auto a3 = client_a(false);
  constexpr size_t kRelayCount = 200000;
  std::vector<std::vector<std::byte>> sealed;
  sealed.reserve(kRelayCount);
  for (size_t i = 0; i < kRelayCount; ++i) {
    std::vector<std::byte> buf(wire::kHeadroom + 64 + wire::kTailroom);
    const uint8_t ip[] = {0x45, 0, 0, 64, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3};
    for (size_t k = 0; k < sizeof ip; ++k) buf[wire::kHeadroom + k] = std::byte{ip[k]};
    TxSlot tx{.buffer = buf, .headroom = wire::kHeadroom, .length = 64};
    a3->process_tun(0, now, std::span(&tx, 1));
    sealed.emplace_back(tx.wire.begin(), tx.wire.end());
  }
  // Three rounds, each through a fresh coordinator (the datagrams would be
  // replays to the same one); the median is reported. Timed in this
  // thread's CPU time: the figure is per worker, and a shared machine's
  // other load must not count against it.
  std::vector<double> rounds;
  for (int round = 0; round < 3; ++round) {
    auto c2 = [&] {
      NodeConfig cc;
      cc.self = kC;
      cc.role = keys::Role::kCoordinator;
      cc.peers.push_back(peer(kC, kA, keys::Role::kClient, Endpoint::parse("192.0.2.2:51820"), "10.0.0.2/32"));
      cc.peers.push_back(peer(kC, kB, keys::Role::kClient, Endpoint::parse("192.0.2.3:51820"), "10.0.0.3/32"));
      return ready(std::move(cc), now);
    }();
    // Copies: the coordinator reseals the hop in place.
    std::vector<std::vector<std::byte>> batch = sealed;
    const Endpoint from = *Endpoint::parse("192.0.2.2:51820");
    size_t forwarded = 0;
    std::vector<RxSlot> slots(32);
    const double t0 = thread_cpu_seconds();
    for (size_t i = 0; i < kRelayCount; i += slots.size()) {
      const size_t n = std::min(slots.size(), kRelayCount - i);
      for (size_t k = 0; k < n; ++k) slots[k] = RxSlot{.from = from, .data = batch[i + k]};
      c2->process_wire(0, now, std::span(slots).first(n));
      for (size_t k = 0; k < n; ++k) forwarded += slots[k].verdict == Verdict::kForward;
    }
    const double s = thread_cpu_seconds() - t0;
    rounds.push_back(static_cast<double>(forwarded) / s);
    if (forwarded != kRelayCount) std::fprintf(stderr, "mesh_scale: %zu of %zu relayed\n", forwarded, kRelayCount);
  }
  std::sort(rounds.begin(), rounds.end());
  std::printf("relay_pps=%.0f\n", rounds[1]);
}

void registry_scale() {
  constexpr uint32_t kClients = 10000;
  const Now now{1, kT0};
  auto client_id = [](uint32_t i) { return HostId{0x00020000u + 1 + i}; };
  NodeConfig c;
  c.self = kC;
  c.role = keys::Role::kCoordinator;
  for (uint32_t i = 0; i < kClients; ++i) {
    const HostId id = client_id(i);
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "10.%u.%u.%u/32", 100 + (i >> 16), (i >> 8) & 0xff, i & 0xff);
    PeerConfig p = peer(kC, id, keys::Role::kClient, std::nullopt, prefix);
    c.peers.push_back(std::move(p));
    c.mesh.served.push_back(ServedClientConfig{id, {client_id((i + 1) % kClients), client_id((i + 2) % kClients), kC}});
  }

  // Every client's status report, sealed with its own link key, and one
  // relayed datagram from each client to the next, made before the heap is
  // measured.
  std::vector<std::vector<std::byte>> reports, relayed;
  reports.reserve(kClients);
  relayed.reserve(kClients);
  const std::vector<std::byte> payload(64);
  for (uint32_t i = 0; i < kClients; ++i) {
    const HostId id = client_id(i), next = client_id((i + 1) % kClients);
    const auto plain = *wire::encode_control(wire::StatusReport{1, {*Endpoint::parse("10.9.0.1:51820")}});
    const uint64_t counter = wire::counter_units(kT0) + 1;
    reports.push_back(testing::forge_direct(key_for(kC.value, id.value), id, kC, plain, counter));
    const auto inner = testing::forge_direct(key_for(id.value, next.value), id, next, payload, counter);
    relayed.push_back(testing::forge_relayed(key_for(kC.value, id.value), id, kC, inner,
                                             wire::RoutingBlock{next, id, wire::kInitialHops}, counter + 1));
  }
  auto endpoint_of = [](size_t i) {
    char ep[32];
    std::snprintf(ep, sizeof ep, "198.18.%zu.%zu:51820", i >> 8 & 0xff, i & 0xff);
    return *Endpoint::parse(ep);
  };
  std::vector<RxSlot> slots(32);

  const size_t heap0 = heap_in_use();
  auto node = ready(std::move(c), now);
  const size_t heap1 = heap_in_use();

  const Now round{2, kT0 + kNsPerMs};
  size_t answered = 0;
  const double cpu0 = cpu_seconds();
  for (uint32_t i = 0; i < kClients; i += static_cast<uint32_t>(slots.size())) {
    const size_t n = std::min<size_t>(slots.size(), kClients - i);
    for (size_t k = 0; k < n; ++k) slots[k] = RxSlot{.from = endpoint_of(i + k), .data = reports[i + k]};
    node->process_wire(0, round, std::span(slots).first(n));
    if (node->control_pending()) answered += node->tick(round).datagrams.size();
  }
  const double cpu = cpu_seconds() - cpu0;
  const size_t heap2 = heap_in_use();

  // Every client relays one datagram to a linked client through the coordinator.
  size_t forwarded = 0;
  for (uint32_t i = 0; i < kClients; i += static_cast<uint32_t>(slots.size())) {
    const size_t n = std::min<size_t>(slots.size(), kClients - i);
    for (size_t k = 0; k < n; ++k) slots[k] = RxSlot{.from = endpoint_of(i + k), .data = relayed[i + k]};
    node->process_wire(0, round, std::span(slots).first(n));
    for (size_t k = 0; k < n; ++k) forwarded += slots[k].verdict == Verdict::kForward;
  }
  const size_t heap3 = heap_in_use();

  const NodeStatus st = node->status();
  size_t reachable = 0;
  for (const RegisteredClient& rc : st.clients) reachable += rc.state == Reachability::kReachable;
  auto per_client = [&](size_t bytes) { return static_cast<double>(bytes) / kClients; };
  std::printf("sim_clients=%u\nsim_bytes_per_client=%.0f\n", kClients, per_client(heap2 - heap0));
  std::printf("sim_bytes_per_client_configured=%.0f\nsim_bytes_per_client_relaying=%.0f\n", per_client(heap1 - heap0),
              per_client(heap3 - heap0));
  std::printf("status_round_ms=%.1f\nstatus_round_us_per_client=%.2f\n", cpu * 1e3, cpu * 1e6 / kClients);
  std::printf("status_round_datagrams=%zu\nstatus_round_registered=%zu\n", answered, reachable);
  if (reachable != kClients) std::fprintf(stderr, "mesh_scale: only %zu of %u clients registered\n", reachable, kClients);
  if (forwarded != kClients) std::fprintf(stderr, "mesh_scale: only %zu of %u relayed\n", forwarded, kClients);
}

}  // namespace

namespace cordon::bench {
void sim100k();  // bench/mesh_sim100k.cpp
}  // namespace cordon::bench

int main(int argc, char** argv) {
  bool sim100k = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--no-sim100k") {
      sim100k = false;
    } else if (arg != "--sim100k") {  // the default, still accepted
      std::fprintf(stderr, "usage: mesh_scale [--no-sim100k]\n");
      return 2;
    }
  }
  data_path();
  registry_scale();
  if (sim100k) cordon::bench::sim100k();
  return 0;
}
