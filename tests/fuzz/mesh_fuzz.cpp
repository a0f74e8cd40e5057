// libFuzzer target for what a coordinator receives (docs/protocol.md,
// "Coordinators"). The first input byte picks the mode:
//   0: the rest is a raw datagram, as a stranger would send it;
//   1: the rest is XORed over a genuine relayed datagram from client a to b,
//      so mutations reach the hop checks, the routing block and forwarding;
//   2: the rest is a plaintext that client a seals genuinely for the
//      coordinator, so control messages of any shape reach the parser and
//      the registry (coord::Registry), which tick() then runs;
//   3: the rest is a plaintext the coordinator seals genuinely for client
//      a, so acks with any probe ID or sequence number, records and report
//      requests reach the client's rendezvous (coord::Rendezvous), matching
//      against what the client sent (docs/protocol.md "Control messages").
// Nothing may crash, hang or leak; every datagram must end in a verdict.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "testing/forge.hpp"

namespace {

using namespace cordon;

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
const HostId kC{0x00010001}, kA{0x00010002}, kB{0x00010003};

crypto::SecretBytes key_of(uint8_t fill) {
  crypto::SecretBytes k(kLinkKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

PeerConfig peer(HostId id, uint8_t fill, const char* prefix, keys::Role role, std::optional<Endpoint> endpoint) {
  PeerConfig p;
  p.id = id;
  p.link_key = key_of(fill);
  p.allowed_prefixes = {*Prefix::parse(prefix)};
  p.endpoint = endpoint;
  p.role = role;
  p.rendezvous = role == keys::Role::kClient ? kC : HostId{};
  return p;
}

struct World {
  std::unique_ptr<Node> client, coordinator;
  std::vector<std::byte> relayed;

  World() {
    const Now now{1, kT0};
    NodeConfig a;
    a.self = kA;
    a.mesh.registry = a.mesh.rendezvous = kC;
    a.peers.push_back(peer(kC, 1, "10.0.0.1/32", keys::Role::kCoordinator, Endpoint::parse("192.0.2.1:51820")));
    a.peers.push_back(peer(kB, 3, "10.0.0.3/32", keys::Role::kClient, std::nullopt));
    client = std::make_unique<Node>(std::move(a), 1, 0, now);
    NodeConfig c;
    c.self = kC;
    c.role = keys::Role::kCoordinator;
    c.peers.push_back(peer(kA, 1, "10.0.0.2/32", keys::Role::kClient, std::nullopt));
    c.peers.push_back(peer(kB, 2, "10.0.0.3/32", keys::Role::kClient, Endpoint::parse("192.0.2.3:51820")));
    c.mesh.served = {ServedClientConfig{kA, {kB, kC}}, ServedClientConfig{kB, {kA, kC}}};
    coordinator = std::make_unique<Node>(std::move(c), 1, 0, now);
    for (Node* n : {client.get(), coordinator.get()}) {
      const auto t = n->tick(now);
      n->counter_floor_persisted(*t.persist_counter_floor);
    }
    // A 40-byte IPv4 packet 10.0.0.2 -> 10.0.0.3, relayed through c.
    std::vector<std::byte> buf(wire::kHeadroom + 40 + wire::kTailroom);
    const uint8_t ip[] = {0x45, 0, 0, 40, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3};
    for (size_t i = 0; i < sizeof ip; ++i) buf[wire::kHeadroom + i] = std::byte{ip[i]};
    TxSlot slot{.buffer = buf, .headroom = wire::kHeadroom, .length = 40};
    client->process_tun(0, Now{2, kT0 + 1}, std::span(&slot, 1));
    relayed.assign(slot.wire.begin(), slot.wire.end());
  }
};

uint64_t g_counter = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  std::vector<std::byte> d;
  if (mode == 0) {
    d.assign(reinterpret_cast<const std::byte*>(data + 1), reinterpret_cast<const std::byte*>(data + size));
  } else if (mode == 1) {
    d = w.relayed;
    for (size_t i = 1; i < size && i - 1 < d.size(); ++i) d[i - 1] ^= std::byte{data[i]};
  } else {
    const size_t n = std::min<size_t>(size - 1, 1400);
    if (n == 0) return 0;
    const uint64_t counter = wire::counter_units(kT0 + 3) + (++g_counter);
    const auto plaintext = std::span(reinterpret_cast<const std::byte*>(data + 1), n);
    d = mode == 2 ? testing::forge_direct(key_of(1), kA, kC, plaintext, counter)
                  : testing::forge_direct(key_of(1), kC, kA, plaintext, counter);
  }
  const Now now{3, kT0 + 3};
  if (mode == 3) {
    RxSlot slot{.from = *Endpoint::parse("192.0.2.1:51820"), .data = d};
    w.client->process_wire(0, now, std::span(&slot, 1));
    if (w.client->control_pending()) (void)w.client->tick(now);
    (void)w.client->status();
    return 0;
  }
  RxSlot slot{.from = *Endpoint::parse("192.0.2.2:51820"), .data = d};
  w.coordinator->process_wire(0, now, std::span(&slot, 1));
  if (slot.verdict == Verdict::kForward && (slot.wire.data() < d.data() || slot.wire.size() > d.size())) __builtin_trap();
  if (slot.verdict == Verdict::kDeliver && slot.inner.size() > d.size()) __builtin_trap();
  if (w.coordinator->control_pending()) (void)w.coordinator->tick(now);
  (void)w.coordinator->status();
  return 0;
}
