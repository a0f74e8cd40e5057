// The [open] table's entries (os/linux/open_rule_text.hpp): each grammar, and
// each refusal with the word it names.
#include <gtest/gtest.h>

#include <string>

#include "os/linux/open_rule_text.hpp"

namespace cordon::os {
namespace {


Prefix prefix(const char* text) { return Prefix::parse(text).value(); }

TEST(OpenRuleParse, EveryPartOfARule) {
  auto r = parse_open_rule("allow forward iif lan0 from 192.168.71.0/24 to 203.0.113.0/24 proto tcp dport 80-90");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->allow);
  EXPECT_EQ(r->path, OpenRule::Path::kForward);
  EXPECT_EQ(r->interface, "lan0");
  EXPECT_EQ(r->from, prefix("192.168.71.0/24"));
  EXPECT_EQ(r->to, prefix("203.0.113.0/24"));
  EXPECT_EQ(r->protocol, os::kProtoTcp);
  ASSERT_TRUE(r->ports.has_value());
  EXPECT_EQ(r->ports->first, 80);
  EXPECT_EQ(r->ports->last, 90);
}

TEST(OpenRuleParse, DefaultsAndOtherForms) {
  auto r = parse_open_rule("  drop\tproto 47 ");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->allow);
  EXPECT_EQ(r->path, OpenRule::Path::kBoth) << "without a path the rule takes both, as [filter] rules do";
  EXPECT_EQ(r->protocol, 47);
  EXPECT_TRUE(r->interface.empty());

  r = parse_open_rule("allow input from 2001:db8::1 proto icmpv6");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->path, OpenRule::Path::kInput);
  EXPECT_EQ(r->from, prefix("2001:db8::1/128")) << "an address is a single host";

  r = parse_open_rule("allow both dport 22 proto udp");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->path, OpenRule::Path::kBoth);
  EXPECT_EQ(r->ports->first, 22);
  EXPECT_EQ(r->ports->last, 22);
}

struct Refusal {
  const char* text;
  const char* error;
};

class OpenRuleRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(OpenRuleRefusal, NamesTheWord) {
  auto r = parse_open_rule(GetParam().text);
  ASSERT_FALSE(r.ok()) << GetParam().text;
  EXPECT_EQ(r.error(), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, OpenRuleRefusal,
    ::testing::Values(
        Refusal{"", "empty rule: a rule starts with allow or drop"},
        Refusal{"accept input", "word 1 (\"accept\"): a rule starts with allow or drop"},
        Refusal{"allow in proto tcp", "word 2 (\"in\"): unknown keyword; expected iif, from, to, proto or dport"},
        Refusal{"allow input sport 22", "word 3 (\"sport\"): unknown keyword; expected iif, from, to, proto or dport"},
        Refusal{"allow proto tcp proto udp", "word 4 (\"proto\"): appears twice"},
        Refusal{"allow input iif", "word 3 (\"iif\"): needs a value after it"},
        Refusal{"allow iif eth0\"x", "word 3 (\"eth0\"x\"): interface \"eth0?x\" has a character outside A-Z a-z 0-9 _ . : -; write the name `ip link` shows"},
        Refusal{"allow iif averyveryverylongname",
                "word 3 (\"averyveryverylongname\"): interface \"averyveryverylongname\" is longer than 15 characters, "
                "which Linux refuses"},
        Refusal{"allow from 192.168.71.1/24", "word 3 (\"192.168.71.1/24\"): has bits set after the prefix length"},
        Refusal{"allow to lan", "word 3 (\"lan\"): not an IPv4 or IPv6 prefix such as 192.168.71.0/24, or an address"},
        Refusal{"allow proto sctp", "word 3 (\"sctp\"): expected tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255"},
        Refusal{"allow proto tcp dport 0", "word 5 (\"0\"): a port is a number from 1 to 65535, a range is LOW-HIGH"},
        Refusal{"allow proto tcp dport 80-22", "word 5 (\"80-22\"): the port range runs backwards"},
        Refusal{"allow dport 22", "dport needs proto tcp or proto udp"},
        Refusal{"allow from 10.0.0.0/8 to fd00::/8", "from and to are of different address families; write one rule per family"},
        Refusal{"allow from fd00::/8 proto icmp", "proto icmp is IPv4; use icmpv6 with IPv6 prefixes"},
        Refusal{"allow to 10.0.0.1 proto icmpv6", "proto icmpv6 is IPv6; use icmp with IPv4 prefixes"}));

TEST(OpenLanParse, InterfaceAndSubnets) {
  auto lan = parse_lan("lan0 192.168.71.0/24 fd71::/64");
  ASSERT_TRUE(lan.ok()) << lan.error();
  EXPECT_EQ(lan->interface, "lan0");
  ASSERT_EQ(lan->subnets.size(), 2u);
  EXPECT_EQ(lan->subnets[1], prefix("fd71::/64"));

  EXPECT_EQ(parse_lan("lan0").error(), "write the LAN's interface, then its subnets: \"lan0 192.168.71.0/24\"");
  EXPECT_EQ(parse_lan("lan0 192.168.71.1/24").error(), "word 2 (\"192.168.71.1/24\"): has bits set after the prefix length");
  EXPECT_EQ(parse_lan("lan/0 192.168.71.0/24").error().rfind("word 1 (\"lan/0\"): interface", 0), 0u);
}

TEST(OpenSnatParse, MasqueradeOrAFixedAddress) {
  auto s = parse_source_nat("oif ul0 from 192.168.71.0/24,192.168.72.0/24");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->out_interface, "ul0");
  EXPECT_EQ(s->from.size(), 2u);
  EXPECT_FALSE(s->to_address.has_value());

  s = parse_source_nat("from 192.168.71.0/24 to 203.0.113.1 oif ul0");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->to_address, IpAddress::parse("203.0.113.1"));

  EXPECT_EQ(parse_source_nat("from 192.168.71.0/24").error(), "needs oif NAME: the interface the packets leave through");
  EXPECT_EQ(parse_source_nat("oif ul0").error(), "needs from PREFIX[,PREFIX...]: the sources it translates");
  EXPECT_EQ(parse_source_nat("oif ul0 from 192.168.71.0/24,,").error(),
            "word 4 (\"192.168.71.0/24,,\"): not an IPv4 or IPv6 prefix such as 192.168.71.0/24, or an address");
  EXPECT_EQ(parse_source_nat("oif ul0 from 10.1.0.0/16 to gw").error(), "word 6 (\"gw\"): not an IPv4 or IPv6 address");
}

TEST(OpenPortForwardParse, ProtoPortAndTarget) {
  auto f = parse_port_forward("iif ul0 proto tcp dport 8080 to 192.168.71.10:8000 from 198.51.100.0/24");
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(f->in_interface, "ul0");
  EXPECT_EQ(f->protocol, os::kProtoTcp);
  EXPECT_EQ(f->port, 8080);
  EXPECT_EQ(f->target, IpAddress::parse("192.168.71.10"));
  EXPECT_EQ(f->target_port, 8000);
  EXPECT_EQ(f->from, prefix("198.51.100.0/24"));

  f = parse_port_forward("proto udp dport 53 to [fd71::10]:5353");
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_TRUE(f->in_interface.empty());
  EXPECT_EQ(f->target, IpAddress::parse("fd71::10"));

  EXPECT_EQ(parse_port_forward("proto icmp dport 1 to 10.0.0.1:1").error(),
            "word 2 (\"icmp\"): a port forward is for tcp or udp");
  EXPECT_EQ(parse_port_forward("proto tcp dport 80-90 to 10.0.0.1:1").error(),
            "word 4 (\"80-90\"): a port is a number from 1 to 65535");
  EXPECT_EQ(parse_port_forward("proto tcp dport 80 to 10.0.0.1").error(),
            "word 6 (\"10.0.0.1\"): expected ADDRESS:PORT, e.g. 192.168.71.10:8000 or [fd71::10]:8000");
  EXPECT_EQ(parse_port_forward("dport 80 to 10.0.0.1:80").error(), "needs proto tcp or proto udp");
  EXPECT_EQ(parse_port_forward("proto tcp to 10.0.0.1:80").error(), "needs dport PORT: the port that is forwarded");
  EXPECT_EQ(parse_port_forward("proto tcp dport 80").error(), "needs to ADDRESS:PORT: the server it goes to");
  EXPECT_EQ(parse_port_forward("proto tcp dport 80 to 10.0.0.1:80 from fd00::/8").error(),
            "from and the target are of different address families; NAT does not translate between them");
}

}  // namespace
}  // namespace cordon::os
