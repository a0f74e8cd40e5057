// The virtio-net header codec and the Internet checksum that the offloads
// share, the checksum against a sum taken 16 bits at a time.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/offload/checksum.hpp"
#include "core/offload/virtio_net.hpp"
#include "tests/common/offload_packets.hpp"

namespace cordon::offload {
namespace {

std::vector<std::byte> raw(std::initializer_list<uint8_t> b) {
  std::vector<std::byte> out;
  for (uint8_t x : b) out.push_back(std::byte{x});
  return out;
}

TEST(VirtioNet, FieldsAreLittleEndian) {
  const auto h = decode_virtio_net(raw({0x01, 0x01, 0x36, 0x00, 0x88, 0x05, 0x22, 0x00, 0x10, 0x00}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->flags, kNeedsChecksum);
  EXPECT_EQ(h->gso_type, GsoType::kTcpV4);
  EXPECT_FALSE(h->ecn);
  EXPECT_EQ(h->header_length, 0x36);
  EXPECT_EQ(h->gso_size, 0x588);  // 1416
  EXPECT_EQ(h->checksum_start, 0x22);
  EXPECT_EQ(h->checksum_offset, 0x10);
}

TEST(VirtioNet, RoundTrips) {
  std::mt19937 rng(3);
  const GsoType types[] = {GsoType::kNone, GsoType::kTcpV4, GsoType::kUdp, GsoType::kTcpV6, GsoType::kUdpL4};
  for (int i = 0; i < 500; ++i) {
    const VirtioNetHeader h{.flags = static_cast<uint8_t>(rng()),
                            .gso_type = types[rng() % 5],
                            .ecn = rng() % 2 == 0,
                            .header_length = static_cast<uint16_t>(rng()),
                            .gso_size = static_cast<uint16_t>(rng()),
                            .checksum_start = static_cast<uint16_t>(rng()),
                            .checksum_offset = static_cast<uint16_t>(rng())};
    std::vector<std::byte> bytes(kVirtioNetHeaderSize + 3, std::byte{0x5a});
    encode_virtio_net(h, bytes);
    EXPECT_EQ(bytes[kVirtioNetHeaderSize], std::byte{0x5a}) << "wrote past the header";
    EXPECT_EQ(decode_virtio_net(bytes), h);
    std::vector<std::byte> again(kVirtioNetHeaderSize);
    encode_virtio_net(*decode_virtio_net(bytes), again);
    EXPECT_TRUE(std::equal(again.begin(), again.end(), bytes.begin()));
  }
}

TEST(VirtioNet, EcnIsAFlagOnTopOfTheType) {
  const auto h = decode_virtio_net(raw({0, 0x84, 0, 0, 0, 0, 0, 0, 0, 0}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->gso_type, GsoType::kTcpV6);
  EXPECT_TRUE(h->ecn);
  std::vector<std::byte> out(kVirtioNetHeaderSize);
  encode_virtio_net(*h, out);
  EXPECT_EQ(out[1], std::byte{0x84});
}

TEST(VirtioNet, UnknownTypesAndShortInputAreRefused) {
  for (uint8_t type : {2, 6, 7, 0x7f, 0x82, 0xff})
    EXPECT_FALSE(decode_virtio_net(raw({0, type, 0, 0, 0, 0, 0, 0, 0, 0}))) << int{type};
  EXPECT_FALSE(decode_virtio_net(raw({0, 0, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_FALSE(decode_virtio_net({}));
}

std::vector<uint8_t> random_data(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

std::span<const std::byte> bytes(std::span<const uint8_t> b) { return std::as_bytes(b); }

TEST(Checksum, MatchesASixteenBitSum) {
  std::mt19937 rng(11);
  for (size_t n = 0; n < 300; ++n) {
    const auto data = random_data(rng, n);
    EXPECT_EQ(checksum_fold(checksum_add(bytes(data))), test::naive_sum(data)) << n;
  }
  // All ones: the sum stays 0xffff (ones' complement has no carry out).
  const std::vector<uint8_t> ones(65536, 0xff);
  EXPECT_EQ(checksum_fold(checksum_add(bytes(ones))), 0xffff);
  EXPECT_EQ(checksum_finish(checksum_add(bytes(ones))), 0);
}

TEST(Checksum, SumsInPieces) {
  std::mt19937 rng(12);
  for (int i = 0; i < 300; ++i) {
    const auto data = random_data(rng, rng() % 3000);
    // Pieces of even length (some empty), the last one whatever is left.
    uint64_t sum = 0;
    for (size_t at = 0; at < data.size();) {
      const size_t take = std::min(data.size() - at, 2 * size_t{rng() % 150});
      sum = checksum_add(bytes(std::span(data).subspan(at, take)), sum);
      at += take;
    }
    EXPECT_EQ(checksum_fold(sum), test::naive_sum(data));
  }
}

TEST(Checksum, PseudoHeaderMatchesItsBytes) {
  std::mt19937 rng(13);
  for (int i = 0; i < 200; ++i) {
    test::Flow f{.v4 = i % 2 == 0, .udp = i % 3 == 0};
    for (auto& b : f.source) b = static_cast<uint8_t>(rng());
    for (auto& b : f.destination) b = static_cast<uint8_t>(rng());
    const uint32_t length = rng() % 70000;
    std::vector<uint8_t> addresses(f.source.begin(), f.source.begin() + (f.v4 ? 4 : 16));
    addresses.insert(addresses.end(), f.destination.begin(), f.destination.begin() + (f.v4 ? 4 : 16));
    if (f.v4 && length > 0xffff) continue;  // IPv4 carries a 16-bit length
    EXPECT_EQ(checksum_fold(pseudo_header_sum(bytes(addresses), f.ip_protocol(), length)),
              test::naive_sum(test::pseudo_header(f, length)));
  }
}

TEST(Checksum, FinishedSumVerifiesAndIsTheComplement) {
  // RFC 1071 section 1: a packet with its checksum in place sums to 0xffff.
  std::mt19937 rng(14);
  auto data = random_data(rng, 64);
  data[10] = data[11] = 0;
  const uint16_t c = checksum_finish(checksum_add(bytes(data)));
  data[10] = static_cast<uint8_t>(c >> 8), data[11] = static_cast<uint8_t>(c);
  EXPECT_EQ(test::naive_sum(data), 0xffff);
  EXPECT_EQ(checksum_fold(0xffffffffffffffffull), 0xffff);
  EXPECT_EQ(checksum_fold(0x1'0000ull), 1);
}

}  // namespace
}  // namespace cordon::offload
