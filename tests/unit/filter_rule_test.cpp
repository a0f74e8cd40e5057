// The protected-traffic rule parser (core/filter/rule.hpp): what it accepts,
// its canonical text, and the error for each kind of bad input.
#include "core/filter/rule.hpp"

#include <gtest/gtest.h>

#include "core/filter/flow.hpp"

namespace cordon::filter {
namespace {

std::optional<std::vector<uint32_t>> resolve(std::string_view name) {
  if (name == "laptop") return std::vector<uint32_t>{0x00010005};
  if (name == "sales") return std::vector<uint32_t>{0x00010007, 0x00010003};
  if (name == "empty") return std::vector<uint32_t>{};
  if (auto id = HostId::parse(name)) return std::vector<uint32_t>{id->value};
  return std::nullopt;
}

Rule parse_ok(std::string_view text) {
  auto r = parse_rule(text, resolve);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? r.value() : Rule{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_rule(text, resolve);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.error();
}

TEST(FilterRule, ParsesEveryField) {
  const Rule r = parse_ok("drop in peer laptop,sales from 10.77.0.0/24 to 192.168.10.0/24 proto tcp sport 1024-65535 dport 22");
  EXPECT_EQ(r.action, Action::kDrop);
  EXPECT_TRUE(r.takes(Direction::kIn));
  EXPECT_FALSE(r.takes(Direction::kOut));
  EXPECT_EQ(r.peers, (std::vector<uint32_t>{0x00010003, 0x00010005, 0x00010007}));
  EXPECT_EQ(r.source->to_string(), "10.77.0.0/24");
  EXPECT_EQ(r.destination->to_string(), "192.168.10.0/24");
  EXPECT_EQ(*r.protocol, kTcp);
  EXPECT_EQ(*r.source_ports, (PortRange{1024, 65535}));
  EXPECT_EQ(*r.destination_ports, (PortRange{22, 22}));
}

TEST(FilterRule, CanonicalTextReadsBackTheSame) {
  for (const char* text : {"allow", "drop out", "allow in peer laptop proto icmp icmp-type 8",
                           "drop peer 0x00010009 from fd00:77::/64 proto udp dport 53",
                           "allow to 192.168.10.5/32 proto 47", "drop in from 10.0.0.0/8"}) {
    const Rule r = parse_ok(text);
    EXPECT_EQ(r.to_string(), text);
    EXPECT_EQ(parse_ok(r.to_string()).to_string(), text);
  }
  // Keywords in any order, an address for a /32, and extra spaces, read back canonically.
  EXPECT_EQ(parse_ok("  drop in  dport 22  proto tcp to 192.168.10.5 ").to_string(),
            "drop in to 192.168.10.5/32 proto tcp dport 22");
}

TEST(FilterRule, BadInputNamesTheWordAndTheFault) {
  EXPECT_EQ(parse_error(""), "empty rule: it starts with allow or drop");
  EXPECT_EQ(parse_error("permit in"), "word 1 (\"permit\"): a rule starts with allow or drop");
  EXPECT_EQ(parse_error("drop in port 22"),
            "word 3 (\"port\"): unknown keyword; expected peer, from, to, proto, sport, dport or icmp-type");
  EXPECT_EQ(parse_error("drop proto tcp dport 80-22"), "word 5 (\"80-22\"): the port range runs backwards");
  EXPECT_EQ(parse_error("drop proto tcp dport 70000"), "word 5 (\"70000\"): a port is a number from 0 to 65535, a range is LOW-HIGH");
  EXPECT_EQ(parse_error("drop proto gre"),
            "word 3 (\"gre\"): expected tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255");
  EXPECT_EQ(parse_error("drop to 192.168.10.0/33"),
            "word 3 (\"192.168.10.0/33\"): not an IPv4 or IPv6 prefix such as 192.168.10.0/24 or an address");
  EXPECT_EQ(parse_error("drop to 192.168.10.1/24"), "word 3 (\"192.168.10.1/24\"): has bits set after the prefix length");
  EXPECT_EQ(parse_error("drop peer printer"), "word 3 (\"printer\"): no host or group is named 'printer'");
  EXPECT_EQ(parse_error("drop peer laptop,"), "word 3 (\"laptop,\"): an empty name in the peer list");
  EXPECT_EQ(parse_error("drop peer empty"), "word 3 (\"empty\"): names no host (an empty group?)");
  EXPECT_EQ(parse_error("drop to 10.0.0.0/8 to 10.1.0.0/16"), "word 4 (\"to\"): appears twice");
  EXPECT_EQ(parse_error("drop to"), "word 2 (\"to\"): needs a value after it");
  EXPECT_EQ(parse_error("drop dport 22"), "sport and dport need proto tcp or proto udp");
  EXPECT_EQ(parse_error("drop proto icmp icmp-type 300"), "word 5 (\"300\"): an ICMP type is a number from 0 to 255");
  EXPECT_EQ(parse_error("drop proto tcp icmp-type 8"), "icmp-type needs proto icmp or proto icmpv6");
  EXPECT_EQ(parse_error("drop from 10.0.0.0/8 to fd00::/8"), "from and to are of different address families");
  EXPECT_EQ(parse_error("drop to fd00::/8 proto icmp"), "proto icmp is IPv4; use icmpv6 with IPv6 prefixes");
  EXPECT_EQ(parse_error("drop to 10.0.0.0/8 proto icmpv6"), "proto icmpv6 is IPv6; use icmp with IPv4 prefixes");
  EXPECT_EQ(parse_error("drop in out"), "word 3 (\"out\"): unknown keyword; expected peer, from, to, proto, sport, dport or icmp-type");
}

}  // namespace
}  // namespace cordon::filter
