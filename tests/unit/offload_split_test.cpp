// The TSO/USO splitter against a naive twin: each expected segment is built
// field by field from the flow's description (tests/common/offload_packets.hpp),
// never by patching the super-packet's bytes.
#include "core/offload/gso_split.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/common/offload_packets.hpp"

namespace cordon::offload {
namespace {

using test::Flow;
using Bytes = std::vector<uint8_t>;

std::span<const std::byte> bytes(const Bytes& b) { return std::as_bytes(std::span(b)); }

// A super-packet as the kernel hands it over: the transport checksum field
// holds the pseudo-header sum, and the virtio-net header says what to do.
struct Super {
  Flow flow;
  Bytes payload;
  uint16_t id = 0;
  uint32_t seq = 0;
  uint8_t flags = test::kTcpAck;
  VirtioNetHeader header;
  Bytes packet;
};

Super make_super(Flow flow, Bytes payload, uint16_t id, uint32_t seq, uint8_t flags, uint16_t gso_size) {
  Super s{.flow = std::move(flow), .payload = std::move(payload), .id = id, .seq = seq, .flags = flags};
  s.packet = test::build_packet(s.flow, s.payload, id, seq, flags, test::Checksum::kPartial);
  s.header = VirtioNetHeader{
      .flags = kNeedsChecksum,
      .gso_type = s.flow.udp ? GsoType::kUdpL4 : s.flow.v4 ? GsoType::kTcpV4 : GsoType::kTcpV6,
      .header_length = static_cast<uint16_t>(s.flow.headers()),
      .gso_size = gso_size,
      .checksum_start = static_cast<uint16_t>(s.flow.ip_header()),
      .checksum_offset = static_cast<uint16_t>(s.flow.udp ? 6 : 16)};
  return s;
}

// The twin: RFC 9293 / RFC 768 segmentation written out plainly.
std::vector<Bytes> twin_split(const Super& s, size_t mtu) {
  const size_t size = s.flow.udp ? s.header.gso_size : std::min<size_t>(s.header.gso_size, mtu - s.flow.headers());
  const size_t count = s.payload.empty() ? 1 : (s.payload.size() + size - 1) / size;
  std::vector<Bytes> out;
  for (size_t i = 0; i < count; ++i) {
    const size_t at = i * size;
    const size_t n = std::min(size, s.payload.size() - at);
    uint8_t flags = s.flags;
    if (i + 1 < count) flags &= ~(test::kTcpFin | test::kTcpPsh);
    if (i > 0) flags &= ~test::kTcpCwr;
    out.push_back(test::build_packet(s.flow, std::span(s.payload).subspan(at, n), static_cast<uint16_t>(s.id + i),
                                     static_cast<uint32_t>(s.seq + at), flags));
  }
  return out;
}

struct Split {
  std::vector<Bytes> segments;
  std::optional<SplitDrop> drop;
};

// Calls split() `chunk` segments at a time into buffers with `offset` bytes
// of headroom, and checks that segment_count agrees with what came out.
Split run_split(const VirtioNetHeader& h, const Bytes& packet, size_t mtu, size_t chunk = 64, size_t offset = 16) {
  Split r;
  const auto count = segment_count(h, bytes(packet), mtu);
  std::vector<Bytes> storage(chunk, Bytes(offset + std::max<size_t>(mtu, packet.size()) + 8, 0xee));
  std::vector<std::span<std::byte>> out;
  for (auto& b : storage) out.push_back(std::as_writable_bytes(std::span(b)));
  std::vector<size_t> sizes(chunk);
  for (size_t first = 0;;) {
    for (auto& b : storage) std::fill(b.begin(), b.end(), 0xee);
    const auto k = split(h, bytes(packet), mtu, first, out, sizes, offset);
    if (!k) {
      r.drop = k.error();
      EXPECT_FALSE(count.ok());
      if (!count.ok()) EXPECT_EQ(count.error(), k.error());
      return r;
    }
    for (size_t j = 0; j < *k; ++j) {
      EXPECT_EQ(storage[j][offset - 1], 0xee) << "wrote into the headroom";
      EXPECT_EQ(storage[j][offset + sizes[j]], 0xee) << "wrote past the segment";
      r.segments.emplace_back(storage[j].begin() + offset, storage[j].begin() + offset + sizes[j]);
    }
    if (*k == 0) break;
    first += *k;
  }
  EXPECT_TRUE(count.ok());
  if (count.ok()) EXPECT_EQ(*count, r.segments.size());
  return r;
}

// Properties that hold whatever the twin says: each segment fits the MTU,
// verifies, and the payloads concatenate to the original one.
void check_properties(const Super& s, const std::vector<Bytes>& segments, size_t mtu) {
  Bytes joined;
  for (const Bytes& seg : segments) {
    ASSERT_LE(seg.size(), mtu);
    const size_t l3 = s.flow.v4 ? (seg[0] & 0x0f) * 4u : 40u;
    if (s.flow.v4) EXPECT_EQ(test::naive_sum(std::span(seg).first(l3)), 0xffff) << "IPv4 header checksum";
    const size_t l4 = s.flow.udp ? 8u : (seg[l3 + 12] >> 4) * 4u;
    const auto transport = std::span(seg).subspan(l3);
    EXPECT_EQ(test::naive_sum(transport, test::naive_sum(test::pseudo_header(s.flow, transport.size()))), 0xffff)
        << "transport checksum";
    joined.insert(joined.end(), seg.begin() + l3 + l4, seg.end());
  }
  EXPECT_EQ(joined, s.payload);
}

Bytes random_bytes(std::mt19937& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// NOPs, timestamps (RFC 7323 section 3), SACK blocks (RFC 2018), MSS and
// window scale, padded with NOPs to a multiple of 4, at most 40 bytes.
Bytes random_tcp_options(std::mt19937& rng) {
  Bytes o;
  for (int n = rng() % 6; n > 0; --n) {
    Bytes item;
    switch (rng() % 5) {
      case 0: item = {1}; break;
      case 1: item = {8, 10}; break;
      case 2: item = {5, static_cast<uint8_t>(2 + 8 * (1 + rng() % 3))}; break;
      case 3: item = {2, 4}; break;
      default: item = {3, 3}; break;
    }
    if (item.size() > 1) {
      const Bytes body = random_bytes(rng, item[1] - 2);
      item.insert(item.end(), body.begin(), body.end());
    }
    if (o.size() + item.size() > 40) break;
    o.insert(o.end(), item.begin(), item.end());
  }
  while (o.size() % 4) o.push_back(1);
  return o;
}

Flow random_flow(std::mt19937& rng, bool v4, bool udp) {
  Flow f{.v4 = v4, .udp = udp};
  for (auto& b : f.source) b = static_cast<uint8_t>(rng());
  for (auto& b : f.destination) b = static_cast<uint8_t>(rng());
  f.tos = static_cast<uint8_t>(rng());
  f.flow_label = rng() & 0xfffff;
  f.fragment = rng() % 2 ? 0x4000 : 0;
  f.source_port = static_cast<uint16_t>(rng());
  f.ack = static_cast<uint32_t>(rng());
  f.window = static_cast<uint16_t>(rng());
  if (v4 && rng() % 4 == 0) f.ip_options = Bytes(4 * (1 + rng() % 10), 1);  // NOPs (RFC 791 section 3.1)
  if (!udp) f.tcp_options = random_tcp_options(rng);
  return f;
}

// Sequence numbers and identifications near their wrap-around half the time.
Super random_super(std::mt19937& rng, bool v4, bool udp, size_t mtu) {
  Flow f = random_flow(rng, v4, udp);
  const size_t room = mtu - f.headers();
  const size_t max_payload = 65535 - f.headers();
  const size_t payload = rng() % 4 == 0 ? rng() % (room + 1) : rng() % (max_payload + 1);
  // gso_size: large enough for kMaxSegments, sometimes above the MTU (TCP only).
  const size_t smallest = payload / kMaxSegments + 1;
  size_t gso = smallest + rng() % (udp ? room - std::min(room, smallest) + 1 : 9000);
  gso = std::clamp<size_t>(gso, 1, 65535);
  const bool wrap = rng() % 2;
  const auto id = static_cast<uint16_t>(wrap ? 65535 - rng() % 8 : rng());
  const auto seq = static_cast<uint32_t>(wrap ? 0xffffffffu - rng() % 70000 : rng());
  const uint8_t flags = static_cast<uint8_t>(test::kTcpAck | (rng() % 256 & (test::kTcpFin | test::kTcpPsh |
                                                                               test::kTcpCwr | test::kTcpEce)));
  return make_super(std::move(f), random_bytes(rng, payload), id, seq, udp ? 0 : flags, static_cast<uint16_t>(gso));
}

constexpr size_t kMtus[] = {1280, 1420, 1500, 9000};

TEST(OffloadSplit, RandomSuperPacketsMatchTheTwin) {
  std::mt19937 rng(20261205);
  for (int round = 0; round < 600; ++round) {
    const bool v4 = round % 2, udp = round % 3 == 0;
    const size_t mtu = kMtus[rng() % 4] - (rng() % 2 ? rng() % 200 : 0);
    const Super s = random_super(rng, v4, udp, mtu);
    SCOPED_TRACE(testing::Message() << "round " << round << " v4 " << v4 << " udp " << udp << " mtu " << mtu
                                    << " payload " << s.payload.size() << " gso " << s.header.gso_size);
    const Split got = run_split(s.header, s.packet, mtu, 1 + rng() % 70, rng() % 64 + 1);
    ASSERT_FALSE(got.drop) << to_string(*got.drop);
    const auto want = twin_split(s, mtu);
    ASSERT_EQ(got.segments.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got.segments[i], want[i]) << "segment " << i;
    check_properties(s, got.segments, mtu);
  }
}

TEST(OffloadSplit, FlagsAndSequenceAcrossTheWrap) {
  Flow f;
  const Super s = make_super(f, Bytes(3000, 7), 0xffff, 0xfffffc00,
                             test::kTcpAck | test::kTcpFin | test::kTcpPsh | test::kTcpCwr, 1000);
  const Split got = run_split(s.header, s.packet, 1500);
  ASSERT_EQ(got.segments.size(), 3u);
  const uint8_t flags[] = {test::kTcpAck | test::kTcpCwr, test::kTcpAck,
                           test::kTcpAck | test::kTcpFin | test::kTcpPsh};
  const uint32_t seqs[] = {0xfffffc00, 0xffffffe8, 0x3d0};
  const uint16_t ids[] = {0xffff, 0, 1};
  for (size_t i = 0; i < 3; ++i) {
    const Bytes& seg = got.segments[i];
    EXPECT_EQ(seg[33], flags[i]) << i;
    EXPECT_EQ(uint32_t{seg[24]} << 24 | uint32_t{seg[25]} << 16 | uint32_t{seg[26]} << 8 | seg[27], seqs[i]) << i;
    EXPECT_EQ(seg[4] << 8 | seg[5], ids[i]) << i;
  }
}

TEST(OffloadSplit, TcpIsCutAtTheMtuWhenGsoSizeIsLarger) {
  const Super s = make_super(Flow{.v4 = false}, Bytes(4000, 1), 0, 1, test::kTcpAck, 8000);
  const Split got = run_split(s.header, s.packet, 1280);
  ASSERT_EQ(got.segments.size(), 4u);  // 1220 payload bytes each (1280 - 40 - 20), 340 in the last
  EXPECT_EQ(got.segments[0].size(), 1280u);
  EXPECT_EQ(got.segments[3].size(), 60u + 340u);
  EXPECT_EQ(got.segments, twin_split(s, 1280));
}

TEST(OffloadSplit, PayloadThatFitsOneSegmentComesOutWhole) {
  for (bool udp : {false, true}) {
    const Super s = make_super(Flow{.udp = udp}, Bytes(100, 3), 9, 9, test::kTcpAck | test::kTcpPsh, 1400);
    const Split got = run_split(s.header, s.packet, 1420);
    ASSERT_EQ(got.segments.size(), 1u);
    EXPECT_EQ(got.segments[0], twin_split(s, 1420)[0]);
    const Super empty = make_super(Flow{.udp = udp}, {}, 9, 9, test::kTcpAck, 1400);
    EXPECT_EQ(run_split(empty.header, empty.packet, 1420).segments, twin_split(empty, 1420));
  }
}

TEST(OffloadSplit, UdpChecksumZeroIsSentAsAllOnes) {
  // Find a payload whose UDP checksum comes to 0, then split it as USO.
  Flow f{.udp = true};
  Bytes payload(2, 0);
  for (uint32_t v = 0;; ++v) {
    payload[0] = static_cast<uint8_t>(v >> 8), payload[1] = static_cast<uint8_t>(v);
    const Bytes p = test::build_packet(f, payload, 0, 0, 0);
    if (p[26] == 0xff && p[27] == 0xff) break;
  }
  const Super s = make_super(f, payload, 0, 0, 0, 100);
  const Split got = run_split(s.header, s.packet, 1420);
  ASSERT_EQ(got.segments.size(), 1u);
  EXPECT_EQ(got.segments[0][26], 0xff);
  EXPECT_EQ(got.segments[0][27], 0xff);
}

TEST(OffloadSplit, SingleWithNeedsChecksumIsCompleted) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const Flow f = random_flow(rng, round % 2, round % 3 == 0);
    const Bytes payload = random_bytes(rng, rng() % 1400);
    const Bytes partial = test::build_packet(f, payload, 1, 2, test::kTcpAck, test::Checksum::kPartial);
    Bytes want = test::build_packet(f, payload, 1, 2, test::kTcpAck);
    const size_t field = f.ip_header() + (f.udp ? 6 : 16);
    if (want[field] == 0 && want[field + 1] == 0) want[field] = want[field + 1] = 0xff;  // skb_checksum_help
    const VirtioNetHeader h{.flags = kNeedsChecksum,
                            .checksum_start = static_cast<uint16_t>(f.ip_header()),
                            .checksum_offset = static_cast<uint16_t>(f.udp ? 6 : 16)};
    const Split got = run_split(h, partial, 100);  // kNone ignores the MTU: the caller checks it
    ASSERT_EQ(got.segments.size(), 1u);
    EXPECT_EQ(got.segments[0], want) << round;
  }
}

TEST(OffloadSplit, SingleWithoutNeedsChecksumIsCopiedAsIs) {
  const Bytes anything = {0xde, 0xad, 0xbe, 0xef, 0x01};
  const Split got = run_split(VirtioNetHeader{}, anything, 1420);
  ASSERT_EQ(got.segments.size(), 1u);
  EXPECT_EQ(got.segments[0], anything);
}

TEST(OffloadSplit, FirstResumesWhereTheLastCallStopped) {
  std::mt19937 rng(99);
  const Super s = make_super(random_flow(rng, true, false), random_bytes(rng, 60000), 65500, 0xffff0000,
                             test::kTcpAck | test::kTcpPsh, 1380);
  const auto whole = run_split(s.header, s.packet, 1420, 1024).segments;
  for (size_t chunk : {1u, 2u, 3u, 7u, 45u}) EXPECT_EQ(run_split(s.header, s.packet, 1420, chunk).segments, whole);
  // Past the end: nothing, and no error.
  std::array<std::byte, 2000> buffer{};
  std::span<std::byte> out[] = {buffer};
  size_t sizes[1];
  const auto k = split(s.header, bytes(s.packet), 1420, whole.size(), out, sizes, 0);
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, 0u);
}

TEST(OffloadSplit, AnOutBufferTooSmallIsRefusedBeforeWriting) {
  const Super s = make_super(Flow{}, Bytes(3000, 5), 0, 0, test::kTcpAck, 1000);
  std::vector<std::byte> big(1100), small(1100);
  std::span<std::byte> out[] = {big, std::span(small).first(1059)};  // 20 + 1040 > 1059
  size_t sizes[2];
  const auto k = split(s.header, bytes(s.packet), 1420, 0, out, sizes, 20);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error(), SplitDrop::kOutTooSmall);
  EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](std::byte b) { return b == std::byte{0}; }));
  std::span<std::byte> none[] = {std::span(small).first(10)};
  EXPECT_EQ(split(s.header, bytes(s.packet), 1420, 0, none, sizes, 20).error(), SplitDrop::kOutTooSmall);
}

// Every drop reason, each from a packet that is otherwise fine.
struct DropCase {
  const char* what;
  SplitDrop drop;
  void (*spoil)(Super&, size_t& mtu);
};

const DropCase kDropCases[] = {
    {"version 5", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet[0] = 0x55; }},
    {"IHL 4", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet[0] = 0x44; }},
    {"IHL past the end", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet.resize(30), s.packet[0] = 0x4f; }},
    {"IPv4 header cut", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet.resize(19); }},
    {"empty", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet.clear(); }},
    {"total length below IHL", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet[2] = 0, s.packet[3] = 19; }},
    {"TCP data offset 4", SplitDrop::kNotIp, [](Super& s, size_t&) { s.packet[32] = 0x40; }},
    {"total length beyond the packet", SplitDrop::kTruncated, [](Super& s, size_t&) { s.packet.pop_back(); }},
    {"TCP header cut", SplitDrop::kTruncated,
     [](Super& s, size_t&) { s.packet.resize(30), s.packet[2] = 0, s.packet[3] = 30; }},
    {"TCP options beyond the packet", SplitDrop::kTruncated,
     [](Super& s, size_t&) { s.packet.resize(44), s.packet[2] = 0, s.packet[3] = 44, s.packet[32] = 0x70; }},
    {"header_length beyond the packet", SplitDrop::kTruncated,
     [](Super& s, size_t&) { s.header.header_length = static_cast<uint16_t>(s.packet.size() + 1); }},
    {"checksum_start off", SplitDrop::kBadChecksumFields, [](Super& s, size_t&) { s.header.checksum_start = 0; }},
    {"checksum_offset off", SplitDrop::kBadChecksumFields, [](Super& s, size_t&) { s.header.checksum_offset = 6; }},
    {"single: field past the end", SplitDrop::kBadChecksumFields,
     [](Super& s, size_t&) {
       s.header.gso_type = GsoType::kNone;
       s.header.checksum_start = static_cast<uint16_t>(s.packet.size() - 1);
       s.header.checksum_offset = 0;
     }},
    {"UFO", SplitDrop::kUnsupportedGso, [](Super& s, size_t&) { s.header.gso_type = GsoType::kUdp; }},
    {"TCPv6 on IPv4", SplitDrop::kUnsupportedGso, [](Super& s, size_t&) { s.header.gso_type = GsoType::kTcpV6; }},
    {"USO on TCP", SplitDrop::kUnsupportedGso, [](Super& s, size_t&) { s.header.gso_type = GsoType::kUdpL4; }},
    {"IPv4 fragment", SplitDrop::kUnsupportedGso, [](Super& s, size_t&) { s.packet[6] |= 0x20; }},
    {"IPv4 fragment offset", SplitDrop::kUnsupportedGso, [](Super& s, size_t&) { s.packet[7] = 1; }},
    {"gso_size 0", SplitDrop::kBadGsoSize, [](Super& s, size_t&) { s.header.gso_size = 0; }},
    {"no room for payload", SplitDrop::kBadGsoSize, [](Super&, size_t& mtu) { mtu = 40; }},
    {"gso_size 1", SplitDrop::kTooManySegments, [](Super& s, size_t&) { s.header.gso_size = 1; }},
};

TEST(OffloadSplit, EveryDropIsReachable) {
  std::array<bool, kSplitDropCount> seen{};
  seen[static_cast<size_t>(SplitDrop::kOutTooSmall)] = true;  // AnOutBufferTooSmallIsRefusedBeforeWriting
  for (const DropCase& c : kDropCases) {
    Super s = make_super(Flow{}, Bytes(3000, 1), 0, 0, test::kTcpAck, 1000);
    size_t mtu = 1420;
    ASSERT_FALSE(run_split(s.header, s.packet, mtu).drop) << c.what << ": the unspoiled packet";
    c.spoil(s, mtu);
    const Split got = run_split(s.header, s.packet, mtu);
    ASSERT_TRUE(got.drop) << c.what;
    EXPECT_EQ(*got.drop, c.drop) << c.what << ": " << to_string(*got.drop);
    seen[static_cast<size_t>(c.drop)] = true;
  }
  for (size_t i = 0; i < kSplitDropCount; ++i) EXPECT_TRUE(seen[i]) << to_string(static_cast<SplitDrop>(i));
}

TEST(OffloadSplit, Ipv6AndUdpDrops) {
  Super v6 = make_super(Flow{.v4 = false}, Bytes(3000, 1), 0, 0, test::kTcpAck, 1000);
  v6.packet[6] = 0;  // a hop-by-hop options header (RFC 8200 section 4.3)
  EXPECT_EQ(run_split(v6.header, v6.packet, 1420).drop, SplitDrop::kUnsupportedGso);
  v6.header.gso_type = GsoType::kTcpV4;
  v6.packet[6] = 6;
  EXPECT_EQ(run_split(v6.header, v6.packet, 1420).drop, SplitDrop::kUnsupportedGso);
  v6.packet.resize(39);
  EXPECT_EQ(run_split(v6.header, v6.packet, 1420).drop, SplitDrop::kNotIp);

  Super udp = make_super(Flow{.v4 = false, .udp = true}, Bytes(3000, 1), 0, 0, 0, 1373);
  EXPECT_EQ(run_split(udp.header, udp.packet, 1420).drop, SplitDrop::kBadGsoSize);  // 40 + 8 + 1373 > 1420
  udp.header.gso_size = 1372;
  EXPECT_EQ(run_split(udp.header, udp.packet, 1420).segments.size(), 3u);
  udp.header.gso_type = GsoType::kTcpV6;
  EXPECT_EQ(run_split(udp.header, udp.packet, 1420).drop, SplitDrop::kUnsupportedGso);
}

TEST(OffloadSplit, DropNamesAreSnakeCase) {
  EXPECT_STREQ(to_string(SplitDrop::kNotIp), "not_ip");
  EXPECT_STREQ(to_string(SplitDrop::kTruncated), "truncated");
  EXPECT_STREQ(to_string(SplitDrop::kBadChecksumFields), "bad_checksum_fields");
  EXPECT_STREQ(to_string(SplitDrop::kUnsupportedGso), "unsupported_gso");
  EXPECT_STREQ(to_string(SplitDrop::kBadGsoSize), "bad_gso_size");
  EXPECT_STREQ(to_string(SplitDrop::kTooManySegments), "too_many_segments");
  EXPECT_STREQ(to_string(SplitDrop::kOutTooSmall), "out_too_small");
}

}  // namespace
}  // namespace cordon::offload
