// Longest-prefix match, table-driven and against a linear twin.
#include "core/route/prefix_table.hpp"

#include <gtest/gtest.h>

#include <random>

namespace cordon::route {
namespace {

Prefix P(const char* s) {
  auto p = Prefix::parse(s);
  EXPECT_TRUE(p) << s;
  return p.value_or(Prefix{});
}
IpAddress A(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}

TEST(PrefixTable, LongestMatchWins) {
  PrefixTable t;
  t.insert(P("10.0.0.0/8"), 1);
  t.insert(P("10.1.0.0/16"), 2);
  t.insert(P("10.1.2.3/32"), 3);
  t.insert(P("fd00::/8"), 4);
  t.insert(P("fd00:1::/32"), 5);
  t.insert(P("::/0"), 6);
  EXPECT_EQ(t.lookup(A("10.9.9.9")), 1u);
  EXPECT_EQ(t.lookup(A("10.1.9.9")), 2u);
  EXPECT_EQ(t.lookup(A("10.1.2.3")), 3u);
  EXPECT_EQ(t.lookup(A("11.0.0.1")), std::nullopt);  // no IPv4 default
  EXPECT_EQ(t.lookup(A("fd00:1::7")), 5u);
  EXPECT_EQ(t.lookup(A("fd00:2::7")), 4u);
  EXPECT_EQ(t.lookup(A("2001:db8::1")), 6u);
}

TEST(PrefixTable, HostBitsIgnoredAndReplace) {
  PrefixTable t;
  t.insert(P("10.77.0.1/24"), 1);
  t.insert(P("10.77.0.0/24"), 2);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.lookup(A("10.77.0.200")), 2u);
}

TEST(PrefixTable, FamiliesAreSeparate) {
  PrefixTable t;
  t.insert(P("0.0.0.0/0"), 1);
  EXPECT_EQ(t.lookup(A("::1")), std::nullopt);
  EXPECT_EQ(t.lookup(A("192.0.2.1")), 1u);
}

bool naive_contains(const Prefix& p, const IpAddress& a) {
  if (p.address.family != a.family) return false;
  for (unsigned bit = 0; bit < p.length; ++bit) {
    const unsigned byte = bit / 8, shift = 7 - bit % 8;
    if (((p.address.bytes[byte] >> shift) & 1) != ((a.bytes[byte] >> shift) & 1)) return false;
  }
  return true;
}

TEST(PrefixTable, MatchesLinearTwin) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    PrefixTable t;
    std::vector<std::pair<Prefix, uint32_t>> list;
    for (uint32_t i = 0; i < 60; ++i) {
      Prefix p;
      const bool v6 = rng() % 2;
      p.address.family = v6 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;
      // Few distinct leading bytes so prefixes nest and collide.
      for (size_t b = 0; b < p.address.size(); ++b) p.address.bytes[b] = static_cast<uint8_t>(rng() % 4);
      p.length = static_cast<uint8_t>(rng() % (v6 ? 129 : 33));
      // Canonicalise so the twin and the table agree on replacements.
      for (unsigned bit = p.length; bit < p.address.size() * 8; ++bit) {
        p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(1u << (7 - bit % 8)));
      }
      std::erase_if(list, [&](const auto& e) { return e.first == p; });
      list.emplace_back(p, i);
      t.insert(p, i);
    }
    for (int q = 0; q < 2000; ++q) {
      IpAddress a;
      a.family = rng() % 2 ? IpAddress::Family::kV6 : IpAddress::Family::kV4;
      for (size_t b = 0; b < a.size(); ++b) a.bytes[b] = static_cast<uint8_t>(rng() % 4);
      std::optional<uint32_t> expected;
      int best = -1;
      for (const auto& [p, v] : list) {
        if (naive_contains(p, a) && p.length > best) best = p.length, expected = v;
      }
      ASSERT_EQ(t.lookup(a), expected) << a.to_string();
    }
  }
}

}  // namespace
}  // namespace cordon::route
