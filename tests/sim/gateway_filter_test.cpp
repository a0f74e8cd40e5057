// A gateway with a LAN behind it, on the fakes (docs/gateways.md): a road
// warrior (A) reaches hosts of the gateway's (B's) LAN through the tunnel,
// and B's protected-traffic rules decide what passes. "The LAN" is B's
// FakeTun: what B writes there for a 192.168.71.0/24 address is what its
// kernel would forward to the LAN, and what the test injects there from a
// LAN address is what its kernel would forward from the LAN into the
// tunnel. A reload that forbids a running connection cuts it and leaves
// another one flowing.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/filter/rule.hpp"
#include "tests/sim/gateway_sim.hpp"

namespace cordon::testing {
namespace {

const Prefix kLan = *Prefix::parse("192.168.71.0/24");
const IpAddress kLanServer = IpAddress::v4(0xc0a8470a);  // 192.168.71.10

struct GatewaySim : GatewayPair {
  GatewaySim() : GatewayPair(0x6a7e0001) {
    // A routes the LAN to B, and accepts packets from it only from B.
    link.a_config.peers[0].allowed_prefixes.push_back(kLan);
    link.b_config.peers[0].name = "road";
    link.b_config.filter = rules({"drop in peer road proto tcp dport 22", "allow in peer road proto tcp",
                                  "drop in peer road", "drop out peer road"});
    start();
  }

  FilterConfig rules(const std::vector<std::string>& lines) const {
    const uint32_t road = link.a.id.value;
    const filter::PeerResolver resolve = [road](std::string_view name) -> std::optional<std::vector<uint32_t>> {
      if (name == "road") return std::vector<uint32_t>{road};
      return std::nullopt;
    };
    FilterConfig f;
    for (const std::string& line : lines) {
      auto r = filter::parse_rule(line, resolve);
      EXPECT_TRUE(r.ok()) << line;
      f.rules.push_back(r.value());
      f.origins.emplace_back("local");
    }
    return f;
  }

  // A TCP segment from the road warrior to a LAN server's port.
  PacketSpec to_lan(uint16_t port, uint16_t source_port, uint8_t flags) const {
    PacketSpec s;
    s.source = link.a.tunnel_v4;
    s.destination = kLanServer;
    s.destination_port = port;
    s.source_port = source_port;
    s.tcp_flags = flags;
    s.payload = flags == filter::kSyn ? 0 : 100;
    return s;
  }

  uint64_t filtered_at_b() const {
    return drops_at_b(DropReason::kFiltered);
  }
};

TEST(GatewayFilterSim, TunneledTrafficPassesBothWaysAsTheGatewaysRulesSay) {
  GatewaySim s;
  // 443: the SYN reaches the LAN, the LAN server's answer reaches the
  // road warrior although nothing else goes out to it, and the data flows.
  ASSERT_TRUE(s.passes(*s.a, *s.b, s.to_lan(443, 40000, filter::kSyn)));
  PacketSpec answer = reversed(s.to_lan(443, 40000, filter::kSyn | filter::kAck));
  EXPECT_TRUE(s.passes(*s.b, *s.a, answer));
  EXPECT_TRUE(s.passes(*s.a, *s.b, s.to_lan(443, 40000, filter::kAck)));
  answer.tcp_flags = filter::kAck;
  answer.payload = 1000;
  EXPECT_TRUE(s.passes(*s.b, *s.a, answer));
  EXPECT_EQ(s.filtered_at_b(), 0u);

  // 22 is dropped by the gateway, and so is UDP (the catch-all drop).
  EXPECT_FALSE(s.passes(*s.a, *s.b, s.to_lan(22, 40001, filter::kSyn)));
  PacketSpec udp = s.to_lan(53, 40002, 0);
  udp.protocol = filter::kUdp;
  EXPECT_FALSE(s.passes(*s.a, *s.b, udp));
  EXPECT_EQ(s.filtered_at_b(), 2u);

  // A LAN host opening a connection to the road warrior: dropped on the
  // way out of the gateway.
  PacketSpec from_lan = reversed(s.to_lan(5000, 40003, filter::kSyn));
  EXPECT_FALSE(s.passes(*s.b, *s.a, from_lan));
  EXPECT_EQ(s.filtered_at_b(), 3u);
}

TEST(GatewayFilterSim, AReloadCutsAForbiddenConnectionAndKeepsAnAllowedOne) {
  GatewaySim s;
  // Two running connections: 443 and 8443.
  for (uint16_t port : {443, 8443}) {
    const uint16_t sport = static_cast<uint16_t>(port + 1);
    ASSERT_TRUE(s.passes(*s.a, *s.b, s.to_lan(port, sport, filter::kSyn))) << port;
    ASSERT_TRUE(s.passes(*s.b, *s.a, reversed(s.to_lan(port, sport, filter::kSyn | filter::kAck)))) << port;
  }
  s.b->node().reconfigure(
      [&] {
        NodeConfig c = s.link.b_config;
        c.filter = s.rules({"drop in peer road proto tcp dport 8443", "drop in peer road proto tcp dport 22",
                            "allow in peer road proto tcp", "drop in peer road", "drop out peer road"});
        return c;
      }(),
      s.b->now());
  // 443 flows on both ways, every packet; 8443 is cut both ways.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(s.passes(*s.a, *s.b, s.to_lan(443, 444, filter::kAck))) << i;
    PacketSpec reply = reversed(s.to_lan(443, 444, filter::kAck));
    ASSERT_TRUE(s.passes(*s.b, *s.a, reply)) << i;
  }
  EXPECT_FALSE(s.passes(*s.a, *s.b, s.to_lan(8443, 8444, filter::kAck)));
  EXPECT_FALSE(s.passes(*s.b, *s.a, reversed(s.to_lan(8443, 8444, filter::kAck))));
  EXPECT_EQ(s.filtered_at_b(), 2u);
  const NodeStatus status = s.b->node().status();
  ASSERT_EQ(status.filter.rules.size(), 5u);
  EXPECT_EQ(status.filter.rules[0].hits, 2u) << "the new rule counts the packets of the connection it cut";
}

}  // namespace
}  // namespace cordon::testing
