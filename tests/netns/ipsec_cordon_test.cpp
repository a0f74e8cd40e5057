// The IPsec gateway (docs/ipsec.md) on the real kernel, Cordon against
// Cordon and against an independent ESP implementation (Scapy's):
//
//   lan-a 10.1.0.10 -- gw-a 10.1.0.1 ==== wan 203.0.113.0/24 ==== gw-b 10.2.0.1 -- lan-b 10.2.0.10
//                      203.0.113.1                                203.0.113.2
//
// gw-a and gw-b run `cordon up` in manual mode (one dummy [[peer]]) with an
// [ipsec] table; the LAN hosts run nothing, their only configuration is a
// default route via their gateway. With `encap = false` and no NAT between
// the gateways the CHILD_SA's packets are raw ESP or AH (IP protocol 50 or
// 51, RFC 4303 and RFC 4302), which a capture on the WAN bridge shows.
//
// For manual keying (docs/ipsec.md, "Manual keying"), the far end is a
// namespace where tests/netns/scapy_esp.py seals and opens ESP with Scapy.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "tests/netns/nat_topology.hpp"

namespace cordon::netns {
namespace {

using IpsecCordonTest = NetnsTest;

// 32 bytes; RFC 7296 section 2.15 asks for a key as hard to guess as one.
constexpr const char* kPsk = "3f1c2a9b7d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081";
constexpr const char* kIpsecIface = "cordon-ipsec0";
constexpr const char* kWanA = "203.0.113.1";
constexpr const char* kWanB = "203.0.113.2";
// The WAN's IPv6 addresses, for IKE and ESP over IPv6 (SiteToSite's `v6_wan`).
constexpr const char* kWanA6 = "fd00:203::1";
constexpr const char* kWanB6 = "fd00:203::2";

// One Cordon host in manual mode with an [ipsec] table: its namespace, its
// files and its daemon.
class IpsecHost {
 public:
  IpsecHost(const std::string& tag, const TempDir& dir) : ns_(tag), dir_(dir.path() / tag) {
    fs::create_directories(dir_);
  }

  Namespace& ns() { return ns_; }
  const fs::path& dir() const { return dir_; }
  fs::path socket() const { return dir_ / "control.sock"; }
  fs::path log() const { return dir_ / "daemon.log"; }

  // Writes the host config: `peers`, or a dummy peer (the daemon wants one
  // in manual mode), and `ipsec`, the [ipsec] tables as TOML.
  // Its Cordon tunnel address is NET.OCTET/24.
  void write_config(const std::string& ipsec, int tunnel_octet, std::vector<PeerSpec> peers = {},
                    const std::string& net = "10.77.0") {
    NodeSpec spec;
    spec.id = "0x000100" + std::to_string(10 + tunnel_octet);
    spec.addresses = {net + "." + std::to_string(tunnel_octet) + "/24"};
    spec.state_dir = dir_ / "state";
    spec.control_socket = socket();
    spec.log_level = "debug";
    if (peers.empty()) {
      PeerSpec dummy;
      dummy.id = "0x00010063";
      dummy.key_file = genkey(dir_ / "dummy.key");
      dummy.allowed_prefixes = {"10.77.0.99/32"};
      peers = {dummy};
    }
    spec.peers = std::move(peers);
    spec.extra = ipsec;
    write_file(dir_ / "host.toml", render_config(spec));
  }

  // `ipsec`: whether the config has an [ipsec] table, whose device to wait for.
  void start(bool ipsec = true) {
    daemon_ = std::make_unique<Process>(
        &ns_, std::vector<std::string>{cordon_bin().string(), "up", "-c", (dir_ / "host.toml").string(),
                                       "--accept-new-keys"},
        log(), ns_.name() + " daemon");
    std::string why;
    if (!wait_for_daemon(ns_, socket(), "cordon0", *daemon_, deadline_in(20s), &why)) throw std::runtime_error(why);
    if (ipsec && !poll_until(deadline_in(10s), [&] { return run(&ns_, {"ip", "link", "show", "dev", kIpsecIface}).ok(); }))
      throw std::runtime_error(std::string(kIpsecIface) + " never appeared in " + ns_.name() + "\n" + daemon_->log_text());
  }

  std::string log_text() const { return daemon_ ? daemon_->log_text() : std::string(); }
  void stop() { daemon_.reset(); }
  bool running() { return daemon_ && daemon_->running(); }

  // `cordon ipsec sa list --json`; an empty object when it fails.
  nlohmann::json sa_list() {
    RunResult r = run(&ns_, {cordon_bin().string(), "ipsec", "sa", "list", "--json", "-s", socket().string()}, 10s);
    if (!r.ok()) return nlohmann::json::object();
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  RunResult ipsec(std::vector<std::string> args) {
    std::vector<std::string> argv = {cordon_bin().string(), "ipsec"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-s", socket().string()});
    return run(&ns_, argv, 20s);
  }

 private:
  Namespace ns_;
  fs::path dir_;
  std::unique_ptr<Process> daemon_;
};

// A LAN host behind `gw`: one address, a default route via the gateway.
void attach_lan(Switch& lan, IpsecHost& gw, Namespace& host, const std::string& net) {
  lan.attach(gw.ns(), "lan0", net + ".1/24");
  lan.attach(host, "eth0", net + ".10/24");
  run_checked(&host, {"ip", "route", "add", "default", "via", net + ".1"}, 10s);
}

bool ping_ok(const Namespace& from, const std::string& to) {
  return run(&from, {"ping", "-n", "-q", "-c", "1", "-W", "1", to}, 10s).ok();
}

bool eventually_pings(const Namespace& from, const std::string& to, Deadline deadline) {
  return poll_until(deadline, [&] { return ping_ok(from, to); }, 10ms);
}

// The connection `site` between gw-a and gw-b: PSK, ESP or AH as `child`
// says, `encap` as given; gw-a initiates at start.
std::string ts_list(const std::vector<std::string>& nets) {
  std::string t = "[";
  for (const std::string& n : nets) t += (t.size() > 1 ? ", \"" : "\"") + n + "\"";
  return t + "]";
}

std::string site_config(const std::string& self, const std::string& peer, const std::string& self_id,
                        const std::string& peer_id, const std::vector<std::string>& local_nets,
                        const std::vector<std::string>& remote_nets,
                        const std::string& child_proposals, bool initiate, bool encap, const std::string& listen) {
  std::string t = "[ipsec]\n"
                  "interface = \"" + std::string(kIpsecIface) + "\"\n"
                  "listen_address = \"" + listen + "\"\n"
                  "\n[ipsec.connections.site]\n"
                  "local_addrs = [\"" + self + "\"]\n"
                  "remote_addrs = [\"" + peer + "\"]\n"
                  "proposals = [\"aes256gcm16-prfsha256-ecp256\"]\n"
                  "encap = " + (encap ? "true" : "false") + "\n"
                  "psk_file = \"site.psk\"\n"
                  "\n[ipsec.connections.site.local]\nauth = \"psk\"\nid = \"" + self_id + "\"\n"
                  "\n[ipsec.connections.site.remote]\nauth = \"psk\"\nid = \"" + peer_id + "\"\n"
                  "\n[ipsec.connections.site.children.net]\n"
                  "local_ts = " + ts_list(local_nets) + "\n"
                  "remote_ts = " + ts_list(remote_nets) + "\n" + child_proposals + "\n";
  if (initiate) t += "start_action = \"start\"\n";
  return t;
}

// Two Cordon gateways with a LAN each and the WAN between them.
struct SiteToSite {
  TempDir dir;
  IpsecHost gw_a, gw_b;
  Namespace lan_a, lan_b;
  Switch wan, net_a, net_b;

  // `any_address`: listen on 0.0.0.0 (the default) rather than the WAN
  // address, with local_addrs naming it, as docs/ipsec.md shows.
  // `nets_a`, `nets_b`: the selectors on gw-a's side (its LAN, and more)
  // and on gw-b's. `v6_wan`: the gateways speak IKE and ESP over the
  // WAN's IPv6 addresses (listening on "::" with `any_address`).
  SiteToSite(const std::string& tag, const std::string& child_proposals, bool encap, bool any_address = false,
             const std::vector<std::string>& nets_a = {"10.1.0.0/24"},
             const std::vector<std::string>& nets_b = {"10.2.0.0/24"}, bool v6_wan = false)
      : dir("netns-" + tag),
        gw_a(tag + "-gwa", dir),
        gw_b(tag + "-gwb", dir),
        lan_a(tag + "-lana"),
        lan_b(tag + "-lanb"),
        wan(tag + "-wan"),
        net_a(tag + "-neta"),
        net_b(tag + "-netb") {
    wan.attach(gw_a.ns(), "ul0", std::string(kWanA) + "/24");
    wan.attach(gw_b.ns(), "ul0", std::string(kWanB) + "/24");
    attach_lan(net_a, gw_a, lan_a, "10.1.0");
    attach_lan(net_b, gw_b, lan_b, "10.2.0");
    std::string a = kWanA, b = kWanB, any = "0.0.0.0";
    if (v6_wan) {
      // nodad: usable at once (RFC 4862, section 5.4), so the daemons can bind them.
      run_checked(&gw_a.ns(), {"ip", "-6", "addr", "add", std::string(kWanA6) + "/64", "dev", "ul0", "nodad"}, 10s);
      run_checked(&gw_b.ns(), {"ip", "-6", "addr", "add", std::string(kWanB6) + "/64", "dev", "ul0", "nodad"}, 10s);
      a = kWanA6, b = kWanB6, any = "::";
    }
    for (IpsecHost* gw : {&gw_a, &gw_b}) write_file(gw->dir() / "site.psk", kPsk, 0600);
    gw_a.write_config(site_config(a, b, "gw-a.example.org", "gw-b.example.org", nets_a, nets_b, child_proposals, true,
                                  encap, any_address ? any : a),
                      1);
    gw_b.write_config(site_config(b, a, "gw-b.example.org", "gw-a.example.org", nets_b, nets_a, child_proposals,
                                  false, encap, any_address ? any : b),
                      2, {}, "10.78.0");  // not gw-a's tunnel subnet: it may be among gw-a's selectors
  }

  std::string logs() const { return "gw-a:\n" + gw_a.log_text() + "\ngw-b:\n" + gw_b.log_text(); }
};

uint64_t sa_packets(const nlohmann::json& child, const char* direction) {
  if (!child.contains(direction)) return 0;
  return child[direction].value("packets", uint64_t{0});
}

bool tcpdump_installed() { return run(nullptr, {"tcpdump", "--version"}, 10s).ok(); }

// Brings the tunnel up, pings both ways, and checks the CHILD_SA's counters
// and that the WAN carries what `wan` says: IP protocol `ip_proto` (50
// ESP, 51 AH) over IPv4 or IPv6, or ESP in UDP on port 4500.
struct WanCarries {
  bool v6 = false;
  bool udp = false;
  std::string filter(int ip_proto) const {
    if (udp) return std::string(v6 ? "ip6" : "ip") + " and udp port 4500";
    return std::string(v6 ? "ip6" : "ip") + " proto " + std::to_string(ip_proto);
  }
};

void check_site_to_site(SiteToSite& s, int ip_proto, const std::string& protocol_name, WanCarries wan = {}) {
  s.gw_b.start();
  s.gw_a.start();
  std::unique_ptr<Capture> capture;
  if (tcpdump_installed()) {
    capture = std::make_unique<Capture>(s.wan.ns(), "br0", s.dir / "wan.pcap", s.dir / "tcpdump.log",
                                        wan.filter(ip_proto));
  }
  ASSERT_TRUE(eventually_pings(s.lan_a, "10.2.0.10", deadline_in(30s))) << "lan-a never reached lan-b\n" << s.logs();
  RunResult five = run(&s.lan_a, {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", "10.2.0.10"}, 30s);
  EXPECT_NE(five.out.find("5 received"), std::string::npos) << five.describe() << s.logs();
  RunResult back = run(&s.lan_b, {"ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "10.1.0.10"}, 30s);
  EXPECT_NE(back.out.find("3 received"), std::string::npos) << back.describe() << s.logs();

  for (IpsecHost* gw : {&s.gw_a, &s.gw_b}) {
    const nlohmann::json list = gw->sa_list();
    const auto& children = list.value("child_sas", nlohmann::json::array());
    ASSERT_EQ(children.size(), 1u) << gw->ns().name() << ": " << list.dump(2);
    const nlohmann::json& child = children[0];
    EXPECT_EQ(child.value("udp_encapsulation", !wan.udp), wan.udp) << child.dump(2);
    EXPECT_FALSE(child.value("manual", true)) << child.dump(2);
    EXPECT_EQ(child.value("remote", "").find(':') != std::string::npos &&
                  child.value("remote", "").find('.') == std::string::npos,
              wan.v6)
        << child.dump(2);
    EXPECT_GE(sa_packets(child, "inbound"), 9u) << child.dump(2);
    EXPECT_GE(sa_packets(child, "outbound"), 9u) << child.dump(2);
    for (const char* d : {"inbound", "outbound"}) {
      ASSERT_TRUE(child.contains(d)) << child.dump(2);
      EXPECT_EQ(child[d].value("protocol", ""), protocol_name) << child.dump(2);
      EXPECT_EQ(child[d].value("mode", ""), "tunnel") << child.dump(2);
    }
  }
  if (capture) {
    capture->stop();
    // 9 echo requests and 9 replies crossed the WAN at least once each.
    EXPECT_GE(pcap_packet_count(capture->pcap()), 18u) << wan.filter(ip_proto) << " on the WAN";
  } else {
    std::cout << "tcpdump not installed: the WAN capture is skipped\n";
  }
  EXPECT_TRUE(s.gw_a.running()) << s.logs();
  EXPECT_TRUE(s.gw_b.running()) << s.logs();
}

TEST_F(IpsecCordonTest, CordonToCordonIke) {
  SiteToSite s("isc-ike", "esp_proposals = [\"aes256gcm16\"]", false);
  check_site_to_site(s, 50, "esp");
}

TEST_F(IpsecCordonTest, CordonToCordonAh) {
  SiteToSite s("isc-ah", "ah_proposals = [\"sha256\"]", false);
  check_site_to_site(s, 51, "ah");
}

// The open-traffic firewall on (an empty [open] table: open traffic to
// the host dropped except replies, nothing forwarded) leaves the IPsec
// gateway working: IKE and raw ESP reach the host, and the IPsec device's
// traffic is forwarded like the tunnel's (docs/firewall.md, "The IPsec
// gateway"). Without that, the first IKE_SA_INIT would be dropped.
TEST_F(IpsecCordonTest, WorksWithTheOpenFirewallOn) {
  if (!run(nullptr, {"nft", "--version"}, 10s).ok()) GTEST_SKIP() << "nft not installed";
  SiteToSite s("isc-open", "esp_proposals = [\"aes256gcm16\"]", false);
  for (IpsecHost* gw : {&s.gw_a, &s.gw_b}) {
    std::ofstream(gw->dir() / "host.toml", std::ios::app) << "\n[open]\n";
  }
  check_site_to_site(s, 50, "esp");
  RunResult table = run(&s.gw_b.ns(), {"nft", "list", "chain", "inet", "cordon", "input"}, 10s);
  EXPECT_NE(table.out.find("udp dport { 500, 4500 } accept"), std::string::npos) << table.describe();
}

// While a child's CHILD_SA is down, its remote selectors have an
// unreachable route of low priority (docs/ipsec.md, "How traffic flows"):
// gw-a has a default route across the WAN, yet a LAN packet for the
// peer's subnet is refused with ICMP "unreachable" rather than sent there
// in the clear. The CHILD_SA's route wins once it is up, and the guard
// goes when the daemon stops.
TEST_F(IpsecCordonTest, SubnetsOfADownTunnelAreUnreachableNotLeaked) {
  SiteToSite s("isc-guard", "esp_proposals = [\"aes256gcm16\"]", false);
  run_checked(&s.gw_a.ns(), {"ip", "route", "add", "default", "via", kWanB}, 10s);
  s.gw_a.start();
  const auto guard = [&] {
    return run(&s.gw_a.ns(), {"ip", "route", "show", "type", "unreachable"}, 10s).out;
  };
  EXPECT_NE(guard().find("10.2.0.0/24"), std::string::npos) << guard();
  std::unique_ptr<Capture> capture;
  if (tcpdump_installed()) {
    capture = std::make_unique<Capture>(s.wan.ns(), "br0", s.dir / "wan.pcap", s.dir / "tcpdump.log",
                                        "icmp and host 10.2.0.10");
  }
  RunResult refused = run(&s.lan_a, {"ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "10.2.0.10"}, 30s);
  EXPECT_NE(refused.out.find("Unreachable"), std::string::npos) << refused.describe();
  if (capture) {
    capture->stop();
    EXPECT_EQ(pcap_packet_count(capture->pcap()), 0u) << "cleartext ICMP to the peer's subnet on the WAN";
  }
  s.gw_b.start();
  EXPECT_TRUE(eventually_pings(s.lan_a, "10.2.0.10", deadline_in(30s))) << s.logs();
  s.gw_a.stop();
  EXPECT_EQ(guard().find("10.2.0.0/24"), std::string::npos) << guard();
}

// IKE and raw ESP over IPv6 between the gateways (docs/ipsec.md, "What is
// in"): the raw IPv6 socket hands up ESP without its IPv6 header, which the
// daemon rebuilds before opening it.
TEST_F(IpsecCordonTest, RawEspOverIpv6) {
  SiteToSite s("isc-esp6", "esp_proposals = [\"aes256gcm16\"]", false, false, {"10.1.0.0/24"}, {"10.2.0.0/24"}, true);
  check_site_to_site(s, 50, "esp", {.v6 = true});
}

// AH over IPv6: its ICV covers the IPv6 header's immutable fields (RFC 4302
// section 3.3.3.1.2), so the rebuilt header must carry them exactly.
TEST_F(IpsecCordonTest, AhOverIpv6) {
  SiteToSite s("isc-ah6", "ah_proposals = [\"sha256\"]", false, false, {"10.1.0.0/24"}, {"10.2.0.0/24"}, true);
  check_site_to_site(s, 51, "ah", {.v6 = true});
}

// ESP in UDP over IPv6 with both daemons on "::", which serves IPv4 and
// IPv6 alike.
TEST_F(IpsecCordonTest, EspInUdpOverIpv6OnTheAnyAddress) {
  SiteToSite s("isc-udp6", "esp_proposals = [\"aes256gcm16\"]", true, true, {"10.1.0.0/24"}, {"10.2.0.0/24"}, true);
  check_site_to_site(s, 50, "esp", {.v6 = true, .udp = true});
}

// The documented configuration: IKE on 0.0.0.0 (listen_address's default)
// and local_addrs naming this end's address (docs/ipsec.md,
// "Configuration"): the responder matches the connection by its
// local_addrs and hashes that address for NAT detection (RFC 7296 section
// 2.23), so no NAT is seen and ESP goes raw.
TEST_F(IpsecCordonTest, ResponderOnTheAnyAddressMatchesLocalAddrs) {
  SiteToSite s("isc-any", "esp_proposals = [\"aes256gcm16\"]", false, true);
  check_site_to_site(s, 50, "esp");
}

// Transport mode (RFC 4303 section 3.1.1) between the gateways' own WAN
// addresses: the CHILD_SA's selectors are those two addresses, and the
// ESP packets keep the original IP header. The daemon routes nothing for a
// transport-mode child (docs/ipsec.md, "How traffic flows"), so each
// gateway routes ICMP to the other into the IPsec device with a policy
// rule; IKE and the ESP packets themselves take the WAN.
TEST_F(IpsecCordonTest, TransportModeBetweenGateways) {
  SiteToSite s("isc-tr", "esp_proposals = [\"aes256gcm16\"]\nmode = \"transport\"", false, false,
               {std::string(kWanA) + "/32"}, {std::string(kWanB) + "/32"});
  s.gw_b.start();
  s.gw_a.start();
  // The device has no address: `src` makes the WAN address the source,
  // the one the selectors name.
  for (auto [gw, self, peer] : {std::tuple{&s.gw_a, kWanA, kWanB}, std::tuple{&s.gw_b, kWanB, kWanA}}) {
    run_checked(&gw->ns(), {"ip", "route", "add", "default", "dev", kIpsecIface, "src", self, "table", "100"}, 10s);
    run_checked(&gw->ns(), {"ip", "rule", "add", "ipproto", "icmp", "to", peer, "lookup", "100"}, 10s);
  }
  std::unique_ptr<Capture> capture;
  if (tcpdump_installed()) {
    capture = std::make_unique<Capture>(s.wan.ns(), "br0", s.dir / "wan.pcap", s.dir / "tcpdump.log", "ip proto 50");
  }
  ASSERT_TRUE(eventually_pings(s.gw_a.ns(), kWanB, deadline_in(30s))) << s.logs();
  RunResult five = run(&s.gw_a.ns(), {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", kWanB}, 30s);
  EXPECT_NE(five.out.find("5 received"), std::string::npos) << five.describe() << s.logs();

  for (IpsecHost* gw : {&s.gw_a, &s.gw_b}) {
    const nlohmann::json list = gw->sa_list();
    const auto& children = list.value("child_sas", nlohmann::json::array());
    ASSERT_EQ(children.size(), 1u) << gw->ns().name() << ": " << list.dump(2);
    for (const char* d : {"inbound", "outbound"}) {
      EXPECT_EQ(children[0].value(d, nlohmann::json::object()).value("mode", ""), "transport") << list.dump(2);
      EXPECT_GE(sa_packets(children[0], d), 6u) << list.dump(2);
    }
  }
  if (capture) {
    capture->stop();
    EXPECT_GE(pcap_packet_count(capture->pcap()), 12u) << "ESP on the WAN";
  }
}

// An IPv6 prefix on a gateway's LAN beside its IPv4 one: the gateway is
// NET::1, the host NET::10 with a default route through it. No duplicate
// address detection: the addresses are ours alone and usable at once.
void add_lan_v6(IpsecHost& gw, Namespace& host, const std::string& net) {
  run_checked(&gw.ns(), {"ip", "-6", "addr", "add", net + "::1/64", "dev", "lan0", "nodad"}, 10s);
  run_checked(&host, {"ip", "-6", "addr", "add", net + "::10/64", "dev", "eth0", "nodad"}, 10s);
  run_checked(&host, {"ip", "-6", "route", "add", "default", "via", net + "::1"}, 10s);
}

// docs/ipsec.md, "How traffic flows", for IPv6 inside the tunnel: a packet
// larger than the IPsec device's MTU (1376 by default) is answered by the
// gateway's kernel with ICMPv6 "packet too big" naming that MTU (RFC 8201
// section 4), and one that fits crosses.
TEST_F(IpsecCordonTest, PathMtuOfTheIpsecDeviceIpv6) {
  SiteToSite s("isc-pmtu6", "esp_proposals = [\"aes256gcm16\"]", false, false, {"10.1.0.0/24", "fd01::/64"},
               {"10.2.0.0/24", "fd02::/64"});
  add_lan_v6(s.gw_a, s.lan_a, "fd01");
  add_lan_v6(s.gw_b, s.lan_b, "fd02");
  s.gw_b.start();
  s.gw_a.start();
  ASSERT_TRUE(eventually_pings(s.lan_a, "fd02::10", deadline_in(30s))) << s.logs();

  // 1400 bytes of payload: a 1448-byte packet.
  RunResult big = run(&s.lan_a, {"ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", "1400", "fd02::10"}, 20s);
  EXPECT_FALSE(big.ok()) << big.describe();
  EXPECT_NE(big.out.find("Packet too big: mtu=1376"), std::string::npos) << big.describe();
  // 1348 bytes: fits the device.
  RunResult fits =
      run(&s.lan_a, {"ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", "1300", "fd02::10"}, 20s);
  EXPECT_NE(fits.out.find("3 received"), std::string::npos) << fits.describe() << s.logs();
}

// ---------------------------------------------------------------------------
// Manual keying against Scapy.

fs::path scapy_script() { return fs::path(CORDON_SOURCE_DIR) / "tests" / "netns" / "scapy_esp.py"; }

bool scapy_installed() {
  return run(nullptr, {"/usr/bin/python3", "-c", "import scapy.layers.ipsec"}, 30s).ok();
}

std::string random_hex(size_t bytes) {
  RunResult r = run_checked(nullptr, {"openssl", "rand", "-hex", std::to_string(bytes)}, 10s);
  return r.out.substr(0, bytes * 2);
}

// One manually keyed SA pair between gw-a and the Scapy peer.
struct ManualPair {
  std::string encryption;  // Cordon's keyword
  std::string out_spi, in_spi;
  std::string out_key, in_key;  // hex, as in the key files
};

std::string manual_sa_toml(const ManualPair& p, const fs::path& dir) {
  std::string t;
  for (bool out : {true, false}) {
    t += "\n[[ipsec.sa]]\n";
    t += "name = \"" + std::string(out ? "to-scapy" : "from-scapy") + "\"\n";
    t += "spi = \"" + (out ? p.out_spi : p.in_spi) + "\"\n";
    t += "direction = \"" + std::string(out ? "out" : "in") + "\"\n";
    t += "encryption = \"" + p.encryption + "\"\n";
    t += "key_file = \"" + (dir / (out ? "out.key" : "in.key")).string() + "\"\n";
    t += "local = \"" + std::string(kWanA) + "\"\nremote = \"" + kWanB + "\"\n";
    t += "local_ts = [\"10.1.0.0/24\"]\nremote_ts = [\"10.2.0.0/24\"]\n";
  }
  return t;
}

// The Scapy peer at 203.0.113.2 stands for the host 10.2.0.10 behind it:
// it seals and opens the inner packets itself.
struct ScapySetup {
  TempDir dir{"netns-isc-scapy"};
  IpsecHost gw_a{"isc-scapy-gwa", dir};
  Namespace lan_a{"isc-scapy-lana"}, peer{"isc-scapy-peer"};
  Switch wan{"isc-scapy-wan"}, net_a{"isc-scapy-neta"};

  ScapySetup() {
    wan.attach(gw_a.ns(), "ul0", std::string(kWanA) + "/24");
    wan.attach(peer, "ul0", std::string(kWanB) + "/24");
    attach_lan(net_a, gw_a, lan_a, "10.1.0");
  }

  // scapy_esp.py MODE with the SAs of `p` from the peer's side (its out SA
  // is Cordon's in SA).
  // `seq`: the first sequence number Scapy seals with; every run is a new
  // Scapy SA, and Cordon's replay window refuses numbers it has seen.
  std::vector<std::string> script(const std::string& mode, const ManualPair& p, const std::string& algo, int seq) {
    return {"/usr/bin/python3", scapy_script().string(), mode, "--algo", algo, "--seq", std::to_string(seq),
            "--local", kWanB,
            "--remote", kWanA, "--inner-local", "10.2.0.10", "--inner-remote", "10.1.0.10",
            "--out-spi", p.in_spi, "--out-key", p.in_key, "--in-spi", p.out_spi, "--in-key", p.out_key};
  }

  std::string logs() const { return "gw-a:\n" + gw_a.log_text(); }
};

// Scapy seals an echo request, Cordon opens it, the LAN host answers,
// Cordon seals the reply and Scapy opens it; then the other way: lan-a
// pings 10.2.0.10, Cordon seals it, Scapy opens it and answers.
void check_against_scapy(ScapySetup& s, const ManualPair& p, const std::string& algo) {
  RunResult ping = run(&s.peer, s.script("ping", p, algo, 1), 60s);
  EXPECT_TRUE(ping.ok() && ping.out.find("OK") != std::string::npos)
      << "Scapy -> Cordon -> lan-a and back, " << algo << ": " << ping.describe() << s.logs();

  Process answer(&s.peer, s.script("answer", p, algo, 2), s.dir / ("answer-" + algo + ".log"), "scapy answer " + algo);
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    return !answer.running() || answer.log_text().find("listening") != std::string::npos;
  })) << answer.log_text();
  RunResult lan_ping = run(&s.lan_a, {"ping", "-n", "-q", "-c", "1", "-W", "5", "10.2.0.10"}, 30s);
  answer.wait_exit(deadline_in(20s));
  EXPECT_NE(answer.log_text().find("OK"), std::string::npos)
      << "lan-a -> Cordon -> Scapy, " << algo << ": " << answer.log_text() << s.logs();
  EXPECT_TRUE(lan_ping.ok()) << "Scapy's sealed echo reply was not accepted by Cordon, " << algo << ": "
                             << lan_ping.describe() << s.logs();
}

nlohmann::json manual_children(IpsecHost& gw) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : gw.sa_list().value("child_sas", nlohmann::json::array()))
    if (c.value("manual", false)) out.push_back(c);
  return out;
}

TEST_F(IpsecCordonTest, ManualKeyingAgainstScapy) {
  if (!scapy_installed()) GTEST_SKIP() << "python3-scapy is not installed (scripts/install-deps.sh)";
  ScapySetup s;
  // RFC 4106 section 8.1: 16 key bytes and a 4-byte salt.
  ManualPair gcm{"aes128gcm16", "0x00001000", "0x00002000", random_hex(20), random_hex(20)};
  write_file(s.gw_a.dir() / "out.key", gcm.out_key + "\n", 0600);
  write_file(s.gw_a.dir() / "in.key", gcm.in_key + "\n", 0600);
  s.gw_a.write_config("[ipsec]\ninterface = \"" + std::string(kIpsecIface) + "\"\n" + manual_sa_toml(gcm, s.gw_a.dir()), 1);
  s.gw_a.start();
  check_against_scapy(s, gcm, "AES-GCM");
  const nlohmann::json children = manual_children(s.gw_a);
  EXPECT_FALSE(children.empty()) << s.gw_a.sa_list().dump(2);

  // AES-CBC with HMAC-SHA-256-128 (RFC 4868), added at run time with
  // `cordon ipsec sa add` after the GCM SAs are removed.
  for (const char* spi : {"0x00001000", "0x00002000"}) {
    RunResult r = s.gw_a.ipsec({"sa", "remove", spi});
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  ManualPair cbc{"aes128-sha256", "0x00003000", "0x00004000", random_hex(16 + 32), random_hex(16 + 32)};
  write_file(s.gw_a.dir() / "cbc-out.key", cbc.out_key + "\n", 0600);
  write_file(s.gw_a.dir() / "cbc-in.key", cbc.in_key + "\n", 0600);
  for (bool out : {true, false}) {
    RunResult r = s.gw_a.ipsec({"sa", "add", "--spi", out ? cbc.out_spi : cbc.in_spi, "--direction", out ? "out" : "in",
                                "--encryption", cbc.encryption, "--key-file",
                                (s.gw_a.dir() / (out ? "cbc-out.key" : "cbc-in.key")).string(), "--local", kWanA,
                                "--remote", kWanB, "--local-ts", "10.1.0.0/24", "--remote-ts", "10.2.0.0/24"});
    ASSERT_TRUE(r.ok()) << r.describe() << s.logs();
  }
  check_against_scapy(s, cbc, "AES-CBC");
  EXPECT_TRUE(s.gw_a.running()) << s.logs();
}

// ---------------------------------------------------------------------------
// Cordon's tunnel into IPsec: a Cordon client (manual mode, one [[peer]]
// link to gw-a) reaches lan-b behind gw-b, so its packets are opened by
// gw-a's Cordon tunnel, routed by gw-a's kernel into cordon-ipsec0, sealed
// in ESP to gw-b, and the replies come the same way back
// (docs/ipsec.md, "How traffic flows"). The CHILD_SA's selectors on gw-a's
// side hold its LAN and the Cordon tunnel's addresses.
//
//   client 203.0.113.3 (tunnel 10.77.0.3) ~~ Cordon ~~ gw-a (tunnel 10.77.0.1) == IPsec == gw-b -- lan-b
TEST_F(IpsecCordonTest, ReEncryptionThroughCordon) {
  const std::vector<std::string> nets_a = {"10.1.0.0/24", "10.77.0.0/24"};
  SiteToSite s("isc-re", "esp_proposals = [\"aes256gcm16\"]", false, false, nets_a);
  IpsecHost client("isc-re-cl", s.dir);
  s.wan.attach(client.ns(), "ul0", "203.0.113.3/24");
  const fs::path link_key = genkey(s.dir / "link.key");

  PeerSpec to_client;
  to_client.id = "0x00010013";
  to_client.key_file = link_key;
  to_client.allowed_prefixes = {"10.77.0.3/32"};
  s.gw_a.write_config(site_config(kWanA, kWanB, "gw-a.example.org", "gw-b.example.org", nets_a, {"10.2.0.0/24"},
                                  "esp_proposals = [\"aes256gcm16\"]", true, false, kWanA),
                      1, {to_client});
  PeerSpec to_gw;
  to_gw.id = "0x00010011";
  to_gw.key_file = link_key;
  to_gw.endpoint = endpoint_text(kWanA, CordonPair::kPort);
  to_gw.allowed_prefixes = {"10.77.0.1/32", "10.2.0.0/24"};
  client.write_config("", 3, {to_gw});

  s.gw_b.start();
  s.gw_a.start();
  client.start(false);
  ASSERT_TRUE(eventually_pings(client.ns(), "10.77.0.1", deadline_in(30s))) << "the Cordon link never came up\n"
                                                                             << client.log_text() << s.logs();
  ASSERT_TRUE(eventually_pings(s.lan_a, "10.2.0.10", deadline_in(30s))) << "the IPsec tunnel never came up\n" << s.logs();
  ASSERT_TRUE(eventually_pings(client.ns(), "10.2.0.10", deadline_in(20s)))
      << "the client never reached lan-b through gw-a and the IPsec tunnel\n" << client.log_text() << s.logs();
  RunResult five = run(&client.ns(), {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", "10.2.0.10"}, 30s);
  EXPECT_NE(five.out.find("5 received"), std::string::npos) << five.describe() << s.logs();
  // lan-b's host reaches the client too: gw-b seals for 10.77.0.0/24.
  RunResult back = run(&s.lan_b, {"ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "10.77.0.3"}, 30s);
  EXPECT_NE(back.out.find("3 received"), std::string::npos) << back.describe() << s.logs();

  const nlohmann::json list = s.gw_a.sa_list();
  const auto& children = list.value("child_sas", nlohmann::json::array());
  ASSERT_EQ(children.size(), 1u) << list.dump(2);
  EXPECT_GE(sa_packets(children[0], "outbound"), 9u) << list.dump(2);
  EXPECT_GE(sa_packets(children[0], "inbound"), 9u) << list.dump(2);
}

}  // namespace
}  // namespace cordon::netns
