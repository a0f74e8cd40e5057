// Bad input and lifecycle through the real `cordon` binary: every refusal
// must be clear (name the file, line, field or port) and non-zero; signals
// must clean up (SIGTERM) or reload without loss (SIGHUP).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using CliTest = NetnsTest;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// A one-peer node in its own namespace: what `cordon up` needs to start.
struct SingleNode {
  TempDir dir;
  Namespace ns;
  NodeSpec spec;
  fs::path config;
  fs::path key;

  explicit SingleNode(const std::string& tag) : dir("netns-" + tag), ns(tag) {
    key = genkey(dir / "link.key");
    spec.id = "0x0001000a";
    spec.addresses = {"10.77.0.1/24", "fd77::1/64"};
    spec.state_dir = dir / "state";
    spec.control_socket = dir / "cordon0.sock";
    fs::create_directories(spec.state_dir);
    fs::permissions(spec.state_dir, fs::perms::owner_all);
    PeerSpec peer;
    peer.id = "0x0001000b";
    peer.name = "site-b";
    peer.key_file = key;
    peer.allowed_prefixes = {"10.77.0.2/32", "fd77::2/128"};
    spec.peers.push_back(peer);
    config = dir / "node.toml";
    write();
  }
  void write() { write_file(config, render_config(spec)); }
  // The file as an argument; other tests use -c FILE.
  std::vector<std::string> up() const { return {cordon_bin().string(), "up", config.string()}; }
};

RunResult check(const fs::path& config) {
  return run(nullptr, {cordon_bin().string(), "check", config.string()}, 20s);
}

// ---------------------------------------------------------------------------
// cordon check

TEST_F(CliTest, CheckAcceptsAGoodConfig) {
  TempDir dir("netns-check");
  NodeSpec spec;
  spec.id = "0x0001000a";
  spec.addresses = {"10.77.0.1/24"};
  spec.state_dir = dir / "state";
  spec.control_socket = dir / "c.sock";
  PeerSpec peer;
  peer.id = "0x0001000b";
  peer.key_file = genkey(dir / "link.key");
  peer.allowed_prefixes = {"10.77.0.2/32"};
  spec.peers.push_back(peer);
  write_file(dir / "good.toml", render_config(spec));
  RunResult r = check(dir / "good.toml");
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("good.toml: ok (1 peer)"), std::string::npos) << r.describe();
  RunResult dash_c = run(nullptr, {cordon_bin().string(), "check", "-c", (dir / "good.toml").string()}, 20s);
  EXPECT_EQ(dash_c.exit_code, 0) << dash_c.describe();
}

// A usage error names the command and says what the missing piece is.
TEST_F(CliTest, CheckWithoutAFileSaysHowToGiveIt) {
  RunResult r = run(nullptr, {cordon_bin().string(), "check"}, 20s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("cordon check: --config is required"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("`cordon check FILE` or `-c FILE`"), std::string::npos) << r.describe();
}

struct BadConfig {
  const char* name;
  const char* text;
  int line;  // where the mistake is
};

// Line numbers count from 1. Each case has exactly one mistake.
const BadConfig kBadConfigs[] = {
    {"syntax_error",
     "[host]\n"
     "id = \"0x0001000a\"\n"
     "interface = cordon0\n"  // a bare word is not a TOML value
     "addresses = [\"10.77.0.1/24\"]\n",
     3},
    {"bad_host_id",
     "[host]\n"
     "interface = \"cordon0\"\n"
     "id = \"0x12\"\n"
     "addresses = [\"10.77.0.1/24\"]\n",
     3},
    {"bad_peer_prefix",
     "[host]\n"
     "id = \"0x0001000a\"\n"
     "addresses = [\"10.77.0.1/24\"]\n"
     "\n"
     "[[peer]]\n"
     "id = \"0x0001000b\"\n"
     "key_file = \"link.key\"\n"
     "allowed_prefixes = [\"10.77.0.300/32\"]\n",
     8},
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name; }

class CheckBadConfigTest : public NetnsTest, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(CheckBadConfigTest, NamesFileAndLineAndFails) {
  const BadConfig& c = GetParam();
  TempDir dir("netns-badcfg");
  genkey(dir / "link.key");
  const std::string file_name = std::string(c.name) + ".toml";
  write_file(dir / file_name, c.text);
  RunResult r = check(dir / file_name);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  const std::string where = file_name + ":" + std::to_string(c.line);
  EXPECT_NE((r.out + r.err).find(where), std::string::npos)
      << "expected \"" << where << "\" in the message:\n" << r.describe();
}

INSTANTIATE_TEST_SUITE_P(Cli, CheckBadConfigTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------
// cordon up refusals. Each runs in a fresh namespace, so even a daemon that
// wrongly starts touches nothing outside it; run() kills it at the timeout.

TEST_F(CliTest, UpRefusesAKeyFileOthersCanRead) {
  SingleNode node("cli-keymode");
  ASSERT_EQ(::chmod(node.key.c_str(), 0644), 0);
  RunResult r = run(&node.ns, node.up(), 20s);
  EXPECT_FALSE(r.timed_out) << "cordon up ran with a 0644 key file";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE((r.out + r.err).find(node.key.filename().string()), std::string::npos)
      << "the message should name the key file:\n" << r.describe();
  EXPECT_FALSE(run(&node.ns, {"ip", "link", "show", "dev", "cordon0"}).ok());
}

TEST_F(CliTest, UpRefusesAPortAlreadyInUse) {
  SingleNode node("cli-port");
  Process first(&node.ns, node.up(), node.dir / "first.log", "first daemon");
  std::string why;
  ASSERT_TRUE(wait_for_daemon(node.ns, node.spec.control_socket, "cordon0", first, deadline_in(20s), &why))
      << why << "\n" << first.log_text();

  // A second daemon: own interface, socket and state, same port.
  NodeSpec second = node.spec;
  second.interface = "cordon1";
  second.control_socket = node.dir / "cordon1.sock";
  second.state_dir = node.dir / "state2";
  fs::create_directories(second.state_dir);
  fs::permissions(second.state_dir, fs::perms::owner_all);
  write_file(node.dir / "second.toml", render_config(second));
  RunResult r = run(&node.ns, {cordon_bin().string(), "up", "-c", (node.dir / "second.toml").string()},
                    20s);
  EXPECT_FALSE(r.timed_out) << "a second daemon ran on port 51820";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  const std::string msg = lower(r.out + r.err);
  EXPECT_NE(msg.find("51820"), std::string::npos) << "the message should name the port:\n"
                                                   << r.describe();
  EXPECT_NE(msg.find("in use"), std::string::npos) << r.describe();
  EXPECT_TRUE(first.running()) << "the first daemon died";
}

TEST_F(CliTest, UpRefusesAnInterfaceAnotherDaemonHolds) {
  SingleNode node("cli-iface");
  Process first(&node.ns, node.up(), node.dir / "first.log", "first daemon");
  std::string why;
  ASSERT_TRUE(wait_for_daemon(node.ns, node.spec.control_socket, "cordon0", first, deadline_in(20s), &why))
      << why << "\n" << first.log_text();

  // A second daemon: same interface, its own socket, state and port.
  NodeSpec second = node.spec;
  second.listen_port = node.spec.listen_port + 1;
  second.control_socket = node.dir / "second.sock";
  second.state_dir = node.dir / "state2";
  fs::create_directories(second.state_dir);
  fs::permissions(second.state_dir, fs::perms::owner_all);
  write_file(node.dir / "second.toml", render_config(second));
  RunResult r = run(&node.ns, {cordon_bin().string(), "up", "-c", (node.dir / "second.toml").string()},
                    20s);
  EXPECT_FALSE(r.timed_out) << "a second daemon ran on cordon0";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  const std::string msg = lower(r.out + r.err);
  EXPECT_NE(msg.find("cordon0 already exists"), std::string::npos) << r.describe();
  EXPECT_TRUE(first.running()) << "the first daemon died";
  EXPECT_EQ(run(&node.ns, {"ip", "link", "show", "cordon0"}, 10s).exit_code, 0) << "cordon0 was removed";
}

TEST_F(CliTest, UpRefusesWithoutPrivilege) {
  SingleNode node("cli-noroot");
  // Everything the daemon reads or writes belongs to nobody, so the only
  // thing missing is the privilege to make a TUN device.
  const uid_t nobody = 65534;
  fs::path home = node.dir / "nobody";
  fs::create_directories(home / "state");
  fs::permissions(home, fs::perms::owner_all);
  NodeSpec spec = node.spec;
  spec.state_dir = home / "state";
  spec.control_socket = home / "cordon0.sock";
  spec.peers[0].key_file = home / "link.key";
  fs::copy_file(node.key, home / "link.key");
  write_file(home / "node.toml", render_config(spec), 0644);
  for (const fs::path& p : {home, home / "state", home / "link.key", home / "node.toml"})
    ASSERT_EQ(::chown(p.c_str(), nobody, nobody), 0) << p;
  ASSERT_EQ(::chmod((home / "link.key").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(node.dir.path().c_str(), 0755), 0);

  RunResult r = run(&node.ns,
                    {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                     cordon_bin().string(), "up", "-c", (home / "node.toml").string()},
                    20s);
  EXPECT_FALSE(r.timed_out) << "cordon up ran without privilege";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  static const std::regex clear(R"(root|cap_net_admin|permission|privilege|not permitted)");
  EXPECT_TRUE(std::regex_search(lower(r.out + r.err), clear))
      << "the message should say what privilege is missing:\n" << r.describe();
}

TEST_F(CliTest, UpFailsClearlyWithoutDevNetTun) {
  SingleNode node("cli-notun");
  // A private mount namespace with an empty /dev/net: nothing outside the
  // child sees the change.
  RunResult probe = run(&node.ns, {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                                   "mount -t tmpfs none /dev/net && test ! -e /dev/net/tun"});
  if (!probe.ok()) GTEST_SKIP() << "cannot hide /dev/net/tun here: " << probe.describe();

  RunResult r = run(&node.ns,
                    {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                     "mount -t tmpfs none /dev/net && exec \"$0\" up -c \"$1\"",
                     cordon_bin().string(), node.config.string()},
                    20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_NE((r.out + r.err).find("/dev/net/tun"), std::string::npos)
      << "the message should name /dev/net/tun:\n" << r.describe();
}

// ---------------------------------------------------------------------------
// cordon genkey

bool looks_like_key(const std::string& text) {
  // One line: 32 bytes in standard base64 are 43 characters and one '='.
  static const std::regex re(R"(^[A-Za-z0-9+/]{43}=\n?$)");
  return std::regex_match(text, re);
}

TEST_F(CliTest, GenkeyToStdoutMakesA0600File) {
  TempDir dir("netns-genkey");
  fs::path out = dir / "redirected.key";
  // The shell creates the file 0644 (umask 022); genkey must narrow it.
  RunResult r = run(nullptr, {"sh", "-c", "umask 022; exec \"$0\" genkey > \"$1\"",
                              cordon_bin().string(), out.string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(file_mode(out), 0600u) << std::oct << file_mode(out);
  EXPECT_TRUE(looks_like_key(read_file(out))) << read_file(out);
}

TEST_F(CliTest, GenkeyOutMakesA0600FileAndFreshKeys) {
  TempDir dir("netns-genkey");
  fs::path k1 = genkey(dir / "one.key");
  fs::path k2 = genkey(dir / "two.key");
  EXPECT_EQ(file_mode(k1), 0600u) << std::oct << file_mode(k1);
  EXPECT_TRUE(looks_like_key(read_file(k1))) << read_file(k1);
  EXPECT_NE(read_file(k1), read_file(k2));
}

// ---------------------------------------------------------------------------
// Signals

TEST_F(CliTest, SigtermRemovesTheTunDevice) {
  SingleNode node("cli-sigterm");
  Process daemon(&node.ns, node.up(), node.dir / "daemon.log", "daemon");
  std::string why;
  ASSERT_TRUE(wait_for_daemon(node.ns, node.spec.control_socket, "cordon0", daemon, deadline_in(20s), &why))
      << why << "\n" << daemon.log_text();

  daemon.signal(SIGTERM);
  ASSERT_TRUE(daemon.wait_exit(deadline_in(15s)).has_value()) << "no exit after SIGTERM";
  EXPECT_EQ(daemon.exit_code(), 0) << daemon.log_text();
  EXPECT_FALSE(run(&node.ns, {"ip", "link", "show", "dev", "cordon0"}).ok())
      << "cordon0 is still there after SIGTERM";
}

// A reload that adds a third peer must not interrupt the existing link:
// every ping of a run that spans the reload is answered (ping's own
// statistics, not timing).
TEST_F(CliTest, SighupAddingAPeerKeepsTrafficFlowing) {
  CordonPair pair({.tag = "reload"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  json before = pair.status_a();
  ASSERT_EQ(before["peers"].size(), 1u) << before.dump(2);

  PeerSpec third;
  third.id = "0x0001000c";
  third.name = "site-c";
  third.key_file = genkey(pair.file("c.key"));
  third.allowed_prefixes = {"10.77.0.3/32", "fd77::3/128"};
  pair.spec_a().peers.push_back(third);

  const int count = 300;
  Process pinger(&pair.a(), {"ping", "-n", "-c", std::to_string(count), "-i", "0.02", "-W", "2",
                             CordonPair::kTunB4},
                 pair.file("reload-ping.log"), "ping across the reload");
  ASSERT_TRUE(poll_until(deadline_in(10s), [&] {
    return pinger.log_text().find("icmp_seq=") != std::string::npos;
  })) << pinger.log_text();

  pair.rewrite_config_a();
  pair.daemon_a().signal(SIGHUP);
  json after;
  bool reloaded = poll_until(deadline_in(15s), [&] {
    after = pair.status_a();
    return find_peer(after, third.id) != nullptr;
  });
  ASSERT_TRUE(reloaded) << "the third peer never appeared:\n" << after.dump(2);
  ASSERT_TRUE(pinger.running())
      << "the ping ended before the reload finished, so it proves nothing; raise its count";
  EXPECT_TRUE(pair.daemon_a().running());

  ASSERT_TRUE(pinger.wait_exit(deadline_in(60s)).has_value());
  auto stats = parse_ping_stats(pinger.log_text());
  ASSERT_TRUE(stats.has_value()) << pinger.log_text();
  EXPECT_EQ(stats->transmitted, count);
  EXPECT_EQ(stats->received, stats->transmitted) << pinger.log_text();
  // The existing peer kept its statistics across the reload.
  EXPECT_GE(peer_counter(after, CordonPair::kIdB, "tx_packets"),
            peer_counter(before, CordonPair::kIdB, "tx_packets"));
}

}  // namespace
}  // namespace cordon::netns
