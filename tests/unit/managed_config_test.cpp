// Managed mode without root: the config keys (host.keyset,
// host.password_file) and their errors with FILE:LINE, the address book ->
// NodeConfig mapping, unlocking and reloading from the installed key set,
// password input, and the control socket's "reload" command.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <functional>

#include "tests/common/temp_dir.hpp"
#include "daemon/config.hpp"
#include "daemon/control.hpp"
#include "daemon/keyset_store.hpp"
#include "daemon/managed.hpp"
#include "daemon/password_input.hpp"
#include "daemon/reload.hpp"
#include "tests/common/keyset_builder.hpp"

namespace cordon::daemon {
namespace {

namespace fs = std::filesystem;
using testkit::KeySetMaker;

using testkit::TempDir;

std::string all_errors(const ConfigResult& r) {
  std::string out;
  if (r.ok()) return out;
  for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
  return out;
}

// ---------------------------------------------------------------------------
// Config keys

class ManagedConfigTest : public ::testing::Test {
 protected:
  ConfigResult load(const std::string& text) { return load_config(dir_.write("cordon.toml", text)); }
  std::string path() const { return (dir_.path() / "cordon.toml").string(); }
  TempDir dir_;
};

TEST_F(ManagedConfigTest, KeysetSelectsManagedMode) {
  ConfigResult r = load(R"([host]
keyset = "state/keyset"
password_file = "pw"
interface = "cordon1"
listen_port = 51821
)");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(r->managed());
  EXPECT_EQ(*r->keyset, (dir_.path() / "state/keyset").string());  // relative to the config file
  EXPECT_EQ(*r->password_file, (dir_.path() / "pw").string());
  EXPECT_TRUE(r->node.peers.empty());
  EXPECT_EQ(r->interface, "cordon1");
}

TEST_F(ManagedConfigTest, PasswordFileIsOptional) {
  ConfigResult r = load("[host]\nkeyset = \"/var/lib/cordon/keyset\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_FALSE(r->password_file);
}

struct BadManaged {
  const char* name;
  const char* text;
  uint32_t line;
  const char* field;
  const char* needle;
};

const BadManaged kBadManaged[] = {
    {"id_with_keyset", "[host]\nkeyset = \"ks\"\nid = \"0x0001000a\"\n", 3, "host.id", "comes from the key set"},
    {"addresses_with_keyset", "[host]\nkeyset = \"ks\"\n\naddresses = [\"10.77.0.1/24\"]\n", 4, "host.addresses",
     "comes from the key set"},
    {"peer_with_keyset",
     "[host]\nkeyset = \"ks\"\n\n[[peer]]\nid = \"0x0001000b\"\nkey_file = \"k\"\nallowed_prefixes = []\n", 4, "peer",
     "address book"},
    {"password_file_without_keyset",
     "[host]\nid = \"0x0001000a\"\npassword_file = \"pw\"\n\n[[peer]]\nid = \"0x0001000b\"\nkey_file = "
     "\"/nonexistent\"\nallowed_prefixes = []\n",
     3, "host.password_file", "no host.keyset"},
    {"rekey_period_with_keyset", "[host]\nkeyset = \"ks\"\nrekey_period = 600\n", 3, "host.rekey_period",
     "`cordon admin network set --rekey-period`"},
    {"empty_keyset", "[host]\nkeyset = \"\"\n", 2, "host.keyset", "is empty"},
    {"keyset_not_a_string", "[host]\nkeyset = 1\n", 2, "host.keyset", "expected a string"},
};

class BadManagedTest : public ManagedConfigTest, public ::testing::WithParamInterface<BadManaged> {};

TEST_P(BadManagedTest, ErrorNamesTheLineAndField) {
  const BadManaged& c = GetParam();
  ConfigResult r = load(c.text);
  ASSERT_FALSE(r.ok()) << c.name;
  bool found = false;
  for (const ConfigError& e : r.error()) {
    if (e.field == c.field && e.line == c.line && e.message.find(c.needle) != std::string::npos) {
      found = true;
      EXPECT_EQ(e.to_string().rfind(path() + ":" + std::to_string(c.line) + ":", 0), 0u) << e.to_string();
    }
  }
  EXPECT_TRUE(found) << "wanted " << c.field << " on line " << c.line << " mentioning \"" << c.needle
                     << "\"; got:\n"
                     << all_errors(r);
}

INSTANTIATE_TEST_SUITE_P(Managed, BadManagedTest, ::testing::ValuesIn(kBadManaged),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ManagedConfigTest, EveryPeerTableIsNamed) {
  ConfigResult r = load(R"([host]
keyset = "ks"

[[peer]]
id = "0x0001000b"

[[peer]]
id = "0x0001000c"
)");
  ASSERT_FALSE(r.ok());
  std::vector<uint32_t> lines;
  for (const ConfigError& e : r.error()) {
    if (e.field == "peer") lines.push_back(e.line);
  }
  EXPECT_EQ(lines, (std::vector<uint32_t>{4, 7})) << all_errors(r);
}

TEST_F(ManagedConfigTest, ABadKeysetValueIsTheOnlyError) {
  ConfigResult r = load("[host]\nkeyset = \"\"\n");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u) << all_errors(r);
  EXPECT_EQ(r.error()[0].field, "host.keyset");
}

TEST_F(ManagedConfigTest, ManualModeStillNeedsAnIdAndPeers) {
  ConfigResult r = load("[host]\ninterface = \"cordon0\"\n");
  ASSERT_FALSE(r.ok());
  const std::string text = all_errors(r);
  EXPECT_NE(text.find("host.id: missing"), std::string::npos) << text;
  EXPECT_NE(text.find("keyset = PATH"), std::string::npos) << text;
  EXPECT_NE(text.find("no [[peer]] tables"), std::string::npos) << text;
}

TEST_F(ManagedConfigTest, KeysetPathIsRestartOnly) {
  DaemonConfig a;
  a.keyset = "/a/keyset";
  DaemonConfig b = a;
  b.keyset = "/b/keyset";
  const auto changes = restart_only_changes(a, b);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_NE(changes[0].find("host.keyset"), std::string::npos) << changes[0];
}

// ---------------------------------------------------------------------------
// Address book -> NodeConfig

keys::OpenedKeySet opened_keyset(const KeySetMaker& maker, uint64_t version = 1) {
  auto opened = keys::open_keyset(maker.seal(version), maker.password);
  if (!opened) throw std::runtime_error(opened.error().message());
  return std::move(opened.value());
}

const PeerConfig* find_peer(const std::vector<PeerConfig>& peers, uint32_t id) {
  for (const PeerConfig& p : peers) {
    if (p.id == HostId{id}) return &p;
  }
  return nullptr;
}

TEST(ManagedNodeTest, AddressBookBecomesPeers) {
  ManagedNode node = managed_node(opened_keyset(KeySetMaker::three_hosts()));
  EXPECT_EQ(node.self, HostId{0x0001000a});
  EXPECT_EQ(node.addresses, (std::vector<Prefix>{testkit::prefix("10.77.0.1/24"), testkit::prefix("fd77::1/64")}));
  EXPECT_TRUE(node.warnings.empty());
  ASSERT_EQ(node.peers.size(), 2u);

  const PeerConfig* b = find_peer(node.peers, 0x0001000b);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "site-b");
  EXPECT_EQ(b->endpoint, Endpoint::parse("192.0.2.2:51820"));  // the first endpoint
  EXPECT_EQ(b->link_key, testkit::filled_key(0xab));
  EXPECT_EQ(b->allowed_prefixes,
            (std::vector<Prefix>{testkit::prefix("10.77.0.2/32"), testkit::prefix("fd77::2/128"),
                                 testkit::prefix("192.168.2.0/24")}));
  EXPECT_EQ(b->suite, crypto::Suite::kAes256Gcm);
  EXPECT_EQ(b->keepalive_ns, 25 * kNsPerSecond);

  const PeerConfig* c = find_peer(node.peers, 0x0001000c);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->endpoint);  // learnt from C's first datagram
  EXPECT_EQ(c->link_key, testkit::filled_key(0xac));
  EXPECT_EQ(c->allowed_prefixes, (std::vector<Prefix>{testkit::prefix("10.77.0.3/32")}));
}

TEST(ManagedNodeTest, EntryWithoutALinkKeyIsNotAPeer) {
  KeySetMaker maker = KeySetMaker::three_hosts();
  maker.body.links.pop_back();  // no key for C
  ManagedNode node = managed_node(opened_keyset(maker));
  ASSERT_EQ(node.peers.size(), 1u);
  EXPECT_EQ(node.peers[0].id, HostId{0x0001000b});
  ASSERT_EQ(node.warnings.size(), 1u);
  EXPECT_NE(node.warnings[0].find("0x0001000c"), std::string::npos) << node.warnings[0];
}

TEST(ManagedNodeTest, ASubnetClaimedTwiceStaysWithTheFirstPeer) {
  KeySetMaker maker = KeySetMaker::three_hosts();
  maker.body.book.entries[2].subnets = {testkit::prefix("192.168.2.0/24")};
  ManagedNode node = managed_node(opened_keyset(maker));
  const PeerConfig* c = find_peer(node.peers, 0x0001000c);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->allowed_prefixes, (std::vector<Prefix>{testkit::prefix("10.77.0.3/32")}));
  ASSERT_EQ(node.warnings.size(), 1u);
  EXPECT_NE(node.warnings[0].find("192.168.2.0/24"), std::string::npos) << node.warnings[0];
}

// docs/gateways.md, "Reach": a gateway's key set limits a peer; the node
// gets the limit and the gateway's own subnets.
TEST(ManagedNodeTest, AReachLimitBecomesThePeersReach) {
  KeySetMaker maker = KeySetMaker::three_hosts();
  maker.body.book.entries[0].subnets = {testkit::prefix("192.168.1.0/24"), testkit::prefix("192.168.3.0/24")};
  maker.body.reach = {keys::ReachLimit{HostId{0x0001000c}, {testkit::prefix("192.168.3.0/25")}}};
  DaemonConfig config;
  apply_managed_node(config, managed_node(opened_keyset(maker)));
  EXPECT_EQ(config.node.tunneled_subnets, maker.body.book.entries[0].subnets);
  const PeerConfig* b = find_peer(config.node.peers, 0x0001000b);
  const PeerConfig* c = find_peer(config.node.peers, 0x0001000c);
  ASSERT_TRUE(b && c);
  EXPECT_FALSE(b->reach.has_value());
  EXPECT_EQ(c->reach, std::vector<Prefix>{testkit::prefix("192.168.3.0/25")});
}

// The network's rekey period (core/keys/keyset.hpp, tag 3) is every
// peer's; a key set without it gives the default, whatever the config's
// host.rekey_period held before.
TEST(ManagedNodeTest, TheKeySetsRekeyPeriodIsEveryPeers) {
  KeySetMaker maker = KeySetMaker::three_hosts();
  DaemonConfig config;
  config.rekey_period_ns = 5 * kNsPerSecond;
  apply_managed_node(config, managed_node(opened_keyset(maker)));
  ASSERT_EQ(config.node.peers.size(), 2u);
  for (const PeerConfig& p : config.node.peers) EXPECT_EQ(p.rekey_period_ns, 3600 * kNsPerSecond);
  EXPECT_EQ(config.rekey_period_ns, 3600 * kNsPerSecond);

  maker.body.rekey_period = 600;
  apply_managed_node(config, managed_node(opened_keyset(maker)));
  for (const PeerConfig& p : config.node.peers) EXPECT_EQ(p.rekey_period_ns, 600 * kNsPerSecond);

  maker.body.rekey_period = 0;  // off
  apply_managed_node(config, managed_node(opened_keyset(maker)));
  for (const PeerConfig& p : config.node.peers) EXPECT_EQ(p.rekey_period_ns, 0);
}

// docs/gateways.md, "Precedence": the administrator's rules, then the
// config's own; a central rule names peers by host ID.
TEST(ManagedNodeTest, CentralRulesComeBeforeLocalOnes) {
  KeySetMaker maker = KeySetMaker::three_hosts();
  maker.body.rules = {keys::FilterRuleEntry{4, keys::FilterRuleKind::kProtected, "drop in peer 0x0001000b proto tcp"},
                      keys::FilterRuleEntry{9, keys::FilterRuleKind::kProtected, "allow in peer 0x0009000f"}};
  DaemonConfig config;
  config.local_rules = {DaemonConfig::LocalRule{"allow in peer site-b", 3, 1}};
  apply_managed_node(config, managed_node(opened_keyset(maker)));
  ASSERT_TRUE(resolve_filter(config).ok());
  const FilterConfig& f = config.node.filter;
  ASSERT_EQ(f.rules.size(), 3u);
  EXPECT_EQ(f.origins, (std::vector<std::string>{"central 4", "central 9", "local"}));
  EXPECT_EQ(f.rules[0].peers, std::vector<uint32_t>{0x0001000b});
  // A host this one is not linked with: the rule stands, and never matches.
  EXPECT_EQ(f.rules[1].peers, std::vector<uint32_t>{0x0009000f});
  EXPECT_EQ(f.rules[2].peers, std::vector<uint32_t>{0x0001000b});
}

TEST(ManagedNodeTest, ACentralRuleTheHostCannotApplyIsNamedByNumber) {
  KeySetMaker maker = KeySetMaker::three_hosts();
  maker.body.rules = {keys::FilterRuleEntry{12, keys::FilterRuleKind::kProtected, "allow in peer site-b"}};
  DaemonConfig config;
  config.keyset = "/var/lib/cordon/keyset";
  apply_managed_node(config, managed_node(opened_keyset(maker)));
  auto r = resolve_filter(config);
  ASSERT_FALSE(r.ok());
  const std::string message = r.error().to_string();
  EXPECT_NE(message.find("/var/lib/cordon/keyset: filter rule 12: word 4"), std::string::npos) << message;
  EXPECT_NE(message.find("ask for a corrected update"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------
// Unlock at start, reload with the kept user key

class ManagedUnlockTest : public ::testing::Test {
 protected:
  ManagedUnlockTest() : maker_(KeySetMaker::three_hosts()) {
    config_.keyset = keyset_path((dir_.path() / "state").string());
    auto r = KeysetStore(*config_.keyset).install(maker_.seal(1), maker_.password, "v1");
    if (!r) throw std::runtime_error(r.error().message);
  }
  TempDir dir_;
  KeySetMaker maker_;
  DaemonConfig config_;
};

TEST_F(ManagedUnlockTest, UnlockFillsTheConfigFromThePasswordFile) {
  config_.password_file = dir_.write("pw", maker_.password + "\n");
  ManagedUnlock unlocked = unlock_managed(config_);
  ASSERT_TRUE(unlocked.ok()) << unlocked.error();
  EXPECT_EQ(unlocked->keys.version, 1u);
  EXPECT_EQ(unlocked->keys.user, "alice");
  EXPECT_EQ(unlocked->keys.user_key, maker_.user_key);
  EXPECT_EQ(config_.node.self, HostId{0x0001000a});
  EXPECT_EQ(config_.node.peers.size(), 2u);
  EXPECT_EQ(config_.addresses.size(), 2u);
}

TEST_F(ManagedUnlockTest, UnlockRefusesAWrongPassword) {
  config_.password_file = dir_.write("pw", "not-the-password\n");
  ManagedUnlock unlocked = unlock_managed(config_);
  ASSERT_FALSE(unlocked.ok());
  EXPECT_NE(unlocked.error().find(*config_.keyset), std::string::npos) << unlocked.error();
  EXPECT_TRUE(config_.node.peers.empty());
}

TEST_F(ManagedUnlockTest, UnlockRefusesABadLengthPasswordBeforeTheKdf) {
  config_.password_file = dir_.write("pw", "short\n");
  ManagedUnlock unlocked = unlock_managed(config_);
  ASSERT_FALSE(unlocked.ok());
  EXPECT_NE(unlocked.error().find("9 to 32"), std::string::npos) << unlocked.error();
}

TEST_F(ManagedUnlockTest, ReloadOpensAnUpdatedKeySetWithTheUserKey) {
  config_.password_file = dir_.write("pw", maker_.password);
  ManagedUnlock unlocked = unlock_managed(config_);
  ASSERT_TRUE(unlocked.ok()) << unlocked.error();

  keys::KeySetBody next = maker_.body;
  next.book.entries.pop_back();
  next.links.pop_back();
  auto applied = KeysetStore(*config_.keyset).apply_update(maker_.update(2, next), maker_.password, "2.update");
  ASSERT_TRUE(applied) << applied.error().message;

  DaemonConfig fresh;
  ManagedReload reloaded = reload_managed(fresh, *config_.keyset, unlocked->keys);
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  EXPECT_EQ(unlocked->keys.version, 2u);
  ASSERT_EQ(fresh.node.peers.size(), 1u);
  EXPECT_EQ(fresh.node.peers[0].id, HostId{0x0001000b});
  EXPECT_EQ(fresh.node.peers[0].rekey_period_ns, 3600 * kNsPerSecond);

  // A key set the kept user key does not open changes nothing.
  ManagedKeySet wrong{testkit::filled_key(0x99), 2, "alice"};
  DaemonConfig untouched;
  ManagedReload failed = reload_managed(untouched, *config_.keyset, wrong);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(untouched.node.peers.empty());
  EXPECT_EQ(wrong.version, 2u);
}

// An update that brings a new rekey period: the reloaded peers have it
// (Node::reconfigure hands it to each link's running rekey session).
TEST_F(ManagedUnlockTest, ReloadTakesTheUpdatedRekeyPeriod) {
  config_.password_file = dir_.write("pw", maker_.password);
  ManagedUnlock unlocked = unlock_managed(config_);
  ASSERT_TRUE(unlocked.ok()) << unlocked.error();
  EXPECT_EQ(config_.node.peers[0].rekey_period_ns, 3600 * kNsPerSecond);

  keys::KeySetBody next = maker_.body;
  next.rekey_period = 120;
  auto applied = KeysetStore(*config_.keyset).apply_update(maker_.update(2, next), maker_.password, "2.update");
  ASSERT_TRUE(applied) << applied.error().message;
  DaemonConfig fresh;
  ManagedReload reloaded = reload_managed(fresh, *config_.keyset, unlocked->keys);
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  ASSERT_EQ(fresh.node.peers.size(), 2u);
  for (const PeerConfig& p : fresh.node.peers) EXPECT_EQ(p.rekey_period_ns, 120 * kNsPerSecond);
}

// ---------------------------------------------------------------------------
// Password input

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string text_of(const crypto::SecretBytes& s) { return std::string(keys::as_text(s)); }

TEST(PasswordInputTest, OneTrailingNewlineIsStripped) {
  EXPECT_EQ(text_of(decode_password_file(bytes_of("secret-pass\n"), "f").value()), "secret-pass");
  EXPECT_EQ(text_of(decode_password_file(bytes_of("secret-pass\r\n"), "f").value()), "secret-pass");
  EXPECT_EQ(text_of(decode_password_file(bytes_of("secret-pass"), "f").value()), "secret-pass");
  EXPECT_EQ(text_of(decode_password_file(bytes_of("secret-pass\n\n"), "f").value()), "secret-pass\n");
  EXPECT_EQ(text_of(decode_password_file(bytes_of(" spaced pass "), "f").value()), " spaced pass ");
  EXPECT_FALSE(decode_password_file(bytes_of("\n"), "f").ok());
  EXPECT_FALSE(decode_password_file(bytes_of(""), "f").ok());
}

TEST(PasswordInputTest, PasswordFileMustBePrivate) {
  TempDir dir;
  const std::string path = dir.write("pw", "secret-pass\n", 0640);
  PasswordResult r = read_password_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("chmod 600"), std::string::npos) << r.error();
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(read_password_file(path).ok());
  EXPECT_FALSE(read_password_file((dir.path() / "missing").string()).ok());
  EXPECT_FALSE(read_password_file(dir.path().string()).ok());  // a directory
}

TEST(PasswordInputTest, LengthIsCheckedAndTheSourceNamed) {
  TempDir dir;
  PasswordRequest request;
  request.file = dir.write("pw", "short\n");
  PasswordResult r = read_password(request);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(*request.file), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("9 to 32"), std::string::npos) << r.error();

  request.file = dir.write("pw", std::string(33, 'x'));
  EXPECT_FALSE(read_password(request).ok());
  request.file = dir.write("pw", std::string(32, 'x') + "\n");
  EXPECT_TRUE(read_password(request).ok());
  request.file = dir.write("pw", std::string(9, 'x'));
  EXPECT_TRUE(read_password(request).ok());
}

TEST(PasswordInputTest, SystemdCredentialIsUsedWhenNoFileIsGiven) {
  TempDir dir;
  dir.write(kPasswordCredential, "credential-pass\n");
  ::setenv("CREDENTIALS_DIRECTORY", dir.path().c_str(), 1);
  PasswordResult r = read_password(PasswordRequest{});
  ::unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(text_of(*r), "credential-pass");
}

// Runs `body` in a child in a new session (so without a controlling
// terminal) and returns what it wrote.
std::string in_session_without_terminal(const std::function<std::string()>& body) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child < 0) return "fork failed";
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::setsid();
    const std::string out = body();
    (void)!::write(pipe_fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string message;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0;) message.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return message;
}

// Without a controlling terminal, the error says which other sources exist.
TEST(PasswordInputTest, NoTerminalNamesTheAlternatives) {
  const std::string message = in_session_without_terminal([] {
    ::unsetenv("CREDENTIALS_DIRECTORY");
    ::unsetenv("INVOCATION_ID");
    PasswordResult r = read_password(PasswordRequest{});
    return r ? std::string("unexpected password") : r.error();
  });
  EXPECT_NE(message.find("no terminal and no --password-file"), std::string::npos) << message;
  EXPECT_NE(message.find("systemd credential"), std::string::npos) << message;
}

// Under systemd, the unit's fallback credential "-" (its password file is
// missing) counts as no password, and the error says which file to write.
TEST(PasswordInputTest, UnitFallbackCredentialSaysWhichFileToWrite) {
  TempDir dir;
  dir.write(kPasswordCredential, "-");
  const std::string message = in_session_without_terminal([&] {
    ::setenv("CREDENTIALS_DIRECTORY", dir.path().c_str(), 1);
    ::setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1);
    const bool skipped = !credential_password_path().has_value();
    PasswordResult r = read_password(PasswordRequest{});
    return std::string(skipped ? "skipped " : "used ") + (r ? "unexpected password" : r.error());
  });
  EXPECT_TRUE(message.starts_with("skipped ")) << message;
  EXPECT_NE(message.find("without the credential cordon-password"), std::string::npos) << message;
  EXPECT_NE(message.find("/etc/cordon/NAME.password"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------
// Control: "reload"

TEST(ControlReloadTest, ReloadIsDispatched) {
  int reloads = 0;
  ControlCommands commands;
  commands.status = [] { return nlohmann::json{{"status", true}}; };
  commands.reload = [&] {
    ++reloads;
    return nlohmann::json{{"reloaded", true}, {"peers", 2}, {"version", 7}};
  };
  nlohmann::json reply = dispatch_command({{"command", "reload"}}, commands);
  EXPECT_EQ(reloads, 1);
  EXPECT_EQ(reply["version"], 7);
  EXPECT_EQ(dispatch_command({{"command", "status"}}, commands)["status"], true);

  nlohmann::json unknown = dispatch_command({{"command", "restart"}}, commands);
  EXPECT_NE(unknown["error"].get<std::string>().find("status, reload"), std::string::npos) << unknown.dump();
}

TEST(ControlReloadTest, StatusOnlyDispatchRefusesReload) {
  nlohmann::json reply = dispatch_command({{"command", "reload"}}, [] { return nlohmann::json::object(); });
  ASSERT_TRUE(reply.contains("error")) << reply.dump();
}

TEST(ControlReloadTest, NoDaemonIsReportedAsSuch) {
  TempDir dir;
  ControlReply reply = control_request((dir.path() / "none.sock").string(), {{"command", "reload"}});
  ASSERT_FALSE(reply.ok());
  EXPECT_TRUE(reply.error().no_daemon) << reply.error().message;
}

}  // namespace
}  // namespace cordon::daemon
