#include "testing/sim_mesh.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "testing/fake_tun.hpp"

namespace cordon::testing {
namespace {

}  // namespace

// Deterministic, distinct per pair, the same on both ends.
crypto::SecretBytes SimMesh::link_key(HostId a, HostId b) {
  const uint32_t lo = std::min(a.value, b.value), hi = std::max(a.value, b.value);
  std::array<std::byte, kLinkKeySize> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = std::byte(static_cast<uint8_t>(lo * 31 + hi * 17 + i * 13 + 5));
  return crypto::SecretBytes(k);
}

namespace {
}  // namespace

SimMesh::SimMesh(uint64_t seed) : network(clock, seed) {}

HostId SimMesh::add_coordinator(std::string name, Endpoint underlay) {
  const HostId id{0x00010000u | next_host_++};
  specs_[id.value] = Spec{std::move(name), keys::Role::kCoordinator, underlay, nullptr, HostId{}};
  return id;
}

HostId SimMesh::add_client(std::string name, HostId coordinator, Endpoint inside, std::shared_ptr<NatModel> nat) {
  const HostId id{0x00010000u | next_host_++};
  specs_[id.value] = Spec{std::move(name), keys::Role::kClient, inside, std::move(nat), coordinator};
  link(id, coordinator);
  return id;
}

void SimMesh::link(HostId a, HostId b) {
  for (const auto& [x, y] : links_) {
    if ((x == a && y == b) || (x == b && y == a)) return;
  }
  links_.emplace_back(a, b);
}

IpAddress SimMesh::tunnel(HostId id) const {
  return IpAddress::v4({10, 77, static_cast<uint8_t>(id.host() >> 8), static_cast<uint8_t>(id.host())});
}

NodeConfig SimMesh::build_config(HostId id, const MeshConfig& timers) const {
  const Spec& me = specs_.at(id.value);
  NodeConfig c;
  c.self = id;
  c.role = me.role;
  c.mesh = timers;
  c.mesh.registry = me.coordinator;
  c.mesh.rendezvous = me.coordinator;
  auto linked = [&](HostId h) {
    std::vector<HostId> out;
    for (const auto& [x, y] : links_) {
      if (x == h) out.push_back(y);
      if (y == h) out.push_back(x);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  for (HostId peer : linked(id)) {
    const Spec& other = specs_.at(peer.value);
    PeerConfig p;
    p.id = peer;
    p.name = other.name;
    if (other.role == keys::Role::kCoordinator || other.fixed) p.endpoint = other.underlay;
    p.link_key = link_key(id, peer);
    p.allowed_prefixes = {Prefix{tunnel(peer), 32}};
    p.role = other.role;
    p.rendezvous = other.coordinator;
    c.peers.push_back(std::move(p));
  }
  if (me.role == keys::Role::kCoordinator) {
    for (const auto& [cid, spec] : specs_) {
      if (spec.coordinator == id) c.mesh.served.push_back(ServedClientConfig{HostId{cid}, linked(HostId{cid})});
    }
  }
  return c;
}

void SimMesh::start(const MeshConfig& timers) {
  for (const auto& [id, spec] : specs_) {
    configs_[id] = build_config(HostId{id}, timers);
    hosts_[id] = std::make_unique<SimHost>(network, clock, configs_[id], spec.underlay, spec.nat, host_options);
  }
}

std::vector<SimHost*> SimMesh::all() {
  std::vector<SimHost*> out;
  for (auto& [id, h] : hosts_) out.push_back(h.get());
  return out;
}

void SimMesh::send(HostId from, HostId to, uint32_t stream, uint64_t seq, size_t size) {
  host(from).tun().inject(
      make_test_packet(TestPacketSpec{.src = tunnel(from), .dst = tunnel(to), .stream = stream, .seq = seq, .size = size}));
}

size_t SimMesh::take_delivered(HostId to) { return host(to).tun().take_delivered().size(); }

}  // namespace cordon::testing
