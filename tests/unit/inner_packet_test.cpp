#include "core/wire/inner_packet.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace cordon::wire {
namespace {

std::vector<std::byte> v4(size_t total, size_t buffer, uint8_t ihl_words = 5) {
  std::vector<std::byte> p(buffer);
  p[0] = std::byte{static_cast<uint8_t>(0x40 | ihl_words)};
  p[2] = std::byte{static_cast<uint8_t>(total >> 8)};
  p[3] = std::byte{static_cast<uint8_t>(total)};
  const uint8_t src[] = {10, 77, 0, 1}, dst[] = {10, 77, 0, 2};
  for (int i = 0; i < 4 && buffer >= 20; ++i) p[12 + i] = std::byte{src[i]}, p[16 + i] = std::byte{dst[i]};
  return p;
}

TEST(InnerPacket, ParsesIpv4AndTrimsPadding) {
  auto p = v4(28, 40);
  auto r = parse_inner(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->length, 28u);
  EXPECT_EQ(r->source.to_string(), "10.77.0.1");
  EXPECT_EQ(r->destination.to_string(), "10.77.0.2");
}

TEST(InnerPacket, RejectsMalformedIpv4) {
  EXPECT_FALSE(parse_inner(v4(28, 19)));      // shorter than a header
  EXPECT_FALSE(parse_inner(v4(60, 40)));      // total beyond the buffer
  EXPECT_FALSE(parse_inner(v4(28, 40, 4)));   // IHL below 5
  EXPECT_FALSE(parse_inner(v4(20, 40, 6)));   // total below IHL
}

TEST(InnerPacket, ParsesIpv6) {
  std::vector<std::byte> p(48);
  p[0] = std::byte{0x60};
  p[5] = std::byte{8};
  p[8 + 15] = std::byte{1};
  p[24 + 15] = std::byte{2};
  auto r = parse_inner(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->length, 48u);
  EXPECT_EQ(r->source.to_string(), "::1");
  EXPECT_EQ(r->destination.to_string(), "::2");
  p[5] = std::byte{9};
  EXPECT_FALSE(parse_inner(p));
}

TEST(InnerPacket, RejectsOtherVersionsAndEmpty) {
  std::vector<std::byte> p(40);
  p[0] = std::byte{0x50};
  EXPECT_FALSE(parse_inner(p));
  EXPECT_FALSE(parse_inner({}));
}

}  // namespace
}  // namespace cordon::wire
