// Hitless rekeying on the real kernel (docs/protocol.md, "Rekey exchange"):
// a link rekeyed every second for about 60 s while a ping every 10 ms and
// an iperf3 TCP stream run. Checked on the same run:
//  - not one ping is lost, and the rekey counters show about 60 rounds;
//  - on the underlay capture, nothing in the header changes at a rekey but
//    the generation field: format, suite and sender stay, counters only rise;
//  - a tool holding the link key opens none of the datagrams sealed with a
//    generation after 0 (forward secrecy: docs/protocol.md, "Key
//    generations").
//  - size classes are on: every datagram's size is one of the classes.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <map>
#include <set>

#include "core/crypto/aead.hpp"
#include "core/keys/traffic_keys.hpp"
#include "core/wire/header.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class RekeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!netns_available()) GTEST_SKIP() << skip_reason();
  }
};

// The key file is one line of base64 (`cordon genkey`): 44 characters, 32 bytes.
crypto::SecretBytes read_link_key(const fs::path& key_file) {
  std::string text = read_file(key_file);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::vector<unsigned char> out(text.size());
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 32) throw std::runtime_error("cannot read the link key in " + key_file.string());
  crypto::SecretBytes key(std::as_bytes(std::span(out).first(32)));
  crypto::wipe(std::as_writable_bytes(std::span(out)));
  return key;
}

// Tries to open `datagram` with the traffic key the link key gives for
// generation `generation`, as an observer holding the link key would.
bool opens_with_link_key(const crypto::SecretBytes& link, const std::vector<uint8_t>& datagram, HostId sender,
                         HostId receiver, uint32_t generation, int64_t now_real_ns) {
  if (datagram.size() < wire::kOverhead) return false;
  const auto bytes = std::as_bytes(std::span(datagram));
  const auto parsed = wire::parse_header(bytes);
  if (!parsed.header) return false;
  const auto key = keys::derive_traffic_key(link, parsed.header->suite, generation, sender, receiver);
  auto aead = crypto::Aead::create(parsed.header->suite, key->view());
  const uint64_t counter = wire::rebuild_counter(parsed.header->wire_counter, wire::counter_units(now_real_ns));
  std::vector<std::byte> body(bytes.begin() + wire::kHeaderSize, bytes.end() - wire::kTagSize);
  std::array<std::byte, wire::kTagSize> tag{};
  std::copy(bytes.end() - wire::kTagSize, bytes.end(), tag.begin());
  return aead->open(wire::make_nonce(counter), bytes.first(wire::kHeaderSize), body, tag);
}

TEST_F(RekeyTest, RekeyingEverySecondLosesNoPingAndTheLinkKeyOpensNothingAfterGenerationZero) {
  CordonPair pair({.tag = "rekey", .rekey_period = 1, .size_classes = "128, 256, 512, 1024"});
  // The MTU's datagram is the last class: 1420 + 24.
  const std::set<size_t> classes{128, 256, 512, 1024, 1444};
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));

  Process server(&pair.b(), {"iperf3", "-s", "--one-off", "-B", CordonPair::kTunB4, "-p", "5201"},
                 pair.file("iperf3-server.log"), "iperf3 server");
  ASSERT_TRUE(wait_for_tcp_listener(pair.b(), 5201, deadline_in(10s))) << server.log_text();
  // Small datagrams only (pings, TCP acks, control messages), in full: the
  // bulk data would make the file gigabytes and adds nothing to the checks.
  Capture capture(pair.a(), pair.underlay().iface, pair.file("underlay.pcap"), pair.file("tcpdump.log"),
                  "udp and less 400");
  const auto started = std::chrono::steady_clock::now();
  const json before = pair.status_a();
  const uint64_t done_before = find_peer(before, CordonPair::kIdB)->at("rekey").value("done", uint64_t{0});

  // A bounded rate keeps the capture small; the point is traffic during every rekey.
  Process iperf(&pair.a(), {"iperf3", "-c", CordonPair::kTunB4, "-p", "5201", "-t", "60", "-b", "50M"},
                pair.file("iperf3-client.log"), "iperf3 client");
  // 4,000 pings 10 ms apart: about 60 s here (each ping costs ping a little
  // time of its own on top of the interval).
  RunResult ping = run(&pair.a(), {"ping", "-n", "-q", "-i", "0.01", "-c", "4000", "-W", "2", CordonPair::kTunB4},
                       120s);
  ASSERT_TRUE(iperf.wait_exit(deadline_in(30s)).has_value()) << "iperf3 client did not finish";
  capture.stop();
  const int64_t captured_at = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();

  const auto stats = parse_ping_stats(ping.out);
  ASSERT_TRUE(stats) << ping.describe();
  EXPECT_EQ(stats->transmitted, 4000) << ping.describe();
  EXPECT_EQ(stats->received, stats->transmitted) << "pings lost during rekeys: " << ping.describe();
  EXPECT_EQ(iperf.exit_code(), 0) << iperf.log_text();

  const json after = pair.status_a();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const json& rekey = find_peer(after, CordonPair::kIdB)->at("rekey");
  EXPECT_TRUE(rekey.value("key_master", false));
  const uint64_t rounds = rekey.value("done", uint64_t{0}) - done_before;
  // One round a second, the period counted from the end of the last one
  // (ping -i 0.01 takes longer than 60 s where sending a ping costs time).
  EXPECT_GE(static_cast<double>(rounds), 0.8 * elapsed - 2) << rekey.dump() << " in " << elapsed << " s";
  EXPECT_LE(static_cast<double>(rounds), elapsed + 2) << rekey.dump() << " in " << elapsed << " s";
  EXPECT_EQ(rekey.value("failed", uint64_t{1}), 0u) << rekey.dump();
  for (const json* s : {&after}) {
    EXPECT_EQ(drop_count(*s, "retired_generation"), 0u);
    EXPECT_EQ(drop_count(*s, "unknown_generation"), 0u);
    EXPECT_EQ(drop_count(*s, "channel_auth"), 0u);
  }
  const json b_status = pair.status_b();
  EXPECT_EQ(drop_count(b_status, "retired_generation"), 0u);
  EXPECT_EQ(drop_count(b_status, "unknown_generation"), 0u);

  // The capture: per direction, the header's fields other than the
  // generation stay as they were; the generation changes; counters rise.
  const HostId a = *HostId::parse(CordonPair::kIdA), b = *HostId::parse(CordonPair::kIdB);
  const crypto::SecretBytes link = read_link_key(pair.spec_a().peers[0].key_file);
  struct Direction {
    std::optional<wire::Header> first;
    std::set<uint8_t> generations;
    uint64_t datagrams = 0, later_generations = 0, opened_later = 0, changes = 0;
    uint8_t last_generation = 0;
  };
  std::map<bool, Direction> dirs;  // true: A -> B
  for (const UdpPacket& p : read_pcap_udp(capture.pcap())) {
    const bool a_to_b = p.dport == CordonPair::kPort && p.dst == pair.b_underlay();
    const bool b_to_a = p.sport == CordonPair::kPort && p.src == pair.b_underlay();
    if (!a_to_b && !b_to_a) continue;
    const auto h = wire::parse_header(std::as_bytes(std::span(p.payload)));
    ASSERT_TRUE(h.header) << "a datagram without a Cordon header";
    Direction& d = dirs[a_to_b];
    ++d.datagrams;
    EXPECT_TRUE(classes.count(p.payload.size())) << "a datagram of " << p.payload.size() << " bytes";
    if (!d.first) {
      d.first = *h.header;
      d.last_generation = h.header->generation;
    }
    EXPECT_EQ(h.header->format, d.first->format);
    EXPECT_EQ(h.header->suite, d.first->suite);
    EXPECT_EQ(h.header->sender_host, d.first->sender_host);
    if (h.header->generation != d.last_generation) ++d.changes;
    d.last_generation = h.header->generation;
    d.generations.insert(h.header->generation);
    if (h.header->generation == 0) continue;
    ++d.later_generations;
    // Generation 0's key and, for an observer who guesses, the link key
    // taken as if it were every later generation's input.
    const HostId from = a_to_b ? a : b, to = a_to_b ? b : a;
    for (uint32_t g = 0; g < 80; ++g) {
      if (opens_with_link_key(link, p.payload, from, to, g, captured_at)) ++d.opened_later;
    }
  }
  for (const auto& [a_to_b, d] : dirs) {
    SCOPED_TRACE(a_to_b ? "A -> B" : "B -> A");
    EXPECT_GE(d.datagrams, 3500u);
    for (uint8_t g : {1, 2, 3}) EXPECT_TRUE(d.generations.count(g)) << "header value " << int(g) << " never seen";
    EXPECT_GE(d.changes, 50u);
    EXPECT_GE(d.later_generations, d.datagrams * 9 / 10);
    EXPECT_EQ(d.opened_later, 0u) << "the link key opened traffic of a later generation";
  }
}

}  // namespace
}  // namespace cordon::netns
