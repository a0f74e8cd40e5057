// The protected-traffic filter (core/filter/): the flow parser, the compiled
// ruleset against a naive linear twin, and connection tracking step by step.
#include "core/filter/filter.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/common/filter_packets.hpp"

namespace cordon::filter {
namespace {

using testing::make_packet;
using testing::PacketSpec;
using testing::reversed;

IpAddress v4(const char* s) { return *IpAddress::parse(s); }

std::optional<Flow> flow_of(const PacketSpec& s) { return parse_flow(make_packet(s)); }

// ---- The flow parser -------------------------------------------------------

TEST(FilterFlow, ReadsPortsPastIpv4OptionsAndIpv6ExtensionHeaders) {
  PacketSpec s;
  s.ipv4_option_words = 10;
  auto f = flow_of(s);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->transport);
  EXPECT_EQ(f->tuple.source_port, 40000);
  EXPECT_EQ(f->tuple.destination_port, 443);
  EXPECT_EQ(f->tcp_flags, kSyn);

  PacketSpec v6;
  v6.source = *IpAddress::parse("fd00::1");
  v6.destination = *IpAddress::parse("fd00::2");
  v6.protocol = kUdp;
  v6.v6_extensions = {0, 60, 43};
  f = flow_of(v6);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->tuple.protocol, kUdp);
  EXPECT_EQ(f->tuple.destination_port, 443);

  v6.v6_extensions.assign(kMaxExtensionHeaders + 1, 60);
  EXPECT_FALSE(flow_of(v6)) << "a chain longer than the limit is not judged";
}

TEST(FilterFlow, FragmentsAndTinyFragments) {
  PacketSpec later;
  later.fragment_offset = 100;
  auto f = flow_of(later);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->transport);
  EXPECT_EQ(f->tuple.protocol, kTcp);

  PacketSpec rewrite = later;
  rewrite.fragment_offset = 1;
  EXPECT_FALSE(flow_of(rewrite)) << "RFC 1858: a TCP fragment at offset 8 only rewrites flags";

  PacketSpec tiny;
  tiny.more_fragments = true;
  tiny.transport_bytes = 8;
  EXPECT_FALSE(flow_of(tiny)) << "RFC 1858: a first fragment without the whole TCP header";

  PacketSpec v6 = later;
  v6.source = *IpAddress::parse("fd00::1");
  v6.destination = *IpAddress::parse("fd00::2");
  f = flow_of(v6);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->transport);
}

TEST(FilterFlow, IcmpEchoCarriesItsIdentifierAndAnErrorItsQuotedTuple) {
  PacketSpec echo;
  echo.protocol = kIcmp;
  echo.icmp_id = 0x1234;
  auto f = flow_of(echo);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->tuple.source_port, 0x1234);
  EXPECT_EQ(f->tuple.destination_port, 0x1234);
  EXPECT_FALSE(f->quoted);

  PacketSpec sent;  // the packet the error is about
  sent.protocol = kUdp;
  PacketSpec error;
  error.source = sent.destination;
  error.destination = sent.source;
  error.protocol = kIcmp;
  error.icmp_type = 3;
  error.icmp_code = 3;
  error.quoted = make_packet(sent);
  f = flow_of(error);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->quoted);
  EXPECT_EQ(f->quoted->source, sent.source);
  EXPECT_EQ(f->quoted->destination_port, 443);
}

TEST(FilterFlow, AQuotedHeaderChainRunningPastTheEndIsNotRead) {
  // Found by filter_packet_fuzz: an ICMPv6 error quoting an IPv6 packet
  // whose extension header claims 2 KiB more than the quote holds.
  PacketSpec sent;
  sent.source = *IpAddress::parse("fd00::1");
  sent.destination = *IpAddress::parse("fd00::2");
  sent.protocol = kUdp;
  sent.v6_extensions = {60};
  auto quoted = make_packet(sent);
  quoted[41] = std::byte{255};  // the destination options header's length
  PacketSpec error;
  error.source = sent.destination;
  error.destination = sent.source;
  error.protocol = kIcmpv6;
  error.icmp_type = 1;
  error.quoted = quoted;
  const auto f = flow_of(error);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->quoted);
}

// ---- The compiled ruleset against a naive twin ------------------------------

// Matching written out a second way: a bit-by-bit prefix test and a linear
// walk over every rule.
bool naive_in(const std::optional<Prefix>& p, const IpAddress& a) {
  if (!p) return true;
  if (p->address.family != a.family) return false;
  for (unsigned bit = 0; bit < p->length; ++bit) {
    const unsigned mask = 0x80u >> (bit % 8);
    if ((p->address.bytes[bit / 8] & mask) != (a.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

bool naive_port(const std::optional<PortRange>& r, const Flow& f, uint16_t port) {
  return !r || (f.transport && r->low <= port && port <= r->high);
}

Match naive_evaluate(const std::vector<Rule>& rules, Direction d, uint32_t peer, const Flow& f) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    const bool ok = (r.directions & static_cast<uint8_t>(d)) && (r.peers.empty() || std::count(r.peers.begin(), r.peers.end(), peer)) &&
                    (!r.protocol || *r.protocol == f.tuple.protocol) && naive_in(r.source, f.tuple.source) &&
                    naive_in(r.destination, f.tuple.destination) && naive_port(r.source_ports, f, f.tuple.source_port) &&
                    naive_port(r.destination_ports, f, f.tuple.destination_port) &&
                    (!r.icmp_type || (f.transport && f.icmp_type == *r.icmp_type));
    if (ok) return Match{r.action, static_cast<int32_t>(i)};
  }
  return Match{};
}

struct RandomPolicy {
  std::mt19937 rng;
  explicit RandomPolicy(unsigned seed) : rng(seed) {}
  unsigned pick(unsigned n) { return std::uniform_int_distribution<unsigned>(0, n - 1)(rng); }
  bool coin() { return pick(2) == 0; }

  IpAddress address() {
    if (pick(4) == 0) return *IpAddress::parse(pick(2) ? "fd00::1:5" : "fd00::2:9");
    return IpAddress::v4(0x0a000000u | pick(4) << 8 | pick(4));
  }
  std::optional<Prefix> prefix_or_none() {
    if (coin()) return std::nullopt;
    const IpAddress a = address();
    const uint8_t length = static_cast<uint8_t>(a.is_v4() ? 16 + 8 * pick(3) : 96 + 16 * pick(3));
    Prefix p{a, length};
    for (size_t bit = length; bit < a.size() * 8; ++bit) p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    return p;
  }
  uint8_t protocol() {
    static constexpr uint8_t kPool[] = {kTcp, kUdp, kIcmp, kIcmpv6, 47};
    return kPool[pick(5)];
  }
  std::optional<PortRange> ports() {
    if (coin()) return std::nullopt;
    const auto low = static_cast<uint16_t>(20 + pick(6));
    return PortRange{low, static_cast<uint16_t>(low + pick(3))};
  }

  Rule rule() {
    Rule r;
    r.action = coin() ? Action::kAllow : Action::kDrop;
    r.directions = static_cast<uint8_t>(1 + pick(3));
    if (coin()) r.peers = {static_cast<uint32_t>(1 + pick(3))};
    r.source = prefix_or_none();
    r.destination = prefix_or_none();
    if (pick(3) != 0) r.protocol = protocol();
    if (r.protocol == kTcp || r.protocol == kUdp) {
      r.source_ports = ports();
      r.destination_ports = ports();
    }
    if ((r.protocol == kIcmp || r.protocol == kIcmpv6) && coin()) r.icmp_type = static_cast<uint8_t>(pick(3) ? 8 : 0);
    return r;
  }

  Flow flow() {
    Flow f;
    f.tuple = Tuple{address(), address(), protocol(), static_cast<uint16_t>(20 + pick(9)), static_cast<uint16_t>(20 + pick(9))};
    f.transport = pick(8) != 0;
    f.icmp_type = static_cast<uint8_t>(pick(2) ? 8 : 0);
    return f;
  }
};

TEST(FilterRuleset, MatchesItsNaiveTwinOnRandomRulesAndPackets) {
  RandomPolicy random(20261206);
  size_t decided_by_rule = 0, total = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<Rule> rules;
    const unsigned n = random.pick(40);
    for (unsigned i = 0; i < n; ++i) rules.push_back(random.rule());
    const Ruleset compiled(rules, {}, 1, 1, nullptr);
    for (int p = 0; p < 200; ++p) {
      const Flow f = random.flow();
      const Direction d = random.coin() ? Direction::kIn : Direction::kOut;
      const uint32_t peer = 1 + random.pick(3);
      const Match want = naive_evaluate(rules, d, peer, f);
      const Match got = compiled.evaluate(d, peer, f);
      ASSERT_EQ(got.rule, want.rule) << "round " << round << " packet " << p;
      ASSERT_EQ(got.action, want.action);
      decided_by_rule += want.rule != kDefaultRule;
      ++total;
    }
  }
  // The random policies exercise the rules, not only the default.
  EXPECT_GT(decided_by_rule, total / 4);
  EXPECT_LT(decided_by_rule, total);
}

std::optional<std::vector<uint32_t>> by_id(std::string_view name) {
  if (auto id = HostId::parse(name)) return std::vector<uint32_t>{id->value};
  return std::nullopt;
}

std::vector<Rule> rules_of(std::initializer_list<const char*> texts) {
  std::vector<Rule> out;
  for (const char* t : texts) {
    auto r = parse_rule(t, by_id);
    EXPECT_TRUE(r.ok()) << t;
    if (r.ok()) out.push_back(r.value());
  }
  return out;
}

TEST(FilterRuleset, CountersFollowTheirRuleAcrossACompile) {
  const Ruleset first(rules_of({"drop in proto tcp dport 22", "allow in proto tcp dport 443"}), {}, 1, 2, nullptr);
  first.count(0, 0);
  first.count(1, 0);
  first.count(1, 1);
  EXPECT_EQ(first.hits(0), 2u);
  const Ruleset second(rules_of({"drop in proto udp", "allow in proto tcp dport 443", "drop in proto tcp dport 22"}), {}, 2,
                       2, &first);
  EXPECT_EQ(second.hits(0), 0u);
  EXPECT_EQ(second.hits(1), 1u);
  EXPECT_EQ(second.hits(2), 2u);
}

// ---- Connection tracking, step by step ---------------------------------------

constexpr uint32_t kPeer = 0x00010005;

// A client 10.77.0.5 behind peer kPeer; a LAN server 192.168.10.20 here.
PacketSpec client_to_server(uint8_t protocol, uint16_t port) {
  PacketSpec s;
  s.source = v4("10.77.0.5");
  s.destination = v4("192.168.10.20");
  s.protocol = protocol;
  s.destination_port = port;
  return s;
}

struct Step {
  const char* what;
  int64_t at_s;
  Direction direction;
  PacketSpec packet;
  bool pass;
  int32_t rule = kDefaultRule;  // of a drop
};

class FilterTrack : public ::testing::Test {
 protected:
  // Incoming TCP only to 443, all else from outside dropped; outgoing
  // traffic allowed by default.
  Ruleset rules{rules_of({"drop in proto tcp dport 22", "allow in proto tcp dport 443", "drop in"}), {}, 1, 1, nullptr};
  ConnTable table{1024, 42};

  void run(const std::vector<Step>& steps) {
    for (const Step& s : steps) {
      const auto v = judge(rules, table, 0, s.direction, kPeer, make_packet(s.packet), s.at_s * kNsPerSecond);
      EXPECT_EQ(v.pass, s.pass) << s.what;
      if (!s.pass && !v.pass) {
        EXPECT_EQ(v.reason, DropReason::kFiltered) << s.what;
        EXPECT_EQ(v.rule, s.rule) << s.what;
      }
    }
  }
};

TEST_F(FilterTrack, TcpConnectionsLiveByTheirState) {
  PacketSpec https = client_to_server(kTcp, 443);
  PacketSpec answer = reversed(https);
  answer.tcp_flags = kSyn | kAck;
  PacketSpec data = https;
  data.tcp_flags = kAck;
  PacketSpec ssh = client_to_server(kTcp, 22);
  PacketSpec reset = answer;
  reset.tcp_flags = kRst;
  PacketSpec later = https;
  later.source_port = 40001;
  run({
      {"a SYN to 443 is allowed and tracked", 0, Direction::kIn, https, true},
      {"the server's SYN-ACK passes as a reply", 1, Direction::kOut, answer, true},
      {"data keeps flowing", 2, Direction::kIn, data, true},
      {"a SYN to 22 is dropped by rule 0", 3, Direction::kIn, ssh, false, 0},
      {"an established connection lives 2 h 4 min idle", 2 + 7439, Direction::kIn, data, true},
      {"the server resets it", 7441 + 1, Direction::kOut, reset, true},
      {"10 s after a reset the connection is gone: the client's packet is new, allowed", 7441 + 12, Direction::kIn, data,
       true},
      {"a new connection no one answers lives 4 min", 8000, Direction::kIn, later, true},
      {"after 4 min its late answer is new, and outgoing is allowed", 8000 + 241, Direction::kOut, reversed(later), true},
  });
  EXPECT_EQ(rules.hits(0), 1u);
}

TEST_F(FilterTrack, UdpAndIcmpRepliesPassOnlyWhileTracked) {
  PacketSpec query = reversed(client_to_server(kUdp, 53));  // the server asks the client's resolver
  PacketSpec echo = reversed(client_to_server(kIcmp, 0));
  echo.icmp_type = 8;
  PacketSpec echo_reply = reversed(echo);
  echo_reply.icmp_type = 0;
  PacketSpec other_query = query;
  other_query.source_port = 5353;
  run({
      {"an outgoing query is allowed by default", 0, Direction::kOut, query, true},
      {"its answer passes though incoming UDP is dropped", 1, Direction::kIn, reversed(query), true},
      {"an answered UDP flow lives 5 min idle", 1 + 299, Direction::kIn, reversed(query), true},
      {"and is gone after", 300 + 301, Direction::kIn, reversed(query), false, 2},
      {"an unanswered query", 1000, Direction::kOut, other_query, true},
      {"is forgotten after 30 s", 1031, Direction::kIn, reversed(other_query), false, 2},
      {"an outgoing ping", 2000, Direction::kOut, echo, true},
      {"its reply passes", 2001, Direction::kIn, echo_reply, true},
      {"a reply 30 s later does not", 2032, Direction::kIn, echo_reply, false, 2},
  });
}

TEST_F(FilterTrack, AnIcmpErrorPassesWithTheConnectionItQuotes) {
  PacketSpec query = reversed(client_to_server(kUdp, 53));
  PacketSpec unreachable = client_to_server(kIcmp, 0);
  unreachable.icmp_type = 3;
  unreachable.icmp_code = 3;
  unreachable.quoted = make_packet(query);
  PacketSpec unrelated = unreachable;
  PacketSpec other = query;
  other.source_port = 9;
  unrelated.quoted = make_packet(other);
  run({
      {"an outgoing query", 0, Direction::kOut, query, true},
      {"port unreachable about it passes", 1, Direction::kIn, unreachable, true},
      {"port unreachable about nothing tracked is judged: dropped", 2, Direction::kIn, unrelated, false, 2},
  });
}

TEST_F(FilterTrack, LaterFragmentsAreJudgedWithoutPortsAndNeverTracked) {
  PacketSpec fragment = client_to_server(kTcp, 443);
  fragment.fragment_offset = 185;
  run({{"a later fragment matches no port rule, so the catch-all drops it", 0, Direction::kIn, fragment, false, 2}});
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(FilterTrack, ARecheckCutsForbiddenConnectionsAndKeepsTheRest) {
  PacketSpec https = client_to_server(kTcp, 443);
  PacketSpec mail = client_to_server(kTcp, 443);
  mail.destination = v4("192.168.10.25");
  run({{"https to .20", 0, Direction::kIn, https, true}, {"https to .25", 0, Direction::kIn, mail, true}});

  // The new rules forbid .20.
  Ruleset stricter(rules_of({"drop in to 192.168.10.20/32", "drop in proto tcp dport 22", "allow in proto tcp dport 443", "drop in"}),
                   {}, 2, 1, &rules);
  EXPECT_EQ(table.recheck(stricter, 5 * kNsPerSecond), 1u);
  const auto cut = judge(stricter, table, 0, Direction::kOut, kPeer, make_packet(reversed(https)), 6 * kNsPerSecond);
  EXPECT_FALSE(cut.pass) << "both directions of a cut connection stop";
  EXPECT_EQ(cut.rule, 0);
  EXPECT_TRUE(judge(stricter, table, 0, Direction::kOut, kPeer, make_packet(reversed(mail)), 6 * kNsPerSecond).pass);
  EXPECT_EQ(stricter.hits(0), 1u);

  // Rules that allow it again let it pass again.
  EXPECT_EQ(table.recheck(rules, 7 * kNsPerSecond), 0u);
  EXPECT_TRUE(judge(rules, table, 0, Direction::kIn, kPeer, make_packet(https), 8 * kNsPerSecond).pass);
}

TEST(FilterTable, AFullBucketRefusesANewConnectionUntilOneExpires) {
  const Ruleset rules(rules_of({"drop in proto tcp dport 22"}), {}, 1, 1, nullptr);
  ConnTable table(ConnTable::kWays, 7);  // one bucket
  ASSERT_EQ(table.bucket_count(), 1u);
  PacketSpec s = client_to_server(kUdp, 53);
  for (uint16_t i = 0; i < ConnTable::kWays; ++i) {
    s.source_port = static_cast<uint16_t>(1000 + i);
    EXPECT_TRUE(judge(rules, table, 0, Direction::kIn, kPeer, make_packet(s), 0).pass);
  }
  EXPECT_EQ(table.size(), ConnTable::kWays);
  s.source_port = 2000;
  const auto full = judge(rules, table, 0, Direction::kIn, kPeer, make_packet(s), kNsPerSecond);
  EXPECT_FALSE(full.pass);
  EXPECT_EQ(full.reason, DropReason::kConntrackFull);
  EXPECT_TRUE(judge(rules, table, 0, Direction::kIn, kPeer, make_packet(s), 31 * kNsPerSecond).pass);
  EXPECT_EQ(table.size(), 1u);
  table.sweep(40 * kNsPerSecond, 1);
  EXPECT_EQ(table.size(), 1u) << "the newest connection is still live";
  table.sweep(62 * kNsPerSecond, 1);
  EXPECT_EQ(table.size(), 0u);
}

TEST(FilterTable, NoRulesMeansNothingIsJudgedOrTracked) {
  const Ruleset none({}, {}, 1, 1, nullptr);
  ConnTable table(64, 1);
  std::vector<std::byte> garbage(3, std::byte{0x45});
  EXPECT_TRUE(judge(none, table, 0, Direction::kIn, kPeer, garbage, 0).pass);
  EXPECT_TRUE(judge(none, table, 0, Direction::kIn, kPeer, make_packet(client_to_server(kTcp, 22)), 0).pass);
  EXPECT_EQ(table.size(), 0u);
}

}  // namespace
}  // namespace cordon::filter
