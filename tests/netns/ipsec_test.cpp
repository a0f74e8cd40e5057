// The IPsec gateway (docs/ipsec.md) against strongSwan 5.9 on the real
// kernel: site to site with pre-shared keys and certificates, either side
// initiating, through a NAT router, rekeys under traffic, dead peer
// detection, and a remote-access client that takes an address from
// Cordon's pool.
//
//   lan-a 10.1.0.10 -- gw-a (Cordon) 10.1.0.1 | 10.99.0.1 ==== 10.99.0.2 gw-b (strongSwan) 10.2.0.1 -- lan-b 10.2.0.10
//
// With a NAT router, gw-a's WAN is 192.168.99.2 behind a router that
// masquerades it to 10.99.0.1 with random ports.
//
// strongSwan here runs its user-space ESP (kernel-libipsec), which always
// encapsulates ESP in UDP 4500 (RFC 3948), so every test crosses Cordon's
// ESP-in-UDP path.
#include <csignal>
#include <string>
#include <tuple>
#include <vector>

#include "tests/netns/ipsec_sites.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;

using IpsecTest = NetnsTest;

// (a) strongSwan initiates with a pre-shared key and AES-GCM; traffic from
// its LAN reaches Cordon's LAN and the CHILD_SA counts it.
TEST_F(IpsecTest, PskStrongSwanInitiates) {
  Sites sites("ipsec-psk-ss");
  Tunnel t;
  sites.start(t);
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();

  ASSERT_TRUE(wait_for_ping(sites.lan_b(), kLanAHost, deadline_in(20s))) << sites.swan().list_sas();
  expect_five_pings(sites.lan_b(), kLanAHost);

  const json list = sites.cordon_list("sa");
  const json child = find_child(list);
  ASSERT_TRUE(child.is_object()) << list.dump(2);
  EXPECT_GT(sa_packets(child, "inbound"), 0u) << child.dump(2);
  EXPECT_GT(sa_packets(child, "outbound"), 0u) << child.dump(2);
  EXPECT_TRUE(child.value("udp_encapsulation", false)) << "strongSwan's libipsec always sends ESP in UDP";
}

// docs/ipsec.md, "How traffic flows": a packet larger than the IPsec
// device's MTU (1376 by default) with "don't fragment" set is answered by
// gw-a's kernel with ICMP "fragmentation needed" naming that MTU (RFC 1191
// section 4), so the sender's path MTU discovery allows for ESP; a packet
// that fits crosses the tunnel. IPv6: PathMtuOfTheIpsecDeviceIpv6 in
// ipsec_cordon_test.cpp (this fixture has IPv4 LANs only).
TEST_F(IpsecTest, PathMtuOfTheIpsecDevice) {
  Sites sites("ipsec-pmtu");
  sites.start(Tunnel{});
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();
  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(20s))) << sites.swan().list_sas();

  // 1400 bytes of payload: a 1428-byte packet.
  RunResult big = run(&sites.lan_a(), {"ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", "1400", kLanBHost}, 20s);
  EXPECT_FALSE(big.ok()) << big.describe();
  EXPECT_NE(big.out.find("Frag needed and DF set (mtu = 1376)"), std::string::npos) << big.describe();
  // 1328 bytes: fits the device.
  RunResult fits =
      run(&sites.lan_a(), {"ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1300", kLanBHost},
          20s);
  EXPECT_NE(fits.out.find("3 received"), std::string::npos) << fits.describe();
}

// With listen_address left at 0.0.0.0 (the default) and local_addrs set,
// as docs/ipsec.md advises, Cordon must still answer strongSwan.
TEST_F(IpsecTest, ResponderOnTheDefaultListenAddress) {
  Sites sites("ipsec-anyaddr");
  Tunnel t;
  t.set_listen_address = false;
  sites.start(t);
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();
  EXPECT_TRUE(wait_for_ping(sites.lan_b(), kLanAHost, deadline_in(20s))) << sites.swan().list_sas();
}

// (b) Cordon initiates at start with AES-CBC and HMAC-SHA-256 and MODP 2048.
TEST_F(IpsecTest, PskCordonInitiates) {
  Sites sites("ipsec-psk-co");
  Tunnel t;
  t.start_action = "start";
  t.ike_proposal = "aes256-sha256-modp2048";
  t.esp_proposal = "aes256-sha256";
  sites.start(t);

  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(30s))) << sites.swan().list_sas();
  expect_five_pings(sites.lan_a(), kLanBHost);
  const std::string sas = sites.swan().list_sas();
  EXPECT_NE(sas.find("AES_CBC-256/HMAC_SHA2_256_128"), std::string::npos) << sas;
}

// IKE and ESP (in UDP: strongSwan's kernel-libipsec always encapsulates)
// over IPv6 between the gateways, strongSwan initiating and Cordon
// answering on the WAN's IPv6 address.
TEST_F(IpsecTest, OverIpv6BetweenTheGateways) {
  Sites sites("ipsec-v6");
  Tunnel t;
  t.cordon.addr = kGwAWan6;
  t.swan.addr = kGwBWan6;
  sites.start(t);
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();
  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(30s))) << sites.swan().list_sas();
  expect_five_pings(sites.lan_a(), kLanBHost);
  const json child = find_child(sites.cordon_list("sa"));
  ASSERT_TRUE(child.is_object()) << sites.cordon_list("sa").dump(2);
  EXPECT_NE(child.value("remote", "").find(kGwBWan6), std::string::npos) << child.dump(2);
  const std::string sas = sites.swan().list_sas();
  EXPECT_NE(sas.find(kGwAWan6), std::string::npos) << sas;
}

// (c) Certificates, identities as the DNS names in their subjectAltName,
// for each key type and with AES-GCM and AES-CBC: on both sides, and with
// only strongSwan signing (Cordon uses the pre-shared key, RFC 7296 section
// 2.15 lets each side authenticate its own way).
struct CertCase {
  KeyType type;
  bool gcm;
  bool cordon_signs;
};

class IpsecCertTest : public NetnsTest, public ::testing::WithParamInterface<CertCase> {};

TEST_P(IpsecCertTest, CertificatesEcdsaAndRsa) {
  const CertCase c = GetParam();
  Sites sites(std::string("ipsec-") + std::string(key_type_name(c.type)) + (c.gcm ? "-gcm" : "-cbc") +
              (c.cordon_signs ? "-both" : "-peer"));
  const fs::path pki = sites.dir() / "pki";
  fs::create_directories(pki);
  const TestCa ca = make_test_ca(pki, "Cordon Test CA", c.type);
  const TestCert a = make_test_cert(pki, ca, "gw-a.example.org", c.type);
  const TestCert b = make_test_cert(pki, ca, "gw-b.example.org", c.type);

  Tunnel t;
  if (c.cordon_signs) t.cordon = {kGwAWan, "gw-a.example.org", "pubkey", a.cert, a.key};
  t.swan = {kGwBWan, "gw-b.example.org", "pubkey", b.cert, b.key};
  t.ca = ca.cert;
  if (!c.gcm) {
    t.ike_proposal = "aes256-sha256-modp2048";
    t.esp_proposal = "aes256-sha256";
  }
  sites.start(t);
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();
  ASSERT_TRUE(wait_for_ping(sites.lan_b(), kLanAHost, deadline_in(20s))) << sites.swan().list_sas();
  expect_five_pings(sites.lan_a(), kLanBHost);
  if (c.cordon_signs) {
    EXPECT_TRUE(file_contains(sites.swan().log_path(), "authentication of 'gw-a.example.org' with"))
        << "strongSwan verified Cordon's signature";
  }
}

INSTANTIATE_TEST_SUITE_P(Ipsec, IpsecCertTest,
                         ::testing::Values(CertCase{KeyType::kEcdsaP256, true, true},
                                           CertCase{KeyType::kEcdsaP256, false, true},
                                           CertCase{KeyType::kRsa2048, true, true},
                                           CertCase{KeyType::kRsa2048, false, true},
                                           CertCase{KeyType::kEcdsaP256, true, false},
                                           CertCase{KeyType::kEcdsaP256, false, false},
                                           CertCase{KeyType::kRsa2048, true, false},
                                           CertCase{KeyType::kRsa2048, false, false}),
                         [](const ::testing::TestParamInfo<CertCase>& info) {
                           const CertCase& c = info.param;
                           return std::string(c.type == KeyType::kEcdsaP256 ? "Ecdsa" : "Rsa") +
                                  (c.gcm ? "Gcm" : "Cbc") + (c.cordon_signs ? "BothSign" : "PeerSigns");
                         });

// (d) Cordon behind a router that masquerades with random ports initiates;
// NAT detection moves IKE to port 4500 and ESP into UDP.
TEST_F(IpsecTest, ThroughNatRouter) {
  Sites sites("ipsec-nat", /*nat=*/true);
  Tunnel t;
  t.cordon.addr = kGwAWanBehindNat;
  t.swan_knows_cordon_addr = false;
  t.start_action = "start";
  sites.start(t);

  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(30s))) << sites.swan().list_sas();
  expect_five_pings(sites.lan_b(), kLanAHost);

  const json list = sites.cordon_list("connection");
  ASSERT_TRUE(list.is_object() && list.contains("ike_sas") && !list["ike_sas"].empty()) << list.dump(2);
  const json& ike = list["ike_sas"][0];
  EXPECT_EQ(ike.value("remote", ""), std::string(kGwBWan) + ":4500") << list.dump(2);
  const json child = find_child(list);
  EXPECT_TRUE(child.value("udp_encapsulation", false)) << list.dump(2);
  EXPECT_TRUE(file_contains(sites.swan().log_path(), "remote host is behind NAT"))
      << "strongSwan's NAT detection (RFC 7296 section 2.23) saw no NAT";
}

// (e) A ping every 10 ms crosses the tunnel while CHILD_SAs are rekeyed with
// PFS (a DH group in esp_proposals on both sides) and, in the full plan, the
// IKE SA too: make-before-break (docs/ipsec-data-path.md) loses nothing.
struct RekeyPlan {
  bool cordon_initiates = false;  // who sets up the IKE SA
  bool swan_rekeys_child = false;  // swanctl --rekey --child
  bool swan_rekeys_ike = false;    // swanctl --rekey --ike
  bool cordon_rekeys = true;       // Cordon's child rekey_time = 2 s (else 0: never)
  bool cordon_rekeys_ike = false;  // Cordon's IKE rekey_time = 3 s
  int pings = 1200;                // at 10 ms: about 12 to 20 s here
};

void expect_rekeys_without_loss(const std::string& tag, const RekeyPlan& plan) {
  Sites sites(tag);
  Tunnel t;
  t.esp_proposal = "aes256gcm16-ecp256";
  t.child_rekey_time = plan.cordon_rekeys ? 2 : 0;
  if (plan.cordon_rekeys_ike) t.ike_rekey_time = 3;
  if (plan.cordon_initiates) t.start_action = "start";
  sites.start(t);
  if (!plan.cordon_initiates) {
    RunResult up = sites.swan().initiate_child("net");
    ASSERT_TRUE(up.ok()) << up.describe();
  }
  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(20s)));

  const size_t child_rekeys0 = sites.cordon_events("child_rekeyed");
  const size_t ike_rekeys0 = sites.cordon_events("ike_rekeyed");
  // -W 2: a reply later than that counts as lost.
  Process ping(&sites.lan_a(),
               {"ping", "-n", "-q", "-i", "0.01", "-c", std::to_string(plan.pings), "-W", "2", kLanBHost},
               sites.dir() / "ping.log", "ping");
  if (plan.swan_rekeys_child) {
    RunResult r = sites.swan().rekey_child("net");
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(poll_until(deadline_in(20s), [&] { return sites.cordon_events("child_rekeyed") > child_rekeys0; }))
        << "strongSwan's CHILD_SA rekey did not complete";
  }
  if (plan.swan_rekeys_ike) {
    RunResult r = sites.swan().rekey_ike("cordon");
    EXPECT_TRUE(r.ok()) << r.describe();
    EXPECT_TRUE(poll_until(deadline_in(20s), [&] { return sites.cordon_events("ike_rekeyed") > ike_rekeys0; }))
        << "the IKE SA rekey did not complete";
  }
  // Cordon's own rekeys: strongSwan answers its CREATE_CHILD_SA requests.
  if (plan.cordon_rekeys) EXPECT_TRUE(poll_until(deadline_in(20s), [&] {
    return file_contains(sites.swan().log_path(), "parsed CREATE_CHILD_SA request") &&
           sites.cordon_events("child_rekeyed") >= child_rekeys0 + 3;
  })) << "Cordon did not rekey by its rekey_time";

  if (plan.cordon_rekeys_ike) {
    EXPECT_TRUE(poll_until(deadline_in(30s), [&] { return sites.cordon_events("ike_rekeyed") >= ike_rekeys0 + 2; }))
        << "Cordon did not rekey its IKE SA by its rekey_time";
  }
  ASSERT_TRUE(ping.wait_exit(deadline_in(120s))) << "ping did not finish";
  const std::optional<PingStats> stats = parse_ping_stats(ping.log_text());
  ASSERT_TRUE(stats) << ping.log_text();
  const size_t child_rekeys = sites.cordon_events("child_rekeyed") - child_rekeys0;
  const size_t ike_rekeys = sites.cordon_events("ike_rekeyed") - ike_rekeys0;
  std::cout << "[ rekey    ] sent " << stats->transmitted << ", received " << stats->received << " across "
            << child_rekeys << " CHILD_SA rekeys and " << ike_rekeys << " IKE SA rekeys\n";
  ::testing::Test::RecordProperty("ping_sent", stats->transmitted);
  ::testing::Test::RecordProperty("ping_received", stats->received);
  EXPECT_EQ(stats->transmitted, plan.pings);
  EXPECT_EQ(stats->received, stats->transmitted)
      << ping.log_text() << "\n" << sites.cordon_list("sa").dump(2) << "\n" << sites.swan().list_sas();
}

// The full plan: strongSwan sets up the IKE SA and rekeys a CHILD_SA and the
// IKE SA; Cordon rekeys its CHILD_SA every 5 s.
TEST_F(IpsecTest, RekeyWithoutLoss) {
  // Both ends rekey: Cordon's rekey_time and strongSwan's `swanctl
  // --rekey`, so CREATE_CHILD_SA runs in both directions (RFC 7296 section
  // 2.17: the keys follow the exchange's initiator).
  expect_rekeys_without_loss("ipsec-rekey", {.swan_rekeys_child = true, .swan_rekeys_ike = true});
}

// Cordon sets up the IKE SA and is the only side that rekeys, with PFS,
// every 2 s under a 10 ms ping.
TEST_F(IpsecTest, RekeyByCordonWithoutLoss) {
  expect_rekeys_without_loss("ipsec-rekey-co", {.cordon_initiates = true, .pings = 800});
}

// Cordon also rekeys the IKE SA by its own rekey_time (every 3 s) between
// its CHILD_SA rekeys.
TEST_F(IpsecTest, IkeAndChildRekeysByCordonWithoutLoss) {
  expect_rekeys_without_loss("ipsec-rekey-coike",
                             {.cordon_initiates = true, .cordon_rekeys_ike = true, .pings = 1000});
}

// And strongSwan, which set up the IKE SA, rekeys a CHILD_SA with PFS and
// then the IKE SA; Cordon only answers.
TEST_F(IpsecTest, RekeyByStrongSwanWithoutLoss) {
  expect_rekeys_without_loss(
      "ipsec-rekey-ss", {.swan_rekeys_child = true, .swan_rekeys_ike = true, .cordon_rekeys = false, .pings = 600});
}

// A pre-shared key that differs is refused: the tunnel must not come up,
// and Cordon names the reason (docs/ipsec.md, "Log events").
TEST_F(IpsecTest, WrongPreSharedKeyIsRefused) {
  Sites sites("ipsec-badpsk");
  Tunnel t;
  t.swan_psk = std::string(kPsk).replace(0, 4, "0000");
  sites.start(t);
  RunResult up = sites.swan().initiate_child("net");
  EXPECT_FALSE(up.ok()) << up.describe();
  EXPECT_NE(up.out.find("AUTHENTICATION_FAILED"), std::string::npos) << up.describe();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return sites.cordon_events("authentication_failed") >= 1; }))
      << sites.cordon().log_text();
  EXPECT_FALSE(ping_once(sites.lan_b(), kLanAHost));
  EXPECT_FALSE(find_child(sites.cordon_list("sa")).is_object());
}

// (f) dpd_delay = 2, dpd_action = "restart", retransmit_timeout = 1,
// retransmit_tries = 3: when charon dies, Cordon's liveness checks go
// unanswered and its CHILD_SA goes; when charon comes back with the same
// config, Cordon brings the tunnel up again.
TEST_F(IpsecTest, DeadPeerDetection) {
  Sites sites("ipsec-dpd");
  Tunnel t;
  t.start_action = "start";
  t.dpd_delay = 2;
  t.dpd_action = "restart";
  t.retransmit_timeout = 1;
  t.retransmit_tries = 3;
  sites.start(t);
  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(30s))) << sites.swan().list_sas();

  sites.swan().kill();
  const auto killed = Clock::now();
  // RFC 7296 section 2.4: the peer is dead after the retransmissions of a
  // liveness check go unanswered (here 1 s, then x1.8 each time, three
  // sends: about 6 s after the 2 s of silence).
  ASSERT_TRUE(poll_until(deadline_in(60s), [&] {
    const json list = sites.cordon_list("connection");
    return list.is_object() && !find_child(list).is_object();
  }, 200ms)) << sites.cordon_list("connection").dump(2);
  const auto detected = Clock::now();

  sites.swan().start();
  ASSERT_TRUE(wait_for_ping(sites.lan_a(), kLanBHost, deadline_in(120s))) << sites.swan().list_sas();
  const auto restored = Clock::now();
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  std::cout << "[ dpd      ] CHILD_SA gone " << duration_cast<milliseconds>(detected - killed).count()
            << " ms after charon was killed; tunnel back "
            << duration_cast<milliseconds>(restored - detected).count() << " ms after charon restarted\n";
  EXPECT_GE(sites.cordon_events("peer_dead"), 1u);
}

// (g) strongSwan as a remote access client asks for a virtual IP; Cordon
// hands out the first address of its pool, and the client reaches lan-a
// from that address.
TEST_F(IpsecTest, RemoteAccessVirtualIp) {
  Sites sites("ipsec-rw");
  Tunnel t;
  t.swan.id = "client.example.org";
  t.cordon_knows_swan_addr = false;
  t.swan_virtual_ip = true;
  t.pool = "10.3.7.0/24";
  sites.start(t);
  RunResult up = sites.swan().initiate_child("net");
  ASSERT_TRUE(up.ok()) << up.describe();

  const std::string sas = sites.swan().list_sas();
  EXPECT_NE(sas.find("10.3.7.1"), std::string::npos) << sas;
  bool answered = poll_until(deadline_in(20s), [&] {
    return run(&sites.gw_b(), {"ping", "-n", "-q", "-c", "1", "-W", "1", "-I", "10.3.7.1", kLanAHost}, 10s).ok();
  });
  ASSERT_TRUE(answered) << sas << "\n" << run(&sites.gw_b(), {"ip", "addr"}).out;
  RunResult five =
      run(&sites.gw_b(), {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2", "-I", "10.3.7.1", kLanAHost}, 30s);
  EXPECT_NE(five.out.find("5 received"), std::string::npos) << five.describe();
}

}  // namespace
}  // namespace cordon::netns
