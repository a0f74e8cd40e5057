// The IPsec gateway (docs/ipsec.md) under attack and with bad credentials,
// against strongSwan on the real kernel (tests/netns/ipsec_sites.hpp):
// ESP with SPIs no SA has, a flood of half-open IKE SAs, and certificates
// that expired. The floods come from gw-b's namespace, made by
// tests/netns/ipsec_flood.py; an established tunnel must keep carrying a
// ping every 10 ms through them.
#include <memory>
#include <string>
#include <vector>

#include "tests/netns/ipsec_sites.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using IpsecAttackTest = NetnsTest;

constexpr int kFloodCount = 2000;
constexpr int kPings = 400;  // at 10 ms: the floods run while they do
constexpr size_t kCookieThreshold = 10;  // ipsec.cookie_threshold's default (docs/ipsec.md)

fs::path flood_script() { return fs::path(CORDON_SOURCE_DIR) / "tests" / "netns" / "ipsec_flood.py"; }

// How often the gateway dropped for `reason` (docs/ipsec.md, "Drop reasons").
uint64_t drops(const json& list, const char* reason) {
  if (!list.is_object() || !list.contains("drops")) return 0;
  return list["drops"].value(reason, uint64_t{0});
}

// ipsec_flood.py MODE from gw-b at gw-a; returns how many packets it sent.
int flood(Sites& sites, const std::string& mode, int count) {
  RunResult r = run(&sites.gw_b(), {"/usr/bin/python3", flood_script().string(), mode, "--to", kGwAWan, "--count",
                                    std::to_string(count)}, 60s);
  EXPECT_TRUE(r.ok()) << r.describe();
  const size_t at = r.out.find("sent ");
  return at == std::string::npos ? 0 : std::stoi(r.out.substr(at + 5));
}

// strongSwan sets up the tunnel with a pre-shared key; lan-a reaches lan-b.
void bring_up(Sites& sites) {
  sites.start(Tunnel{});
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();
  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(20s))) << sites.swan().list_sas();
}

// A ping every 10 ms from lan-a to lan-b, started now.
std::unique_ptr<Process> start_ping(Sites& sites) {
  return std::make_unique<Process>(
      &sites.lan_a(), std::vector<std::string>{"ping", "-n", "-q", "-i", "0.01", "-c", std::to_string(kPings), "-W",
                                               "2", kLanBHost},
      sites.dir() / "ping.log", "ping");
}

// The ping lost nothing significant: at most 1 in 100 (the test asserts
// no timing, only that the tunnel kept working).
void expect_ping_survived(Process& ping) {
  ASSERT_TRUE(ping.wait_exit(deadline_in(60s))) << "ping did not finish";
  const std::optional<PingStats> stats = parse_ping_stats(ping.log_text());
  ASSERT_TRUE(stats) << ping.log_text();
  std::cout << "[ flood    ] ping sent " << stats->transmitted << ", received " << stats->received << "\n";
  EXPECT_EQ(stats->transmitted, kPings);
  EXPECT_GE(stats->received * 100, stats->transmitted * 99) << ping.log_text();
}

struct Flooded {
  int sent = 0;         // packets the kernel took
  uint64_t before = 0;  // the drop counter before the flood
};

// Sets the tunnel up, then floods gw-a with ipsec_flood.py MODE while a
// 10 ms ping crosses the tunnel, and checks the ping and that the kernel
// took all `packets` of the flood.
Flooded flood_under_ping(Sites& sites, const std::string& mode, const char* reason, int packets) {
  Flooded f;
  bring_up(sites);
  if (::testing::Test::HasFatalFailure()) return f;
  f.before = drops(sites.cordon_list("sa"), reason);
  auto ping = start_ping(sites);
  f.sent = flood(sites, mode, kFloodCount);
  EXPECT_EQ(f.sent, packets);
  expect_ping_survived(*ping);
  return f;
}

// ESP in UDP on port 4500 and raw ESP, thousands of packets with random
// SPIs: each is dropped as esp_unknown_spi before any cryptography, and the
// tunnel's own traffic goes on.
TEST_F(IpsecAttackTest, UnknownSpiFlood) {
  Sites sites("ipsec-spiflood");
  const Flooded f = flood_under_ping(sites, "esp", "esp_unknown_spi", 2 * kFloodCount);
  if (HasFatalFailure()) return;
  const auto sent = static_cast<uint64_t>(f.sent);

  uint64_t counted = 0;
  poll_until(deadline_in(10s), [&] {
    counted = drops(sites.cordon_list("sa"), "esp_unknown_spi") - f.before;
    return counted >= sent;
  });
  std::cout << "[ flood    ] " << sent << " ESP packets with unknown SPIs sent, " << counted << " counted\n";
  EXPECT_GE(counted * 100, sent * 95) << sites.cordon_list("sa").dump(2);
  EXPECT_LE(counted, sent) << sites.cordon_list("sa").dump(2);
  EXPECT_TRUE(sites.cordon().running());
}

// Thousands of IKE_SA_INIT requests from random ports that never go on to
// IKE_AUTH: after cookie_threshold half-open IKE SAs the gateway answers
// with a cookie instead of a key exchange (RFC 7296 section 2.6), the
// tunnel keeps carrying traffic, and a fresh initiator that returns the
// cookie (strongSwan) still gets its IKE SA.
TEST_F(IpsecAttackTest, HalfOpenIkeSaFlood) {
  Sites sites("ipsec-ikeflood");
  const auto [sent, before] = flood_under_ping(sites, "ike-init", "ike_cookie_required", kFloodCount);
  if (HasFatalFailure()) return;

  const json list = sites.cordon_list("sa");
  const uint64_t cookies = drops(list, "ike_cookie_required") - before;
  std::cout << "[ flood    ] " << sent << " IKE_SA_INIT requests sent, " << cookies << " answered with a cookie, "
            << list.value("half_open", 0) << " half-open IKE SAs\n";
  EXPECT_GE(list.value("half_open", size_t{0}), kCookieThreshold) << list.dump(2);
  EXPECT_GE(cookies * 100, (static_cast<uint64_t>(sent) - kCookieThreshold) * 95) << list.dump(2);
  EXPECT_LE(cookies, static_cast<uint64_t>(sent)) << list.dump(2);

  // The half-open IKE SAs last 30 s: strongSwan starts over within them.
  RunResult down = sites.swan().swanctl({"--terminate", "--ike", "cordon", "--timeout", "10"});
  ASSERT_TRUE(down.ok()) << down.describe();
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();
  EXPECT_TRUE(file_contains(sites.swan().log_path(), "N(COOKIE)")) << "strongSwan was not asked for a cookie";
  EXPECT_GT(drops(sites.cordon_list("sa"), "ike_cookie_required"), before + cookies);
  EXPECT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(20s))) << sites.swan().list_sas();
}

// Certificates from one CA; the one of `expired` ("a" for Cordon, "b" for
// strongSwan) was valid for January 2020 only.
Tunnel expired_cert_tunnel(Sites& sites, char expired) {
  const fs::path pki = sites.dir() / "pki";
  fs::create_directories(pki);
  const TestCa ca = make_test_ca(pki, "Cordon Test CA", KeyType::kEcdsaP256);
  const Validity january_2020{"20200101000000Z", "20200201000000Z"};
  const TestCert a = make_test_cert(pki, ca, "gw-a.example.org", KeyType::kEcdsaP256,
                                    expired == 'a' ? std::optional(january_2020) : std::nullopt);
  const TestCert b = make_test_cert(pki, ca, "gw-b.example.org", KeyType::kEcdsaP256,
                                    expired == 'b' ? std::optional(january_2020) : std::nullopt);
  Tunnel t;
  t.cordon = {kGwAWan, "gw-a.example.org", "pubkey", a.cert, a.key};
  t.swan = {kGwBWan, "gw-b.example.org", "pubkey", b.cert, b.key};
  t.ca = ca.cert;
  return t;
}

// The line of a log event in Cordon's log that holds `needle`, or "".
std::string event_line(Sites& sites, std::string_view event, std::string_view needle) {
  const std::string text = sites.cordon().log_text();
  const std::string head = "ipsec " + std::string(event) + " ";
  for (size_t at = text.find(head); at != std::string::npos; at = text.find(head, at + 1)) {
    const std::string line = text.substr(at, text.find('\n', at) - at);
    if (line.find(needle) != std::string::npos) return line;
  }
  return "";
}

void expect_no_tunnel(Sites& sites) {
  EXPECT_FALSE(find_child(sites.cordon_list("sa")).is_object()) << sites.cordon_list("sa").dump(2);
  EXPECT_FALSE(ping_once(sites.lan_b(), kLanAHost));
}

// strongSwan presents a certificate that expired: Cordon refuses with
// AUTHENTICATION_FAILED, its log names the peer and the reason, and no
// CHILD_SA is made.
TEST_F(IpsecAttackTest, PeerCertificateExpired) {
  Sites sites("ipsec-exp-peer");
  sites.start(expired_cert_tunnel(sites, 'b'));
  RunResult up = sites.swan().initiate_child("net");
  EXPECT_FALSE(up.ok()) << up.describe();
  EXPECT_NE(up.out.find("AUTHENTICATION_FAILED"), std::string::npos) << up.describe();
  std::string line;
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    line = event_line(sites, "authentication_failed", "gw-b.example.org");
    return !line.empty();
  })) << sites.cordon().log_text();
  std::cout << "[ cert     ] " << line << "\n";
  EXPECT_NE(line.find("expired"), std::string::npos) << line;
  expect_no_tunnel(sites);
}

// Cordon's own certificate expired: strongSwan refuses it, Cordon initiating.
TEST_F(IpsecAttackTest, OwnCertificateExpired) {
  Sites sites("ipsec-exp-own");
  Tunnel t = expired_cert_tunnel(sites, 'a');
  t.start_action = "start";
  sites.start(t);
  EXPECT_TRUE(poll_until(deadline_in(20s), [&] { return sites.cordon_events("authentication_failed") >= 1; }))
      << sites.cordon().log_text();
  // charon's words for a certificate outside its validity window.
  EXPECT_TRUE(file_contains(sites.swan().log_path(), "subject certificate invalid (valid from Jan 01 00:00:00 2020"))
      << sites.swan().log_text();
  expect_no_tunnel(sites);
  EXPECT_EQ(sites.swan().list_sas().find("INSTALLED"), std::string::npos) << sites.swan().list_sas();
}

}  // namespace
}  // namespace cordon::netns
