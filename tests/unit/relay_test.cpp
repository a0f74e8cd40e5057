// Relayed datagram layout (core/wire/relay.hpp).
#include "core/wire/relay.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace cordon::wire {
namespace {

TEST(RoutingBlock, KnownBytesAndRoundTrip) {
  std::array<std::byte, kRoutingBlockSize> b{};
  write_routing_block(RoutingBlock{HostId{0x0001000b}, HostId{0x0002000a}, 4}, b);
  const uint8_t expect[] = {0, 1, 0, 0x0b, 0, 2, 0, 0x0a, 4, 0, 0, 0};
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(std::to_integer<uint8_t>(b[i]), expect[i]) << i;
  const auto r = read_routing_block(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (RoutingBlock{HostId{0x0001000b}, HostId{0x0002000a}, 4}));
}

TEST(RoutingBlock, RefusesZeroIdsAndNonZeroPadding) {
  std::array<std::byte, kRoutingBlockSize> b{};
  write_routing_block(RoutingBlock{HostId{0x0001000b}, HostId{0x0002000a}, 4}, b);
  for (size_t i : {9u, 10u, 11u}) {
    auto bad = b;
    bad[i] = std::byte{1};
    EXPECT_FALSE(read_routing_block(bad)) << i;
  }
  for (size_t i : {0u, 2u, 4u, 6u}) {  // each half of each ID zeroed
    auto bad = b;
    bad[i] = bad[i + 1] = std::byte{0};
    EXPECT_FALSE(read_routing_block(bad)) << i;
  }
}

TEST(RelayedParts, SplitsAtTheDocumentedOffsets) {
  std::vector<std::byte> d(kMinRelayedSize - 1);
  EXPECT_FALSE(split_relayed(d));
  d.resize(kMinRelayedSize + 100);
  const auto p = split_relayed(d);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->aad.data(), d.data());
  EXPECT_EQ(p->aad.size(), d.size() - kRoutingBlockSize - kTagSize);
  EXPECT_EQ(p->inner.data(), d.data() + kHeaderSize);
  EXPECT_EQ(p->inner.size(), p->aad.size() - kHeaderSize);
  EXPECT_EQ(p->routing.data(), d.data() + p->aad.size());
  EXPECT_EQ(p->tag.data() + kTagSize, d.data() + d.size());
  EXPECT_EQ(kRelayExtra, 36u);  // docs/protocol.md: 60 bytes on a relayed path
  EXPECT_EQ(kOverhead + kRelayExtra, 60u);
}

}  // namespace
}  // namespace cordon::wire
