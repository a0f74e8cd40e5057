// Wire header codec and counter arithmetic.
#include "core/wire/header.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace cordon::wire {
namespace {

std::vector<std::byte> datagram_with(const Header& h, size_t body = 0) {
  std::vector<std::byte> d(kOverhead + body);
  write_header(h, std::span<std::byte, kHeaderSize>(d.data(), kHeaderSize));
  return d;
}

TEST(WireHeader, OverheadIs24Bytes) { EXPECT_EQ(kOverhead, 24u); }

TEST(WireHeader, RoundTripsEveryField) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    Header h;
    h.suite = static_cast<crypto::Suite>(rng() % 4);
    h.generation = static_cast<uint8_t>(rng() % kGenerationModulus);
    h.lane = static_cast<uint8_t>(rng() % kLanes);
    h.sender_host = static_cast<uint16_t>(rng());
    h.wire_counter = rng() & kWireCounterMask;
    const auto d = datagram_with(h, rng() % 3);
    const auto p = parse_header(d);
    ASSERT_TRUE(p.header);
    EXPECT_EQ(p.header->suite, h.suite);
    EXPECT_EQ(p.header->generation, h.generation);
    EXPECT_EQ(p.header->lane, h.lane);
    EXPECT_EQ(p.header->sender_host, h.sender_host);
    EXPECT_EQ(p.header->wire_counter, h.wire_counter);
  }
}

TEST(WireHeader, KnownBytes) {
  Header h;
  h.suite = crypto::Suite::kAes256Siv;  // 2
  h.generation = 1;
  h.sender_host = 0x000a;
  h.wire_counter = 0x0102030405;
  const auto d = datagram_with(h);
  const std::vector<uint8_t> expect = {0x24, 0x00, 0x0a, 0x01, 0x02, 0x03, 0x04, 0x05};
  for (size_t i = 0; i < expect.size(); ++i) EXPECT_EQ(std::to_integer<uint8_t>(d[i]), expect[i]) << i;
}

TEST(WireHeader, LaneIsTheLowTwoBitsOfTheFirstByte) {
  for (uint8_t lane = 0; lane < kLanes; ++lane) {
    Header h;
    h.generation = 3;
    h.lane = lane;
    h.sender_host = 0xffff;
    const auto d = datagram_with(h);
    EXPECT_EQ(std::to_integer<uint8_t>(d[0]), 0x0c | lane);
    const auto p = parse_header(d);
    ASSERT_TRUE(p.header);
    EXPECT_EQ(p.header->lane, lane);
    EXPECT_EQ(p.header->generation, 3);
    EXPECT_EQ(lane_of(d), lane);
  }
  EXPECT_EQ(lane_of({}), 0);
  EXPECT_EQ(lane_of_worker(0), 0);
  EXPECT_EQ(lane_of_worker(5), 1);
}

TEST(WireHeader, RejectsShortAndUnknownFormat) {
  std::vector<std::byte> d(kOverhead);
  EXPECT_EQ(parse_header(std::span(d).first(kOverhead - 1)).error, HeaderError::kTooShort);
  EXPECT_FALSE(parse_header(std::span(d).first(kOverhead - 1)).header);
  EXPECT_TRUE(parse_header(d).header);
  d[0] = std::byte{0x40};  // format 1: relayed
  ASSERT_TRUE(parse_header(d).header);
  EXPECT_EQ(parse_header(d).header->format, Format::kRelayed);
  for (uint8_t b0 : {uint8_t{0x80}, uint8_t{0xc0}}) {  // formats 2 and 3 are reserved
    d[0] = std::byte{b0};
    EXPECT_EQ(parse_header(d).error, HeaderError::kBadFormat);
  }
  EXPECT_EQ(parse_header({}).error, HeaderError::kTooShort);
}

TEST(PacketCounterWire, RebuildNearestToReference) {
  const uint64_t now = counter_units(int64_t{1'800'000'000} * kNsPerSecond);
  for (int64_t delta_s : {-30000, -600, -128, -1, 0, 1, 128, 600, 30000}) {
    const uint64_t sent = now + static_cast<uint64_t>(delta_s * static_cast<int64_t>(kCounterUnitsPerSecond)) + 12345;
    EXPECT_EQ(rebuild_counter(sent & kWireCounterMask, now), sent) << delta_s;
  }
}

TEST(PacketCounterWire, RebuildNearZeroAndTop) {
  EXPECT_EQ(rebuild_counter(5, 3), 5u);
  EXPECT_EQ(rebuild_counter(kWireCounterMask, 3), kWireCounterMask);  // cannot go below zero
  EXPECT_EQ(rebuild_counter(2, UINT64_MAX - 1) & kWireCounterMask, 2u);
}

TEST(PacketCounterWire, CounterUnits) {
  EXPECT_EQ(counter_units(0), 0u);
  EXPECT_EQ(counter_units(-5), 0u);
  EXPECT_EQ(counter_units(kNsPerSecond), kCounterUnitsPerSecond);
  EXPECT_EQ(counter_units(kNsPerSecond / 2), kCounterUnitsPerSecond / 2);
}

TEST(PacketCounterWire, NonceCarriesFullCounter) {
  const auto n = make_nonce(0x0102030405060708);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(n[i], std::byte{0});
  for (int i = 0; i < 8; ++i) EXPECT_EQ(std::to_integer<int>(n[4 + i]), i + 1);
}

}  // namespace
}  // namespace cordon::wire
