// Text forms of HostId, IpAddress, Endpoint and Prefix (src/core/types.hpp):
// table-driven good and bad inputs, plus Prefix::contains against a naive
// bit-by-bit twin (docs/design.md, practice 11).
#include <random>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/types.hpp"

namespace cordon {
namespace {

using namespace std::string_view_literals;

// ---------------------------------------------------------------------------
// HostId

TEST(TypesHostId, FormatsAsEightLowerCaseHexDigits) {
  const struct {
    uint32_t value;
    const char* text;
  } cases[] = {
      {0x0001000a, "0x0001000a"}, {0xabcd1234, "0xabcd1234"}, {0xffffffff, "0xffffffff"}, {0, "0x00000000"},
  };
  for (const auto& c : cases) EXPECT_EQ(HostId{c.value}.to_string(), c.text);
}

TEST(TypesHostId, ParsesValidIds) {
  const struct {
    std::string_view text;
    uint32_t value;
  } cases[] = {
      {"0x0001000a", 0x0001000a}, {"0x0001000A", 0x0001000a}, {"0X0001000a", 0x0001000a},
      {"0xffffffff", 0xffffffff}, {"0x00010001", 0x00010001}, {"0xAbCd1234", 0xabcd1234},
  };
  for (const auto& c : cases) {
    const auto id = HostId::parse(c.text);
    ASSERT_TRUE(id.has_value()) << c.text;
    EXPECT_EQ(id->value, c.value) << c.text;
  }
  const auto id = HostId::parse("0x0001000a");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->network(), 1);
  EXPECT_EQ(id->host(), 10);
}

TEST(TypesHostId, RejectsMalformedAndReservedIds) {
  for (std::string_view bad : {
           ""sv, "0x"sv, "0x1000a"sv, "0x0001000a0"sv, "0001000a"sv, "0001000a00"sv, "0x0001000g"sv,
           " 0x0001000a"sv, "0x0001000a "sv, "1x0001000a"sv, "0x-001000a"sv, "0x+001000a"sv, "0x 001000a"sv,
           "0x0000000a"sv,  // network 0
           "0x00010000"sv,  // host 0
           "0x00000000"sv, "0x0001000a\0"sv, "x0x0001000a"sv,
       }) {
    EXPECT_FALSE(HostId::parse(bad).has_value()) << "\"" << bad << "\"";
  }
}

TEST(TypesHostId, RoundTripsAndOrders) {
  for (uint32_t v : {0x00010001u, 0x0001000au, 0x7fff8000u, 0xfffffffeu}) {
    EXPECT_EQ(HostId::parse(HostId{v}.to_string()), HostId{v});
  }
  EXPECT_LT(HostId{0x00010001}, HostId{0x00010002});
}

// ---------------------------------------------------------------------------
// IpAddress

TEST(TypesIpAddress, ParsesAndFormatsCanonicalText) {
  const struct {
    std::string_view text;
    IpAddress::Family family;
    const char* canonical;
  } cases[] = {
      {"192.0.2.1", IpAddress::Family::kV4, "192.0.2.1"},
      {"0.0.0.0", IpAddress::Family::kV4, "0.0.0.0"},
      {"255.255.255.255", IpAddress::Family::kV4, "255.255.255.255"},
      {"2001:db8::1", IpAddress::Family::kV6, "2001:db8::1"},
      {"2001:DB8::1", IpAddress::Family::kV6, "2001:db8::1"},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", IpAddress::Family::kV6, "2001:db8::1"},
      {"::", IpAddress::Family::kV6, "::"},
      {"::1", IpAddress::Family::kV6, "::1"},
      {"fd77::1", IpAddress::Family::kV6, "fd77::1"},
      // v4-mapped text stays IPv6; only dotted quads are IPv4.
      {"::ffff:192.0.2.1", IpAddress::Family::kV6, "::ffff:192.0.2.1"},
  };
  for (const auto& c : cases) {
    const auto a = IpAddress::parse(c.text);
    ASSERT_TRUE(a.has_value()) << c.text;
    EXPECT_EQ(a->family, c.family) << c.text;
    EXPECT_EQ(a->to_string(), c.canonical) << c.text;
    EXPECT_EQ(IpAddress::parse(a->to_string()), a) << c.text;
  }
}

TEST(TypesIpAddress, RejectsMalformedText) {
  for (std::string_view bad : {
           ""sv, "256.0.0.1"sv, "1.2.3"sv, "1.2.3.4.5"sv, "01.2.3.4"sv, "1.2.3.04"sv, "1.2.3.4 "sv, " 1.2.3.4"sv,
           "1.2.3.-1"sv, "a.b.c.d"sv, "1..2.3"sv, "0x1.2.3.4"sv, "1.2.3.4/24"sv, "1.2.3.4:80"sv,
           "2001:db8::1::2"sv, "2001:db8:::1"sv, "12345::"sv, "fe80::1%eth0"sv, "[2001:db8::1]"sv, ":::"sv,
           "2001:db8:0:0:0:0:0:0:1"sv, "g::1"sv, "localhost"sv, "1.2.3.4\0"sv, "1.2.3.4\0junk"sv,
           "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa"sv,
       }) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << "\"" << bad << "\"";
  }
}

TEST(TypesIpAddress, ConstructorsLayOutBytesInNetworkOrder) {
  const IpAddress a = IpAddress::v4(0xc0000201);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a, IpAddress::v4({192, 0, 2, 1}));
  EXPECT_EQ(IpAddress::parse("192.0.2.1"), a);
  EXPECT_EQ(a.to_string(), "192.0.2.1");

  const IpAddress b = IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  EXPECT_FALSE(b.is_v4());
  EXPECT_EQ(b.size(), 16u);
  EXPECT_EQ(IpAddress::parse("2001:db8::1"), b);

  // Same bytes, different family: not equal.
  EXPECT_NE(IpAddress::v6({192, 0, 2, 1}), a);
}

// ---------------------------------------------------------------------------
// Endpoint

TEST(TypesEndpoint, ParsesAndFormats) {
  const struct {
    std::string_view text;
    const char* address;
    uint16_t port;
  } cases[] = {
      {"192.0.2.1:51820", "192.0.2.1", 51820}, {"[2001:db8::1]:51820", "2001:db8::1", 51820},
      {"1.2.3.4:1", "1.2.3.4", 1},             {"1.2.3.4:65535", "1.2.3.4", 65535},
      {"[::]:1", "::", 1},                     {"[::ffff:1.2.3.4]:80", "::ffff:1.2.3.4", 80},
  };
  for (const auto& c : cases) {
    const auto e = Endpoint::parse(c.text);
    ASSERT_TRUE(e.has_value()) << c.text;
    EXPECT_EQ(e->address, IpAddress::parse(c.address)) << c.text;
    EXPECT_EQ(e->port, c.port) << c.text;
    EXPECT_EQ(e->to_string(), c.text);
  }
  EXPECT_EQ(Endpoint::parse("[2001:DB8:0::1]:51820")->to_string(), "[2001:db8::1]:51820");
}

TEST(TypesEndpoint, RejectsMalformedText) {
  for (std::string_view bad : {
           ""sv, "1.2.3.4"sv, "1.2.3.4:"sv, "1.2.3.4:0"sv, "1.2.3.4:65536"sv, "1.2.3.4:051820"sv,
           "1.2.3.4:+80"sv, "1.2.3.4:80x"sv, "1.2.3.4:-1"sv, "1.2.3.4:99999999999"sv, "1.2.3.4: 80"sv,
           "2001:db8::1:51820"sv,  // IPv6 needs brackets
           "[2001:db8::1]"sv, "[2001:db8::1]51820"sv, "[2001:db8::1:51820"sv, "[2001:db8::1]:"sv,
           "[1.2.3.4]:80"sv,  // brackets are for IPv6 only
           ":80"sv, "[]:80"sv, "host:80"sv, "1.2.3.4:80:80"sv, "[2001:db8::1]:80]"sv, "[[::1]]:80"sv,
       }) {
    EXPECT_FALSE(Endpoint::parse(bad).has_value()) << "\"" << bad << "\"";
  }
}

// ---------------------------------------------------------------------------
// Prefix

TEST(TypesPrefix, ParsesKeepingHostBits) {
  const struct {
    std::string_view text;
    const char* address;
    uint8_t length;
    const char* canonical;
  } cases[] = {
      {"10.0.0.0/24", "10.0.0.0", 24, "10.0.0.0/24"},
      {"10.77.0.1/24", "10.77.0.1", 24, "10.77.0.1/24"},  // a tunnel address
      {"0.0.0.0/0", "0.0.0.0", 0, "0.0.0.0/0"},
      {"1.2.3.4/32", "1.2.3.4", 32, "1.2.3.4/32"},
      {"fd00::/64", "fd00::", 64, "fd00::/64"},
      {"fd00:0::/64", "fd00::", 64, "fd00::/64"},
      {"::/0", "::", 0, "::/0"},
      {"fd77::1/128", "fd77::1", 128, "fd77::1/128"},
  };
  for (const auto& c : cases) {
    const auto p = Prefix::parse(c.text);
    ASSERT_TRUE(p.has_value()) << c.text;
    EXPECT_EQ(p->address, IpAddress::parse(c.address)) << c.text;
    EXPECT_EQ(p->length, c.length) << c.text;
    EXPECT_EQ(p->to_string(), c.canonical) << c.text;
  }
}

TEST(TypesPrefix, RejectsMalformedText) {
  for (std::string_view bad : {
           ""sv, "10.0.0.0"sv, "10.0.0.0/"sv, "10.0.0.0/33"sv, "fd00::/129"sv, "10.0.0.0/024"sv, "10.0.0.0/-1"sv,
           "10.0.0.0/ 8"sv, "10.0.0.0/8 "sv, "10.0.0.0/8/8"sv, "/8"sv, "fd00::/64x"sv, "10.0.0/8"sv,
           "[fd00::]/64"sv, "10.0.0.0/4294967304"sv, "10.0.0.0/+8"sv,
       }) {
    EXPECT_FALSE(Prefix::parse(bad).has_value()) << "\"" << bad << "\"";
  }
}

TEST(TypesPrefix, ContainsMasksHostBits) {
  const struct {
    const char* prefix;
    const char* address;
    bool inside;
  } cases[] = {
      {"10.77.0.1/24", "10.77.0.200", true},  {"10.77.0.1/24", "10.77.1.1", false},
      {"0.0.0.0/0", "1.2.3.4", true},         {"0.0.0.0/0", "::1", false},  // families never mix
      {"10.0.0.0/9", "10.127.255.255", true}, {"10.0.0.0/9", "10.128.0.0", false},
      {"10.0.0.0/31", "10.0.0.1", true},      {"10.0.0.0/31", "10.0.0.2", false},
      {"1.2.3.4/32", "1.2.3.4", true},        {"1.2.3.4/32", "1.2.3.5", false},
      {"fd00::/64", "fd00::1", true},         {"fd00::/64", "fd00:0:0:1::1", false},
      {"::/0", "2001:db8::1", true},          {"::/0", "1.2.3.4", false},
      {"fd77::1/128", "fd77::1", true},       {"fd77::1/128", "fd77::2", false},
      {"fd00::/7", "fc00::1", true},          {"fd00::/7", "fe00::", false},
      {"::ffff:0.0.0.0/96", "1.2.3.4", false},
  };
  for (const auto& c : cases) {
    const auto p = Prefix::parse(c.prefix);
    const auto a = IpAddress::parse(c.address);
    ASSERT_TRUE(p && a) << c.prefix << " " << c.address;
    EXPECT_EQ(p->contains(*a), c.inside) << c.prefix << " contains " << c.address;
  }
}

// The naive twin: compare bit by bit.
bool naive_contains(const Prefix& p, const IpAddress& a) {
  if (p.address.family != a.family) return false;
  for (unsigned bit = 0; bit < p.length; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((p.address.bytes[bit / 8] & mask) != (a.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

TEST(TypesPrefix, ContainsAgreesWithNaiveTwin) {
  std::mt19937 rng(4291);
  for (int i = 0; i < 20000; ++i) {
    const bool v4 = rng() % 2 == 0;
    Prefix p;
    p.address.family = v4 ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
    for (size_t j = 0; j < p.address.size(); ++j) p.address.bytes[j] = static_cast<uint8_t>(rng());
    p.length = static_cast<uint8_t>(rng() % (p.address.size() * 8 + 1));
    // Addresses near the prefix: copy it and flip one random bit (or none).
    IpAddress a = p.address;
    if (rng() % 8 == 0) a.family = v4 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;
    const unsigned flip = static_cast<unsigned>(rng() % (a.size() * 8 + 1));
    if (flip < a.size() * 8) a.bytes[flip / 8] ^= static_cast<uint8_t>(0x80u >> (flip % 8));
    ASSERT_EQ(p.contains(a), naive_contains(p, a)) << p.to_string() << " " << a.to_string();
  }
}

}  // namespace
}  // namespace cordon
