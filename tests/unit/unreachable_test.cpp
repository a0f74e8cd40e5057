// make_unreachable_reply: every field of the reset and the ICMP errors it
// builds, their checksums summed twice (with the offload helpers, and word
// by word without them), and the packets it must leave unanswered (RFC 1122
// section 3.2.2; RFC 4443 section 2.4 (e); RFC 9293 section 3.10.7.1).
#include "core/wire/unreachable.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/offload/checksum.hpp"
#include "core/wire/inner_packet.hpp"
#include "tests/common/filter_packets.hpp"
#include "tests/common/offload_packets.hpp"

namespace cordon::wire {
namespace {

using Bytes = std::vector<std::byte>;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58;
using test::kTcpAck, test::kTcpFin, test::kTcpRst, test::kTcpSyn;

template <class To, class From>
std::vector<To> convert(std::span<const From> v) {
  std::vector<To> out(v.size());
  if (!v.empty()) std::memcpy(out.data(), v.data(), v.size());
  return out;
}
uint16_t at16(ByteSpan p, size_t at) {
  return static_cast<uint16_t>(std::to_integer<int>(p[at]) << 8 | std::to_integer<int>(p[at + 1]));
}
uint32_t at32(ByteSpan p, size_t at) { return uint32_t{at16(p, at)} << 16 | at16(p, at + 2); }

test::Flow flow(bool v4, bool udp) {
  test::Flow f;  // 10.77.0.1 -> 10.77.0.2, ports 40000 -> 5201
  f.v4 = v4, f.udp = udp;
  if (!v4) f.source = {0xfd, 0, 0, 0x77, 15, 1}, f.destination = {0xfd, 0, 0, 0x88, 15, 2};
  return f;
}
Bytes segment(const test::Flow& f, uint8_t flags, uint32_t seq, size_t payload = 0) {
  return convert<std::byte, uint8_t>(test::build_packet(f, std::vector<uint8_t>(payload, 0x5a), 7, seq, flags));
}
Bytes icmp(bool v4, uint8_t type, std::vector<uint8_t> extensions = {}) {
  testing::PacketSpec s;
  if (!v4) s.source = *IpAddress::parse("fd00::1"), s.destination = *IpAddress::parse("fd00::2");
  s.protocol = v4 ? kIcmp : kIcmpv6;
  s.icmp_type = type;
  s.v6_extensions = std::move(extensions);
  return testing::make_packet(s);
}

struct Reply { UnreachableResult result; Bytes bytes; };
// Calls with `packet` copied to a buffer of its exact size, and an output
// of `out_size` bytes followed by a guard that must stay untouched.
Reply reply(ByteSpan packet, std::optional<IpAddress> icmp_source = std::nullopt,
            size_t out_size = kMaxUnreachableReply) {
  const Bytes in(packet.begin(), packet.end());
  Bytes out(out_size + 16, std::byte{0xee});
  const auto r = make_unreachable_reply(in, icmp_source, std::span(out).first(out_size));
  for (size_t i = out_size; i < out.size(); ++i) EXPECT_EQ(out[i], std::byte{0xee}) << "written past out at " << i;
  EXPECT_LE(r.length, out_size);
  EXPECT_EQ(r.kind == UnreachableReply::kNone, r.length == 0);
  out.resize(r.length);
  return {r, out};
}

// `field` of `data` holds its checksum, with the pseudo-header `pseudo`
// (empty for none): summed word by word to 0xffff, and computed again with
// the offload helpers.
void expect_checksum(ByteSpan data, size_t field, const std::vector<uint8_t>& pseudo, uint64_t offload_pseudo) {
  EXPECT_EQ(test::naive_sum(convert<uint8_t, std::byte>(data), test::naive_sum(pseudo)), 0xffff);
  Bytes zeroed(data.begin(), data.end());
  zeroed[field] = zeroed[field + 1] = std::byte{0};
  EXPECT_EQ(offload::checksum_finish(offload::checksum_add(zeroed, offload_pseudo)), at16(data, field));
}

// Checks the reply's IP header and the checksums of both layers; returns
// the transport part.
ByteSpan check_ip(const Bytes& r, uint8_t protocol, const IpAddress& from, const IpAddress& to) {
  const bool v4 = from.is_v4();
  const size_t header = v4 ? 20 : 40, addresses = v4 ? 12 : 8, n = from.size();
  EXPECT_GE(r.size(), header + 8);
  if (r.size() < header + 8) return {};
  const size_t len = r.size() - header;
  EXPECT_EQ(std::memcmp(r.data() + addresses, from.bytes.data(), n), 0);
  EXPECT_EQ(std::memcmp(r.data() + addresses + n, to.bytes.data(), n), 0);
  const auto ip = convert<uint8_t, std::byte>(ByteSpan(r).first(header));
  // The pseudo-header (RFC 9293 section 3.1; RFC 8200 section 8.1).
  std::vector<uint8_t> pseudo(ip.begin() + addresses, ip.begin() + addresses + 2 * n);
  if (v4) {
    EXPECT_EQ(at16(r, 0), 0x4500);  // version 4, IHL 5, TOS 0
    EXPECT_EQ(at16(r, 2), r.size());
    // Identification 0, DF with offset 0, TTL 64, protocol.
    const std::vector<uint8_t> fixed(ip.begin() + 4, ip.begin() + 10);
    EXPECT_EQ(fixed, (std::vector<uint8_t>{0, 0, 0x40, 0, 64, protocol}));
    expect_checksum(ByteSpan(r).first(20), 10, {}, 0);
    pseudo.insert(pseudo.end(), {0, protocol, uint8_t(len >> 8), uint8_t(len)});
  } else {
    EXPECT_EQ(at32(r, 0), 0x60000000u);  // version 6, class 0, flow label 0
    EXPECT_EQ(at16(r, 4), len);
    EXPECT_EQ(at16(r, 6), protocol << 8 | 64);  // next header, hop limit 64
    pseudo.insert(pseudo.end(), {0, 0, uint8_t(len >> 8), uint8_t(len), 0, 0, 0, protocol});
  }
  const ByteSpan transport = ByteSpan(r).subspan(header);
  if (protocol == kIcmp) {
    expect_checksum(transport, 2, {}, 0);  // RFC 792: no pseudo-header
  } else {
    const auto offload_pseudo = offload::pseudo_header_sum(ByteSpan(r).subspan(addresses, 2 * n), protocol, len);
    expect_checksum(transport, protocol == kTcp ? 16 : 2, pseudo, offload_pseudo);
  }
  return transport;
}

// The reset for a segment of `f`: every field of its TCP header.
void expect_reset(const Bytes& packet, const test::Flow& f, uint32_t seq, uint32_t ack, uint8_t flags) {
  const auto r = reply(packet, IpAddress::v4(0x0a0000fe));  // ignored by a reset
  ASSERT_EQ(r.result.kind, UnreachableReply::kTcpReset);
  ASSERT_EQ(r.bytes.size(), (f.v4 ? 20u : 40u) + 20u);
  const auto ip = parse_inner(packet);
  const ByteSpan tcp = check_ip(r.bytes, kTcp, ip->destination, ip->source);
  EXPECT_EQ(at32(tcp, 0), uint32_t{f.destination_port} << 16 | f.source_port);  // ports swapped
  EXPECT_EQ(at32(tcp, 4), seq);
  EXPECT_EQ(at32(tcp, 8), ack);
  EXPECT_EQ(std::to_integer<int>(tcp[12]), 0x50);  // 5 words, no options
  EXPECT_EQ(std::to_integer<int>(tcp[13]), flags);
  EXPECT_EQ(at16(tcp, 14), 0);  // window
  EXPECT_EQ(at16(tcp, 18), 0);  // urgent pointer
}

// The ICMP error for `packet`, from `from` (by default the packet's
// destination) to its source: type, code 0, unused 0 and the quote.
void expect_icmp(const Bytes& packet, size_t quote, std::optional<IpAddress> icmp_source = std::nullopt,
                 std::optional<IpAddress> from = std::nullopt) {
  const auto r = reply(packet, icmp_source);
  ASSERT_EQ(r.result.kind, UnreachableReply::kIcmp);
  const auto ip = parse_inner(packet);
  const IpAddress to = ip->source;
  const bool v4 = to.is_v4();
  ASSERT_EQ(r.bytes.size(), (v4 ? 28u : 48u) + quote);
  EXPECT_LE(r.bytes.size(), v4 ? 576u : 1280u);
  const ByteSpan m = check_ip(r.bytes, v4 ? kIcmp : kIcmpv6, from.value_or(ip->destination), to);
  EXPECT_EQ(std::to_integer<int>(m[0]), v4 ? 3 : 1);
  EXPECT_EQ(std::to_integer<int>(m[1]), 0);
  EXPECT_EQ(at32(m, 4), 0u);
  EXPECT_EQ(std::memcmp(m.data() + 8, packet.data(), quote), 0);
}

bool none(const Bytes& packet) { return reply(packet).result.kind == UnreachableReply::kNone; }

TEST(Unreachable, SynGetsResetAckingSeqPlusOne) {
  const auto f = flow(true, false);
  expect_reset(segment(f, kTcpSyn, 1000), f, 0, 1001, kTcpRst | kTcpAck);
}

TEST(Unreachable, SegmentWithAckGetsResetAtItsAck) {
  auto f = flow(true, false);
  f.ack = 0xdeadbeef;
  expect_reset(segment(f, kTcpAck, 5000, 100), f, 0xdeadbeef, 0, kTcpRst);
}

TEST(Unreachable, ResetCountsPayloadSynAndFin) {
  const auto f = flow(true, false);
  expect_reset(segment(f, kTcpFin, 0xfffffff0, 100), f, 0, 0xfffffff0 + 101, kTcpRst | kTcpAck);
  expect_reset(segment(f, kTcpSyn | kTcpFin, 7, 3), f, 0, 12, kTcpRst | kTcpAck);
  expect_reset(segment(f, 0, 7, 3), f, 0, 10, kTcpRst | kTcpAck);
}

TEST(Unreachable, ResetReadsTcpAfterIpv4OptionsAndIgnoresPadding) {
  auto f = flow(true, false);
  f.ip_options = {1, 1, 1, 0, 1, 1, 1, 0};
  auto p = segment(f, kTcpSyn, 41, 20);
  p.insert(p.end(), 30, std::byte{0x77});  // padding after the total length
  expect_reset(p, f, 0, 62, kTcpRst | kTcpAck);
}

TEST(Unreachable, Ipv6SegmentGetsReset) {
  auto f = flow(false, false);
  expect_reset(segment(f, kTcpSyn, 9, 2), f, 0, 12, kTcpRst | kTcpAck);
  f.ack = 77;
  expect_reset(segment(f, kTcpAck | kTcpFin, 9), f, 77, 0, kTcpRst);
}

TEST(Unreachable, UdpV4GetsNetUnreachableQuotingIt) {
  const auto f = flow(true, true);
  const auto p = segment(f, 0, 0, 12);
  expect_icmp(p, p.size());  // header + 8 + all 12 bytes
  const auto big = segment(f, 0, 0, 1400);
  expect_icmp(big, 576 - 28);  // RFC 1812 section 4.3.2.3
}

TEST(Unreachable, UdpV6GetsNoRouteQuotingUpTo1280) {
  const auto f = flow(false, true);
  const auto p = segment(f, 0, 0, 100);
  expect_icmp(p, p.size());
  const auto big = segment(f, 0, 0, 1400);
  expect_icmp(big, 1280 - 48);  // RFC 4443 section 2.4 (c)
}

TEST(Unreachable, IcmpComesFromIcmpSourceOfThePacketsFamily) {
  const auto gw4 = *IpAddress::parse("10.77.0.254"), gw6 = *IpAddress::parse("fd00:77::fe");
  for (const bool v4 : {true, false}) {
    const auto f = flow(v4, true);
    const auto p = segment(f, 0, 0, 4);
    expect_icmp(p, p.size(), v4 ? gw4 : gw6, v4 ? gw4 : gw6);
    expect_icmp(p, p.size(), v4 ? gw6 : gw4, parse_inner(p)->destination);  // the other family
    expect_icmp(p, p.size(), std::nullopt, parse_inner(p)->destination);
  }
}

TEST(Unreachable, InformationalIcmpIsAnsweredErrorsAreNot) {
  for (const uint8_t type : {8, 0, 13}) expect_icmp(icmp(true, type), icmp(true, type).size());
  for (const uint8_t type : {3, 4, 5, 11, 12}) EXPECT_TRUE(none(icmp(true, type))) << int(type);
  for (const uint8_t type : {128, 129}) expect_icmp(icmp(false, type), icmp(false, type).size());
  for (const uint8_t type : {1, 2, 3, 4, 127}) EXPECT_TRUE(none(icmp(false, type))) << int(type);
  EXPECT_TRUE(none(icmp(false, 1, {0, 60})));  // behind hop-by-hop and destination options
}

TEST(Unreachable, ResetIsNeverAnswered) {
  for (const bool v4 : {true, false}) {
    EXPECT_TRUE(none(segment(flow(v4, false), kTcpRst, 1)));
    EXPECT_TRUE(none(segment(flow(v4, false), kTcpRst | kTcpAck, 1)));
  }
}

TEST(Unreachable, LaterFragmentsAreNotAnswered) {
  auto f = flow(true, true);
  f.fragment = 0x2000 | 185;  // MF, offset 1480 bytes
  EXPECT_TRUE(none(segment(f, 0, 0, 16)));
  f.fragment = 0x2000;  // the first fragment is answered
  EXPECT_EQ(reply(segment(f, 0, 0, 16)).result.kind, UnreachableReply::kIcmp);
  f.udp = false;  // a first TCP fragment: a reset with ACK, else ICMP (its SEG.LEN is unknown)
  EXPECT_EQ(reply(segment(f, kTcpSyn, 0, 16)).result.kind, UnreachableReply::kIcmp);
  EXPECT_EQ(reply(segment(f, kTcpAck, 0, 16)).result.kind, UnreachableReply::kTcpReset);
  testing::PacketSpec s;
  s.source = *IpAddress::parse("fd00::1"), s.destination = *IpAddress::parse("fd00::2"), s.protocol = kUdp;
  s.fragment_offset = 3;
  EXPECT_TRUE(none(testing::make_packet(s)));
  s.fragment_offset = 0, s.more_fragments = true, s.protocol = kTcp;
  EXPECT_EQ(reply(testing::make_packet(s)).result.kind, UnreachableReply::kIcmp);  // TCP behind a header
}

// Multicast and broadcast destinations; sources that name no single host
// (unspecified, limited broadcast, multicast, loopback, class E).
TEST(Unreachable, NoReplyForAddressesThatForbidIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"10.0.0.1", "224.0.0.251"}, {"10.0.0.1", "239.1.2.3"}, {"10.0.0.1", "255.255.255.255"},
      {"fd00::1", "ff02::1"},      {"fd00::1", "ff0e::1"},    {"0.0.0.0", "10.0.0.2"},
      {"255.255.255.255", "10.0.0.2"}, {"224.0.0.1", "10.0.0.2"}, {"127.0.0.1", "10.0.0.2"},
      {"240.0.0.1", "10.0.0.2"},   {"::", "fd00::2"},         {"::1", "fd00::2"}, {"ff02::1", "fd00::2"}};
  for (const auto& [from, to] : cases) {
    testing::PacketSpec s;
    s.source = *IpAddress::parse(from), s.destination = *IpAddress::parse(to);
    for (const uint8_t protocol : {kTcp, kUdp}) {
      s.protocol = protocol;
      EXPECT_TRUE(none(testing::make_packet(s))) << from << " -> " << to;
    }
  }
}

TEST(Unreachable, MalformedPacketsAreNotAnswered) {
  const auto syn = segment(flow(true, false), kTcpSyn, 1);
  // Version 5, IHL 4, total length beyond the buffer, data offset 4 words, data offset beyond the packet.
  for (const auto& [at, value] : {std::pair{0, 0x55}, {0, 0x44}, {3, 41}, {32, 0x40}, {32, 0x60}}) {
    auto bad = syn;
    bad[at] = std::byte(value);
    EXPECT_TRUE(none(bad)) << at << ": " << value;
  }
  testing::PacketSpec s;
  for (const size_t cut : {0, 12, 19}) {  // TCP header cut, total length agrees
    s.transport_bytes = cut;
    EXPECT_TRUE(none(testing::make_packet(s))) << cut;
  }
  s.protocol = kIcmp, s.transport_bytes = 7;  // an ICMP header that cannot be judged
  EXPECT_TRUE(none(testing::make_packet(s)));
}

// Cut at every length, with the IP length left as it was or set to the cut:
// no read past the buffer (ASan), and every reply is well formed.
TEST(Unreachable, EveryTruncationIsSafe) {
  const std::vector<Bytes> packets = {segment(flow(true, false), kTcpSyn, 1, 9), segment(flow(true, true), 0, 0, 9),
                                      segment(flow(false, false), kTcpAck, 1, 9), segment(flow(false, true), 0, 0, 9),
                                      icmp(true, 8), icmp(false, 128, {0})};
  for (const Bytes& full : packets) {
    const auto ip = parse_inner(full);
    ASSERT_TRUE(ip);
    const bool v4 = ip->source.is_v4();
    for (size_t n = 0; n <= full.size(); ++n) {
      for (const bool fix_length : {false, true}) {
        Bytes p(full.begin(), full.begin() + n);
        const size_t field = v4 ? 2 : 4, value = v4 ? n : n - 40;
        if (fix_length && n >= (v4 ? 20u : 40u)) p[field] = std::byte{0}, p[field + 1] = std::byte(value);
        const auto r = reply(p);
        if (r.result.kind == UnreachableReply::kNone) continue;
        const bool reset = r.result.kind == UnreachableReply::kTcpReset;
        EXPECT_TRUE(!reset || full[v4 ? 9 : 6] == std::byte{kTcp});
        const ByteSpan m = check_ip(r.bytes, reset ? kTcp : v4 ? kIcmp : kIcmpv6, ip->destination, ip->source);
        if (!reset && m.size() > 8) EXPECT_EQ(std::memcmp(m.data() + 8, p.data(), m.size() - 8), 0);
      }
    }
  }
}

TEST(Unreachable, ShortOutputCutsTheQuoteOrGivesNone) {
  const auto f = flow(true, true);
  const auto p = segment(f, 0, 0, 72);  // 100 bytes
  EXPECT_EQ(reply(p, std::nullopt, 60).result.length, 60u);
  EXPECT_EQ(reply(p, std::nullopt, 55).result.kind, UnreachableReply::kNone);  // 20 + 8 + 20 + 8 do not fit
  const auto syn = segment(flow(true, false), kTcpSyn, 1);
  EXPECT_EQ(reply(syn, std::nullopt, 40).result.kind, UnreachableReply::kTcpReset);
  EXPECT_EQ(reply(syn, std::nullopt, 39).result.kind, UnreachableReply::kNone);
}

}  // namespace
}  // namespace cordon::wire
