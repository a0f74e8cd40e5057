// The unit systemd/cordon@.service under a real systemd (systemd_harness.hpp)
// and the files' own checks (docs/operations.md, "systemd", "The journal",
// "Hardening"):
//  - systemd-analyze verify accepts the unit, and its exposure score from
//    systemd-analyze security stays at or below the one recorded in the docs;
//  - two hosts run as cordon@a and cordon@b in their network namespaces:
//    `systemctl start` returns once READY=1 came, the tunnel then passes
//    traffic, the journal holds the records with their fields (CORDON_HOST,
//    CORDON_EVENT, CORDON_PEER), the watchdog is fed, `systemctl reload`
//    reloads (and a broken config leaves the tunnel running), and `systemctl
//    stop` stops cleanly;
//  - a unit without its config, or a managed host's unit without its
//    password credential, fails with the reason in the journal and a
//    non-zero exit that systemd reports; with the credential it starts, and
//    as a coordinator and gateway with an [open] table and metrics it locks
//    its memory, listens on TCP port 443, turns on forwarding, loads its
//    nftables table and serves /metrics under the unit's hardening.
#include <gtest/gtest.h>

#include <regex>

#include "tests/common/keyset_builder.hpp"
#include "tests/netns/netns_harness.hpp"
#include "tests/netns/systemd_harness.hpp"

namespace cordon::netns {
namespace {

const fs::path kUnit = fs::path(CORDON_SOURCE_DIR) / "systemd" / "cordon@.service";
// docs/operations.md, "Hardening", records the score; a change to the unit
// that raises it must change the docs too.
constexpr double kMaxExposure = 2.2;

class SystemdTest : public NetnsTest {
 protected:
  // Installs the unit and the binary into the instance's overlays, with a
  // drop-in per instance that puts it in its network namespace.
  void install(SystemdInstance& sd) {
    fs::copy_file(cordon_bin(), sd.usr_bin() / "cordon");
    fs::copy_file(kUnit, sd.etc() / "systemd/system/cordon@.service");
    fs::create_directories(sd.etc() / "cordon");
  }
  void drop_in(SystemdInstance& sd, const std::string& instance, const Namespace& ns, const std::string& extra = "") {
    const fs::path dir = sd.etc() / ("systemd/system/cordon@" + instance + ".service.d");
    fs::create_directories(dir);
    write_file(dir / "test.conf", "[Service]\nNetworkNamespacePath=/run/netns/" + ns.name() + "\n" + extra);
  }
};

// "Overall exposure level for cordon@x.service: 2.4 OK"
std::optional<double> exposure(const std::string& text) {
  static const std::regex re(R"(Overall exposure level for \S+: ([0-9.]+))");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return std::nullopt;
  return std::stod(m[1]);
}

// A unit whose start failed: systemd reports an exit code, and the journal
// holds an error record of `event` whose message contains `text`.
void expect_failed_with(const SystemdInstance& sd, const std::string& unit, const std::string& event,
                        const std::string& text) {
  EXPECT_EQ(sd.property(unit, "Result"), "exit-code");
  const auto records = sd.journal(unit);
  const nlohmann::json* error = find_record(records, {{"CORDON_EVENT", event}, {"PRIORITY", "3"}});
  ASSERT_NE(error, nullptr) << sd.run({"journalctl", "--no-pager", "-u", unit}).out;
  EXPECT_NE((*error)["MESSAGE"].get<std::string>().find(text), std::string::npos) << (*error)["MESSAGE"];
}

TEST_F(SystemdTest, UnitVerifiesAndKeepsItsExposureScore) {
  TempDir dir("sd-verify");
  // verify checks that ExecStart= exists: point it at the binary under test.
  std::string unit = read_file(kUnit);
  const std::string exec = "/usr/bin/cordon";
  for (size_t at = unit.find(exec); at != std::string::npos; at = unit.find(exec, at + 1)) {
    unit.replace(at, exec.size(), cordon_bin().string());
  }
  write_file(dir / "cordon@test.service", unit);
  RunResult verify = run(nullptr, {"systemd-analyze", "verify", "--man=no", (dir / "cordon@test.service").string()});
  EXPECT_TRUE(verify.ok()) << verify.describe();
  EXPECT_EQ(verify.err, "") << verify.describe();

  RunResult security = run(nullptr, {"systemd-analyze", "security", "--offline=true", "--no-pager",
                                     (dir / "cordon@test.service").string()});
  const auto score = exposure(security.out + security.err);
  ASSERT_TRUE(score.has_value()) << security.describe();
  EXPECT_LE(*score, kMaxExposure) << security.describe();
}

TEST_F(SystemdTest, TwoHostsRunAsUnitsWithReadinessJournalWatchdogAndReload) {
  TempDir dir("sd-pair");
  Namespace a("sd-a"), b("sd-b");
  Underlay u;
  u.v6 = false;
  connect_veth(a, b, u);

  SystemdInstance sd("sd-pair", dir.path());
  install(sd);
  genkey(sd.etc() / "cordon/link.key");
  auto spec = [&](const char* id, const char* tun, const char* peer_id, const char* peer_tun, const char* name) {
    NodeSpec s;
    s.id = id;
    s.addresses = {std::string(tun) + "/24"};
    s.state_dir = "/var/lib/cordon";
    s.control_socket = std::string("/run/cordon/") + name + ".sock";
    PeerSpec p;
    p.id = peer_id;
    p.name = name[0] == 'a' ? "b" : "a";
    p.key_file = "/etc/cordon/link.key";
    p.allowed_prefixes = {std::string(peer_tun) + "/32"};
    s.peers.push_back(p);
    return s;
  };
  NodeSpec spec_a = spec("0x0001000a", "10.77.0.1", "0x0001000b", "10.77.0.2", "a");
  spec_a.peers[0].endpoint = endpoint_text(u.b_v4, 51820);
  NodeSpec spec_b = spec("0x0001000b", "10.77.0.2", "0x0001000a", "10.77.0.1", "b");
  write_file(sd.etc() / "cordon/a.toml", render_config(spec_a));
  write_file(sd.etc() / "cordon/b.toml", render_config(spec_b));
  // The watchdog at 2 s, so that its pings show within the test.
  drop_in(sd, "a", a, "WatchdogSec=2s\n");
  drop_in(sd, "b", b);
  sd.start();

  // Type=notify: start returns only after READY=1.
  RunResult started = sd.run({"systemctl", "start", "cordon@b", "cordon@a"}, 60s);
  ASSERT_TRUE(started.ok()) << started.describe() << sd.run({"journalctl", "--no-pager", "-n", "50"}).out;
  EXPECT_EQ(sd.property("cordon@a", "ActiveState"), "active");
  EXPECT_EQ(sd.property("cordon@a", "SubState"), "running");
  EXPECT_NE(sd.property("cordon@a", "StatusText").find("1 peers"), std::string::npos)
      << sd.property("cordon@a", "StatusText");
  ASSERT_TRUE(wait_for_ping(a, "10.77.0.2", deadline_in(10s)));

  // The journal: structured fields on the daemon's records.
  std::vector<nlohmann::json> records = sd.journal("cordon@a");
  const nlohmann::json* up = find_record(
      records, {{"CORDON_EVENT", "started"}, {"CORDON_HOST", "0x0001000a"}, {"PRIORITY", "6"},
                {"SYSLOG_IDENTIFIER", "cordon"}});
  ASSERT_NE(up, nullptr) << "no 'started' record; journal:\n" << sd.run({"journalctl", "--no-pager", "-u", "cordon@a"}).out;
  const bool peer_up = poll_until(deadline_in(30s), [&] {
    records = sd.journal("cordon@a");
    return find_record(records, {{"CORDON_EVENT", "peer_up"}, {"CORDON_PEER", "0x0001000b"}}) != nullptr;
  }, 500ms);
  EXPECT_TRUE(peer_up) << sd.run({"journalctl", "--no-pager", "-u", "cordon@a"}).out;

  // WATCHDOG=1 from the control thread: the timestamp systemd keeps moves.
  const std::string first_ping = sd.property("cordon@a", "WatchdogTimestampMonotonic");
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return sd.property("cordon@a", "WatchdogTimestampMonotonic") != first_ping;
  }, 200ms)) << "the watchdog timestamp stayed at " << first_ping;

  // systemctl reload: SIGHUP, RELOADING=1, READY=1.
  RunResult reloaded = sd.run({"systemctl", "reload", "cordon@a"});
  ASSERT_TRUE(reloaded.ok()) << reloaded.describe();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return find_record(sd.journal("cordon@a"), {{"CORDON_EVENT", "reloaded"}}) != nullptr;
  }, 200ms));
  // A broken config: the reload fails, said in the journal; the tunnel stays.
  sd.run({"sh", "-c", "echo 'this is = = not toml' >> /etc/cordon/a.toml"});
  ASSERT_TRUE(sd.run({"systemctl", "reload", "cordon@a"}).ok());
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return find_record(sd.journal("cordon@a"), {{"CORDON_EVENT", "reload_failed"}, {"PRIORITY", "3"}}) != nullptr;
  }, 200ms));
  EXPECT_EQ(sd.property("cordon@a", "ActiveState"), "active");
  EXPECT_TRUE(wait_for_ping(a, "10.77.0.2", deadline_in(10s)));

  // systemctl stop: a clean stop (exit 0), the interface goes away.
  ASSERT_TRUE(sd.run({"systemctl", "stop", "cordon@a"}).ok());
  EXPECT_EQ(sd.property("cordon@a", "ActiveState"), "inactive");
  EXPECT_EQ(sd.property("cordon@a", "Result"), "success");
  EXPECT_NE(find_record(sd.journal("cordon@a"), {{"CORDON_EVENT", "stopping"}}), nullptr);
  EXPECT_FALSE(run(&a, {"ip", "link", "show", "cordon0"}).ok());
}

TEST_F(SystemdTest, UnitWithoutItsConfigFailsWithTheReasonInTheJournal) {
  TempDir dir("sd-noconfig");
  Namespace a("sd-nc");
  SystemdInstance sd("sd-noconfig", dir.path());
  install(sd);
  drop_in(sd, "missing", a, "Restart=no\n");
  sd.start();

  RunResult started = sd.run({"systemctl", "start", "cordon@missing"});
  EXPECT_FALSE(started.ok()) << started.describe();
  EXPECT_EQ(sd.property("cordon@missing", "ActiveState"), "failed");
  EXPECT_EQ(sd.property("cordon@missing", "ExecMainStatus"), "1");
  expect_failed_with(sd, "cordon@missing", "config_error", "/etc/cordon/missing.toml");
}

// A managed host: its key set unlocks with the password that the unit loads
// from /etc/cordon/NAME.password as the credential cordon-password.
TEST_F(SystemdTest, ManagedHostUnlocksWithItsCredentialAndFailsClearlyWithout) {
  TempDir dir("sd-managed");
  Namespace ns("sd-m");
  SystemdInstance sd("sd-managed", dir.path());
  install(sd);
  // A coordinator (TCP tunnel on port 443) and gateway with an [open]
  // table: the hardened unit must still let it bind a port below 1024, turn
  // on forwarding (/proc/sys/net) and load table inet cordon (nftables).
  testkit::KeySetMaker maker = testkit::KeySetMaker::coordinator();
  maker.body.book.entries[1].endpoints.clear();  // nothing is sent outside the namespace
  maker.body.book.entries[0].subnets.push_back(testkit::prefix("192.168.71.0/24"));
  const fs::path sealed = dir / "a.keyset";
  const std::vector<std::byte> bytes = maker.seal(1);
  write_file(sealed, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 0600);
  write_file(dir / "password", maker.password + "\n", 0600);
  const fs::path state = dir.path() / "var-lib" / "cordon";
  RunResult installed = run(nullptr, {cordon_bin().string(), "keyset", "install", sealed.string(), "--password-file",
                                      (dir / "password").string(), "--state-dir", state.string()});
  ASSERT_TRUE(installed.ok()) << installed.describe();
  const std::string config =
      "[host]\nkeyset = \"/var/lib/cordon/keyset\"\ncontrol_socket = \"/run/cordon/m.sock\"\n"
      "[open]\nrules = [\"allow proto icmp\"]\n[metrics]\nlisten = \"127.0.0.1:9462\"\n";
  write_file(sd.etc() / "cordon/with.toml", config);
  write_file(sd.etc() / "cordon/without.toml", config);
  write_file(sd.etc() / "cordon/with.password", maker.password + "\n", 0600);
  drop_in(sd, "with", ns);
  drop_in(sd, "without", ns, "Restart=no\n");
  sd.start();

  RunResult without = sd.run({"systemctl", "start", "cordon@without"});
  EXPECT_FALSE(without.ok()) << without.describe();
  EXPECT_NE(sd.property("cordon@without", "ExecMainStatus"), "0");
  expect_failed_with(sd, "cordon@without", "start_failed", "without the credential cordon-password");

  RunResult with = sd.run({"systemctl", "start", "cordon@with"});
  ASSERT_TRUE(with.ok()) << with.describe() << sd.run({"journalctl", "--no-pager", "-u", "cordon@with"}).out;
  EXPECT_EQ(sd.property("cordon@with", "ActiveState"), "active");
  EXPECT_NE(find_record(sd.journal("cordon@with"), {{"CORDON_EVENT", "started"}, {"CORDON_HOST", "0x0001000a"}}),
            nullptr);
  RunResult forwarding = run(&ns, {"sysctl", "-n", "net.ipv4.ip_forward"});
  EXPECT_EQ(forwarding.out, "1\n") << forwarding.describe();
  RunResult table = run(&ns, {"nft", "list", "table", "inet", "cordon"});
  EXPECT_TRUE(table.ok()) << table.describe();
  EXPECT_TRUE(wait_for_tcp_listener(ns, 443, deadline_in(5s)))
      << sd.run({"journalctl", "--no-pager", "-u", "cordon@with"}).out;
  // Metrics, process ones included (/proc/self under ProtectProc=invisible).
  RunResult scrape = run(&ns, {"bash", "-c",
                               "exec 3<>/dev/tcp/127.0.0.1/9462 && printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3 && "
                               "cat <&3"});
  EXPECT_NE(scrape.out.find("cordon_info{host=\"0x0001000a\""), std::string::npos) << scrape.describe();
  EXPECT_NE(scrape.out.find("\nprocess_resident_memory_bytes "), std::string::npos) << scrape.describe();
  // Memory locked: no warning that link keys may be swapped out.
  for (const nlohmann::json& r : sd.journal("cordon@with")) {
    EXPECT_EQ(r.value("MESSAGE", "").find("swapped out"), std::string::npos) << r.dump();
  }
  // The state directory systemd made is private to root.
  RunResult mode = sd.run({"stat", "-c", "%a", "/var/lib/cordon"});
  EXPECT_EQ(mode.out, "700\n") << mode.describe();
}

}  // namespace
}  // namespace cordon::netns
