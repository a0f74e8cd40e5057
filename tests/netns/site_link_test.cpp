// Site links on the real kernel (docs/site-links.md): one primary, a backup
// primary and two secondaries with a LAN each, every gateway started by
// `cordon sitelink` from a site-link file in the reference format.
//
//     p 203.0.113.1      d 203.0.113.4       s1 203.0.113.2       s2 203.0.113.3
//     primary            backup primary      secondary            secondary
//          |                  |                  |                     |
//   ============ "internet" 203.0.113.0/24 (a bridge) ============================
//                                          s1 lan0 192.168.21.1  s2 lan0 192.168.22.1
//                                                |                     |
//                                          h1 192.168.21.10      h2 192.168.22.10
//
// s1 lists d as its backup primary. Heartbeats are fast (heartbeat_time 1,
// heartbeat_fail 3) so that a loss shows in seconds. Checked, in order:
//  - LAN-to-LAN traffic, h1 to h2 through the primary;
//  - administration on a group and on one session: status, rekey, shutdown
//    (the other secondary logs peer_shutdown, traffic stops) and start,
//    new-array and flush-array (with and without --new);
//  - the primary's underlay cut: a TCP connection from h2 to h1 is reset by
//    s2, which logs the loss with its reason and retries after 5, 10, 15 s;
//    s1 fails over to d;
//  - the underlay back: `cordon sitelink return` takes s1 back to the
//    primary, s2 reconnects by itself, h1 reaches h2 again.
// Every machine is a namespace this test creates (cordon-...-sl-*). It
// takes about a minute: the back-off alone is 5 + 10 + 15 s.
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/netns/nat_topology.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using SiteLinkTest = NetnsTest;

constexpr const char* kH1 = "192.168.21.10";
constexpr const char* kH2 = "192.168.22.10";
constexpr uint16_t kTcpPort = 7100;

std::runtime_error failure(const std::string& what) { return std::runtime_error(what); }

struct Gateway {
  std::unique_ptr<Namespace> ns;
  fs::path file, socket;
  std::unique_ptr<Process> daemon;
};

// A site-link file: the local section (with fast heartbeats) and the
// remotes, as written.
std::string site_file(const std::string& address, const std::string& host_id, const std::string& tunnel,
                      const fs::path& dir, const std::string& name, const std::string& remotes) {
  return "# " + name + "\nlocalstart\nip 4\naddress " + address +
         "\nheartbeat_time 1\nheartbeat_fail 3\nhost_id " + host_id + "\ntunnel_address " + tunnel +
         "\nstate_dir " + (dir / (name + "-state")).string() + "\ncontrol_socket " +
         (dir / (name + ".sock")).string() + "\nlocalend\n\n" + remotes;
}

std::string remote(int n, const std::string& address, const std::string& subnet, const std::string& host_id,
                   const std::string& key, const std::string& tunnel, const std::string& extra = "") {
  const std::string p = std::to_string(n) + "/";
  return p + "address " + address + "\n" + p + "subnet1 " + subnet + "\n" + p + "mask1 255.255.255.0\n" + p +
         "host_id " + host_id + "\n" + p + "key_file " + key + "\n" + p + "tunnel_address " + tunnel + "\n" + extra +
         "\n";
}

class SiteLinks {
 public:
  explicit SiteLinks(const fs::path& dir) : dir_(dir), internet_("sl-net") {
    for (auto* g : {&p_, &d_, &s1_, &s2_}) g->ns = std::make_unique<Namespace>("sl-gw");
    h1_ = std::make_unique<Namespace>("sl-h1");
    h2_ = std::make_unique<Namespace>("sl-h2");
    internet_.attach(*p_.ns, "ul0", "203.0.113.1/24");
    internet_.attach(*s1_.ns, "ul0", "203.0.113.2/24");
    internet_.attach(*s2_.ns, "ul0", "203.0.113.3/24");
    internet_.attach(*d_.ns, "ul0", "203.0.113.4/24");
    lan(*s1_.ns, *h1_, "192.168.21");
    lan(*s2_.ns, *h2_, "192.168.22");
    for (const char* k : {"p-s1.key", "p-s2.key", "d-s1.key"}) genkey(dir_ / k);
    write(p_, "p", "primary",
          site_file("203.0.113.1", "0x00630001", "10.99.0.1/24", dir_, "p",
                    remote(1, "203.0.113.2", "192.168.21.0", "0x00630002", "p-s1.key", "10.99.0.2",
                           "1/group east\n1/group sites\n") +
                        remote(2, "203.0.113.3", "192.168.22.0", "0x00630003", "p-s2.key", "10.99.0.3",
                               "2/group sites\n2/key_type AES256\n")));
    write(d_, "d", "primary",
          site_file("203.0.113.4", "0x00630004", "10.99.0.4/24", dir_, "d",
                    remote(1, "203.0.113.2", "192.168.21.0", "0x00630002", "d-s1.key", "10.99.0.2")));
    write(s1_, "s1", "secondary",
          site_file("203.0.113.2", "0x00630002", "10.99.0.2/24", dir_, "s1",
                    remote(1, "203.0.113.1", "192.168.22.0", "0x00630001", "p-s1.key", "10.99.0.1") +
                        remote(2, "203.0.113.4", "192.168.22.0", "0x00630004", "d-s1.key", "10.99.0.4",
                               "2/backup yes\n")));
    write(s2_, "s2", "secondary",
          site_file("203.0.113.3", "0x00630003", "10.99.0.3/24", dir_, "s2",
                    remote(1, "203.0.113.1", "192.168.21.0", "0x00630001", "p-s2.key", "10.99.0.1",
                           "1/key_type AES256\n")));
  }

  Gateway& p() { return p_; }
  Gateway& d() { return d_; }
  Gateway& s1() { return s1_; }
  Gateway& s2() { return s2_; }
  const Namespace& h1() const { return *h1_; }
  const Namespace& h2() const { return *h2_; }

  // `cordon sitelink ACTION ARGS... -s SOCKET`, in the gateway's namespace.
  RunResult admin(const Gateway& g, std::vector<std::string> args) const {
    std::vector<std::string> argv{cordon_bin().string(), "sitelink"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"-s", g.socket.string()});
    return run(g.ns.get(), argv, 20s);
  }
  json admin_json(const Gateway& g, std::vector<std::string> args) const {
    args.push_back("--json");
    RunResult r = admin(g, args);
    if (!r.ok()) throw failure("cordon sitelink " + join(args) + ": " + r.describe());
    return json::parse(r.out);
  }
  // The session state `g` reports for `peer` ("up", "lost", ...).
  std::string session(const Gateway& g, const std::string& peer) const {
    const json status = status_json(*g.ns, g.socket);
    const json* e = find_peer(status, peer);
    if (!e || !(*e)["session"].is_object()) return "none";
    return (*e)["session"].value("state", "?");
  }

 private:
  void lan(const Namespace& gw, const Namespace& host, const std::string& prefix) {
    run_checked(&gw, {"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", host.name()});
    run_checked(&gw, {"ip", "addr", "add", prefix + ".1/24", "dev", "lan0"});
    run_checked(&gw, {"ip", "link", "set", "lan0", "up"});
    run_checked(&host, {"ip", "addr", "add", prefix + ".10/24", "dev", "lan0"});
    run_checked(&host, {"ip", "link", "set", "lan0", "up"});
    run_checked(&host, {"ip", "route", "add", "default", "via", prefix + ".1"});
  }
  void write(Gateway& g, const std::string& name, const std::string& role, const std::string& text) {
    g.file = dir_ / (name + ".conf");
    g.socket = dir_ / (name + ".sock");
    write_file(g.file, text);
    g.daemon = std::make_unique<Process>(
        g.ns.get(), std::vector<std::string>{cordon_bin().string(), "sitelink", role, "-c", g.file.string()},
        dir_ / (name + ".log"), "sitelink " + name);
    std::string why;
    if (!wait_for_daemon(*g.ns, g.socket, "cordon0", *g.daemon, deadline_in(20s), &why)) {
      throw failure(why + "\n" + g.daemon->log_text());
    }
  }

  fs::path dir_;
  Switch internet_;
  Gateway p_, d_, s1_, s2_;
  std::unique_ptr<Namespace> h1_, h2_;
};

// A TCP client in h2 that sends a line every 100 ms to h1 until the
// connection breaks, and prints why: "reset" for a reset.
const char* kClient = R"(
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print("connected", flush=True)
try:
    while True:
        s.sendall(b"line\n")
        time.sleep(0.1)
except (ConnectionResetError, BrokenPipeError):
    print("reset", flush=True)
except OSError as e:
    print("error", e, flush=True)
)";
const char* kServer = R"(
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(1)
c, _ = l.accept()
while c.recv(4096):
    pass
)";

TEST_F(SiteLinkTest, LanToLanThroughThePrimaryWithAdministrationLossResetsBackOffAndFailover) {
  TempDir dir("sl");
  SiteLinks net(dir.path());

  // LAN to LAN through the primary.
  ASSERT_TRUE(wait_for_ping(net.h1(), kH2, deadline_in(20s)));
  const json status = net.admin_json(net.p(), {"status"});
  ASSERT_EQ(status["sessions"].size(), 2u) << status.dump(2);
  for (const json& s : status["sessions"]) EXPECT_EQ(s["status"]["session"]["state"], "up") << s.dump(2);
  EXPECT_EQ(find_peer(status_json(*net.p().ns, net.p().socket), "0x00630003")->value("suite", ""), "aes-256-gcm");

  // Rekey a group, then one session.
  const auto generation = [&](const std::string& peer) {
    return find_peer(status_json(*net.p().ns, net.p().socket), peer)->at("rekey").value("generation", 0u);
  };
  const unsigned g1 = generation("0x00630002"), g2 = generation("0x00630003");
  const json rekeyed = net.admin_json(net.p(), {"rekey", "--group", "sites"});
  EXPECT_EQ(rekeyed["sessions"].size(), 2u);
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return generation("0x00630002") > g1 && generation("0x00630003") > g2;
  }));
  EXPECT_EQ(net.admin_json(net.p(), {"status", "--group", "east"})["sessions"].size(), 1u);
  const json one = net.admin_json(net.p(), {"status", "--peer", "2"});
  ASSERT_EQ(one["sessions"].size(), 1u);
  EXPECT_EQ(one["sessions"][0]["status"]["name"], "remote 2");
  const RunResult unknown = net.admin(net.p(), {"rekey", "--group", "nope"});
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.err.find("no group \"nope\"; the groups are: east, sites"), std::string::npos) << unknown.describe();

  // Shut one session down: the secondary hears it, traffic stops; start it again.
  net.admin_json(net.p(), {"shutdown", "--peer", "2"});
  EXPECT_EQ(net.session(net.p(), "0x00630003"), "shutdown");
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return file_contains(dir / "s2.log", "session_lost reason=peer_shutdown");
  }));
  EXPECT_FALSE(ping_once(net.h1(), kH2));
  net.admin_json(net.p(), {"start", "--peer", "2"});
  EXPECT_TRUE(wait_for_ping(net.h1(), kH2, deadline_in(30s)));
  const unsigned before = generation("0x00630003");
  EXPECT_TRUE(net.admin_json(net.p(), {"rekey", "--peer", "2"})["sessions"][0].value("ok", false));
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return generation("0x00630003") > before; }));
  // Key arrays: delivered after the first round; new ones on a group, a
  // flush of one kind and a flush with new ones on one session. The
  // secondary holds what the primary holds, and cannot make arrays itself.
  const auto arrays = [&](const Gateway& g, const std::string& peer) {
    return find_peer(status_json(*g.ns, g.socket), peer)->at("rekey").at("arrays");
  };
  const auto settled = [](const json& a, const char* kind) {
    return a.is_object() && a[kind].value("id", 0u) != 0 && a[kind].value("delivering", 0u) == 0;
  };
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] { return settled(arrays(net.p(), "0x00630002"), "data"); }));
  const unsigned data1 = arrays(net.p(), "0x00630002")["data"]["id"];
  const json renewed = net.admin_json(net.p(), {"new-array", "--group", "sites"});
  ASSERT_EQ(renewed["sessions"].size(), 2u);
  for (const json& s : renewed["sessions"]) EXPECT_TRUE(s.value("ok", false)) << s.dump(2);
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    const json a = arrays(net.p(), "0x00630002");
    return settled(a, "data") && settled(a, "control") && a["data"].value("id", 0u) != data1 &&
           settled(arrays(net.p(), "0x00630003"), "data");
  }));
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return arrays(net.s1(), "0x00630001")["data"].value("id", 0u) ==
           arrays(net.p(), "0x00630002")["data"].value("id", 1u);
  }));
  const json flushed = net.admin_json(net.p(), {"flush-array", "--peer", "1", "--arrays", "control"});
  EXPECT_EQ(flushed["sessions"][0]["status"]["rekey"]["arrays"]["control"].value("id", 1u), 0u) << flushed.dump(2);
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return arrays(net.s1(), "0x00630001")["control"].value("id", 1u) == 0; }));
  net.admin_json(net.p(), {"flush-array", "--peer", "1", "--new"});
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    const json a = arrays(net.s1(), "0x00630001");
    return a["control"].value("id", 0u) != 0 && a["control"].value("id", 0u) == arrays(net.p(), "0x00630002")["control"].value("id", 1u);
  }));
  const RunResult on_secondary = net.admin(net.s1(), {"new-array", "--all"});
  EXPECT_NE(on_secondary.out.find("run this on the primary"), std::string::npos) << on_secondary.describe();
  // A rekey after all that still goes through, naming array entries.
  const unsigned after_arrays = generation("0x00630002");
  net.admin_json(net.p(), {"rekey", "--peer", "1"});
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return generation("0x00630002") > after_arrays; }));
  EXPECT_LT(arrays(net.p(), "0x00630002")["data"].value("left", 256u), 256u);

  // The plain output: one line per session.
  const RunResult plain = net.admin(net.p(), {"status"});
  EXPECT_NE(plain.out.find("remote 1"), std::string::npos) << plain.describe();
  EXPECT_NE(plain.out.find("session up"), std::string::npos) << plain.describe();
  const RunResult table = run(net.p().ns.get(), {cordon_bin().string(), "status", "-s", net.p().socket.string()});
  EXPECT_NE(table.out.find("site link sessions:"), std::string::npos) << table.describe();
  EXPECT_NE(table.out.find("KEY ARRAYS"), std::string::npos) << table.describe();

  // A TCP connection from h2 to h1, then the primary's underlay goes.
  write_file(dir / "server.py", kServer);
  write_file(dir / "client.py", kClient);
  Process server(&net.h1(), {"python3", (dir / "server.py").string(), std::to_string(kTcpPort)}, dir / "server.log",
                 "tcp server");
  ASSERT_TRUE(wait_for_tcp_listener(net.h1(), kTcpPort, deadline_in(10s)));
  Process client(&net.h2(), {"python3", (dir / "client.py").string(), kH1, std::to_string(kTcpPort)},
                 dir / "client.log", "tcp client");
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] { return file_contains(dir / "client.log", "connected"); }));
  run_checked(net.p().ns.get(), {"ip", "link", "set", "ul0", "down"});

  // s2 loses the session, ends the connection with a reset, and backs off.
  EXPECT_TRUE(poll_until(deadline_in(20s), [&] {
    return file_contains(dir / "s2.log", "session_lost reason=heartbeat_timeout");
  }));
  EXPECT_TRUE(client.wait_exit(deadline_in(30s)).has_value());
  EXPECT_TRUE(file_contains(dir / "client.log", "reset")) << client.log_text();
  EXPECT_GT(drop_count(status_json(*net.s2().ns, net.s2().socket), "session_down"), 0u);
  // s1 fails over to its backup primary.
  EXPECT_TRUE(poll_until(deadline_in(20s), [&] { return net.session(net.s1(), "0x00630004") == "up"; }));
  EXPECT_EQ(net.session(net.s1(), "0x00630001"), "standby");
  EXPECT_TRUE(file_contains(dir / "s1.log", "failover to the backup primary"));
  EXPECT_TRUE(wait_for_ping(net.h1(), "10.99.0.4", deadline_in(10s)));
  EXPECT_TRUE(poll_until(deadline_in(45s), [&] { return file_contains(dir / "s2.log", "session_retry after 15 s"); }));
  const std::string s2_log = read_file(dir / "s2.log");
  const size_t five = s2_log.find("session_retry after 5 s"), ten = s2_log.find("session_retry after 10 s");
  ASSERT_NE(five, std::string::npos) << s2_log;
  ASSERT_NE(ten, std::string::npos) << s2_log;
  EXPECT_LT(five, ten);
  EXPECT_LT(ten, s2_log.find("session_retry after 15 s"));

  // The underlay is back: s1 returns on command, s2 reconnects by itself.
  run_checked(net.p().ns.get(), {"ip", "link", "set", "ul0", "up"});
  const json returned = net.admin_json(net.s1(), {"return"});
  EXPECT_EQ(returned.value("returned", false), true) << returned.dump();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return net.session(net.s1(), "0x00630001") == "up"; }));
  EXPECT_EQ(net.session(net.s1(), "0x00630004"), "standby");
  EXPECT_TRUE(wait_for_ping(net.h1(), kH2, deadline_in(40s)));
  EXPECT_EQ(net.session(net.s2(), "0x00630001"), "up");
}

}  // namespace
}  // namespace cordon::netns
