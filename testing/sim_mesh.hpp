// SimMesh: a managed Cordon network in one process (docs/design.md, practice 3):
// coordinators on the public underlay, clients behind NAT models, links
// between them, and the NodeConfigs a key set would give each host
// (daemon/managed.hpp): roles, registry and rendezvous coordinators, fixed
// endpoints for coordinators (and for clients given one with
// fix_endpoint()), and each coordinator's served links.
//
// Hosts get IDs 0x00010001, 0x00010002, ... in the order they are added,
// tunnel addresses 10.77.0.N, and link keys derived from the two IDs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/node_config.hpp"
#include "testing/manual_clock.hpp"
#include "testing/nat_model.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_network.hpp"

namespace cordon::testing {

class SimMesh {
 public:
  explicit SimMesh(uint64_t seed);

  HostId add_coordinator(std::string name, Endpoint underlay);
  // A client of `coordinator` (registry, rendezvous), bound at `inside`
  // behind `nat` (nullptr: on the public underlay). Linked with its
  // coordinator, as the administrator always links them.
  HostId add_client(std::string name, HostId coordinator, Endpoint inside, std::shared_ptr<NatModel> nat = nullptr);
  void link(HostId a, HostId b);
  // Lists the client's underlay as its fixed endpoint in its peers' address
  // books (a client with an endpoint in the database). Before start().
  void fix_endpoint(HostId client) { specs_.at(client.value).fixed = true; }

  // Builds every host's NodeConfig with `timers` and starts it.
  void start(const MeshConfig& timers = {});

  SimHost& host(HostId id) { return *hosts_.at(id.value); }
  // The link key the mesh gives the pair (tests forge datagrams with it).
  static crypto::SecretBytes link_key(HostId a, HostId b);
  // Where a host's transport is bound (inside its NAT).
  Endpoint underlay(HostId id) const { return specs_.at(id.value).underlay; }
  IpAddress tunnel(HostId id) const;
  const NodeConfig& config(HostId id) const { return configs_.at(id.value); }
  std::vector<SimHost*> all();

  bool run_for(int64_t ns) { return run_until(clock.mono_ns() + ns); }
  bool run_until(int64_t mono_ns) { return testing::run_until(clock, network, all(), mono_ns); }

  // Sends one test packet from `from` to `to` through their tunnels now.
  void send(HostId from, HostId to, uint32_t stream, uint64_t seq, size_t size = 0);
  // Test packets `to` delivered from `from` so far (and forgets them).
  size_t take_delivered(HostId to);

  ManualClock clock;
  SimNetwork network;
  SimHostOptions host_options;  // for every host start() builds

 private:
  struct Spec {
    std::string name;
    keys::Role role;
    Endpoint underlay;
    std::shared_ptr<NatModel> nat;
    HostId coordinator;
    bool fixed = false;  // its underlay is in its peers' address books
  };
  NodeConfig build_config(HostId id, const MeshConfig& timers) const;

  std::map<uint32_t, Spec> specs_;
  std::vector<std::pair<HostId, HostId>> links_;
  std::map<uint32_t, NodeConfig> configs_;
  std::map<uint32_t, std::unique_ptr<SimHost>> hosts_;
  uint16_t next_host_ = 1;
};

}  // namespace cordon::testing
