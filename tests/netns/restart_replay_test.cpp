// Replays after a restart, on real kernels: datagrams A sent to B are
// captured on the underlay, B restarts (SIGTERM, then kill -9), and the
// captures are sent to B again from an address the test adds in A's
// namespace. B starts every peer's replay window at the receive floor it
// persisted (docs/protocol.md, "Nonce uniqueness", receive floors), so it
// delivers none of them, counts them, keeps A's endpoint and answers
// nothing to the spoofed address.
#include <signal.h>

#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using RestartReplayTest = NetnsTest;

constexpr const char* kSpoofed = "10.200.0.9";

// B's persisted receive floor for A: the `recv` line of its counter file.
std::string receive_record(CordonPair& pair) {
  const fs::path file = pair.spec_b().state_dir / (std::string(CordonPair::kIdB) + ".counter");
  std::string text;
  try {
    text = read_file(file);
  } catch (const std::exception&) {
    return "";
  }
  const std::string prefix = std::string("recv ") + CordonPair::kIdA + " ";
  const size_t at = text.find(prefix);
  return at == std::string::npos ? "" : text.substr(at, text.find('\n', at) - at);
}

// Pings B through the tunnel and returns A's datagrams to B as captured on
// the underlay; returns once B has persisted a receive floor that covers
// them (a floor written after the last of them was accepted).
std::vector<std::vector<uint8_t>> capture_and_persist(CordonPair& pair, const std::string& tag) {
  Capture cap(pair.a(), pair.underlay().iface, pair.file(tag + ".pcap"), pair.file("tcpdump-" + tag + ".log"),
              "udp");
  RunResult ping = run(&pair.a(), {"ping", "-n", "-c", "5", "-i", "0.2", CordonPair::kTunB4});
  cap.stop();
  EXPECT_TRUE(ping.ok()) << ping.describe();
  std::vector<std::vector<uint8_t>> payloads;
  for (const auto& p : read_pcap_udp(cap.pcap()))
    if (p.dst == pair.b_underlay() && p.dport == CordonPair::kPort) payloads.push_back(p.payload);

  // Every captured datagram was accepted before `before` was read, so any
  // record written after it covers them all; one more ping makes one.
  const std::string before = receive_record(pair);
  EXPECT_TRUE(run(&pair.a(), {"ping", "-n", "-c", "1", "-W", "2", CordonPair::kTunB4}).ok());
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    const std::string now = receive_record(pair);
    return !now.empty() && now != before;
  })) << "B persisted no new receive floor for A; record before: \"" << before << "\"";
  return payloads;
}

TEST_F(RestartReplayTest, CapturedDatagramsAreRefusedAfterARestart) {
  CordonPair pair({.tag = "rreplay"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  run_checked(&pair.a(), {"ip", "addr", "add", std::string(kSpoofed) + "/24", "dev", pair.underlay().iface});

  for (int how : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE(how == SIGTERM ? "after SIGTERM" : "after kill -9");
    const std::string tag = how == SIGTERM ? "term" : "kill";
    const auto payloads = capture_and_persist(pair, tag);
    ASSERT_GE(payloads.size(), 5u) << "captured too few datagrams to replay";

    if (how == SIGKILL) {
      pair.daemon_b().signal(SIGKILL);
      ASSERT_TRUE(pair.daemon_b().wait_exit(deadline_in(10s)).has_value());
    }
    pair.start_b();  // stops a running B with SIGTERM first
    // B does not know A's endpoint (it learns it), and it holds only key
    // generation 0 now: A's generation probe finds it within about 2 s
    // (docs/protocol.md, "Key generations").
    ASSERT_TRUE(wait_for_ping(pair.a(), CordonPair::kTunB4, deadline_in(20s)));

    // What B hands its kernel, and what B sends to the spoofed address.
    Capture inner(pair.b(), "cordon0", pair.file(tag + "-inner.pcap"), pair.file("tcpdump-" + tag + "-inner.log"),
                  "icmp");
    Capture answers(pair.b(), pair.underlay().iface, pair.file(tag + "-answers.pcap"),
                    pair.file("tcpdump-" + tag + "-answers.log"), std::string("udp and dst host ") + kSpoofed);
    const json before = pair.status_b();
    // Refused either by the replay window and the receive floor, or, for
    // datagrams sealed with a key generation after 0, before decryption: a
    // restarted host holds generation 0 only (docs/protocol.md, "Key
    // generations").
    const auto refused = [](const json& j) {
      return drop_count(j, "replay") + drop_count(j, "too_old") + drop_count(j, "unknown_generation");
    };
    const uint64_t base = refused(before);
    ASSERT_EQ(send_udp_from(pair.a(), pair.b_underlay(), CordonPair::kPort, payloads, kSpoofed), payloads.size());

    json after;
    const bool counted = poll_until(deadline_in(10s), [&] {
      after = pair.status_b();
      return refused(after) >= base + payloads.size();
    });
    inner.stop();
    answers.stop();
    EXPECT_TRUE(counted) << "replayed " << payloads.size() << " datagrams; after:\n" << after.dump(2);
    EXPECT_EQ(pcap_packet_count(inner.pcap()), 0u) << "B delivered replayed packets to cordon0";
    EXPECT_EQ(pcap_packet_count(answers.pcap()), 0u) << "B sent something to the spoofed address";
    const auto endpoint = peer_endpoint(after, CordonPair::kIdA);
    EXPECT_TRUE(!endpoint || endpoint->find(kSpoofed) == std::string::npos) << after.dump(2);
  }
  // The tunnel still works.
  EXPECT_TRUE(wait_for_ping(pair.a(), CordonPair::kTunB4, deadline_in(20s)));
}

}  // namespace
}  // namespace cordon::netns
