// Reach limits on the fakes (docs/gateways.md, "Reach"): gateway B tunnels
// two LAN subnets and its key set limits road warrior A to one of them. A
// routes both (as a host with an old address book, or one that was
// tampered with, would): B drops what A sends into the other subnet, and
// what that subnet sends to A, as out_of_reach.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/sim/gateway_sim.hpp"

namespace cordon::testing {
namespace {

const Prefix kSales = *Prefix::parse("192.168.71.0/24");
const Prefix kLab = *Prefix::parse("192.168.72.0/24");
const IpAddress kSalesServer = IpAddress::v4(0xc0a8470a);  // 192.168.71.10
const IpAddress kLabServer = IpAddress::v4(0xc0a8480a);    // 192.168.72.10

struct ReachSim : GatewayPair {
  explicit ReachSim(std::optional<std::vector<Prefix>> reach) : GatewayPair(0x7eac0001) {
    link.a_config.peers[0].allowed_prefixes.push_back(kSales);
    link.a_config.peers[0].allowed_prefixes.push_back(kLab);
    link.b_config.tunneled_subnets = {kSales, kLab};
    link.b_config.peers[0].reach = std::move(reach);
    start();
  }

  PacketSpec to(const IpAddress& server) const {
    PacketSpec s;
    s.source = link.a.tunnel_v4;
    s.destination = server;
    s.destination_port = 443;
    s.source_port = 40000;
    s.tcp_flags = filter::kSyn;
    return s;
  }

  uint64_t out_of_reach_at_b() const {
    return drops_at_b(DropReason::kOutOfReach);
  }
};

TEST(GatewayReachSim, ALimitedPeerReachesOnlyItsSubnetBothWays) {
  ReachSim s(std::vector<Prefix>{kSales});
  EXPECT_TRUE(s.passes(*s.a, *s.b, s.to(kSalesServer)));
  EXPECT_TRUE(s.passes(*s.b, *s.a, reversed(s.to(kSalesServer))));
  EXPECT_EQ(s.out_of_reach_at_b(), 0u);

  EXPECT_FALSE(s.passes(*s.a, *s.b, s.to(kLabServer)));
  EXPECT_EQ(s.out_of_reach_at_b(), 1u);
  EXPECT_FALSE(s.passes(*s.b, *s.a, reversed(s.to(kLabServer))));
  EXPECT_EQ(s.out_of_reach_at_b(), 2u);

  // The gateway's own tunnel address is not a LAN: the limit leaves it.
  EXPECT_TRUE(s.passes(*s.a, *s.b, s.to(s.link.b.tunnel_v4)));
  const auto status = s.b->peer_status(s.link.a.id);
  ASSERT_TRUE(status->reach.has_value());
  EXPECT_EQ(*status->reach, std::vector<Prefix>{kSales});
}

TEST(GatewayReachSim, AnEmptyLimitReachesNoSubnetAndNoLimitReachesAll) {
  ReachSim none(std::vector<Prefix>{});
  EXPECT_FALSE(none.passes(*none.a, *none.b, none.to(kSalesServer)));
  EXPECT_FALSE(none.passes(*none.a, *none.b, none.to(kLabServer)));
  EXPECT_EQ(none.out_of_reach_at_b(), 2u);

  ReachSim all(std::nullopt);
  EXPECT_TRUE(all.passes(*all.a, *all.b, all.to(kSalesServer)));
  EXPECT_TRUE(all.passes(*all.a, *all.b, all.to(kLabServer)));
  EXPECT_TRUE(all.passes(*all.b, *all.a, reversed(all.to(kLabServer))));
  EXPECT_EQ(all.out_of_reach_at_b(), 0u);
}

}  // namespace
}  // namespace cordon::testing
