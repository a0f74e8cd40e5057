// A managed network end to end (docs/administration.md, "A network, step by
// step"), all through the real `cordon` binary:
//   1. an administrator creates network 1 (IPv4 and IPv6 overlay) with a
//      coordinator `hub` and two clients `a` and `b`, users with passwords,
//      and the link a-b (the client-coordinator links come by themselves);
//   2. exports the three key sets, and each host installs its own;
//   3. the three daemons start in managed mode from their key sets and pass
//      traffic;
//   4. the administrator removes the link a-b, sets the network's rekey
//      period, and builds the updates (keys for a and b, the address book
//      with its served links for hub), which the three apply while their
//      daemons run;
//   5. a-b stops passing traffic, while a-hub keeps flowing on the same
//      tunnel (its counters were not reset: the peer was not rebuilt) with
//      the new rekey period.
// The three hosts share one underlay: a bridge in a fourth namespace (Lan).
//
// ClientFallsBackToTheTcpTunnel: a client whose UDP to its coordinator is
// blocked reaches it, and through it another client, over the TCP tunnel
// (docs/protocol.md, "TCP tunnel"), and goes back to UDP once UDP works
// again.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using ManagedNetworkTest = NetnsTest;

constexpr uint16_t kPort = 51820;
// A password the user chooses: it gets the full Argon2id cost (64 MiB).
constexpr const char* kChosenPassword = "a chosen passphrase";

// One host of the network: its namespace, files and daemon. The daemon is
// declared last, so it stops before the namespace goes.
struct Host {
  std::string name;
  size_t lan_index = 0;
  std::unique_ptr<Namespace> ns;
  std::string id;          // from `cordon admin host add --json`
  std::string tun4, tun6;  // tunnel addresses, without the prefix length
  fs::path state, password, config, socket, log;
  std::unique_ptr<Process> daemon;

  std::string underlay() const { return Lan::v4(lan_index); }
};

std::string address_of(const json& prefix_text) {
  std::string s = prefix_text.get<std::string>();
  return s.substr(0, s.find('/'));
}

class ManagedNetwork {
 public:
  ManagedNetwork() : dir_("netns-managed") {
    db_ = dir_ / "admin.db";
    const char* names[] = {"hub", "a", "b"};
    for (size_t i = 0; i < 3; ++i) {
      auto h = std::make_unique<Host>();
      h->name = names[i];
      h->lan_index = i;
      h->ns = std::make_unique<Namespace>(std::string("managed-") + names[i]);
      h->state = dir_ / ("state-" + h->name);
      h->password = dir_ / ("password-" + h->name);
      h->config = dir_ / (h->name + ".toml");
      h->socket = dir_ / (h->name + ".sock");
      h->log = dir_ / ("daemon-" + h->name + ".log");
      hosts_.push_back(std::move(h));
    }
    lan_ = std::make_unique<Lan>(
        "managed", std::vector<const Namespace*>{hub().ns.get(), a().ns.get(), b().ns.get()});
  }
  ~ManagedNetwork() {
    // Daemons first (SIGTERM, then SIGKILL), while their namespaces exist.
    for (auto& h : hosts_) h->daemon.reset();
  }

  Host& hub() { return *hosts_[0]; }
  Host& a() { return *hosts_[1]; }
  Host& b() { return *hosts_[2]; }
  fs::path file(std::string_view name) const { return dir_ / name; }

  // `cordon admin --db DB ARGS...` in the test's own namespace (the admin
  // machine needs no network); throws with the output when it fails.
  RunResult admin_checked(std::vector<std::string> args) const {
    args.insert(args.begin(), {cordon_bin().string(), "admin", "--db", db_.string()});
    return run_checked(nullptr, args, 60s);
  }
  json admin_json(std::vector<std::string> args) const {
    args.push_back("--json");
    RunResult r = admin_checked(args);
    json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("cordon admin printed no JSON: " + r.describe());
    return j;
  }

  // `cordon ARGS...` inside the host's namespace, as on that host.
  RunResult on(const Host& h, std::vector<std::string> args) const {
    args.insert(args.begin(), cordon_bin().string());
    return run(h.ns.get(), args, 60s);
  }

  // Managed mode: no id, no addresses, no [[peer]]: all from the key set.
  // `extra`: more [host] keys, one per line.
  void write_config(const Host& h, const std::string& extra = "") const {
    write_file(h.config,
               "# managed mode: written by managed_network_test\n"
               "[host]\n"
               "keyset = \"" + (h.state / "keyset").string() + "\"\n"
               "password_file = \"" + h.password.string() + "\"\n"
               "interface = \"cordon0\"\n"
               "listen_port = " + std::to_string(kPort) + "\n"
               "state_dir = \"" + h.state.string() + "\"\n"
               "control_socket = \"" + h.socket.string() + "\"\n"
               "log_level = \"info\"\n" + extra);
  }

  void start(Host& h) {
    h.daemon = std::make_unique<Process>(
        h.ns.get(), std::vector<std::string>{cordon_bin().string(), "up", "-c", h.config.string()}, h.log,
        "daemon " + h.name);
    std::string why;
    // Unlocking a chosen password costs a 64 MiB Argon2id: allow for it.
    if (!wait_for_daemon(*h.ns, h.socket, "cordon0", *h.daemon, deadline_in(60s), &why))
      throw std::runtime_error(why + "\n" + h.daemon->log_text());
  }

  json status(const Host& h) const { return status_json(*h.ns, h.socket); }

 private:
  TempDir dir_;  // first: removed last
  fs::path db_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::unique_ptr<Lan> lan_;
};

std::vector<std::string> peer_ids(const json& status) {
  std::vector<std::string> ids;
  if (status.contains("peers") && status["peers"].is_array())
    for (const auto& p : status["peers"])
      if (p.contains("id") && p["id"].is_string()) ids.push_back(p["id"].get<std::string>());
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The harness's three-member underlay itself: every member reaches every
// other over IPv4 and IPv6 through the bridge. Without this, a broken Lan
// would show up below as a Cordon failure.
TEST_F(ManagedNetworkTest, LanJoinsThreeNamespaces) {
  Namespace x("lan-x"), y("lan-y"), z("lan-z");
  Lan lan("lan", {&x, &y, &z});
  const Namespace* members[] = {&x, &y, &z};
  for (size_t from = 0; from < 3; ++from) {
    for (size_t to = 0; to < 3; ++to) {
      if (from == to) continue;
      EXPECT_TRUE(wait_for_ping(*members[from], Lan::v4(to), deadline_in(10s))) << from << " -> " << to;
      EXPECT_TRUE(wait_for_ping(*members[from], Lan::v6(to), deadline_in(10s))) << from << " -> " << to;
    }
  }
  EXPECT_EQ(Lan::v4(2), "10.200.0.3");
  EXPECT_EQ(Lan::v6(0), "fd00:200::1");
}

TEST_F(ManagedNetworkTest, AdministeredNetworkComesUpAndAdoptsALinkRemoval) {
  ManagedNetwork net;
  Host& hub = net.hub();
  Host& a = net.a();
  Host& b = net.b();

  // ---- 1. The administrator defines the network. ----------------------------
  net.admin_checked({"network", "init", "--number", "1", "--name", "e2e", "--ipv4", "10.77.0.0/16", "--ipv6",
                     "fd77::/64"});
  for (Host* h : {&hub, &a, &b}) {
    std::vector<std::string> args = {"host", "add", "--name", h->name, "--endpoint",
                                     endpoint_text(h->underlay(), kPort)};
    if (h == &hub) {
      args.insert(args.end(), {"--role", "coordinator"});
    } else {
      args.insert(args.end(), {"--role", "client", "--coordinator", "hub"});
    }
    json added = net.admin_json(args);
    h->id = added.at("id").get<std::string>();
    h->tun4 = address_of(added.at("tunnel_v4"));
    h->tun6 = address_of(added.at("tunnel_v6"));
  }
  EXPECT_EQ(hub.id, "0x00010001");
  EXPECT_EQ(a.tun4, "10.77.0.2");
  EXPECT_EQ(b.tun6, "fd77::3");

  // Users: `a` chooses its password (full Argon2id); `hub` and `b` get a
  // generated one, shown once (minimum-cost Argon2id: 110 bits of entropy).
  write_file(a.password, std::string(kChosenPassword) + "\n", 0600);
  json user_a = net.admin_json({"user", "add", "--host", "a", "--name", "alice", "--password-file",
                                a.password.string()});
  EXPECT_EQ(user_a.value("password", ""), "chosen") << user_a.dump(2);
  for (Host* h : {&hub, &b}) {
    json user = net.admin_json({"user", "add", "--host", h->name, "--name", "ops-" + h->name});
    ASSERT_TRUE(user.contains("generated_password")) << user.dump(2);
    const std::string generated = user["generated_password"].get<std::string>();
    EXPECT_EQ(generated.size(), 22u) << generated;
    write_file(h->password, generated + "\n", 0600);
  }

  net.admin_checked({"link", "add", "a", "b"});
  json links = net.admin_json({"link", "list"});
  ASSERT_EQ(links.size(), 3u) << "expected hub-a, hub-b (automatic) and a-b:\n" << links.dump(2);

  // ---- 2. Key sets: exported by the admin, installed on each host. ----------
  for (Host* h : {&hub, &a, &b}) {
    const fs::path out = net.file(h->name + ".keyset");
    json exported = net.admin_json({"keyset", "export", "--host", h->name, "--out", out.string()});
    EXPECT_EQ(exported.value("version", 0u), 1u) << exported.dump(2);
    EXPECT_EQ(exported.value("peers", 0u), 2u) << exported.dump(2);
    fs::create_directories(h->state);
    fs::permissions(h->state, fs::perms::owner_all);
    RunResult installed = net.on(*h, {"keyset", "install", out.string(), "--password-file",
                                      h->password.string(), "--state-dir", h->state.string()});
    ASSERT_TRUE(installed.ok()) << installed.describe();
    ASSERT_TRUE(fs::exists(h->state / "keyset")) << installed.describe();
  }

  // ---- 3. The daemons start from their key sets and pass traffic. -----------
  for (Host* h : {&hub, &a, &b}) {
    net.write_config(*h);
    net.start(*h);
  }
  json status_a = net.status(a);
  EXPECT_EQ(status_a.value("host", std::string()), a.id) << status_a.dump(2);
  EXPECT_EQ(peer_ids(status_a), sorted({hub.id, b.id})) << status_a.dump(2);
  // The key sets leave the default rekey period out; the links have it.
  ASSERT_NE(find_peer(status_a, hub.id), nullptr) << status_a.dump(2);
  EXPECT_EQ(find_peer(status_a, hub.id)->at("rekey").value("period", 0), 3600) << status_a.dump(2);

  ASSERT_TRUE(wait_for_ping(*a.ns, b.tun4, deadline_in(20s))) << "a cannot reach b over IPv4";
  EXPECT_TRUE(wait_for_ping(*a.ns, b.tun6, deadline_in(10s))) << "a cannot reach b over IPv6";
  EXPECT_TRUE(wait_for_ping(*b.ns, a.tun4, deadline_in(10s))) << "b cannot reach a";
  ASSERT_TRUE(wait_for_ping(*a.ns, hub.tun4, deadline_in(10s))) << "a cannot reach hub";
  EXPECT_TRUE(wait_for_ping(*a.ns, hub.tun6, deadline_in(10s))) << "a cannot reach hub over IPv6";
  EXPECT_TRUE(wait_for_ping(*b.ns, hub.tun4, deadline_in(10s))) << "b cannot reach hub";

  // Traffic a-hub that goes on through the update: a burst that gives hub's
  // counters on a a high mark, then a steady background ping.
  RunResult burst =
      run(a.ns.get(), {"ping", "-n", "-q", "-c", "200", "-i", "0.005", "-W", "2", hub.tun4}, 60s);
  ASSERT_TRUE(burst.ok()) << burst.describe();
  Process background(a.ns.get(), {"ping", "-n", "-i", "0.2", hub.tun4}, net.file("background-ping.log"),
                     "background ping a -> hub");
  // Far above what a fresh peer could count in the seconds the update
  // takes, so a reset below cannot hide.
  const uint64_t hub_rx_before = peer_counter(net.status(a), hub.id, "rx_packets");
  ASSERT_GE(hub_rx_before, 100u) << net.status(a).dump(2);

  // ---- 4. The link a-b is removed; the updates are built and applied. ------
  net.admin_checked({"link", "remove", "a", "b"});
  // The network's new rekey period goes out with the same packages
  // (docs/administration.md, "Network settings").
  net.admin_checked({"network", "set", "--rekey-period", "600"});
  const fs::path updates = net.file("updates");
  json built = net.admin_json({"updates", "build", "--out", updates.string()});
  ASSERT_TRUE(built.contains("packages")) << built.dump(2);
  std::vector<std::string> package_hosts;
  for (const auto& p : built["packages"]) {
    package_hosts.push_back(p.value("host", ""));
    EXPECT_EQ(p.value("version", 0u), 2u) << p.dump(2);
    if (p.value("host", "") == hub.id) {
      // The hub is the registry of a and b: its served links change, its
      // keys do not (docs/administration.md).
      EXPECT_EQ(p.value("kind", ""), "address-book") << p.dump(2);
    } else {
      EXPECT_EQ(p.value("kind", ""), "keys") << p.dump(2);
      EXPECT_EQ(p.value("peers", 0u), 1u) << p.dump(2);
    }
  }
  ASSERT_EQ(sorted(package_hosts), sorted({hub.id, a.id, b.id})) << built.dump(2);

  for (Host* h : {&hub, &a, &b}) {
    std::string path;
    for (const auto& p : built["packages"])
      if (p.value("host", "") == h->id) path = p.value("path", "");
    ASSERT_TRUE(fs::exists(path)) << path << "\n" << built.dump(2);
    RunResult applied = net.on(*h, {"update", "apply", path, "--password-file", h->password.string(),
                                    "--state-dir", h->state.string(), "-s", h->socket.string()});
    ASSERT_TRUE(applied.ok()) << applied.describe();
    EXPECT_NE(applied.out.find("reloaded: version 2"), std::string::npos) << applied.describe();
    // Applying the same package again is a replay: refused.
    RunResult again = net.on(*h, {"update", "apply", path, "--password-file", h->password.string(),
                                  "--state-dir", h->state.string(), "-s", h->socket.string()});
    EXPECT_NE(again.exit_code, 0) << again.describe();
  }

  // ---- 5. a-b is gone; a-hub kept flowing on the same peer. -----------------
  status_a = net.status(a);
  const uint64_t hub_rx_after = peer_counter(status_a, hub.id, "rx_packets");
  EXPECT_GE(hub_rx_after, hub_rx_before)
      << "hub's counters on a went back: the reload rebuilt a link whose key did not change\n"
      << status_a.dump(2);
  EXPECT_EQ(peer_ids(status_a), std::vector<std::string>{hub.id}) << status_a.dump(2);
  const json* hub_at_a = find_peer(status_a, hub.id);
  ASSERT_NE(hub_at_a, nullptr) << status_a.dump(2);
  EXPECT_EQ(hub_at_a->at("rekey").value("period", 0), 600) << status_a.dump(2);
  json status_b = net.status(b);
  EXPECT_EQ(peer_ids(status_b), std::vector<std::string>{hub.id}) << status_b.dump(2);

  // The background ping keeps being answered through the unchanged tunnel.
  json later;
  EXPECT_TRUE(poll_until(deadline_in(20s), [&] {
    later = net.status(a);
    return peer_counter(later, hub.id, "rx_packets") >= hub_rx_after + 5;
  }, 100ms)) << later.dump(2);
  EXPECT_TRUE(background.running()) << background.log_text();
  EXPECT_TRUE(wait_for_ping(*a.ns, hub.tun4, deadline_in(10s)));
  EXPECT_TRUE(wait_for_ping(*b.ns, hub.tun4, deadline_in(10s)));

  // a and b no longer reach each other, in either direction, and a counts
  // the packets it had no peer for.
  const uint64_t no_route_before = drop_count(net.status(a), "no_route");
  RunResult a_to_b = run(a.ns.get(), {"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", b.tun4}, 30s);
  EXPECT_FALSE(a_to_b.ok()) << a_to_b.describe();
  auto stats = parse_ping_stats(a_to_b.out);
  ASSERT_TRUE(stats.has_value()) << a_to_b.describe();
  EXPECT_EQ(stats->received, 0) << a_to_b.describe();
  RunResult b_to_a = run(b.ns.get(), {"ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", a.tun6}, 30s);
  EXPECT_FALSE(b_to_a.ok()) << b_to_a.describe();
  json dropped;
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    dropped = net.status(a);
    return drop_count(dropped, "no_route") >= no_route_before + 3;
  }, 100ms)) << dropped.dump(2);

  // The installed key sets are at version 2, the hub's too (its served links).
  for (Host* h : {&hub, &a, &b}) {
    RunResult shown = net.on(*h, {"keyset", "show", "--state-dir", h->state.string()});
    EXPECT_NE(shown.out.find("version  2"), std::string::npos) << shown.describe();
  }
}

// The administrator's part for the TCP tunnel test: hub (coordinator, fixed
// endpoint) and its clients a and b, linked, with no endpoints (they are
// wherever they are, so a and b reach each other through hub), each with
// an installed key set and a generated password.
void set_up_hub_and_clients(ManagedNetwork& net) {
  Host& hub = net.hub();
  net.admin_checked({"network", "init", "--number", "1", "--name", "tcp", "--ipv4", "10.77.0.0/16"});
  for (Host* h : {&hub, &net.a(), &net.b()}) {
    std::vector<std::string> args = {"host", "add", "--name", h->name};
    if (h == &hub) {
      args.insert(args.end(), {"--role", "coordinator", "--endpoint", endpoint_text(hub.underlay(), kPort)});
    } else {
      args.insert(args.end(), {"--role", "client", "--coordinator", "hub"});
    }
    json added = net.admin_json(args);
    h->id = added.at("id").get<std::string>();
    h->tun4 = address_of(added.at("tunnel_v4"));
  }
  net.admin_checked({"link", "add", "a", "b"});
  for (Host* h : {&hub, &net.a(), &net.b()}) {
    json user = net.admin_json({"user", "add", "--host", h->name, "--name", "ops-" + h->name});
    write_file(h->password, user.at("generated_password").get<std::string>() + "\n", 0600);
    const fs::path out = net.file(h->name + ".keyset");
    net.admin_checked({"keyset", "export", "--host", h->name, "--out", out.string()});
    fs::create_directories(h->state);
    fs::permissions(h->state, fs::perms::owner_all);
    RunResult installed = net.on(*h, {"keyset", "install", out.string(), "--password-file", h->password.string(),
                                      "--state-dir", h->state.string()});
    if (!installed.ok()) throw std::runtime_error(installed.describe());
  }
}

TEST_F(ManagedNetworkTest, ClientFallsBackToTheTcpTunnelWhenUdpIsBlocked) {
  ManagedNetwork net;
  Host& hub = net.hub();
  Host& a = net.a();
  Host& b = net.b();
  set_up_hub_and_clients(net);
  constexpr uint16_t kTcpPort = 4443;

  // a's UDP to and from the cordon port is dropped (a network that lets
  // only TCP out), before a says anything.
  const std::string rules = "table inet cordon_udp_block {\n"
                            "  chain out { type filter hook output priority 0; udp dport " +
                            std::to_string(kPort) + " drop; }\n"
                            "  chain in { type filter hook input priority 0; udp sport " +
                            std::to_string(kPort) + " drop; }\n"
                            "}\n";
  const fs::path rules_file = net.file("udp-block.nft");
  write_file(rules_file, rules);
  RunResult nft = run(a.ns.get(), {"nft", "-f", rules_file.string()}, 10s);
  ASSERT_TRUE(nft.ok()) << nft.describe();

  net.write_config(hub, "tcp_port = " + std::to_string(kTcpPort) + "\n");
  // The default TCP fallback, 30 s.
  net.write_config(a, "tcp_port = " + std::to_string(kTcpPort) + "\n");
  net.write_config(b, "tcp_port = " + std::to_string(kTcpPort) + "\n");
  net.start(hub);
  net.start(a);
  net.start(b);

  // a gives up on UDP after 30 s and connects; then traffic flows over TCP.
  json status_a;
  ASSERT_TRUE(poll_until(deadline_in(50s), [&] {
    status_a = net.status(a);
    return status_a.value("tcp", false);
  }, 200ms)) << status_a.dump(2) << "\n" << a.daemon->log_text();
  ASSERT_TRUE(wait_for_ping(*a.ns, hub.tun4, deadline_in(20s))) << a.daemon->log_text() << hub.daemon->log_text();
  status_a = net.status(a);
  const json* hub_at_a = find_peer(status_a, hub.id);
  ASSERT_NE(hub_at_a, nullptr) << status_a.dump(2);
  EXPECT_EQ(hub_at_a->value("path", ""), "tcp") << status_a.dump(2);
  EXPECT_NE(hub_at_a->value("endpoint", "").find("(tcp stream 1)"), std::string::npos) << status_a.dump(2);

  json status_hub = net.status(hub);
  EXPECT_EQ(status_hub.value("tcp_port", 0), kTcpPort) << status_hub.dump(2);
  EXPECT_EQ(status_hub.value("tcp_streams", 0), 1) << status_hub.dump(2);
  const json* a_at_hub = find_peer(status_hub, a.id);
  ASSERT_NE(a_at_hub, nullptr) << status_hub.dump(2);
  EXPECT_EQ(a_at_hub->value("path", ""), "tcp") << status_hub.dump(2);
  EXPECT_GE(peer_counter(status_hub, a.id, "rx_packets"), 1u) << status_hub.dump(2);

  RunResult shown = net.on(a, {"status", "-s", a.socket.string()});
  EXPECT_NE(shown.out.find("tcp yes"), std::string::npos) << shown.describe();

  // a and b through hub: a's datagrams reach hub on the stream and leave
  // over UDP; b's reach hub over UDP and are forwarded onto a's stream.
  const uint64_t relayed_before = net.status(hub)["relay"].value("packets", uint64_t{0});
  EXPECT_TRUE(wait_for_ping(*a.ns, b.tun4, deadline_in(20s))) << hub.daemon->log_text();
  EXPECT_TRUE(wait_for_ping(*b.ns, a.tun4, deadline_in(20s))) << hub.daemon->log_text();
  status_hub = net.status(hub);
  EXPECT_GE(status_hub["relay"].value("packets", uint64_t{0}), relayed_before + 4) << status_hub.dump(2);

  // UDP works again: a's UDP probe (every 10 s while on TCP) is answered,
  // a moves back to UDP and closes the stream.
  RunResult unblocked = run(a.ns.get(), {"nft", "delete", "table", "inet", "cordon_udp_block"}, 10s);
  ASSERT_TRUE(unblocked.ok()) << unblocked.describe();
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    status_hub = net.status(hub);
    return !net.status(a).value("tcp", true) && status_hub.value("tcp_streams", 1) == 0;
  }, 200ms)) << net.status(a).dump(2) << "\n" << status_hub.dump(2) << "\n" << a.daemon->log_text();
  EXPECT_TRUE(wait_for_ping(*a.ns, hub.tun4, deadline_in(20s)));
  status_a = net.status(a);
  hub_at_a = find_peer(status_a, hub.id);
  ASSERT_NE(hub_at_a, nullptr) << status_a.dump(2);
  EXPECT_EQ(hub_at_a->value("path", ""), "direct") << status_a.dump(2);
}

}  // namespace
}  // namespace cordon::netns
