// Control message codec (docs/protocol.md, "Control messages").
#include "core/wire/control.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <numeric>
#include <random>
#include <vector>

namespace cordon::wire {
namespace {

using Bytes = std::vector<std::byte>;

Bytes bytes_of(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

Endpoint v4_endpoint(uint32_t address, uint16_t port) { return Endpoint{IpAddress::v4(address), port}; }

Endpoint v6_endpoint(uint8_t last, uint16_t port) {
  std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return Endpoint{IpAddress::v6(b), port};
}

std::vector<Endpoint> max_local() {
  std::vector<Endpoint> local;
  for (uint8_t i = 1; i <= kMaxLocalEndpoints; ++i)
    local.push_back(i % 2 ? v4_endpoint(0x0a000000u + i, static_cast<uint16_t>(1000 + i)) : v6_endpoint(i, 65535));
  return local;
}

HostRecord record(uint32_t host, std::optional<Endpoint> pub = std::nullopt, std::vector<Endpoint> local = {}) {
  HostRecord r;
  r.host = HostId{host};
  r.state = HostState::kReachable;
  r.metric = 1;
  r.coordinator = HostId{0x00010001};
  r.age_s = 42;
  r.public_endpoint = pub;
  r.local = std::move(local);
  return r;
}

// The largest record: IPv6 public endpoint and eight IPv6 local endpoints.
HostRecord biggest_record(uint32_t host) {
  std::vector<Endpoint> local;
  for (uint8_t i = 1; i <= kMaxLocalEndpoints; ++i) local.push_back(v6_endpoint(i, 51820));
  return record(host, v6_endpoint(0xff, 443), local);
}

ParsedControl parse(const Bytes& b) { return parse_control(b); }

Bytes encode(const ControlMessage& m) {
  const auto e = encode_control(m);
  EXPECT_TRUE(e.has_value());
  return e.value_or(Bytes{});
}

// Every message type, with the edge cases of each.
std::vector<ControlMessage> samples() {
  HostRecord withdrawn = record(0xfffffffe, ep("[2001:db8::7]:1"), {ep("192.0.2.9:65535")});
  withdrawn.state = HostState::kUnreachable;
  withdrawn.metric = kMetricUnreachable;
  withdrawn.coordinator = HostId{0x00020003};
  withdrawn.age_s = 0xffffffff;
  return {
      StatusReport{0, {}},
      StatusReport{0xffffffff, max_local()},
      StatusReport{5, {ep("[2001:db8::1]:51820")}},
      StatusAck{1, ep("198.51.100.7:4500")},
      StatusAck{2, ep("[2001:db8::2]:4500")},
      StatusAck{3, std::nullopt},
      HostRecords{},
      HostRecords{{record(0x0001000b)}},
      HostRecords{{record(0x0001000b, ep("203.0.113.5:1024"), max_local()), withdrawn, biggest_record(0x0001000c)}},
      Probe{0},
      Probe{0xffffffffffffffff},
      ProbeAck{7, ep("192.0.2.1:1")},
      ProbeAck{8, ep("[::1]:2")},
      ProbeAck{9, std::nullopt},
      ReportRequest{},
      PathReport{},
      PathReport{{{HostId{0x00010003}, 1}, {HostId{0x00010004}, 2}, {HostId{0x00010005}, 3}, {HostId{0x00010006}, 0}}},
  };
}

TEST(ControlMessage, RoundTripsEveryType) {
  for (const ControlMessage& m : samples()) {
    SCOPED_TRACE(m.index());
    const Bytes b = encode(m);
    EXPECT_LE(b.size(), kMaxControlSize);
    const auto p = parse(b);
    ASSERT_TRUE(p.message);
    EXPECT_EQ(*p.message, m);
  }
}

TEST(ControlMessage, RandomMessagesRoundTrip) {
  std::mt19937_64 rng(11);
  auto endpoint = [&rng]() {
    if (rng() % 2) return v4_endpoint(static_cast<uint32_t>(rng()), static_cast<uint16_t>(1 + rng() % 65535));
    return v6_endpoint(static_cast<uint8_t>(rng()), static_cast<uint16_t>(1 + rng() % 65535));
  };
  auto maybe_endpoint = [&]() -> std::optional<Endpoint> {
    if (rng() % 3 == 0) return std::nullopt;
    return endpoint();
  };
  auto local = [&]() {
    std::vector<Endpoint> l(rng() % (kMaxLocalEndpoints + 1));
    for (auto& e : l) e = endpoint();
    return l;
  };
  auto host_id = [&rng]() { return HostId{static_cast<uint32_t>((1 + rng() % 0xffff) << 16 | (1 + rng() % 0xffff))}; };
  for (int i = 0; i < 2000; ++i) {
    ControlMessage m;
    switch (rng() % 6) {
      case 0:
        m = StatusReport{static_cast<uint32_t>(rng()), local()};
        break;
      case 1:
        m = StatusAck{static_cast<uint32_t>(rng()), maybe_endpoint()};
        break;
      case 2: {
        HostRecords h;
        h.records.resize(rng() % 6);
        for (auto& r : h.records) {
          r = HostRecord{host_id(),
                         rng() % 2 ? HostState::kReachable : HostState::kUnreachable,
                         static_cast<uint8_t>(rng() % (kMetricUnreachable + 1)),
                         host_id(),
                         static_cast<uint32_t>(rng()),
                         maybe_endpoint(),
                         local()};
        }
        m = h;
        break;
      }
      case 3:
        m = Probe{rng()};
        break;
      case 4:
        m = ProbeAck{rng(), maybe_endpoint()};
        break;
      default:
        m = ReportRequest{};
    }
    const auto b = encode_control(m);
    ASSERT_TRUE(b);
    const auto p = parse(*b);
    ASSERT_TRUE(p.message) << i;
    EXPECT_EQ(*p.message, m) << i;
  }
}

// Expected bytes written by hand from docs/protocol.md, one case per type.
TEST(ControlMessage, KnownBytes) {
  const Bytes v6_2001_db8_1 = bytes_of({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  struct Case {
    ControlMessage message;
    Bytes wire;
  };
  const std::vector<Case> cases = {
      {StatusReport{0x01020304, {ep("192.0.2.1:51820"), ep("[2001:db8::1]:443")}},
       cat(cat(bytes_of({0x01, 0x01, 0x02, 0x03, 0x04, 0x02, 0x04, 0xc0, 0x00, 0x02, 0x01, 0xca, 0x6c, 0x06}),
               v6_2001_db8_1),
           bytes_of({0x01, 0xbb}))},
      {StatusAck{7, ep("198.51.100.7:4500")},
       bytes_of({0x02, 0x00, 0x00, 0x00, 0x07, 0x04, 0xc6, 0x33, 0x64, 0x07, 0x11, 0x94})},
      {StatusAck{0x80000000, std::nullopt}, bytes_of({0x02, 0x80, 0x00, 0x00, 0x00, 0x00})},
      {HostRecords{{HostRecord{HostId{0x0001000b}, HostState::kUnreachable, 3, HostId{0x00010001}, 300,
                               ep("203.0.113.5:1024"), {ep("10.0.0.5:51820")}}}},
       bytes_of({0x03, 0x00, 0x01,                                    // type, count 1
                 0x00, 0x01, 0x00, 0x0b, 0x02, 0x03,                  // host id, state 2, metric 3
                 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c,      // coordinator, age 300
                 0x04, 0xcb, 0x00, 0x71, 0x05, 0x04, 0x00,            // public 203.0.113.5:1024
                 0x01, 0x04, 0x0a, 0x00, 0x00, 0x05, 0xca, 0x6c})},   // 1 local: 10.0.0.5:51820
      {HostRecords{}, bytes_of({0x03, 0x00, 0x00})},
      {Probe{0x0102030405060708}, bytes_of({0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08})},
      {ProbeAck{0xfffffffffffffffe, std::nullopt},
       bytes_of({0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x00})},
      {ProbeAck{1, ep("[2001:db8::1]:1")},
       cat(cat(bytes_of({0x05, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x06}), v6_2001_db8_1), bytes_of({0x00, 0x01}))},
      {ReportRequest{}, bytes_of({0x06})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message.index());
    EXPECT_EQ(encode(c.message), c.wire);
    const auto p = parse(c.wire);
    ASSERT_TRUE(p.message);
    EXPECT_EQ(*p.message, c.message);
  }
}

// A strict prefix of a padding-free encoding ends inside a field: the parser
// reads the same fields as for the whole message and runs out of bytes.
TEST(ControlMessage, EveryTruncationIsRefused) {
  for (const ControlMessage& m : samples()) {
    const Bytes b = encode(m);
    for (size_t n = 0; n < b.size(); ++n) {
      const auto p = parse_control(std::span(b).first(n));
      EXPECT_FALSE(p.message) << m.index() << " at " << n;
      EXPECT_EQ(p.error, ControlError::kTruncated) << m.index() << " at " << n;
    }
  }
}

TEST(ControlMessage, ZeroPaddingAcceptedUpToTheLimit) {
  for (const ControlMessage& m : samples()) {
    Bytes b = encode(m);
    b.resize(kMaxControlSize);
    const auto p = parse(b);
    ASSERT_TRUE(p.message) << m.index();
    EXPECT_EQ(*p.message, m);
    // Truncating into the padding still leaves a whole message.
    for (size_t n = encode(m).size(); n < b.size(); n += 97) EXPECT_TRUE(parse_control(std::span(b).first(n)).message);
  }
}

TEST(ControlMessage, NonZeroPaddingRefused) {
  for (const ControlMessage& m : samples()) {
    const size_t size = encode(m).size();
    for (size_t at : {size, size + 1, size + 50}) {
      Bytes b = encode(m);
      b.resize(size + 51);
      b[at] = std::byte{0x01};
      const auto p = parse(b);
      EXPECT_FALSE(p.message);
      EXPECT_EQ(p.error, ControlError::kBadPadding) << m.index() << " at " << at;
    }
  }
}

TEST(ControlMessage, OversizedRefusedEvenIfOnlyPadding) {
  Bytes b = bytes_of({0x06});
  b.resize(kMaxControlSize + 1);
  EXPECT_EQ(parse(b).error, ControlError::kOversized);
  EXPECT_FALSE(parse(b).message);
  b[kMaxControlSize] = std::byte{0x01};
  EXPECT_EQ(parse(b).error, ControlError::kOversized);
}

TEST(ControlMessage, EmptyIsTruncated) {
  EXPECT_FALSE(parse_control({}).message);
  EXPECT_EQ(parse_control({}).error, ControlError::kTruncated);
}

TEST(ControlMessage, UnknownTypesRefused) {
  for (int t = 0; t <= 0xff; ++t) {
    if ((t >= 0x01 && t <= 0x06) || t == 0x09 || t == 0x0a) continue;
    Bytes b = bytes_of({t});
    b.resize(32);
    const auto p = parse(b);
    EXPECT_FALSE(p.message) << t;
    EXPECT_EQ(p.error, ControlError::kUnknownType) << t;
  }
}

// 0x09: a courier message, carried for the courier (docs/couriers.md).
TEST(ControlMessage, CourierDataRoundTripsAndIsChecked) {
  const CourierData data{{std::byte{1}, std::byte{2}, std::byte{3}}};
  const auto encoded = encode_control(data);
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(*encoded, bytes_of({0x09, 0x00, 0x03, 1, 2, 3}));
  Bytes padded = *encoded;
  padded.resize(40);
  const auto p = parse(padded);
  ASSERT_TRUE(p.message);
  EXPECT_EQ(std::get<CourierData>(*p.message), data);
  EXPECT_EQ(parse(bytes_of({0x09, 0x00, 0x00})).error, ControlError::kBadField);  // empty
  EXPECT_EQ(parse(bytes_of({0x09, 0x00, 0x05, 1, 2})).error, ControlError::kTruncated);
  EXPECT_EQ(parse(bytes_of({0x09, 0x00, 0x01, 1, 7})).error, ControlError::kBadPadding);
  EXPECT_FALSE(encode_control(CourierData{}).has_value());
  EXPECT_FALSE(encode_control(CourierData{std::vector<std::byte>(kMaxCourierBody + 1)}).has_value());
}

// 0x0a: a client's paths to its peers (docs/protocol.md, "Path reports").
TEST(ControlMessage, PathReportIsChecked) {
  EXPECT_EQ(encode(PathReport{{{HostId{0x00010003}, 2}}}), bytes_of({0x0a, 0x00, 0x01, 0x00, 0x01, 0x00, 0x03, 0x02}));
  EXPECT_EQ(parse(bytes_of({0x0a, 0x00, 0x01, 0x00, 0x01, 0x00, 0x03, 0x04})).error, ControlError::kBadField);  // path 4
  EXPECT_EQ(parse(bytes_of({0x0a, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01})).error, ControlError::kBadField);  // host 0
  EXPECT_EQ(parse(bytes_of({0x0a, 0x00, 0x02, 0x00, 0x01, 0x00, 0x03, 0x01})).error, ControlError::kTruncated);
  Bytes many = bytes_of({0x0a, 0x00, static_cast<int>(kMaxPathEntries + 1)});
  EXPECT_EQ(parse(many).error, ControlError::kBadField);
  PathReport full;
  for (uint32_t i = 0; i < kMaxPathEntries; ++i) full.paths.emplace_back(HostId{0x00010001 + i}, 1);
  EXPECT_LE(encode(full).size(), kMaxControlSize);
  full.paths.emplace_back(HostId{0x00020001}, 1);
  EXPECT_FALSE(encode_control(full).has_value());
}

void expect_bad_field(const Bytes& b, const char* what) {
  const auto p = parse(b);
  EXPECT_FALSE(p.message) << what;
  EXPECT_EQ(p.error, ControlError::kBadField) << what;
}

TEST(ControlMessage, BadEndpointsRefused) {
  const Bytes ack = bytes_of({0x02, 0, 0, 0, 1});
  for (int family : {1, 2, 3, 5, 7, 0x40, 0xff}) expect_bad_field(cat(ack, bytes_of({family, 1, 2, 3, 4, 0, 1})), "family");
  expect_bad_field(cat(ack, bytes_of({4, 192, 0, 2, 1, 0, 0})), "v4 port 0");
  Bytes v6_port0 = cat(ack, bytes_of({6}));
  v6_port0.resize(v6_port0.size() + 18);
  expect_bad_field(v6_port0, "v6 port 0");
  // A probe ack's observed endpoint follows the same rules.
  expect_bad_field(bytes_of({0x05, 0, 0, 0, 0, 0, 0, 0, 1, 4, 192, 0, 2, 1, 0, 0}), "probe ack port 0");
  // Family 0 is "none" only where an endpoint is optional, not in a list.
  expect_bad_field(bytes_of({0x01, 0, 0, 0, 1, 1, 0}), "none in a status report");
  expect_bad_field(bytes_of({0x01, 0, 0, 0, 1, 2, 4, 10, 0, 0, 1, 0, 1, 9, 1, 2, 3, 4, 0, 1}), "second local family");
}

TEST(ControlMessage, TooManyLocalEndpointsRefused) {
  StatusReport r{1, max_local()};
  Bytes b = encode(r);
  b[5] = std::byte{kMaxLocalEndpoints + 1};
  b = cat(b, bytes_of({4, 10, 0, 0, 9, 0, 9}));
  expect_bad_field(b, "report count 9");
  // Refused at the count, before the endpoints it promises are looked for.
  expect_bad_field(bytes_of({0x01, 0, 0, 0, 1, 0xff}), "report count 255");

  Bytes h = encode(HostRecords{{record(0x0001000b)}});
  h.back() = std::byte{kMaxLocalEndpoints + 1};
  expect_bad_field(h, "record count 9");
}

// The offsets of the fields of encode(HostRecords{{record(...)}}).
constexpr size_t kHostAt = 3;
constexpr size_t kStateAt = 7;
constexpr size_t kMetricAt = 8;
constexpr size_t kCoordinatorAt = 9;

TEST(ControlMessage, BadRecordFieldsRefused) {
  const Bytes good = encode(HostRecords{{record(0x0001000b)}});
  ASSERT_TRUE(parse(good).message);
  auto with = [&good](size_t at, std::initializer_list<int> v) {
    Bytes b = good;
    size_t i = at;
    for (int x : v) b[i++] = static_cast<std::byte>(x);
    return b;
  };
  expect_bad_field(with(kHostAt, {0, 0, 0, 0}), "host 0");
  expect_bad_field(with(kHostAt, {0, 0, 0, 5}), "host network 0");
  expect_bad_field(with(kHostAt, {0, 1, 0, 0}), "host number 0");
  expect_bad_field(with(kCoordinatorAt, {0, 0, 0, 0}), "coordinator 0");
  expect_bad_field(with(kCoordinatorAt, {0, 0, 0, 1}), "coordinator network 0");
  expect_bad_field(with(kCoordinatorAt, {0, 1, 0, 0}), "coordinator host 0");
  for (int s : {0, 3, 0xff}) expect_bad_field(with(kStateAt, {s}), "state");
  for (int metric : {16, 0xff}) expect_bad_field(with(kMetricAt, {metric}), "metric");
  EXPECT_TRUE(parse(with(kMetricAt, {15})).message);
  EXPECT_TRUE(parse(with(kStateAt, {2})).message);
  // A bad field in a later record is found too.
  const Bytes two = encode(HostRecords{{record(0x0001000b), record(0x0001000c)}});
  Bytes bad = two;
  bad[kStateAt + encoded_size(record(0x0001000b))] = std::byte{9};
  expect_bad_field(bad, "second record state");
}

TEST(ControlMessage, RecordCountBeyondTheBytesIsTruncated) {
  Bytes b = encode(HostRecords{{record(0x0001000b)}});
  b[2] = std::byte{2};
  EXPECT_EQ(parse(b).error, ControlError::kTruncated);
  EXPECT_EQ(parse(bytes_of({0x03, 0xff, 0xff})).error, ControlError::kTruncated);
}

TEST(ControlEncode, RefusesWhatTheParserRefuses) {
  std::vector<Endpoint> nine = max_local();
  nine.push_back(ep("192.0.2.1:1"));
  EXPECT_FALSE(encode_control(StatusReport{1, nine}));
  EXPECT_FALSE(encode_control(StatusReport{1, {ep("192.0.2.1:1"), Endpoint{IpAddress::v4(1), 0}}}));
  Endpoint odd_family = ep("192.0.2.1:1");
  odd_family.address.family = static_cast<IpAddress::Family>(5);
  EXPECT_FALSE(encode_control(StatusAck{1, odd_family}));
  EXPECT_FALSE(encode_control(ProbeAck{1, Endpoint{IpAddress::v4(1), 0}}));
  // Bytes past an IPv4 address's fourth would be lost on the wire.
  Endpoint junk = ep("192.0.2.1:1");
  junk.address.bytes[4] = 1;
  EXPECT_FALSE(encode_control(StatusAck{1, junk}));

  auto refused = [](HostRecord r) { return !encode_control(HostRecords{{record(0x0001000b), std::move(r)}}); };
  EXPECT_TRUE(refused(record(0)));
  EXPECT_TRUE(refused(record(0x00000001)));
  EXPECT_TRUE(refused(record(0x00010000)));
  HostRecord r = record(0x0001000c);
  r.coordinator = HostId{0x00010000};
  EXPECT_TRUE(refused(r));
  r = record(0x0001000c);
  r.metric = kMetricUnreachable + 1;
  EXPECT_TRUE(refused(r));
  r = record(0x0001000c);
  r.state = static_cast<HostState>(3);
  EXPECT_TRUE(refused(r));
  EXPECT_TRUE(refused(record(0x0001000c, Endpoint{IpAddress::v4(1), 0})));
  EXPECT_TRUE(refused(record(0x0001000c, std::nullopt, nine)));
  EXPECT_FALSE(refused(record(0x0001000c, std::nullopt, max_local())));
}

TEST(ControlEncode, RefusesMoreThanFits) {
  std::vector<HostRecord> many;
  for (uint32_t i = 1; i <= 7; ++i) many.push_back(biggest_record(0x00010000 + i));
  EXPECT_FALSE(encode_control(HostRecords{many}));
  many.pop_back();
  EXPECT_TRUE(encode_control(HostRecords{many}));
}

TEST(ControlRecords, EncodedSize) {
  EXPECT_EQ(encoded_size(record(0x0001000b)), 16u);
  EXPECT_EQ(encoded_size(record(0x0001000b, ep("192.0.2.1:1"), {ep("192.0.2.2:2")})), 16u + 6 + 7);
  EXPECT_EQ(encoded_size(biggest_record(0x0001000b)), 14u + 19 + 1 + 8 * 19);
  for (const ControlMessage& m : samples()) {
    if (const auto* h = std::get_if<HostRecords>(&m)) {
      size_t sum = 3;
      for (const HostRecord& r : h->records) sum += encoded_size(r);
      EXPECT_EQ(encode(m).size(), sum);
    }
  }
}

// Six biggest records (1,116 bytes) and one of 81 bytes fill a message to
// exactly kMaxControlSize (3 + 1,116 + 81 = 1,200).
std::vector<HostRecord> exact_fill() {
  std::vector<HostRecord> v;
  for (uint32_t i = 1; i <= 6; ++i) v.push_back(biggest_record(0x00010000 + i));
  v.push_back(record(0x00010007, ep("192.0.2.7:7"),
                     {v6_endpoint(1, 1), v6_endpoint(2, 2), ep("10.0.0.1:1"), ep("10.0.0.2:2"), ep("10.0.0.3:3")}));
  return v;
}

TEST(ControlRecords, FitExactlyAtTheLimit) {
  std::vector<HostRecord> v = exact_fill();
  ASSERT_EQ(encoded_size(v.back()), 81u);
  v.push_back(record(0x00010008));  // the smallest record, which no longer fits
  ASSERT_EQ(records_that_fit(v, 0), 7u);
  const auto full = encode_control(HostRecords{{v.begin(), v.begin() + 7}});
  ASSERT_TRUE(full);
  EXPECT_EQ(full->size(), kMaxControlSize);
  EXPECT_FALSE(encode_control(HostRecords{v}));
  EXPECT_EQ(records_that_fit(v, 7), 1u);
  EXPECT_EQ(records_that_fit(v, 8), 0u);
  EXPECT_EQ(records_that_fit(v, 100), 0u);
  EXPECT_EQ(records_that_fit({}, 0), 0u);
}

// For random lists: the returned count encodes within the limit, one more
// record does not, and packing the whole list in turn covers it.
TEST(ControlRecords, FitPacksToTheLimit) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 200; ++round) {
    std::vector<HostRecord> v(1 + rng() % 40);
    for (size_t i = 0; i < v.size(); ++i) {
      std::vector<Endpoint> local(rng() % (kMaxLocalEndpoints + 1));
      for (auto& e : local) e = rng() % 2 ? ep("192.0.2.1:9") : v6_endpoint(1, 9);
      const uint64_t kind = rng() % 3;
      v[i] = record(static_cast<uint32_t>(0x00010001 + i),
                    kind == 0 ? std::nullopt : std::optional(kind == 1 ? ep("192.0.2.1:9") : v6_endpoint(2, 9)), local);
    }
    size_t first = 0;
    while (first < v.size()) {
      const size_t n = records_that_fit(v, first);
      ASSERT_GE(n, 1u);
      const auto fits = encode_control(HostRecords{{v.begin() + first, v.begin() + first + n}});
      ASSERT_TRUE(fits);
      EXPECT_LE(fits->size(), kMaxControlSize);
      if (first + n < v.size()) {
        EXPECT_FALSE(encode_control(HostRecords{{v.begin() + first, v.begin() + first + n + 1}}));
      }
      first += n;
    }
  }
}

}  // namespace
}  // namespace cordon::wire
