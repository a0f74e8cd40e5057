// The open-traffic policy and the nftables script rendered from it
// (src/os/linux/nft_ruleset.hpp): the whole text of a client's default,
// what a gateway and an IPv6 policy add, the order rules land in, and the
// refusals of check_open_policy, hostile interface names first among them.
// tests/netns/nftables_test.cpp loads these scripts into a real kernel.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "os/linux/nft_ruleset.hpp"

namespace cordon::os {
namespace {

Prefix prefix(const char* text) {
  auto p = Prefix::parse(text);
  EXPECT_TRUE(p.has_value()) << text;
  return p.value_or(Prefix{});
}

IpAddress address(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

// A client: the tunnel, the daemon's ports, the tunnel ranges protected.
OpenPolicy client_policy() {
  OpenPolicy p;
  p.tun_interface = "cordon0";
  p.protected_sources = {prefix("10.77.0.0/16"), prefix("fd77::/64")};
  p.udp_ports = {51820};
  p.tcp_ports = {443};
  return p;
}

// A gateway: LAN 192.168.71.0/24 on lan0, internet on ul0; LAN hosts may
// go out (masqueraded), and TCP 8080 on ul0 reaches a LAN server's 8000.
OpenPolicy gateway_policy() {
  OpenPolicy p = client_policy();
  p.forwards = true;
  p.protected_sources.push_back(prefix("192.168.72.0/24"));  // another gateway's LAN
  p.lans = {Lan{.interface = "lan0", .subnets = {prefix("192.168.71.0/24")}}};
  p.rules = {OpenRule{.allow = true, .path = OpenRule::Path::kForward, .interface = "lan0",
                      .from = prefix("192.168.71.0/24")}};
  p.forwards_in = {PortForward{.in_interface = "ul0", .protocol = kProtoTcp, .port = 8080,
                               .target = address("192.168.71.10"), .target_port = 8000}};
  p.snat = {SourceNat{.out_interface = "ul0", .from = {prefix("192.168.71.0/24")}}};
  return p;
}

std::string rendered(const OpenPolicy& policy) {
  auto text = render_open_policy(policy);
  EXPECT_TRUE(text.ok()) << text.error().message();
  return text.ok() ? text.value() : std::string();
}

bool has(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

// The body of one chain, from its header to its closing brace.
std::string chain(const std::string& text, const std::string& name) {
  const size_t start = text.find("  chain " + name + " {\n");
  if (start == std::string::npos) return {};
  return text.substr(start, text.find("\n  }\n", start) - start);
}

TEST(NftRuleset, ClientDefaultRendersExactly) {
  constexpr const char* kExpected = R"(table inet cordon {
  counter spoofed_protected {
  }
  counter spoofed_lan {
  }
  counter input_dropped {
  }
  counter forward_dropped {
  }
  chain antispoof {
    type filter hook prerouting priority raw; policy accept;
    iifname "lo" accept
    iifname != "cordon0" ip saddr 10.77.0.0/16 counter name "spoofed_protected" drop
    iifname != "cordon0" ip6 saddr fd77::/64 counter name "spoofed_protected" drop
  }
  chain nat_prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "cordon0" accept
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ct state established,related accept
    iifname "lo" accept
    iifname "cordon0" accept
    icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
    icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } ip6 hoplimit 255 accept
    icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } ip6 hoplimit 1 accept
    ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept
    ct state invalid counter name "input_dropped" drop
    ct status dnat accept
    udp dport 51820 accept
    tcp dport 443 accept
    counter name "input_dropped" drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    iifname "cordon0" accept
    oifname "cordon0" accept
    icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
    ct state invalid counter name "forward_dropped" drop
    ct status dnat accept
    counter name "forward_dropped" drop
  }
  chain nat_postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "cordon0" accept
  }
}
)";
  EXPECT_EQ(rendered(client_policy()), kExpected);
}

TEST(NftRuleset, GatewayAddsLanAntispoofPortForwardAndMasquerade) {
  const std::string text = rendered(gateway_policy());
  EXPECT_TRUE(has(chain(text, "antispoof"),
                  "iifname != \"cordon0\" ip saddr { 10.77.0.0/16, 192.168.72.0/24 } counter name "
                  "\"spoofed_protected\" drop\n"))
      << text;
  EXPECT_TRUE(has(chain(text, "antispoof"),
                  "iifname != { \"cordon0\", \"lan0\" } ip saddr 192.168.71.0/24 counter name \"spoofed_lan\" drop"))
      << text;
  EXPECT_TRUE(has(chain(text, "nat_prerouting"),
                  "    iifname \"cordon0\" accept\n"
                  "    meta nfproto ipv4 iifname \"ul0\" tcp dport 8080 dnat ip to 192.168.71.10:8000"))
      << text;
  EXPECT_TRUE(has(chain(text, "forward"),
                  "    ct status dnat accept\n"
                  "    iifname \"lan0\" ip saddr 192.168.71.0/24 counter name \"open_rule_1\" accept\n"
                  "    counter name \"forward_dropped\" drop"))
      << text;
  EXPECT_FALSE(has(chain(text, "input"), "open_rule_1")) << "a forward rule stays out of input";
  EXPECT_TRUE(has(chain(text, "nat_postrouting"),
                  "    oifname \"cordon0\" accept\n"
                  "    oifname \"ul0\" ip saddr 192.168.71.0/24 masquerade"))
      << text;
  EXPECT_TRUE(has(text, "  counter open_rule_1 {\n  }\n")) << text;
}

// With an IPsec gateway (docs/firewall.md, "IPsec"): its device's traffic
// passes like the tunnel's, in every chain and without source NAT, and IKE
// and raw ESP/AH reach the host from anywhere. Without [ipsec], none of it.
TEST(NftRuleset, IpsecDeviceIsProtectedAndIkeAndEspAreAccepted) {
  OpenPolicy p = gateway_policy();
  EXPECT_FALSE(has(rendered(p), "cordon-ipsec0"));
  EXPECT_FALSE(has(rendered(p), "4500"));
  p.ipsec_interface = "cordon-ipsec0";
  const std::string text = rendered(p);
  EXPECT_TRUE(has(chain(text, "input"),
                  "    iifname \"cordon-ipsec0\" accept\n"
                  "    udp dport { 500, 4500 } accept\n"
                  "    meta l4proto { esp, ah } accept\n"))
      << text;
  EXPECT_TRUE(has(chain(text, "forward"),
                  "    iifname \"cordon-ipsec0\" accept\n"
                  "    oifname \"cordon-ipsec0\" accept\n"))
      << text;
  EXPECT_TRUE(has(chain(text, "nat_prerouting"), "    iifname \"cordon-ipsec0\" accept\n")) << text;
  EXPECT_TRUE(has(chain(text, "nat_postrouting"),
                  "    oifname \"cordon-ipsec0\" accept\n"
                  "    oifname \"ul0\" ip saddr 192.168.71.0/24 masquerade"))
      << text;
  // An open rule cannot name the IPsec device: its traffic is not open.
  p.rules[0].interface = "cordon-ipsec0";
  auto refused = render_open_policy(p);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("IPsec"), std::string::npos) << refused.error().message();
}

TEST(NftRuleset, Ipv6PolicyUsesIp6Matches) {
  OpenPolicy p = gateway_policy();
  p.lans = {Lan{.interface = "lan0", .subnets = {prefix("fd71::/64")}}};
  p.rules = {OpenRule{.allow = true, .path = OpenRule::Path::kBoth, .from = prefix("2001:db8::/32"),
                      .protocol = kProtoIcmpv6}};
  p.forwards_in = {PortForward{.in_interface = "ul0", .protocol = kProtoUdp, .port = 53, .target = address("fd71::10"),
                               .target_port = 5353, .from = prefix("2001:db8::/32")}};
  p.snat = {SourceNat{.out_interface = "ul0", .from = {prefix("fd71::/64")}},
            SourceNat{.out_interface = "ul1", .to_address = address("2001:db8::1"), .from = {prefix("fd71::/64")}}};
  const std::string text = rendered(p);
  EXPECT_TRUE(has(text, "iifname != { \"cordon0\", \"lan0\" } ip6 saddr fd71::/64 counter name \"spoofed_lan\" drop"))
      << text;
  EXPECT_TRUE(has(text, "iifname != \"cordon0\" ip6 saddr fd77::/64 counter name \"spoofed_protected\" drop")) << text;
  EXPECT_TRUE(has(text,
                  "meta nfproto ipv6 iifname \"ul0\" ip6 saddr 2001:db8::/32 udp dport 53 dnat ip6 to [fd71::10]:5353"))
      << text;
  EXPECT_TRUE(has(text, "oifname \"ul0\" ip6 saddr fd71::/64 masquerade")) << text;
  EXPECT_TRUE(has(text, "oifname \"ul1\" ip6 saddr fd71::/64 snat ip6 to 2001:db8::1")) << text;
  // A rule on both paths lands in both chains, counted by one counter.
  const std::string rule = "ip6 saddr 2001:db8::/32 meta l4proto 58 counter name \"open_rule_1\" accept";
  EXPECT_TRUE(has(chain(text, "input"), rule)) << text;
  EXPECT_TRUE(has(chain(text, "forward"), rule)) << text;
  EXPECT_FALSE(has(chain(text, "nat_postrouting"), " ip saddr")) << "no IPv4 source NAT was asked for";
}

TEST(NftRuleset, OpenRulesKeepTheirOrderAfterTheDaemonPorts) {
  OpenPolicy p = client_policy();
  p.udp_ports = {51821, 51820, 51821};
  p.rules = {OpenRule{.allow = false, .interface = "ul0", .protocol = kProtoTcp, .ports = PortRange{8001, 8001}},
             OpenRule{.allow = true, .interface = "ul0", .from = prefix("10.200.0.2/32"), .to = prefix("10.200.0.1/32"),
                      .protocol = kProtoTcp, .ports = PortRange{8000, 8001}},
             OpenRule{.allow = true, .protocol = 47}};
  const std::string input = chain(rendered(p), "input");
  EXPECT_TRUE(has(input,
                  "    udp dport { 51820, 51821 } accept\n"
                  "    tcp dport 443 accept\n"
                  "    iifname \"ul0\" tcp dport 8001 counter name \"open_rule_1\" drop\n"
                  "    iifname \"ul0\" ip saddr 10.200.0.2/32 ip daddr 10.200.0.1/32 tcp dport 8000-8001 counter name "
                  "\"open_rule_2\" accept\n"
                  "    meta l4proto 47 counter name \"open_rule_3\" accept\n"
                  "    counter name \"input_dropped\" drop"))
      << input;
}

TEST(NftRuleset, HostBitsAreCleared) {
  OpenPolicy p = client_policy();
  p.protected_sources = {prefix("10.77.3.4/16"), prefix("fd77::1/64"), prefix("10.1.2.3/32"), prefix("10.9.9.9/0")};
  const std::string text = rendered(p);
  EXPECT_TRUE(has(text, "ip saddr { 10.77.0.0/16, 10.1.2.3/32, 0.0.0.0/0 }")) << text;
  EXPECT_TRUE(has(text, "ip6 saddr fd77::/64 ")) << text;
}

TEST(NftRuleset, CounterNamesAreOneBased) {
  EXPECT_EQ(open_rule_counter(0), "open_rule_1");
  EXPECT_EQ(open_rule_counter(11), "open_rule_12");
}

// ---------------------------------------------------------------------------
// Refusals

struct Refusal {
  const char* name;
  std::function<void(OpenPolicy&)> change;
  const char* message;  // the error's text starts with this
};

TEST(NftRuleset, CheckRefusesBadItemsByName) {
  const std::vector<Refusal> cases = {
      {"empty tunnel", [](OpenPolicy& p) { p.tun_interface.clear(); },
       "tunnel interface: the interface name is empty"},
      {"long tunnel", [](OpenPolicy& p) { p.tun_interface = "cordon-too-long0"; },
       "tunnel interface: interface \"cordon-too-long0\" is longer than 15 characters"},
      {"protected prefix too long", [](OpenPolicy& p) { p.protected_sources[1] = Prefix{address("10.0.0.0"), 33}; },
       "protected source 2: prefix length 33 is too long for its family (at most 32)"},
      {"daemon port 0", [](OpenPolicy& p) { p.tcp_ports.push_back(0); },
       "daemon TCP ports: port 0 is not a port"},
      {"third rule's interface", [](OpenPolicy& p) { p.rules[2].interface = "eth 0"; },
       "open rule 3: interface \"eth 0\" has a character outside A-Z a-z 0-9 _ . : -"},
      {"rule on the tunnel", [](OpenPolicy& p) { p.rules[0].interface = "cordon0"; },
       "open rule 1: interface \"cordon0\" is the tunnel"},
      {"ports without protocol", [](OpenPolicy& p) { p.rules[1].protocol.reset(); },
       "open rule 2: ports need protocol tcp (6) or udp (17)"},
      {"ports with icmp", [](OpenPolicy& p) { p.rules[1].protocol = kProtoIcmp; },
       "open rule 2: ports need protocol tcp (6) or udp (17)"},
      {"port 0", [](OpenPolicy& p) { p.rules[1].ports = PortRange{0, 10}; }, "open rule 2: port 0 is not a port"},
      {"backwards range", [](OpenPolicy& p) { p.rules[1].ports = PortRange{20, 10}; },
       "open rule 2: port range 20-10 runs backwards"},
      {"mixed families", [](OpenPolicy& p) { p.rules[0].to = prefix("fd00::/8"); },
       "open rule 1: from is IPv4 but to is IPv6; split the rule in two"},
      {"icmp with IPv6", [](OpenPolicy& p) { p.rules[2] = OpenRule{.to = prefix("fd00::/8"), .protocol = kProtoIcmp}; },
       "open rule 3: icmp (1) is IPv4's; use icmpv6 (58)"},
      {"icmpv6 with IPv4",
       [](OpenPolicy& p) { p.rules[2] = OpenRule{.to = prefix("10.0.0.0/8"), .protocol = kProtoIcmpv6}; },
       "open rule 3: icmpv6 (58) is IPv6's; use icmp (1)"},
      {"LAN on the tunnel", [](OpenPolicy& p) { p.lans[0].interface = "cordon0"; },
       "LAN 1: interface \"cordon0\" is the tunnel"},
      {"LAN without subnets", [](OpenPolicy& p) { p.lans[0].subnets.clear(); }, "LAN 1: it lists no subnets"},
      {"LAN protected", [](OpenPolicy& p) { p.protected_sources.push_back(prefix("192.168.0.0/16")); },
       "LAN 1: subnet 192.168.71.0/24 overlaps protected source 192.168.0.0/16"},
      {"forward v6 target, v4 from",
       [](OpenPolicy& p) {
         p.forwards_in[0].target = address("fd71::10");
         p.forwards_in[0].from = prefix("198.51.100.0/24");
       },
       "port forward 1: from is IPv4 but the target is IPv6; NAT does not translate between families"},
      {"forward of icmp", [](OpenPolicy& p) { p.forwards_in[0].protocol = kProtoIcmp; },
       "port forward 1: the protocol must be tcp (6) or udp (17)"},
      {"forward to port 0", [](OpenPolicy& p) { p.forwards_in[0].target_port = 0; },
       "port forward 1: port 0 is not a port"},
      {"forward to nowhere", [](OpenPolicy& p) { p.forwards_in[0].target = address("0.0.0.0"); },
       "port forward 1: the target address is unspecified"},
      {"snat without sources", [](OpenPolicy& p) { p.snat[0].from.clear(); },
       "source NAT 1: it lists no source prefixes"},
      {"snat without interface", [](OpenPolicy& p) { p.snat[0].out_interface.clear(); },
       "source NAT 1: the interface name is empty"},
      {"snat across families",
       [](OpenPolicy& p) {
         p.snat[0].to_address = address("203.0.113.1");
         p.snat[0].from.push_back(prefix("fd71::/64"));
       },
       "source NAT 1: source fd71::/64 is IPv6 but the address to translate to is IPv4"},
      {"client with a LAN", [](OpenPolicy& p) { p.forwards = false; },
       "LAN 1: only a gateway forwards traffic, and this policy has forwards off"},
      {"client with a forward rule",
       [](OpenPolicy& p) {
         p.forwards = false;
         p.lans.clear();
       },
       "open rule 1: the rule judges forwarded traffic, but only a gateway forwards traffic"},
      {"client with a port forward",
       [](OpenPolicy& p) {
         p.forwards = false;
         p.lans.clear();
         p.rules.erase(p.rules.begin());
       },
       "port forward 1: only a gateway forwards traffic"},
  };
  OpenPolicy base = gateway_policy();
  base.rules.push_back(OpenRule{.allow = true, .interface = "ul0", .protocol = kProtoTcp, .ports = PortRange{22, 22}});
  base.rules.push_back(OpenRule{.allow = true, .from = prefix("10.0.0.0/8"), .protocol = kProtoIcmp});
  ASSERT_TRUE(check_open_policy(base).ok()) << check_open_policy(base).error().message();
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.name);
    OpenPolicy p = base;
    c.change(p);
    const Status st = check_open_policy(p);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message().rfind(c.message, 0), 0u) << st.error().message();
    // The renderer refuses with the same words.
    const auto text = render_open_policy(p);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().message(), st.error().message());
  }
}

// Every slot that takes an interface name, so that a hostile name is tried
// in each.
std::vector<std::function<void(OpenPolicy&, const std::string&)>> interface_slots() {
  return {
      [](OpenPolicy& p, const std::string& n) { p.tun_interface = n; },
      [](OpenPolicy& p, const std::string& n) { p.lans[0].interface = n; },
      [](OpenPolicy& p, const std::string& n) { p.rules[0].interface = n; },
      [](OpenPolicy& p, const std::string& n) { p.forwards_in[0].in_interface = n; },
      [](OpenPolicy& p, const std::string& n) { p.snat[0].out_interface = n; },
  };
}

TEST(NftRuleset, InjectionAttemptsAreRefused) {
  const std::vector<std::string> hostile = {
      "eth0\" accept",          "eth0\"; flush ruleset",   "x\" } table ip evil {",
      "eth0;flush ruleset",     "eth0\nflush ruleset",     "eth0 accept",
      "$tun",                   "@set",                    "{ lo }",
      "eth0#",                  "a\\\"",                   "eth*",
      std::string("eth0\0x", 6), "\xc3\xa9th0",            "aaaaaaaaaaaaaaaa",
  };
  const auto slots = interface_slots();
  for (size_t slot = 0; slot < slots.size(); ++slot) {
    for (const std::string& name : hostile) {
      SCOPED_TRACE("slot " + std::to_string(slot) + ", name " + name);
      OpenPolicy p = gateway_policy();
      slots[slot](p, name);
      const Status st = check_open_policy(p);
      ASSERT_FALSE(st.ok());
      EXPECT_FALSE(render_open_policy(p).ok());
      // The name is shown defanged: no control character reaches a log.
      for (char c : st.error().message()) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << st.error().message();
    }
  }
}

// Every byte value, one at a time in a name, against a plain statement of
// the allowed set: the renderer quotes exactly the names it accepts.
TEST(NftRuleset, InterfaceNameCharactersAgainstANaiveTwin) {
  const std::string allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
  for (int b = 0; b < 256; ++b) {
    const std::string name = std::string("a") + static_cast<char>(b) + "0";
    OpenPolicy p = gateway_policy();
    p.rules[0].interface = name;
    const bool expect_ok = allowed.find(static_cast<char>(b)) != std::string::npos;
    auto text = render_open_policy(p);
    EXPECT_EQ(text.ok(), expect_ok) << "byte " << b;
    if (text.ok()) EXPECT_TRUE(has(text.value(), "iifname \"" + name + "\" ip saddr")) << "byte " << b;
  }
}

}  // namespace
}  // namespace cordon::os
