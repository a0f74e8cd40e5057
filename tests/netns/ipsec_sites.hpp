// The netns fixture of the IPsec gateway against strongSwan: Cordon on
// gw-a, strongSwan's charon on gw-b, a LAN host behind each.
//
//   lan-a 10.1.0.10 -- gw-a (Cordon) 10.1.0.1 | 10.99.0.1 ==== 10.99.0.2 gw-b (strongSwan) 10.2.0.1 -- lan-b 10.2.0.10
//
// With a NAT router, gw-a's WAN is 192.168.99.2 behind a router that
// masquerades it to 10.99.0.1 with random ports.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/netns/strongswan.hpp"

namespace cordon::netns {

inline constexpr const char* kLanAHost = "10.1.0.10";
inline constexpr const char* kLanBHost = "10.2.0.10";
inline constexpr const char* kGwAWan = "10.99.0.1";
inline constexpr const char* kGwAWanBehindNat = "192.168.99.2";
inline constexpr const char* kGwBWan = "10.99.0.2";
// The direct WAN link's IPv6 addresses, for IKE and ESP over IPv6.
inline constexpr const char* kGwAWan6 = "fd00:99::1";
inline constexpr const char* kGwBWan6 = "fd00:99::2";
inline constexpr const char* kCordonIpsecIface = "cordon-ipsec0";
inline constexpr const char* kPsk = "3f1c9a0d5b7e24c68e0a1f3b5d7c9e1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e";

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
  // ResponderOnTheDefaultListenAddress in ipsec_test.cpp). false: leave the default.
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

std::string render_cordon_ipsec(const Tunnel& t, const fs::path& psk_file);
std::string render_swanctl(const Tunnel& t);
// The files swanctl loads for certificate authentication.
std::vector<SwanctlFile> swanctl_files(const Tunnel& t);

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
      Underlay wan = v4_link("wan0", kGwAWan, kGwBWan);
      wan.v6 = true;
      wan.a_v6 = kGwAWan6;
      wan.b_v6 = kGwBWan6;
      connect_veth(gw_a_, gw_b_, wan);
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
  nlohmann::json cordon_list(const std::string& object) {
    RunResult r = run(&gw_a_, {cordon_bin().string(), "ipsec", object, "list", "--json", "-s", socket().string()}, 10s);
    if (!r.ok()) return nlohmann::json();
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
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
nlohmann::json find_child(const nlohmann::json& list);
uint64_t sa_packets(const nlohmann::json& child, const char* direction);
// Five pings must all come back once the first did.
void expect_five_pings(const Namespace& from, const std::string& to);

}  // namespace cordon::netns
