// Two hosts on the fakes for the gateway tests (docs/gateways.md): A is a
// road warrior, B a gateway whose FakeTun stands for its LAN. A test sets
// up `link`'s configs, then calls start().
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/node.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"
#include "testing/sim_network.hpp"
#include "tests/common/filter_packets.hpp"

namespace cordon::testing {

struct GatewayPair {
  explicit GatewayPair(uint64_t seed) : network(clock, seed), link(make_sim_link()) {}

  void start() {
    a = std::make_unique<SimHost>(network, clock, link.a_config, link.a.underlay);
    b = std::make_unique<SimHost>(network, clock, link.b_config, link.b.underlay);
  }

  // Sends the packet of `spec` into `from`'s tunnel and runs the network;
  // true if exactly that packet came out of `to`'s tunnel.
  bool passes(SimHost& from, SimHost& to, const PacketSpec& spec) {
    const std::vector<std::byte> packet = make_packet(spec);
    to.tun().take_delivered();
    from.tun().inject(packet);
    EXPECT_TRUE(run_for(clock, network, {a.get(), b.get()}, 5 * kNsPerMs));
    const auto out = to.tun().take_delivered();
    return out.size() == 1 && out[0] == packet;
  }

  // What B dropped of A's traffic for `reason`.
  uint64_t drops_at_b(DropReason reason) const {
    return b->peer_status(link.a.id)->drops[static_cast<size_t>(reason)];
  }

  ManualClock clock;
  SimNetwork network;
  SimLink link;
  std::unique_ptr<SimHost> a, b;
};

}  // namespace cordon::testing
