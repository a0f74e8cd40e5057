// The daemon's inputs and outputs that need no root: the config file and its
// key files, the counter floor file, reload differences, and the status
// document with its human rendering.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/temp_dir.hpp"
#include "daemon/config.hpp"
#include "daemon/keyfile.hpp"
#include "daemon/reload.hpp"
#include "daemon/status_format.hpp"
#include "daemon/status_json.hpp"

namespace cordon::daemon {
namespace {

namespace fs = std::filesystem;

using testkit::TempDir;

// 32 bytes of 0x01 in base64.
constexpr const char* kKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

// Line numbers below refer to this layout.
constexpr const char* kGood = R"([host]
id = "0x0001000a"
addresses = ["10.77.0.1/24", "fd77::1/64"]

[[peer]]
id = "0x0001000b"
endpoint = "192.0.2.2:51820"
key_file = "a-b.key"
allowed_prefixes = ["10.77.0.2/32", "fd77::2/128"]
)";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("a-b.key", kKey); }

  ConfigResult load(const std::string& text) { return load_config(dir_.write("cordon.toml", text)); }

  std::string config_path() const { return (dir_.path() / "cordon.toml").string(); }

  TempDir dir_;
};

std::string all_errors(const ConfigResult& r) {
  std::string out;
  if (r.ok()) return out;
  for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
  return out;
}

TEST_F(ConfigTest, GoodConfigGetsDefaults) {
  const ConfigResult r = load(kGood);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const DaemonConfig& c = *r;
  EXPECT_EQ(c.node.self.value, 0x0001000au);
  EXPECT_EQ(c.interface, "cordon0");
  EXPECT_EQ(c.mtu, 1420u);
  EXPECT_EQ(c.listen_port, 51820);
  EXPECT_EQ(c.listen_address, IpAddress::v6({}));
  EXPECT_EQ(c.state_dir, "/var/lib/cordon");
  EXPECT_EQ(c.control_socket, "/run/cordon/cordon0.sock");
  EXPECT_EQ(c.workers, 0u);
  EXPECT_TRUE(c.offloads);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.node.time_window_ns, 128 * kNsPerSecond);
  ASSERT_EQ(c.addresses.size(), 2u);
  EXPECT_EQ(c.addresses[0].to_string(), "10.77.0.1/24");  // host bits kept for an interface address

  ASSERT_EQ(c.node.peers.size(), 1u);
  const PeerConfig& p = c.node.peers[0];
  EXPECT_EQ(p.id.value, 0x0001000bu);
  ASSERT_TRUE(p.endpoint);
  EXPECT_EQ(p.endpoint->to_string(), "192.0.2.2:51820");
  EXPECT_EQ(p.suite, crypto::Suite::kAes256Gcm);
  EXPECT_EQ(p.keepalive_ns, 25 * kNsPerSecond);
  ASSERT_EQ(p.link_key.size(), kLinkKeySize);
  EXPECT_EQ(p.link_key.view()[0], std::byte{1});
  ASSERT_EQ(p.allowed_prefixes.size(), 2u);
  EXPECT_EQ(p.allowed_prefixes[1].to_string(), "fd77::2/128");
}

TEST_F(ConfigTest, EveryFieldIsRead) {
  dir_.write("c.key", kKey);
  const ConfigResult r = load(R"([host]
id = "0x0001000a"
interface = "cordon7"
addresses = ["10.77.0.1/24"]
mtu = 1380
listen_port = 0
listen_address = "192.0.2.1"
state_dir = "state"
time_window = 60
workers = 3
offloads = false
control_socket = "/tmp/cordon7.sock"
log_level = "debug"

[[peer]]
id = "0x0001000b"
name = "site-b"
endpoint = "[2001:db8::2]:4500"
key_file = "a-b.key"
allowed_prefixes = ["10.77.0.2/32"]
suite = "chacha20-poly1305"
keepalive = 0

[[peer]]
id = "0x0002000c"
key_file = "c.key"
allowed_prefixes = ["10.8.0.0/16"]
suite = "aes-256-siv"
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const DaemonConfig& c = *r;
  EXPECT_EQ(c.interface, "cordon7");
  EXPECT_EQ(c.mtu, 1380u);
  EXPECT_EQ(c.listen_port, 0);
  EXPECT_EQ(c.listen_address.to_string(), "192.0.2.1");
  EXPECT_EQ(c.state_dir, (dir_.path() / "state").string());  // relative to the config file
  EXPECT_EQ(c.node.time_window_ns, 60 * kNsPerSecond);
  EXPECT_EQ(c.workers, 3u);
  EXPECT_FALSE(c.offloads);
  EXPECT_EQ(c.control_socket, "/tmp/cordon7.sock");
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_EQ(c.node.peers.size(), 2u);
  EXPECT_EQ(c.node.peers[0].name, "site-b");
  EXPECT_EQ(c.node.peers[0].endpoint->to_string(), "[2001:db8::2]:4500");
  EXPECT_EQ(c.node.peers[0].suite, crypto::Suite::kChaCha20Poly1305);
  EXPECT_EQ(c.node.peers[0].keepalive_ns, 0);
  EXPECT_FALSE(c.node.peers[1].endpoint);  // learnt from the peer's first packet
  EXPECT_EQ(c.node.peers[1].suite, crypto::Suite::kAes256Siv);
  EXPECT_EQ(legacy_counter_file_path(c), (dir_.path() / "state" / "cordon7.counter").string());
  EXPECT_EQ(counter_file_path(c), (dir_.path() / "state" / (c.node.self.to_string() + ".counter")).string());
}

TEST_F(ConfigTest, ControlSocketFollowsInterface) {
  const ConfigResult r = load(R"([host]
id = "0x0001000a"
interface = "vpn3"
[[peer]]
id = "0x0001000b"
key_file = "a-b.key"
allowed_prefixes = []
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->control_socket, "/run/cordon/vpn3.sock");
}

// Size classes end at the MTU's datagram, whatever the order of the keys.
TEST_F(ConfigTest, SizeClassesAreReadForTheFilesMtu) {
  const char* peer = "[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n";
  ConfigResult r = load(std::string("[host]\nid = \"0x0001000a\"\nsize_classes = \"128, 256\"\nmtu = 1280\n") + peer);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->node.size_classes, (std::vector<uint16_t>{128, 256, 1304}));
  EXPECT_TRUE(load(kGood)->node.size_classes.empty());  // off by default
  r = load(std::string("[host]\nid = \"0x0001000a\"\nsize_classes = \"256, 128\"\n") + peer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error()[0].line, 3u);
  EXPECT_EQ(r.error()[0].field, "host.size_classes");
  EXPECT_NE(r.error()[0].message.find("128 does not follow 256"), std::string::npos) << all_errors(r);
}

struct ErrorCase {
  const char* name;
  const char* toml;
  const char* where;  // "LINE:COL" or "LINE:" the error must name
  const char* what;   // a fragment of the message
};

// Each case is the good config with one thing broken.
const ErrorCase kErrorCases[] = {
    {"syntax", "[host\nid = 1\n", "1:", "fix the TOML syntax"},
    {"unknown top-level key", "hots = 1\n[host]\nid = \"0x0001000a\"\n", "1:1", "unknown key"},
    {"typo in host key",
     "[host]\nid = \"0x0001000a\"\nlisen_port = 1\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\n"
     "allowed_prefixes = []\n",
     "3:1", "did you mean `listen_port`"},
    {"typo in peer key",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n"
     "endpiont = \"192.0.2.2:1\"\n",
     "7:1", "peer[0x0001000b].endpiont: unknown key; did you mean `endpoint`"},
    {"wrong type", "[host]\nid = \"0x0001000a\"\nmtu = \"1420\"\n", "3:7", "expected an integer, found a string"},
    {"bad host id", "[host]\nid = \"0x1\"\n", "2:6", "host.id: \"0x1\" is not a host ID"},
    {"host id zero host number", "[host]\nid = \"0x00010000\"\n", "2:6", "is not a host ID"},
    {"missing host id", "[host]\nmtu = 1400\n", "1:1", "host.id: missing"},
    {"bad address", "[host]\nid = \"0x0001000a\"\naddresses = [\"10.77.0.1\"]\n", "3:14",
     "not an address with prefix length"},
    {"prefix length too long", "[host]\nid = \"0x0001000a\"\naddresses = [\"10.77.0.1/33\"]\n", "3:14",
     "not an address with prefix length"},
    {"mtu out of range", "[host]\nid = \"0x0001000a\"\nmtu = 100\n", "3:7", "100 is out of range"},
    {"mtu below IPv6 minimum", "[host]\nid = \"0x0001000a\"\naddresses = [\"fd77::1/64\"]\nmtu = 1000\n", "4:7",
     "IPv6 minimum"},
    {"port out of range", "[host]\nid = \"0x0001000a\"\nlisten_port = 70000\n", "3:15", "out of range"},
    {"bad listen address", "[host]\nid = \"0x0001000a\"\nlisten_address = \"any\"\n", "3:18",
     "is not an IP address"},
    {"time window zero", "[host]\nid = \"0x0001000a\"\ntime_window = 0\n", "3:15", "use 1 to 3600 seconds"},
    {"time window too large", "[host]\nid = \"0x0001000a\"\ntime_window = 5000\n", "3:15", "5000 is out of range"},
    {"offloads not a boolean", "[host]\nid = \"0x0001000a\"\noffloads = \"yes\"\n", "3:12",
     "host.offloads: expected true or false, found a string"},
    {"bad log level", "[host]\nid = \"0x0001000a\"\nlog_level = \"loud\"\n", "3:13", "is not a log level"},
    {"interface name too long", "[host]\nid = \"0x0001000a\"\ninterface = \"a-very-long-interface\"\n", "3:13",
     "not a usable interface name"},
    {"no peers", "[host]\nid = \"0x0001000a\"\n", "", "no [[peer]] tables"},
    {"no host", "[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n", "",
     "no [host] table"},
    {"peer as a single table", "[host]\nid = \"0x0001000a\"\n[peer]\nid = \"0x0001000b\"\n", "3:",
     "expected [[peer]] tables"},
    {"duplicate peer",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n"
     "[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n",
     "8:6", "duplicate peer 0x0001000b (first defined on line 4)"},
    {"peer is this host",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000a\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n",
     "4:6", "this host's own ID"},
    {"bad peer id",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n",
     "4:6", "peer[#1].id: \"b\" is not a host ID"},
    {"bad endpoint",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n"
     "endpoint = \"192.0.2.2\"\n",
     "7:12", "is not an address and port"},
    {"host name endpoint",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n"
     "endpoint = \"vpn.example.net:51820\"\n",
     "7:12", "host names are not resolved"},
    {"bad suite",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n"
     "suite = \"aes-256-ccm\"\n",
     "7:9", "\"aes-256-ccm\" is not a suite; use aes-256-gcm"},
    {"keepalive negative",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = []\n"
     "keepalive = -1\n",
     "7:13", "out of range"},
    {"missing key_file", "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nallowed_prefixes = []\n", "3:1",
     "peer[0x0001000b].key_file: missing"},
    {"missing allowed_prefixes", "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\n",
     "3:1", "allowed_prefixes: missing"},
    {"key file does not exist",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"nope.key\"\nallowed_prefixes = []\n",
     "5:12", "does not exist; make one with `cordon genkey --out"},
    {"short key",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"short.key\"\nallowed_prefixes = []\n",
     "5:12", "holds a 16-byte key, a link key is 32 bytes"},
    {"long key",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"long.key\"\nallowed_prefixes = []\n",
     "5:12", "holds a 48-byte key"},
    {"key not base64",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"text.key\"\nallowed_prefixes = []\n",
     "5:12", "is not standard base64"},
    {"empty key file",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"empty.key\"\nallowed_prefixes = []\n",
     "5:12", "is empty"},
    {"key readable by others",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"open.key\"\nallowed_prefixes = []\n",
     "5:12", "has mode 0644, so group or others can access it; run `chmod 600"},
    {"key readable by group",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"group.key\"\nallowed_prefixes = []\n",
     "5:12", "has mode 0640"},
    {"key file is a directory",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"keydir\"\nallowed_prefixes = []\n",
     "5:12", "is not a regular file"},
    {"key file is a FIFO",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"fifo\"\nallowed_prefixes = []\n",
     "5:12", "is not a regular file"},
    {"bad allowed prefix",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\n"
     "allowed_prefixes = [\"10.77.0.2\"]\n",
     "6:21", "\"10.77.0.2\" is not a prefix"},
    {"host bits in allowed prefix",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\n"
     "allowed_prefixes = [\"10.77.0.9/24\"]\n",
     "6:21", "did you mean \"10.77.0.0/24\""},
    {"allowed prefixes not strings",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\nallowed_prefixes = [1]\n",
     "6:21", "expected a string, found an integer"},
    {"prefix given to two peers",
     "[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"a-b.key\"\n"
     "allowed_prefixes = [\"10.77.0.2/32\"]\n[[peer]]\nid = \"0x0001000c\"\nkey_file = \"a-b.key\"\n"
     "allowed_prefixes = [\"10.77.0.2/32\"]\n",
     "10:21", "is also allowed for peer[0x0001000b] (line 6)"},
};

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ConfigErrorTest, NamesFileLineAndProblem) {
  dir_.write("short.key", "AAAAAAAAAAAAAAAAAAAAAA==\n");
  dir_.write("long.key", std::string(64, 'A') + "\n");
  dir_.write("text.key", "this is not a key at all, no it is not!!!!!\n");
  dir_.write("empty.key", "\n");
  dir_.write("open.key", kKey, 0644);
  dir_.write("group.key", kKey, 0640);
  fs::create_directory(dir_.path() / "keydir");
  ::mkfifo((dir_.path() / "fifo").c_str(), 0600);  // must not block the loader

  const ErrorCase& c = GetParam();
  const ConfigResult r = load(c.toml);
  ASSERT_FALSE(r.ok()) << c.name;
  ASSERT_FALSE(r.error().empty());
  const std::string expected_prefix = config_path() + ":" + c.where;
  bool found = false;
  for (const ConfigError& e : r.error()) {
    const std::string text = e.to_string();
    if (text.starts_with(expected_prefix) && text.find(c.what) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << c.name << ": expected an error at " << expected_prefix << " containing `" << c.what
                     << "`, got:\n"
                     << all_errors(r);
}

INSTANTIATE_TEST_SUITE_P(Cases, ConfigErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           std::string name = info.param.name;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

TEST_F(ConfigTest, CollectsEveryErrorInLineOrder) {
  const ConfigResult r = load(R"([host]
id = "0x0001000a"
mtu = 1
lisen_port = 2

[[peer]]
id = "0x0001000b"
key_file = "missing.key"
allowed_prefixes = ["10.77.0.2"]
suite = "rot13"
)");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 5u) << all_errors(r);
  const std::vector<uint32_t> lines = {3, 4, 8, 9, 10};
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(r.error()[i].line, lines[i]) << all_errors(r);
}

TEST_F(ConfigTest, MissingFileSaysSo) {
  const ConfigResult r = load_config((dir_.path() / "absent.toml").string());
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_NE(r.error()[0].to_string().find("absent.toml: does not exist"), std::string::npos)
      << r.error()[0].to_string();
}

TEST_F(ConfigTest, AbsoluteKeyPathIsUsedAsIs) {
  TempDir other;
  const std::string key = other.write("x.key", kKey);
  const ConfigResult r = load("[host]\nid = \"0x0001000a\"\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"" + key +
                              "\"\nallowed_prefixes = []\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
}

TEST_F(ConfigTest, FilterRulesResolvePeersByNameOrHostId) {
  const ConfigResult r = load(std::string(kGood) + "name = \"site-b\"\n\n[filter]\n"
                              "rules = [\"drop in peer site-b proto tcp dport 22\", \"allow out peer 0x0001000b\"]\n"
                              "max_connections = 1024\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const FilterConfig& f = r->node.filter;
  ASSERT_EQ(f.rules.size(), 2u);
  EXPECT_EQ(f.rules[0].to_string(), "drop in peer site-b proto tcp dport 22");
  EXPECT_EQ(f.rules[0].peers, std::vector<uint32_t>{0x0001000b});
  EXPECT_EQ(f.rules[1].peers, std::vector<uint32_t>{0x0001000b});
  EXPECT_EQ(f.origins, (std::vector<std::string>{"local", "local"}));
  EXPECT_EQ(f.max_connections, 1024u);
}

TEST_F(ConfigTest, BadFilterRulesNameTheLineAndTheWord) {
  // Line 12 holds the rules; the first is fine, the second has a backwards range.
  ConfigResult r = load(std::string(kGood) + "\n[filter]\nrules = [\"drop in proto tcp dport 22\", \"drop proto tcp dport 80-22\"]\n");
  EXPECT_EQ(all_errors(r), config_path() +
                               ":12:40: filter.rules[1]: word 5 (\"80-22\"): the port range runs backwards; see "
                               "docs/gateways.md, \"Rules\"\n");
  // A peer this host does not have: named once the peers are known.
  r = load(std::string(kGood) + "\n[filter]\nrules = [\"drop peer printer\"]\n");
  EXPECT_EQ(all_errors(r), config_path() +
                               ":12:10: filter.rules[0]: word 3 (\"printer\"): no host or group is named 'printer'; "
                               "name a peer of this host by its name or host ID\n");
  r = load(std::string(kGood) + "\n[filter]\nrule = []\nmax_connections = 1\n");
  EXPECT_NE(all_errors(r).find("filter.rule: unknown key; did you mean `rules`?"), std::string::npos) << all_errors(r);
  EXPECT_NE(all_errors(r).find("filter.max_connections: 1 is out of range"), std::string::npos) << all_errors(r);
}

TEST(ConfigErrorFormat, WithAndWithoutPosition) {
  EXPECT_EQ((ConfigError{"f.toml", 3, 7, "host.mtu", "bad; fix"}).to_string(), "f.toml:3:7: host.mtu: bad; fix");
  EXPECT_EQ((ConfigError{"f.toml", 0, 0, "peer", "none; add"}).to_string(), "f.toml: peer: none; add");
  EXPECT_EQ((ConfigError{"f.toml", 1, 2, "", "syntax"}).to_string(), "f.toml:1:2: syntax");
}

// --- key files ---

TEST(KeyFile, GeneratedKeyRoundTrips) {
  TempDir dir;
  auto key = generate_link_key();
  ASSERT_TRUE(key);
  ASSERT_EQ(key->size(), kLinkKeySize);
  const crypto::SecretBytes text = encode_key_file(*key);
  ASSERT_EQ(text.size(), 45u);  // 44 base64 characters and a newline
  EXPECT_EQ(text.view()[44], std::byte{'\n'});
  const std::string path =
      dir.write("k.key", std::string(reinterpret_cast<const char*>(text.view().data()), text.size()));
  KeyFileResult loaded = load_key_file(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_TRUE(*loaded == *key);
}

TEST(KeyFile, TwoKeysDiffer) {
  auto a = generate_link_key();
  auto b = generate_link_key();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(*a == *b);
}

TEST(KeyFile, WithoutTrailingNewlineIsAccepted) {
  TempDir dir;
  const std::string path = dir.write("k.key", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=");
  EXPECT_TRUE(load_key_file(path).ok());
}

// --- reload ---

TEST_F(ConfigTest, ReloadFlagsWhatNeedsARestart) {
  const ConfigResult a = load(kGood);
  ASSERT_TRUE(a.ok()) << all_errors(a);
  DaemonConfig b = *a;
  EXPECT_TRUE(restart_only_changes(*a, b).empty());
  b.node.peers.clear();       // live
  b.log_level = "debug";      // live
  b.node.time_window_ns = 1;  // live
  EXPECT_TRUE(restart_only_changes(*a, b).empty());
  b.mtu = 1380;
  b.listen_port = 4500;
  const auto changes = restart_only_changes(*a, b);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], "host.mtu changed (1420 -> 1380) and needs a restart; the running value stays until then");
  EXPECT_NE(changes[1].find("host.listen_port changed (51820 -> 4500)"), std::string::npos);
}

// --- the mesh's timers (docs/protocol.md, "Coordinators" -> "Timers") ---

std::string with_host_keys(const std::string& keys) {
  std::string text = kGood;
  return text.insert(text.find("\n") + 1, keys);
}

TEST_F(ConfigTest, MeshTimersDefaultAndParse) {
  ConfigResult r = load(kGood);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->node.mesh.tcp_fallback_ns, kDefaultTcpFallbackNs);
  EXPECT_EQ(r->node.mesh.tcp_port, kDefaultTcpPort);

  r = load(with_host_keys("keepalive = 10\nstatus_interval = 60\npoll_period = 90\nexchange_interval = 120\n"
                          "tcp_fallback = 45\ntcp_port = 8443\n"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const MeshConfig& m = r->node.mesh;
  EXPECT_EQ(r->keepalive_ns, 10 * kNsPerSecond);
  EXPECT_EQ(m.status_interval_ns, 60 * kNsPerSecond);
  EXPECT_EQ(m.poll_period_ns, 90 * kNsPerSecond);
  EXPECT_EQ(m.exchange_interval_ns, 120 * kNsPerSecond);
  EXPECT_EQ(m.tcp_fallback_ns, 45 * kNsPerSecond);
  EXPECT_EQ(m.tcp_port, 8443);

  r = load(with_host_keys("tcp_fallback = 0\ntcp_port = 0\n"));
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->node.mesh.tcp_fallback_ns, 0);
  EXPECT_EQ(r->node.mesh.tcp_port, 0);
}

// --- status document and its rendering ---

TEST(StatusJson, CarriesPeersAndOnlyNonZeroDrops) {
  NodeStatus s;
  s.self = HostId{0x0001000a};
  s.counter_floor = 77;
  s.drops[static_cast<size_t>(DropReason::kUnknownPeer)] = 2;
  PeerStatus p;
  p.id = HostId{0x0001000b};
  p.name = "site-b";
  p.allowed_prefixes = {*Prefix::parse("10.77.0.2/32")};
  p.last_rx_real_ns = 1'700'000'000 * kNsPerSecond + 5;
  p.rx_bytes = 1536;
  p.rx_packets = 3;
  p.drops[static_cast<size_t>(DropReason::kAuthFailure)] = 4;
  s.peers.push_back(p);

  const nlohmann::json j = status_to_json(s, StatusContext{"cordon0", 51820, 1'700'000'012 * kNsPerSecond});
  EXPECT_EQ(j["host"], "0x0001000a");
  EXPECT_EQ(j["interface"], "cordon0");
  EXPECT_EQ(j["listen_port"], 51820);
  EXPECT_EQ(j["counter_floor"], 77);
  EXPECT_EQ(j["drops"], (nlohmann::json{{"unknown_peer", 2}}));
  ASSERT_EQ(j["peers"].size(), 1u);
  const auto& peer = j["peers"][0];
  EXPECT_EQ(peer["id"], "0x0001000b");
  EXPECT_TRUE(peer["endpoint"].is_null());
  EXPECT_EQ(peer["suite"], "aes-256-gcm");
  EXPECT_EQ(peer["allowed_prefixes"], (nlohmann::json{"10.77.0.2/32"}));
  EXPECT_EQ(peer["last_rx"], 1'700'000'000);
  EXPECT_TRUE(peer["last_tx"].is_null());
  EXPECT_EQ(peer["rx_bytes"], 1536);
  EXPECT_EQ(peer["drops"], (nlohmann::json{{"auth_failure", 4}}));
}

TEST(StatusFormat, RendersTheTable) {
  const auto doc = nlohmann::json::parse(R"({
    "host": "0x0001000a", "interface": "cordon0", "listen_port": 51820, "counter_floor": 5, "time": 1000,
    "drops": {"unknown_peer": 2},
    "peers": [
      {"id": "0x0001000b", "name": "site-b", "endpoint": "192.0.2.2:51820", "suite": "aes-256-gcm",
       "allowed_prefixes": ["10.77.0.2/32"], "last_rx": 988, "last_tx": null,
       "rx_bytes": 1536, "rx_packets": 3, "tx_bytes": 0, "tx_packets": 0,
       "keepalives_sent": 0, "keepalives_received": 1, "roams": 0,
       "drops": {"auth_failure": 3, "replay": 1}},
      {"id": "0x0001000c", "name": "", "endpoint": null, "suite": "aes-256-gcm", "allowed_prefixes": [],
       "last_rx": null, "last_tx": null, "rx_bytes": 0, "rx_packets": 0, "tx_bytes": 5242880, "tx_packets": 1,
       "keepalives_sent": 0, "keepalives_received": 0, "roams": 0, "drops": {}}
    ]})");
  const std::string out = format_status(doc, 1000);
  EXPECT_NE(out.find("interface cordon0  host 0x0001000a  listen port 51820"), std::string::npos) << out;
  EXPECT_NE(out.find("drops not tied to a peer: unknown_peer=2"), std::string::npos) << out;
  EXPECT_NE(out.find("PEER"), std::string::npos) << out;
  EXPECT_NE(out.find("0x0001000b  site-b  192.0.2.2:51820  12 s ago  never"), std::string::npos) << out;
  EXPECT_NE(out.find("1.5 KiB (3 pkts)"), std::string::npos) << out;
  EXPECT_NE(out.find("auth_failure=3 replay=1"), std::string::npos) << out;
  EXPECT_NE(out.find("(unknown)"), std::string::npos) << out;
  EXPECT_NE(out.find("5.0 MiB (1 pkt)"), std::string::npos) << out;
}

TEST(StatusFormat, SurvivesAStrangeDocument) {
  EXPECT_NE(format_status(nlohmann::json::object(), 0).find("no peers"), std::string::npos);
  const std::string out = format_status(nlohmann::json::parse(R"({"peers": [1, {"id": 5}]})"), 0);
  EXPECT_NE(out.find("?"), std::string::npos) << out;
}

TEST(StatusFormat, HumanUnits) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(3 * 1024 * 1024 * 1024ull), "3.0 GiB");
  EXPECT_EQ(human_age(100, 100), "just now");
  EXPECT_EQ(human_age(INT64_MIN, 1000), "?");  // found by control_fuzz: the difference overflowed
  EXPECT_EQ(human_age(100, 112), "12 s ago");
  EXPECT_EQ(human_age(0, 600), "10 min ago");
  EXPECT_EQ(human_age(0, 7 * 3600), "7 h ago");
  EXPECT_EQ(human_age(0, 3 * 86400), "3 d ago");
}

}  // namespace
}  // namespace cordon::daemon
