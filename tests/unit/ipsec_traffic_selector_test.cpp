// Traffic selectors from configuration text, and back to prefixes for
// routes and to text for status (core/ipsec/traffic_selector.hpp).
#include "core/ipsec/traffic_selector.hpp"

#include <gtest/gtest.h>

namespace cordon::ipsec {
namespace {

TEST(IpsecTrafficSelector, ParsesPrefixesAndAddresses) {
  const auto net = parse_selector("10.1.2.3/24");
  ASSERT_TRUE(net);
  EXPECT_EQ(net->type, TsType::kIpv4AddrRange);
  EXPECT_EQ(selector_text(*net), "10.1.2.0/24");  // host bits cleared
  EXPECT_EQ(selector_text(*parse_selector("192.0.2.7")), "192.0.2.7/32");
  EXPECT_EQ(selector_text(*parse_selector("2001:db8::/32")), "2001:db8::/32");
  EXPECT_EQ(selector_text(*parse_selector("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_EQ(selector_text(*parse_selector("::/0")), "::/0");
  for (const char* bad : {"", "10.1.2.0/33", "gw.example", "10.1.2.0/"}) EXPECT_FALSE(parse_selector(bad)) << bad;
}

// A naive twin: every address of a small range, checked against the
// prefixes' union.
TEST(IpsecTrafficSelector, PrefixesCoverExactlyTheRange) {
  for (unsigned first = 0; first < 40; ++first) {
    for (unsigned last = first; last < 40; ++last) {
      TrafficSelector ts;
      ts.start_address = {10, 0, 0, static_cast<uint8_t>(first)};
      ts.end_address = {10, 0, 0, static_cast<uint8_t>(last)};
      const auto prefixes = selector_prefixes(ts);
      for (unsigned host = 0; host < 64; ++host) {
        const IpAddress a = IpAddress::v4({10, 0, 0, static_cast<uint8_t>(host)});
        const auto covering = std::count_if(prefixes.begin(), prefixes.end(), [&](const Prefix& p) { return p.contains(a); });
        EXPECT_EQ(covering, host >= first && host <= last ? 1 : 0) << first << "-" << last << " host " << host;
      }
    }
  }
  TrafficSelector range;
  range.start_address = {10, 0, 0, 4};
  range.end_address = {10, 0, 0, 6};
  range.ip_protocol = 6;
  range.start_port = 80;
  range.end_port = 443;
  EXPECT_EQ(selector_text(range), "10.0.0.4-10.0.0.6 proto 6 port 80-443");
}

}  // namespace
}  // namespace cordon::ipsec
