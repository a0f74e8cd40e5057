// bench/mesh_scale, part two: 100,000 clients across 10 coordinators, with
// clients joining, leaving and roaming (docs/design.md, "A network of
// 100,000 clients", says why these rates and this model). Prints:
//
//   sim100k_clients, sim100k_coordinators, sim100k_seconds
//   sim100k_bytes_per_client       the coordinators' heap, all ten, per client
//   sim100k_cpu_ms_per_s           one coordinator's CPU per simulated second
//                                  (the ten's total / 10; this thread's CPU time
//                                  inside process_wire and tick)
//   sim100k_control_bytes_per_client_per_s
//                                  every control and keepalive datagram on the
//                                  wire (clients <-> coordinators and between
//                                  coordinators), per client per second
//   sim100k_joins, sim100k_leaves, sim100k_roams, sim100k_reachable
//
// The coordinators are real Nodes; the clients are played by forged
// datagrams (testing/forge.hpp) with their real link keys: a full SimHost
// per client would hold 100,000 Nodes, each with its own peers, contexts and
// timers, which is the clients' cost, not the coordinators'.
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "core/node.hpp"
#include "core/wire/control.hpp"
#include "core/wire/header.hpp"
#include "testing/forge.hpp"

namespace cordon::bench {
namespace {

constexpr uint32_t kCoordinators = 10;
constexpr uint32_t kClients = 100000;
constexpr uint32_t kPerCoordinator = kClients / kCoordinators;
// A host number is 16 bits: the clients live in two networks of 50,000
// (docs/design.md, "A network of 100,000 clients").
constexpr uint32_t kPerNetwork = 50000;
constexpr int64_t kSeconds = 360;  // past the 330 s poll period, so leaves turn unreachable
constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
// Per second: 0.1 % join, 0.1 % leave, 1 % roam.
constexpr uint32_t kJoinsPerSecond = kClients / 1000, kLeavesPerSecond = kClients / 1000,
                   kRoamsPerSecond = kClients / 100;

HostId coordinator_id(uint32_t k) { return HostId{0x00010000u + 1 + k}; }
HostId client_id(uint32_t g) { return HostId{((2 + g / kPerNetwork) << 16) | (1 + g % kPerNetwork)}; }
Endpoint coordinator_endpoint(uint32_t k) {
  char ep[32];
  std::snprintf(ep, sizeof ep, "192.0.2.%u:51820", k + 1);
  return *Endpoint::parse(ep);
}

crypto::SecretBytes key_for(uint32_t x, uint32_t y) {
  if (x > y) std::swap(x, y);
  crypto::SecretBytes k(kLinkKeySize);
  auto v = k.mutable_view();
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::byte(static_cast<uint8_t>((x * 131 + y * 71 + i * 7) & 0xff));
  return k;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Client {
  uint32_t g = 0;
  bool online = false;
  uint32_t mapping = 0;  // the NAT mapping in use: the endpoint's port
  uint64_t counter = 0;
  int64_t next_report_s = 0, next_keepalive_s = 0;
};

class Sim {
 public:
  Sim() : rng_(11) {}

  void run() {
    clients_.resize(kClients);
    for (uint32_t g = 0; g < kClients; ++g) {
      clients_[g].g = g;
      clients_[g].online = g % 20 != 0;  // 95 % online at the start
      clients_[g].next_report_s = static_cast<int64_t>(rng_() % 300);
      clients_[g].next_keepalive_s = static_cast<int64_t>(rng_() % 25);
    }
    const size_t heap0 = mallinfo2().uordblks;
    build(Now{1, kT0});
    // Everyone online registers first; that round is not measured.
    for (Client& c : clients_) {
      if (c.online) report(c, 0);
    }
    deliver(0);
    cpu_s_ = 0;
    bytes_ = 0;
    for (int64_t t = 1; t <= kSeconds; ++t) second(t);
    const size_t heap1 = mallinfo2().uordblks;

    size_t reachable = 0;
    for (auto& n : nodes_) {
      for (const RegisteredClient& rc : n->status().clients) reachable += rc.state == Reachability::kReachable;
    }
    std::printf("sim100k_clients=%u\nsim100k_coordinators=%u\nsim100k_seconds=%lld\n", kClients, kCoordinators,
                static_cast<long long>(kSeconds));
    std::printf("sim100k_bytes_per_client=%.0f\n", static_cast<double>(heap1 - heap0) / kClients);
    std::printf("sim100k_cpu_ms_per_s=%.2f\n", cpu_s_ * 1e3 / static_cast<double>(kSeconds) / kCoordinators);
    std::printf("sim100k_control_bytes_per_client_per_s=%.2f\n",
                static_cast<double>(bytes_) / kClients / static_cast<double>(kSeconds));
    std::printf("sim100k_joins=%zu\nsim100k_leaves=%zu\nsim100k_roams=%zu\nsim100k_reachable=%zu\n", joins_, leaves_,
                roams_, reachable);
  }

 private:
  static Now at(int64_t t) { return Now{1 + t * kNsPerSecond, kT0 + t * kNsPerSecond}; }

  void build(const Now& now) {
    for (uint32_t k = 0; k < kCoordinators; ++k) {
      NodeConfig c;
      c.self = coordinator_id(k);
      c.role = keys::Role::kCoordinator;
      for (uint32_t o = 0; o < kCoordinators; ++o) {
        if (o == k) continue;
        PeerConfig p;
        p.id = coordinator_id(o);
        p.link_key = key_for(c.self.value, p.id.value);
        p.endpoint = coordinator_endpoint(o);
        p.role = keys::Role::kCoordinator;
        p.keepalive_ns = 0;
        c.peers.push_back(std::move(p));
      }
      for (uint32_t g = k * kPerCoordinator; g < (k + 1) * kPerCoordinator; ++g) {
        PeerConfig p;
        p.id = client_id(g);
        p.link_key = key_for(c.self.value, p.id.value);
        char prefix[32];
        std::snprintf(prefix, sizeof prefix, "10.%u.%u.%u/32", 64 + (g >> 16), (g >> 8) & 0xff, g & 0xff);
        p.allowed_prefixes = {*Prefix::parse(prefix)};
        p.rendezvous = c.self;
        p.keepalive_ns = 0;  // a client behind NAT keeps its mapping open itself
        c.peers.push_back(std::move(p));
        // Linked with the next client of its own coordinator and one of the next coordinator's.
        const uint32_t same = k * kPerCoordinator + (g + 1) % kPerCoordinator;
        const uint32_t other = (g + kPerCoordinator + 1) % kClients;
        c.mesh.served.push_back(ServedClientConfig{client_id(g), {client_id(same), client_id(other), c.self}});
      }
      auto node = std::make_unique<Node>(std::move(c), 1, 0, now);
      const auto t = node->tick(now);
      if (t.persist_counter_floor) node->counter_floor_persisted(*t.persist_counter_floor);
      nodes_.push_back(std::move(node));
    }
  }

  Endpoint client_endpoint(const Client& c) const {
    char ep[40];
    std::snprintf(ep, sizeof ep, "100.%u.%u.%u:%u", 64 + (c.g >> 16), (c.g >> 8) & 0xff, c.g & 0xff,
                  1024 + c.mapping % 60000);
    return *Endpoint::parse(ep);
  }

  void send(Client& c, int64_t t, std::span<const std::byte> plain) {
    const uint32_t k = c.g / kPerCoordinator;
    c.counter = std::max(c.counter + 1, wire::counter_units(at(t).real_ns));
    auto d = testing::forge_direct(key_for(coordinator_id(k).value, client_id(c.g).value), client_id(c.g),
                                   coordinator_id(k), plain, c.counter);
    bytes_ += d.size();
    inbound_[k].push_back(Pending{client_endpoint(c), std::move(d)});
  }

  void report(Client& c, int64_t t) {
    const auto plain = *wire::encode_control(wire::StatusReport{static_cast<uint32_t>(t + 1), {}});
    send(c, t, plain);
    c.next_report_s = t + 300;  // the status interval, 5 min
  }

  void keepalive(Client& c, int64_t t) {
    const std::byte zero[wire::kKeepaliveSize] = {};
    send(c, t, zero);
    c.next_keepalive_s = t + 25;  // the keepalive interval through NAT
  }

  Client& pick(bool online) {
    for (;;) {
      Client& c = clients_[rng_() % kClients];
      if (c.online == online) return c;
    }
  }

  void second(int64_t t) {
    for (uint32_t i = 0; i < kLeavesPerSecond; ++i, ++leaves_) pick(true).online = false;
    for (uint32_t i = 0; i < kJoinsPerSecond; ++i, ++joins_) {
      Client& c = pick(false);
      c.online = true;
      ++c.mapping;  // a new network, a new mapping
      report(c, t);
      c.next_keepalive_s = t + 25;
    }
    for (uint32_t i = 0; i < kRoamsPerSecond; ++i, ++roams_) {
      Client& c = pick(true);
      ++c.mapping;  // its next datagram comes from a new mapping
      keepalive(c, t);
    }
    for (Client& c : clients_) {
      if (!c.online) continue;
      if (c.next_report_s <= t) report(c, t);
      if (c.next_keepalive_s <= t) keepalive(c, t);
    }
    deliver(t);
  }

  // Hands every coordinator its datagrams and ticks it, passing what it
  // sends to other coordinators on, until nothing is left in flight.
  void deliver(int64_t t) {
    const Now now = at(t);
    std::vector<RxSlot> slots(32);
    bool ticked_once = false;
    for (bool busy = true; busy || !ticked_once; ticked_once = true) {
      busy = false;
      for (uint32_t k = 0; k < kCoordinators; ++k) {
        std::vector<Pending> in = std::move(inbound_[k]);
        inbound_[k].clear();
        busy |= !in.empty();
        Node& node = *nodes_[k];
        const double c0 = thread_cpu_seconds();
        std::vector<Outgoing> out;
        for (size_t i = 0; i < in.size(); i += slots.size()) {
          const size_t n = std::min(slots.size(), in.size() - i);
          for (size_t j = 0; j < n; ++j) slots[j] = RxSlot{.from = in[i + j].from, .data = in[i + j].datagram};
          node.process_wire(0, now, std::span(slots).first(n));
          if (node.control_pending()) {
            for (Outgoing& o : node.tick(now).datagrams) out.push_back(std::move(o));
          }
        }
        if (!ticked_once) {
          for (Outgoing& o : node.tick(now).datagrams) out.push_back(std::move(o));
        }
        cpu_s_ += thread_cpu_seconds() - c0;
        for (Outgoing& o : out) {
          bytes_ += o.datagram.size();
          const uint32_t port_host = static_cast<uint32_t>(o.to.address.bytes[3]);
          const bool to_coordinator = o.to.address.bytes[0] == 192 && o.to.port == 51820;
          if (to_coordinator && port_host >= 1 && port_host <= kCoordinators) {
            inbound_[port_host - 1].push_back(Pending{coordinator_endpoint(k), std::move(o.datagram)});
          }
        }
      }
    }
  }

  struct Pending {
    Endpoint from;
    std::vector<std::byte> datagram;
  };
  std::mt19937_64 rng_;
  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Pending> inbound_[kCoordinators];
  double cpu_s_ = 0;
  size_t bytes_ = 0;
  size_t joins_ = 0, leaves_ = 0, roams_ = 0;
};

}  // namespace

void sim100k() { Sim().run(); }

}  // namespace cordon::bench
