// Couriers on the real kernel (docs/couriers.md), through the real `cordon`
// binary: two coordinators `hub` (the administration courier) and `hub2`,
// the administration host `adm` and a client `a` behind hub, a client `b`
// behind hub2, all on one bridged underlay. Updates go from `cordon admin
// updates build --send` on adm's control socket through hub and hub2 to
// the hosts, and the receipts come back; nothing is carried by hand after
// the first key sets.
//
//   LinkAddedReachesBothHostsWithoutCarrying: a link a-b is added, built
//     and sent; both pass traffic over it within seconds, the status shows
//     both applied, and a ping a -> hub that runs through it loses nothing
//     (a's link with hub keeps its keys).
//   OfflineHostAndCourierKilled: b is down while an update is sent (the
//     status says hub2 holds it); hub2 is killed with SIGKILL and
//     restarted; b comes back and applies the update, once.
//   ThroughNatRouters: the coordinator topology with NAT routers
//     (nat_topology.hpp), c1 the administration host: a link between b,
//     behind a NAT router and served by c1, and d, served by c2, is added
//     and sent; both apply it and reach each other.
//   LiveStatusFollowsTheHosts: with short registry timers, `cordon admin
//     status` on adm shows every host reachable as the coordinators
//     report it, a's path to b once they are linked, and b unreachable
//     soon after its daemon stops.
//   CompromiseRevokesEverywhere: `host compromise b`, built and sent: a
//     drops its link with b, both coordinators refuse b and count it
//     (revoked_host), and the status shows every peer confirmed.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/netns/nat_topology.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using CourierTest = NetnsTest;

constexpr uint16_t kPort = 51820;

struct Host {
  std::string name;
  size_t lan_index = 0;
  std::unique_ptr<Namespace> ns;
  std::string id, tun4;
  fs::path state, password, config, socket, log;
  std::string extra_config;  // more [host] keys
  std::unique_ptr<Process> daemon;
  std::string underlay() const { return Lan::v4(lan_index); }
};

std::string address_of(const json& prefix_text) {
  std::string s = prefix_text.get<std::string>();
  return s.substr(0, s.find('/'));
}

class CourierNetwork {
 public:
  CourierNetwork() : dir_("netns-courier") {
    db_ = dir_ / "admin.db";
    const char* names[] = {"hub", "hub2", "adm", "a", "b"};
    std::vector<const Namespace*> members;
    for (size_t i = 0; i < 5; ++i) {
      auto h = std::make_unique<Host>();
      h->name = names[i];
      h->lan_index = i;
      h->ns = std::make_unique<Namespace>(std::string("courier-") + names[i]);
      h->state = dir_ / ("state-" + h->name);
      h->password = dir_ / ("password-" + h->name);
      h->config = dir_ / (h->name + ".toml");
      h->socket = dir_ / (h->name + ".sock");
      h->log = dir_ / ("daemon-" + h->name + ".log");
      members.push_back(h->ns.get());
      hosts_.push_back(std::move(h));
    }
    lan_ = std::make_unique<Lan>("courier", members);
  }
  ~CourierNetwork() {
    for (auto& h : hosts_) h->daemon.reset();
  }

  Host& host(std::string_view name) {
    for (auto& h : hosts_) {
      if (h->name == name) return *h;
    }
    throw std::runtime_error("no host " + std::string(name));
  }
  fs::path file(std::string_view name) const { return dir_ / name; }

  RunResult admin(std::vector<std::string> args) const {
    args.insert(args.begin(), {cordon_bin().string(), "admin", "--db", db_.string()});
    return run(nullptr, args, 120s);
  }
  json admin_json(std::vector<std::string> args) const {
    args.push_back("--json");
    RunResult r = admin(args);
    if (!r.ok()) throw std::runtime_error("cordon admin failed: " + r.describe());
    json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("cordon admin printed no JSON: " + r.describe());
    return j;
  }

  // The network, its users and key sets, every daemon running.
  void bring_up() {
    admin_json({"network", "init", "--number", "1", "--name", "couriers", "--ipv4", "10.77.0.0/16"});
    for (const char* name : {"hub", "hub2", "adm", "a", "b"}) {
      Host& h = host(name);
      std::vector<std::string> args = {"host", "add", "--name", h.name, "--endpoint", endpoint_text(h.underlay(), kPort)};
      if (h.name == "hub" || h.name == "hub2") {
        args.insert(args.end(), {"--role", "coordinator"});
      } else {
        args.insert(args.end(), {"--role", "client", "--coordinator", h.name == "b" ? "hub2" : "hub"});
      }
      if (h.name == "adm") args.push_back("--admin-host");
      json added = admin_json(args);
      h.id = added.at("id").get<std::string>();
      h.tun4 = address_of(added.at("tunnel_v4"));
      json user = admin_json({"user", "add", "--host", h.name, "--name", "ops-" + h.name});
      write_file(h.password, user.at("generated_password").get<std::string>() + "\n", 0600);
    }
    for (auto& h : hosts_) {
      const fs::path out = file(h->name + ".keyset");
      admin_json({"keyset", "export", "--host", h->name, "--out", out.string()});
      install_managed_host(*h->ns, files(*h, out), kPort, h->extra_config);
      start(*h);
    }
  }

  static ManagedHostFiles files(const Host& h, const fs::path& keyset = {}) {
    return ManagedHostFiles{keyset, h.password, h.state, h.config, h.socket};
  }

  void start(Host& h) { h.daemon = start_managed_daemon(*h.ns, files(h), h.log, h.name); }

  // `updates build --send` through adm's daemon.
  json build_and_send() { return admin_json({"updates", "build", "--send", "-s", host("adm").socket.string()}); }

  json delivery_status() { return admin_json({"updates", "status", "-s", host("adm").socket.string()}); }

  // For a failure message: every daemon's courier status and log.
  std::string courier_story() {
    std::string out;
    for (auto& h : hosts_) {
      if (!h->daemon) continue;
      json st = status_json(*h->ns, h->socket);
      out += "== " + h->name + " courier: " + (st.contains("courier") ? st["courier"].dump() : "none") + "\n";
      out += "   drops: " + (st.contains("drops") ? st["drops"].dump() : "") + "\n";
      if (st.contains("peers")) {
        for (const json& p : st["peers"]) out += "   peer " + p.value("id", "") + " drops " + p["drops"].dump() + "\n";
      }
      out += h->daemon->log_text();
    }
    return out;
  }

  // The newest package's row for `h` in `updates status --json`.
  static const json* row_for(const json& rows, const Host& h) {
    const json* found = nullptr;
    for (const json& r : rows) {
      if (r.value("host", "") == h.id && (!found || r.value("version", 0) > found->value("version", 0))) found = &r;
    }
    return found;
  }

  // Polls `updates status` until every host in `hosts` shows its newest
  // package applied.
  bool wait_applied(const std::vector<Host*>& hosts, Deadline deadline, json* last) {
    return poll_until(deadline, [&] {
      *last = delivery_status();
      for (const Host* h : hosts) {
        const json* row = row_for(*last, *h);
        if (!row || row->value("state", "") != "applied") return false;
      }
      return true;
    }, 200ms);
  }

  json status(const Host& h) const { return status_json(*h.ns, h.socket); }

 private:
  TempDir dir_;
  fs::path db_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::unique_ptr<Lan> lan_;
};

uint64_t keyset_version(const json& status) {
  if (!status.contains("courier")) return 0;
  return status["courier"].value("installed", uint64_t{0});
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(CourierTest, LinkAddedReachesBothHostsWithoutCarrying) {
  CourierNetwork net;
  net.bring_up();
  Host& a = net.host("a");
  Host& b = net.host("b");
  Host& hub = net.host("hub");
  ASSERT_TRUE(wait_for_ping(*a.ns, hub.tun4, deadline_in(20s))) << "a cannot reach hub";
  // Not linked yet: no route.
  RunResult before = run(a.ns.get(), {"ping", "-n", "-c", "1", "-W", "1", b.tun4}, 10s);
  EXPECT_FALSE(before.ok()) << before.describe();

  // A steady ping a -> hub runs through the whole update.
  Process background(a.ns.get(), {"ping", "-n", "-i", "0.05", hub.tun4}, net.file("background-ping.log"),
                     "background ping a -> hub");
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] { return count_of(background.log_text(), "bytes from") >= 5; }, 50ms));

  RunResult added = net.admin({"link", "add", "a", "b"});
  ASSERT_TRUE(added.ok()) << added.describe();
  json sent = net.build_and_send();
  ASSERT_TRUE(sent.contains("sent")) << sent.dump(2);
  for (const json& s : sent["sent"]) EXPECT_EQ(s.value("state", ""), "sent") << sent.dump(2);

  // Within seconds: both ends have the link, with nothing carried by hand.
  EXPECT_TRUE(wait_for_ping(*a.ns, b.tun4, deadline_in(30s))) << "a cannot reach b after the update\n"
                                                               << net.courier_story();
  EXPECT_TRUE(wait_for_ping(*b.ns, a.tun4, deadline_in(10s)));
  json rows;
  EXPECT_TRUE(net.wait_applied({&a, &b}, deadline_in(30s), &rows)) << rows.dump(2);
  const json* row_a = CourierNetwork::row_for(rows, a);
  ASSERT_NE(row_a, nullptr);
  EXPECT_EQ(row_a->value("confirmed_version", 0), row_a->value("version", -1)) << rows.dump(2);
  EXPECT_EQ(keyset_version(net.status(a)), row_a->value("version", 0u));

  // The ping to hub lost nothing while a applied its update. An update
  // applied within a second leaves few replies yet: let the ping run on a
  // little, so that the window covers the update and some time after it.
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return count_of(background.log_text(), "bytes from") >= 25; }, 50ms));
  background.stop();
  const std::string log = background.log_text();
  std::vector<int> seqs;
  for (size_t at = log.find("icmp_seq="); at != std::string::npos; at = log.find("icmp_seq=", at + 1)) {
    seqs.push_back(std::stoi(log.substr(at + 9)));
  }
  ASSERT_GE(seqs.size(), 20u) << log;
  std::sort(seqs.begin(), seqs.end());
  const int expected = seqs.back() - seqs.front() + 1;
  // The last request may still be in flight when ping stops.
  EXPECT_GE(static_cast<int>(seqs.size()), expected - 1) << "pings to hub were lost during the update\n" << log;
}

// The host's entry in `admin status --json`.
const json* live_host(const json& status, const Host& h) {
  if (!status.contains("hosts") || !status["hosts"].is_array()) return nullptr;
  for (const json& e : status["hosts"]) {
    if (e.value("host", "") == h.id) return &e;
  }
  return nullptr;
}

std::string live_state(const json& status, const Host& h) {
  const json* e = live_host(status, h);
  return e ? e->value("state", "") : "";
}

TEST_F(CourierTest, LiveStatusFollowsTheHosts) {
  CourierNetwork net;
  // Registries judge a client silent after 8 s; clients keep them hearing.
  for (const char* c : {"hub", "hub2"}) net.host(c).extra_config = "poll_period = 8\n";
  for (const char* c : {"adm", "a", "b"}) net.host(c).extra_config = "keepalive = 2\nstatus_interval = 5\n";
  net.bring_up();
  Host& a = net.host("a");
  Host& b = net.host("b");
  const std::string socket = net.host("adm").socket.string();
  ASSERT_TRUE(net.admin({"link", "add", "a", "b"}).ok());
  net.build_and_send();
  ASSERT_TRUE(wait_for_ping(*a.ns, b.tun4, deadline_in(30s))) << net.courier_story();

  json live;
  const bool all_seen = poll_until(deadline_in(40s), [&] {
    live = net.admin_json({"status", "-s", socket});
    for (const char* name : {"hub", "hub2", "adm", "a", "b"}) {
      if (live_state(live, net.host(name)) != "reachable") return false;
    }
    const json* entry = live_host(live, a);
    for (const json& p : entry->value("peers", json::array())) {
      if (p.value("host", "") == b.id && p.value("path", "") != "none") return true;
    }
    return false;
  }, 500ms);
  ASSERT_TRUE(all_seen) << live.dump(2) << "\n" << net.courier_story();
  EXPECT_EQ(live["coordinators"].size(), 2u) << live.dump(2);
  EXPECT_TRUE(live["problems"].empty()) << live.dump(2);
  EXPECT_EQ(live_host(live, b)->value("reported_by", ""), "hub2") << live.dump(2);

  b.daemon.reset();  // stopped: hub2 stops hearing from it
  const bool gone = poll_until(deadline_in(45s), [&] {
    live = net.admin_json({"status", "-s", socket});
    return live_state(live, b) == "unreachable";
  }, 500ms);
  EXPECT_TRUE(gone) << live.dump(2) << "\n" << net.courier_story();
  EXPECT_EQ(live_state(live, a), "reachable") << live.dump(2);
  const RunResult text = net.admin({"status", "-s", socket});
  ASSERT_TRUE(text.ok()) << text.describe();
  EXPECT_NE(text.out.find("unreachable"), std::string::npos) << text.out;
}

TEST_F(CourierTest, OfflineHostAndCourierKilled) {
  CourierNetwork net;
  net.bring_up();
  Host& a = net.host("a");
  Host& b = net.host("b");
  Host& hub2 = net.host("hub2");
  ASSERT_TRUE(wait_for_ping(*b.ns, hub2.tun4, deadline_in(20s)));
  const uint64_t b_before = keyset_version(net.status(b));
  b.daemon.reset();  // b goes down

  ASSERT_TRUE(net.admin({"link", "add", "a", "b"}).ok());
  net.build_and_send();
  // hub2 holds b's package, and says so.
  json rows;
  EXPECT_TRUE(poll_until(deadline_in(30s), [&] {
    rows = net.delivery_status();
    const json* row = CourierNetwork::row_for(rows, b);
    return row && row->value("state", "") == "held" && row->value("courier", "") == hub2.id;
  }, 200ms)) << rows.dump(2);

  // The courier is killed and comes back: its spool survives.
  hub2.daemon->signal(SIGKILL);
  hub2.daemon->wait_exit(deadline_in(10s));
  net.start(hub2);
  // b's package is back in hub2's spool (beside, perhaps, hub2's own status
  // report for the administration host, docs/couriers.md "Status reports").
  EXPECT_NE(hub2.daemon->log_text().find(" in the spool "), std::string::npos) << hub2.daemon->log_text();
  const json held = net.status(hub2);
  bool package_for_b = false;
  for (const json& item : held["courier"]["items"]) {
    package_for_b |= item.value("kind", "") == "package" && item.value("dest", "") == b.id;
  }
  EXPECT_TRUE(package_for_b) << held["courier"].dump(2) << hub2.daemon->log_text();

  net.start(b);  // b comes back and catches up
  EXPECT_TRUE(net.wait_applied({&a, &b}, deadline_in(60s), &rows)) << rows.dump(2) << b.daemon->log_text();
  EXPECT_EQ(keyset_version(net.status(b)), b_before + 1);
  EXPECT_TRUE(wait_for_ping(*a.ns, b.tun4, deadline_in(30s)));
  // Applied once: one "applied update" line for it in b's log.
  EXPECT_EQ(count_of(b.daemon->log_text(), "courier: applied update"), 1u) << b.daemon->log_text();
}

TEST_F(CourierTest, ThroughNatRouters) {
  CoordinatorOptions options;
  options.c1_admin_host = true;
  CoordinatorNetwork net(options);
  net.wait_until_registered();
  const std::string socket = net.c1().socket().string();
  net.admin().checked({"link", "add", "b", "d"});
  net.admin().checked({"updates", "build", "--send", "-s", socket});
  json rows;
  EXPECT_TRUE(poll_until(deadline_in(60s), [&] {
    rows = net.admin().json({"updates", "status", "-s", socket});
    for (const json& r : rows) {
      if (r.value("state", "") != "applied") return false;
    }
    return !rows.empty();
  }, 200ms)) << rows.dump(2);
  // b (behind its router) and d (served by the other coordinator) reach
  // each other over the new link.
  EXPECT_TRUE(poll_until(deadline_in(60s), [&] { return ping_replies(net.b(), net.d().tun4(), 1) == 1; }, 200ms))
      << net.b().status().dump(2);
  EXPECT_GE(ping_replies(net.d(), net.b().tun4(), 3), 2);
}

TEST_F(CourierTest, CompromiseRevokesEverywhere) {
  CourierNetwork net;
  net.bring_up();
  Host& a = net.host("a");
  Host& b = net.host("b");
  Host& hub = net.host("hub");
  Host& hub2 = net.host("hub2");
  ASSERT_TRUE(net.admin({"link", "add", "a", "b"}).ok());
  net.build_and_send();
  json rows;
  ASSERT_TRUE(net.wait_applied({&a, &b}, deadline_in(30s), &rows)) << rows.dump(2);
  ASSERT_TRUE(wait_for_ping(*a.ns, b.tun4, deadline_in(30s)));

  RunResult compromised = net.admin({"host", "compromise", "b"});
  ASSERT_TRUE(compromised.ok()) << compromised.describe();
  json sent = net.build_and_send();
  for (const json& s : sent["sent"]) EXPECT_TRUE(s.value("urgent", false)) << "revocation not urgent: " << s.dump();
  // Every remaining host confirms.
  EXPECT_TRUE(net.wait_applied({&a, &hub, &hub2}, deadline_in(30s), &rows)) << rows.dump(2);
  // a has no link with b any more, in either direction.
  json status_a = net.status(a);
  for (const json& p : status_a["peers"]) EXPECT_NE(p.value("id", ""), b.id) << status_a.dump(2);
  RunResult b_to_a = run(b.ns.get(), {"ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", a.tun4}, 10s);
  EXPECT_FALSE(b_to_a.ok()) << b_to_a.describe();
  // The coordinators refuse b outright, and count it: b's own traffic (to
  // hub2, its registry) and a datagram b sends to hub by hand, naming its
  // host number in the header.
  run(b.ns.get(), {"ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", hub2.tun4}, 10s);
  const std::string number = std::to_string(std::stoul(b.id, nullptr, 16) & 0xffff);
  for (Host* c : {&hub, &hub2}) {
    RunResult forged = run(b.ns.get(), {"python3", "-c",
                                        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                                        "s.sendto(bytes([0, 0, " + number + "]) + bytes(61), ('" + c->underlay() +
                                            "', " + std::to_string(kPort) + "))"},
                           10s);
    ASSERT_TRUE(forged.ok()) << forged.describe();
    json st;
    EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
      st = net.status(*c);
      return drop_count(st, "revoked_host") > 0;
    }, 200ms)) << c->name << " does not count b as revoked\n" << st.dump(2);
  }
}

}  // namespace
}  // namespace cordon::netns
