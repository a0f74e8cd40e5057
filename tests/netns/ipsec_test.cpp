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
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/netns/strongswan.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;

constexpr const char* kLanAHost = "10.1.0.10";
constexpr const char* kLanBHost = "10.2.0.10";
constexpr const char* kGwAWan = "10.99.0.1";
constexpr const char* kGwAWanBehindNat = "192.168.99.2";
constexpr const char* kGwBWan = "10.99.0.2";
constexpr const char* kCordonIpsecIface = "cordon-ipsec0";
constexpr const char* kPsk = "3f1c9a0d5b7e24c68e0a1f3b5d7c9e1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e";

// ---------------------------------------------------------------------------
// One side's connection settings, rendered as Cordon's [ipsec] TOML and as
// strongSwan's swanctl.conf.

struct Side {
  std::string addr;  // empty: %any (answer only)
  std::string id;
  std::string auth = "psk";
  fs::path cert, key;  // pubkey
};

struct Tunnel {
  Side cordon{kGwAWan, "gw-a.example.org", "psk", {}, {}};
  Side swan{kGwBWan, "gw-b.example.org", "psk", {}, {}};
  bool cordon_knows_swan_addr = true;  // else remote_addrs empty / %any
  bool swan_knows_cordon_addr = true;
  std::string ike_proposal = "aes256gcm16-prfsha256-ecp256";
  std::string esp_proposal = "aes256gcm16";
  fs::path ca;  // pubkey: the CA both trust
  // Cordon only
  // Set to this end's address: with the default (0.0.0.0) Cordon takes
  // 0.0.0.0 for the local address of every datagram it receives, and no
  // connection with local_addrs accepts an IKE_SA_INIT (see
  // ResponderOnTheDefaultListenAddress below). false: leave the default.
  bool set_listen_address = true;
  std::string start_action = "none";
  int child_rekey_time = -1;  // -1: the default
  int ike_rekey_time = -1;    // -1: the default
  int dpd_delay = -1;
  std::string dpd_action;
  int retransmit_timeout = -1;
  int retransmit_tries = -1;
  std::string pool;  // a pool CIDR handed to the remote access client
  // strongSwan only
  bool swan_virtual_ip = false;
  std::string swan_psk = kPsk;  // the secret in swanctl.conf
  std::string swan_ike_rekey_time = "0";  // let the tests trigger rekeys
};

std::string toml_list(const std::string& item) { return item.empty() ? "[]" : "[\"" + item + "\"]"; }

std::string render_cordon_ipsec(const Tunnel& t, const fs::path& psk_file) {
  std::string o =
      "[ipsec]\n"
      "interface = \"" + std::string(kCordonIpsecIface) + "\"\n";
  if (t.set_listen_address) o += "listen_address = \"" + t.cordon.addr + "\"\n";
  o += "\n[ipsec.connections.site-b]\n"
      "local_addrs = " + toml_list(t.cordon.addr) + "\n"
      "remote_addrs = " + toml_list(t.cordon_knows_swan_addr ? t.swan.addr : "") + "\n"
      "proposals = [\"" + t.ike_proposal + "\"]\n";
  if (t.ike_rekey_time >= 0) o += "rekey_time = " + std::to_string(t.ike_rekey_time) + "\n";
  if (t.dpd_delay >= 0) o += "dpd_delay = " + std::to_string(t.dpd_delay) + "\n";
  if (!t.dpd_action.empty()) o += "dpd_action = \"" + t.dpd_action + "\"\n";
  if (t.retransmit_timeout >= 0) o += "retransmit_timeout = " + std::to_string(t.retransmit_timeout) + "\n";
  if (t.retransmit_tries >= 0) o += "retransmit_tries = " + std::to_string(t.retransmit_tries) + "\n";
  if (!t.pool.empty()) o += "pools = [\"rw\"]\n";
  if (t.cordon.auth == "psk") o += "psk_file = \"" + psk_file.string() + "\"\n";
  o += "\n[ipsec.connections.site-b.local]\nauth = \"" + t.cordon.auth + "\"\nid = \"" + t.cordon.id + "\"\n";
  if (t.cordon.auth == "pubkey") {
    o += "cert = \"" + t.cordon.cert.string() + "\"\nkey = \"" + t.cordon.key.string() + "\"\n";
  }
  o += "\n[ipsec.connections.site-b.remote]\nauth = \"" + t.swan.auth + "\"\nid = \"" + t.swan.id + "\"\n";
  if (t.swan.auth == "pubkey") o += "cacerts = [\"" + t.ca.string() + "\"]\n";
  o += "\n[ipsec.connections.site-b.children.net]\n"
       "local_ts = [\"10.1.0.0/24\"]\n";
  // A remote access client's selector is the address it was given (the default).
  if (t.pool.empty()) o += "remote_ts = [\"10.2.0.0/24\"]\n";
  o += "esp_proposals = [\"" + t.esp_proposal + "\"]\n"
       "start_action = \"" + t.start_action + "\"\n";
  if (t.child_rekey_time >= 0) o += "rekey_time = " + std::to_string(t.child_rekey_time) + "\n";
  if (!t.pool.empty()) o += "\n[ipsec.pools.rw]\naddresses = \"" + t.pool + "\"\n";
  return o;
}

std::string render_swanctl(const Tunnel& t) {
  const std::string remote_addrs = t.swan_knows_cordon_addr ? t.cordon.addr : "%any";
  std::string o =
      "connections {\n"
      "  cordon {\n"
      "    local_addrs = " + t.swan.addr + "\n"
      "    remote_addrs = " + remote_addrs + "\n"
      "    proposals = " + t.ike_proposal + "\n"
      "    rekey_time = " + t.swan_ike_rekey_time + "\n";
  if (t.swan_virtual_ip) o += "    vips = 0.0.0.0\n";
  o += "    local {\n      auth = " + t.swan.auth + "\n      id = " + t.swan.id + "\n";
  if (t.swan.auth == "pubkey") o += "      certs = " + t.swan.cert.filename().string() + "\n";
  o += "    }\n    remote {\n      auth = " + t.cordon.auth + "\n      id = " + t.cordon.id + "\n    }\n";
  o += "    children {\n      net {\n"
       "        local_ts = " + std::string(t.swan_virtual_ip ? "dynamic" : "10.2.0.0/24") + "\n"
       "        remote_ts = 10.1.0.0/24\n"
       "        esp_proposals = " + t.esp_proposal + "\n"
       "        rekey_time = 0\n"
       "      }\n    }\n  }\n}\n";
  if (t.cordon.auth == "psk") {
    o += "secrets {\n  ike-cordon {\n    id-1 = " + t.cordon.id + "\n    id-2 = " + t.swan.id +
         "\n    secret = \"" + t.swan_psk + "\"\n  }\n}\n";
  }
  return o;
}

// The files swanctl loads for certificate authentication.
std::vector<SwanctlFile> swanctl_files(const Tunnel& t) {
  if (t.swan.auth != "pubkey") return {};
  return {{"x509ca/" + t.ca.filename().string(), read_file(t.ca), 0644},
          {"x509/" + t.swan.cert.filename().string(), read_file(t.swan.cert), 0644},
          {"private/" + t.swan.key.filename().string(), read_file(t.swan.key), 0600}};
}

// ---------------------------------------------------------------------------
// The namespaces, Cordon on gw-a and strongSwan on gw-b. Members are
// destroyed in reverse: the daemons stop before their namespaces go.

class Sites {
 public:
  explicit Sites(const std::string& tag, bool nat = false)
      : dir_("netns-ipsec-" + tag),
        lan_a_(tag + "-lana"),
        gw_a_(tag + "-gwa"),
        gw_b_(tag + "-gwb"),
        lan_b_(tag + "-lanb"),
        router_(nat ? std::make_unique<Namespace>(tag + "-nat") : nullptr),
        swan_(gw_b_, dir_ / "swan") {
    connect_veth(lan_a_, gw_a_, v4_link("lan0", kLanAHost, "10.1.0.1"));
    connect_veth(gw_b_, lan_b_, v4_link("lan0", "10.2.0.1", kLanBHost));
    if (router_) {
      connect_veth(gw_a_, *router_, v4_link("wan0", kGwAWanBehindNat, "192.168.99.1"));
      connect_veth(*router_, gw_b_, v4_link("wan1", kGwAWan, kGwBWan));
      run_checked(&gw_a_, {"ip", "route", "add", "default", "via", "192.168.99.1"});
      start_nat();
    } else {
      connect_veth(gw_a_, gw_b_, v4_link("wan0", kGwAWan, kGwBWan));
    }
    run_checked(&lan_a_, {"ip", "route", "add", "default", "via", "10.1.0.1"});
    run_checked(&lan_b_, {"ip", "route", "add", "default", "via", "10.2.0.1"});
    // strongSwan does not turn forwarding on; Cordon does on gw-a.
    run_checked(&gw_b_, {"sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"});
  }

  Namespace& lan_a() { return lan_a_; }
  Namespace& lan_b() { return lan_b_; }
  Namespace& gw_a() { return gw_a_; }
  Namespace& gw_b() { return gw_b_; }
  StrongSwan& swan() { return swan_; }
  Process& cordon() { return *cordon_; }
  const TempDir& dir() const { return dir_; }

  // Writes both configurations and starts strongSwan, then Cordon.
  void start(const Tunnel& t) {
    swan_.configure(render_swanctl(t), swanctl_files(t));
    swan_.start();
    start_cordon(render_cordon_ipsec(t, write_psk()));
  }

  void start_cordon(const std::string& ipsec_toml) {
    fs::create_directories(dir_ / "state");
    fs::permissions(dir_ / "state", fs::perms::owner_all);
    NodeSpec spec;
    spec.id = "0x0001000a";
    spec.addresses = {"10.77.0.1/24"};
    spec.state_dir = dir_ / "state";
    spec.control_socket = socket();
    spec.log_level = "debug";
    // A peer is required of a manual-mode host; it never answers here.
    PeerSpec dummy;
    dummy.id = "0x0001000b";
    dummy.name = "dummy";
    dummy.key_file = genkey(dir_ / "dummy.key");
    dummy.allowed_prefixes = {"10.77.0.2/32"};
    spec.peers.push_back(dummy);
    spec.extra = ipsec_toml;
    const fs::path config = dir_ / "gw-a.toml";
    write_file(config, render_config(spec), 0600);
    cordon_ = std::make_unique<Process>(
        &gw_a_, std::vector<std::string>{cordon_bin().string(), "up", "-c", config.string(), "--accept-new-keys"},
        dir_ / "cordon.log", "cordon gw-a");
    std::string why;
    if (!wait_for_daemon(gw_a_, socket(), kCordonIpsecIface, *cordon_, deadline_in(20s), &why)) {
      throw std::runtime_error(why + "\n" + cordon_->log_text());
    }
  }

  fs::path socket() const { return dir_ / "cordon.sock"; }

  // `cordon ipsec OBJECT list --json`, parsed; a null json when it fails.
  json cordon_list(const std::string& object) {
    RunResult r = run(&gw_a_, {cordon_bin().string(), "ipsec", object, "list", "--json", "-s", socket().string()}, 10s);
    if (!r.ok()) return json();
    json j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  // How often a log event ("child_rekeyed") is in Cordon's log.
  size_t cordon_events(std::string_view event) const {
    const std::string text = cordon_->log_text();
    const std::string needle = "ipsec " + std::string(event) + " ";
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }

 private:
  static Underlay v4_link(const std::string& iface, const std::string& a, const std::string& b) {
    Underlay u;
    u.iface = iface;
    u.a_v4 = a;
    u.b_v4 = b;
    u.v6 = false;
    return u;
  }

  // Masquerade with random source ports: the IKE and ESP-in-UDP flows of
  // gw-a leave the router from ports other than 500 and 4500 (RFC 3947
  // NAT detection must notice). The table lives in the router's namespace.
  void start_nat() {
    run_checked(router_.get(), {"sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"});
    const fs::path rules = dir_ / "nat.nft";
    write_file(rules,
               "table ip cordon_ipsec_nat {\n"
               "  chain postrouting {\n"
               "    type nat hook postrouting priority srcnat; policy accept;\n"
               "    oifname \"wan1\" masquerade random\n"
               "  }\n"
               "}\n");
    run_checked(router_.get(), {"nft", "-f", rules.string()});
  }

  fs::path write_psk() {
    const fs::path psk = dir_ / "site-b.psk";
    write_file(psk, std::string(kPsk) + "\n", 0600);
    return psk;
  }

  TempDir dir_;
  Namespace lan_a_, gw_a_, gw_b_, lan_b_;
  std::unique_ptr<Namespace> router_;
  StrongSwan swan_;
  std::unique_ptr<Process> cordon_;
};

// The CHILD_SA of connection site-b in a `cordon ipsec sa list --json`, or null.
json find_child(const json& list) {
  if (!list.is_object() || !list.contains("child_sas")) return json();
  for (const json& c : list["child_sas"]) {
    if (c.value("connection", "") == "site-b" && c.value("child", "") == "net") return c;
  }
  return json();
}

uint64_t sa_packets(const json& child, const char* direction) {
  if (!child.is_object() || !child.contains(direction)) return 0;
  return child[direction].value("packets", uint64_t{0});
}

// Five pings must all come back once the first did.
void expect_five_pings(const Namespace& from, const std::string& to) {
  RunResult r = run(&from, {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2", to}, 30s);
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.out.find("5 received"), std::string::npos) << r.out;
}

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
