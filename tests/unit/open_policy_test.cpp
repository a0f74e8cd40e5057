// The open-traffic policy a host builds from its config and its peers
// (daemon/open_policy.hpp): protected sources, LANs, and errors that name
// the entry at fault.
#include <gtest/gtest.h>

#include <string>

#include "daemon/open_policy.hpp"

namespace cordon::daemon {
namespace {

Prefix prefix(const char* text) { return Prefix::parse(text).value(); }

PeerConfig peer(uint32_t id, std::vector<Prefix> prefixes, std::optional<const char*> endpoint = std::nullopt) {
  PeerConfig p;
  p.id = HostId{id};
  p.allowed_prefixes = std::move(prefixes);
  if (endpoint) p.endpoint = Endpoint::parse(*endpoint);
  return p;
}

// A gateway of network 10.77.0.0/16 with LAN 192.168.71.0/24, linked with
// a client (10.77.0.3) and another gateway (10.77.0.2, LAN 192.168.72.0/24).
DaemonConfig gateway() {
  DaemonConfig c;
  c.path = "/etc/cordon/cordon.toml";
  c.addresses = {prefix("10.77.0.1/16")};
  c.tunneled_subnets = {prefix("192.168.71.0/24")};
  c.node.peers = {peer(0x00010003, {prefix("10.77.0.3/32")}),
                  peer(0x00010002, {prefix("10.77.0.2/32"), prefix("192.168.72.0/24")}, "203.0.113.2:51820")};
  c.open.emplace();
  return c;
}

const OpenRuntime kRuntime{.tun_interface = "cordon0", .udp_ports = {51820}, .tcp_ports = {}};

template <typename T, typename Parse>
void add(std::vector<OpenEntry<T>>& list, Parse parse, const char* text, uint32_t line) {
  list.push_back(OpenEntry<T>{parse(text).value(), text, line, 3});
}

TEST(OpenPolicy, ProtectedSourcesAreTheTunnelAndOtherGatewaysLans) {
  const DaemonConfig c = gateway();
  const ProtectedSources s = protected_sources(c);
  // The host's own network holds every peer's tunnel address: one prefix,
  // as nft(8) refuses overlapping elements in a set.
  EXPECT_EQ(s.prefixes, (std::vector<Prefix>{prefix("10.77.0.0/16"), prefix("192.168.72.0/24")}));
  EXPECT_TRUE(s.left_out.empty());
}

TEST(OpenPolicy, OwnLansDefaultRoutesAndEndpointsAreNotProtected) {
  DaemonConfig c = gateway();
  c.node.peers.push_back(peer(0x00010004, {prefix("0.0.0.0/0")}));
  c.node.peers.push_back(peer(0x00010005, {prefix("203.0.113.0/24")}, "203.0.113.5:51820"));
  // A peer prefix inside this host's own LAN (a stale address book): left
  // out too, the LAN's anti-spoofing covers it.
  c.node.peers.push_back(peer(0x00010006, {prefix("192.168.71.128/25")}));
  const ProtectedSources s = protected_sources(c);
  EXPECT_EQ(s.prefixes, (std::vector<Prefix>{prefix("10.77.0.0/16"), prefix("192.168.72.0/24")}));
  ASSERT_EQ(s.left_out.size(), 2u);
  EXPECT_EQ(s.left_out[0], "peer 0x00010004 prefix 0.0.0.0/0 is not protected from spoofing: it is a default route");
  EXPECT_EQ(s.left_out[1],
            "peer 0x00010005 prefix 203.0.113.0/24 is not protected from spoofing: it holds the peer's endpoint");
}

TEST(OpenPolicy, AGatewayGetsItsItems) {
  DaemonConfig c = gateway();
  add(c.open->rules, parse_open_rule, "allow forward iif lan0 from 192.168.71.0/24", 10);
  add(c.open->rules, parse_open_rule, "allow proto icmp", 11);
  add(c.open->lans, parse_lan, "lan0 192.168.71.0/25 192.168.71.128/25", 12);
  add(c.open->snat, parse_source_nat, "oif ul0 from 192.168.71.0/24", 13);
  add(c.open->forward_ports, parse_port_forward, "iif ul0 proto tcp dport 8080 to 192.168.71.10:8000", 14);
  auto built = build_open_policy(c, kRuntime);
  ASSERT_TRUE(built.ok()) << built.error();
  const os::OpenPolicy& p = built->policy;
  EXPECT_TRUE(p.forwards);
  EXPECT_EQ(p.tun_interface, "cordon0");
  EXPECT_EQ(p.udp_ports, std::vector<uint16_t>{51820});
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[1].path, os::OpenRule::Path::kBoth);
  ASSERT_EQ(p.lans.size(), 1u);
  EXPECT_EQ(p.lans[0].subnets.size(), 2u);
  EXPECT_EQ(p.snat.size(), 1u);
  EXPECT_EQ(p.forwards_in.size(), 1u);
  EXPECT_TRUE(os::render_open_policy(p).ok());
}

TEST(OpenPolicy, AHostThatForwardsNothingJudgesInputOnly) {
  DaemonConfig c = gateway();
  c.tunneled_subnets.clear();
  add(c.open->rules, parse_open_rule, "allow proto tcp dport 22", 10);
  auto built = build_open_policy(c, kRuntime);
  ASSERT_TRUE(built.ok()) << built.error();
  EXPECT_FALSE(built->policy.forwards);
  EXPECT_EQ(built->policy.rules[0].path, os::OpenRule::Path::kInput);

  add(c.open->rules, parse_open_rule, "allow forward", 11);
  built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error(),
            "/etc/cordon/cordon.toml:11:3: open.rules[1]: this host forwards no traffic: it has no tunneled subnets "
            "(a gateway's come with its key set, managed mode); remove this entry");
}

TEST(OpenPolicy, ALanSubnetMustBeTunneledByThisHost) {
  DaemonConfig c = gateway();
  add(c.open->lans, parse_lan, "lan0 192.168.71.0/24", 20);
  add(c.open->lans, parse_lan, "lan1 192.168.73.0/24", 21);
  auto built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error(),
            "/etc/cordon/cordon.toml:21:3: open.lans[1]: subnet 192.168.73.0/24 is not one this host tunnels (its "
            "tunneled subnets: 192.168.71.0/24); list only those its address book entry gives it");

  c.open->lans.pop_back();
  add(c.open->lans, parse_lan, "lan1 192.168.71.0/25", 22);
  built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error(), "/etc/cordon/cordon.toml:22:3: open.lans[1]: subnet 192.168.71.0/25 is on another LAN "
                           "already; a subnet is on one interface");
}

TEST(OpenPolicy, APolicyErrorNamesTheEntry) {
  DaemonConfig c = gateway();
  add(c.open->rules, parse_open_rule, "allow iif cordon0", 30);
  auto built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().rfind("/etc/cordon/cordon.toml:30:3: open.rules[0]: interface \"cordon0\" is the tunnel", 0),
            0u)
      << built.error();

  c.open->rules.clear();
  add(c.open->snat, parse_source_nat, "oif ul0 from 192.168.71.0/24 to fd00::1", 31);
  built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().rfind("/etc/cordon/cordon.toml:31:3: open.snat[0]: source 192.168.71.0/24 is IPv4", 0), 0u)
      << built.error();
}

// The administrator's open rules (docs/firewall.md, "Central open rules").
TEST(OpenPolicy, CentralRulesComeFirstAndTurnTheFirewallOn) {
  DaemonConfig c = gateway();
  c.keyset = "/var/lib/cordon/keyset";
  c.open.reset();
  EXPECT_FALSE(c.open_firewall());
  c.central_open_rules = {{7, "allow input proto tcp dport 443"}, {9, "allow forward iif lan0"}};
  EXPECT_TRUE(c.open_firewall());
  auto built = build_open_policy(c, kRuntime);
  ASSERT_TRUE(built.ok()) << built.error();
  ASSERT_EQ(built->policy.rules.size(), 2u);
  EXPECT_EQ(built->policy.rules[0].ports->first, 443);
  EXPECT_EQ(built->policy.rules[1].path, os::OpenRule::Path::kForward);
  ASSERT_EQ(built->labels.size(), 2u);
  EXPECT_EQ(built->labels[0].origin, "central 7");
  EXPECT_EQ(built->labels[1].text, "allow forward iif lan0");

  // With local rules: the central ones first, then the local ones.
  c.open.emplace();
  add(c.open->rules, parse_open_rule, "drop input proto tcp dport 443", 10);
  built = build_open_policy(c, kRuntime);
  ASSERT_TRUE(built.ok()) << built.error();
  ASSERT_EQ(built->policy.rules.size(), 3u);
  EXPECT_TRUE(built->policy.rules[0].allow);
  EXPECT_FALSE(built->policy.rules[2].allow);
  EXPECT_EQ(built->labels[2].origin, "local");
  EXPECT_EQ(built->labels[2].text, "drop input proto tcp dport 443");
}

TEST(OpenPolicy, ACentralForwardRuleIsLeftOutOnAHostThatForwardsNothing) {
  DaemonConfig c = gateway();
  c.tunneled_subnets.clear();
  c.open.reset();
  c.central_open_rules = {{4, "allow forward"}, {5, "allow proto icmp"}};
  auto built = build_open_policy(c, kRuntime);
  ASSERT_TRUE(built.ok()) << built.error();
  ASSERT_EQ(built->policy.rules.size(), 1u);
  EXPECT_EQ(built->policy.rules[0].path, os::OpenRule::Path::kInput);
  EXPECT_EQ(built->labels[0].origin, "central 5");
  ASSERT_EQ(built->notes.size(), 1u);
  EXPECT_EQ(built->notes[0],
            "open filter rule 4 (\"allow forward\") is left out: it is for forwarded traffic, and this host has no "
            "tunneled subnets");
}

TEST(OpenPolicy, ABadCentralRuleNamesItsNumber) {
  DaemonConfig c = gateway();
  c.keyset = "/var/lib/cordon/keyset";
  c.central_open_rules = {{12, "allow dport 22"}};
  auto built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error(),
            "/var/lib/cordon/keyset: open filter rule 12: dport needs proto tcp or proto udp; the administrator's "
            "rule cannot be applied: ask for a corrected update");

  c.central_open_rules = {{13, "allow iif cordon0"}};
  built = build_open_policy(c, kRuntime);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().rfind("/var/lib/cordon/keyset: open filter rule 13: interface \"cordon0\" is the tunnel", 0),
            0u)
      << built.error();
}

}  // namespace
}  // namespace cordon::daemon
