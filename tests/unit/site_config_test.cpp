// The site-link configuration file (daemon/site_config.hpp): every keyword
// of both roles, the defaults of the P³ functional specification, Appendix
// A, per-remote overrides, Cordon's additions, and the errors, each with
// its line and keyword.
#include <cctype>
#include <filesystem>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/site_config.hpp"
#include "tests/common/temp_dir.hpp"

namespace cordon::daemon {
namespace {

constexpr const char* kPath = "/etc/cordon/site.conf";

std::string all_errors(const SiteConfigResult& r) {
  std::string out;
  if (r.ok()) return out;
  for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// The smallest good files, with room for extra lines: `local` goes in
// before localend (it starts on line 6), `remote` after the last line (it
// starts on line 12 when `local` is empty).
std::string primary_file(const std::vector<std::string>& local = {}, const std::vector<std::string>& remote = {}) {
  std::vector<std::string> lines = {"# site A, the primary", "localstart", "address 192.0.2.1",
                                    "host_id 0x00010001", "tunnel_address 10.99.0.1/24"};
  lines.insert(lines.end(), local.begin(), local.end());
  lines.insert(lines.end(), {"localend", "1/address 198.51.100.7", "1/subnet1 192.168.20.0",
                             "1/mask1 255.255.255.0", "1/host_id 0x00010002", "1/key_file site-b.key"});
  lines.insert(lines.end(), remote.begin(), remote.end());
  return join_lines(lines);
}

std::string secondary_file(const std::vector<std::string>& local = {},
                           const std::vector<std::string>& remote = {}) {
  std::vector<std::string> lines = {"# site B, a secondary", "localstart", "address 198.51.100.7",
                                    "host_id 0x00010002", "tunnel_address 10.99.0.2/24"};
  lines.insert(lines.end(), local.begin(), local.end());
  lines.insert(lines.end(), {"localend", "1/address 192.0.2.1", "1/subnet1 192.168.10.0", "1/mask1 255.255.255.0",
                             "1/host_id 0x00010001", "1/key_file site-a.key"});
  lines.insert(lines.end(), remote.begin(), remote.end());
  return join_lines(lines);
}

SiteConfigResult parse(const std::string& text, SiteRole role) { return parse_site_config(text, kPath, role); }

TEST(SiteConfigTest, MinimalPrimaryGetsTheDefaults) {
  const SiteConfigResult r = parse(primary_file(), SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const SiteConfig& c = *r;
  EXPECT_EQ(c.path, kPath);
  EXPECT_EQ(c.role, SiteRole::kPrimary);
  const SiteLocal& l = c.local;
  EXPECT_EQ(l.address.to_string(), "192.0.2.1");
  EXPECT_EQ(l.port, 5653);
  EXPECT_EQ(l.key_generation, KeyGeneration::kSoftware);
  EXPECT_EQ(l.keying.rekey_wait, 3600u);
  EXPECT_EQ(l.keying.array_size, 256u);
  EXPECT_EQ(l.keying.data_array_time, 86400u);
  EXPECT_EQ(l.keying.control_array_time, 82800u);
  EXPECT_EQ(l.heartbeat.time, 15u);
  EXPECT_EQ(l.heartbeat.fail, 120u);
  EXPECT_EQ(l.host_id.value, 0x00010001u);
  EXPECT_EQ(l.interface, "cordon0");
  EXPECT_EQ(l.tunnel_address.to_string(), "10.99.0.1/24");  // host bits kept
  EXPECT_EQ(l.state_dir, "/var/lib/cordon");
  EXPECT_EQ(l.control_socket, "");
  EXPECT_TRUE(l.size_classes.empty());  // off

  ASSERT_EQ(c.remotes.size(), 1u);
  const SiteRemote& s = c.remotes[0];
  EXPECT_EQ(s.number, 1u);
  EXPECT_EQ(s.address.to_string(), "198.51.100.7");
  ASSERT_EQ(s.subnets.size(), 1u);
  EXPECT_EQ(s.subnets[0].to_string(), "192.168.20.0/24");
  EXPECT_EQ(s.suite, crypto::Suite::kAes128Gcm);
  EXPECT_EQ(s.keying, l.keying);
  EXPECT_EQ(s.heartbeat, l.heartbeat);
  EXPECT_EQ(s.host_id.value, 0x00010002u);
  EXPECT_EQ(s.key_file, "/etc/cordon/site-b.key");  // relative to the file's directory
  EXPECT_FALSE(s.tunnel_address.has_value());
  EXPECT_TRUE(s.groups.empty());
  EXPECT_FALSE(s.backup);
}

TEST(SiteConfigTest, PrimaryReadsEveryKeywordAndAppliesOverrides) {
  const SiteConfigResult r = parse(R"(# every keyword of a primary
localstart
ip = 6
address = 2001:db8::1
port = 6000
key_generation = 2
rekey_wait = 600
array_size = 512
data_array_time = 7200
control_array_time = 7000
heartbeat_time = 10
heartbeat_fail = 60
cluster_state = 0
load_balance = 0
host_id = 0x00010001
interface = site0
tunnel_address = fd99::1/64
state_dir = state
control_socket = /run/cordon/site0.sock
size_classes = 128, 512
localend

2/ip 6
2/address 2001:db8::2
2/subnet2 fd00:2:1::
2/mask2 ffff:ffff:ffff::
2/subnet1 10.2.0.0
2/mask1 255.255.0.0
2/key_type AES256
2/rekey_wait 300
2/key_array 64
2/data_array_time 3600
2/control_array_time 3500
2/heartbeat_time 5
2/heartbeat_fail 30
2/host_id 0x00010002
2/key_file keys/b.key
2/tunnel_address fd99::2
2/group east
2/group all

1/address 2001:db8::3
1/subnet1 fd00:3::
1/mask1 48
1/key_type AES128
1/host_id 0x00010003
1/key_file /srv/keys/c.key
)",
                                   SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const SiteLocal& l = r->local;
  EXPECT_EQ(l.address.to_string(), "2001:db8::1");
  EXPECT_EQ(l.port, 6000);
  EXPECT_EQ(l.key_generation, KeyGeneration::kHardware);
  EXPECT_EQ(l.keying, (SiteKeying{600, 512, 7200, 7000}));
  EXPECT_EQ(l.heartbeat, (SiteHeartbeat{10, 60}));
  EXPECT_EQ(l.interface, "site0");
  EXPECT_EQ(l.tunnel_address.to_string(), "fd99::1/64");
  EXPECT_EQ(l.state_dir, "/etc/cordon/state");
  EXPECT_EQ(l.control_socket, "/run/cordon/site0.sock");
  EXPECT_EQ(l.size_classes, (std::vector<uint16_t>{128, 512, 1444}));  // and the default MTU's datagram

  // In order of N, whatever the order of the lines.
  ASSERT_EQ(r->remotes.size(), 2u);
  const SiteRemote& one = r->remotes[0];
  EXPECT_EQ(one.number, 1u);
  EXPECT_EQ(one.suite, crypto::Suite::kAes128Gcm);
  EXPECT_EQ(one.keying, l.keying);  // no override: the local values
  EXPECT_EQ(one.heartbeat, l.heartbeat);
  ASSERT_EQ(one.subnets.size(), 1u);
  EXPECT_EQ(one.subnets[0].to_string(), "fd00:3::/48");
  EXPECT_EQ(one.key_file, "/srv/keys/c.key");

  const SiteRemote& two = r->remotes[1];
  EXPECT_EQ(two.number, 2u);
  EXPECT_EQ(two.address.to_string(), "2001:db8::2");
  ASSERT_EQ(two.subnets.size(), 2u);  // in order of M
  EXPECT_EQ(two.subnets[0].to_string(), "10.2.0.0/16");
  EXPECT_EQ(two.subnets[1].to_string(), "fd00:2:1::/48");
  EXPECT_EQ(two.suite, crypto::Suite::kAes256Gcm);
  EXPECT_EQ(two.keying, (SiteKeying{300, 64, 3600, 3500}));
  EXPECT_EQ(two.heartbeat, (SiteHeartbeat{5, 30}));
  EXPECT_EQ(two.host_id.value, 0x00010002u);
  EXPECT_EQ(two.key_file, "/etc/cordon/keys/b.key");
  ASSERT_TRUE(two.tunnel_address.has_value());
  EXPECT_EQ(two.tunnel_address->to_string(), "fd99::2");
  EXPECT_EQ(two.groups, (std::vector<std::string>{"east", "all"}));
}

TEST(SiteConfigTest, AnOverrideMixesWithTheLocalValues) {
  const SiteConfigResult r =
      parse(primary_file({"rekey_wait 900", "heartbeat_time 20"}, {"1/key_array 8", "1/heartbeat_fail 40"}),
            SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->remotes[0].keying, (SiteKeying{900, 8, 86400, 82800}));
  EXPECT_EQ(r->remotes[0].heartbeat, (SiteHeartbeat{20, 40}));
}

TEST(SiteConfigTest, SecondaryReadsEveryKeyword) {
  const SiteConfigResult r = parse(R"(localstart
ip 4
address 198.51.100.7
heartbeat_time 20
heartbeat_fail 90
cluster_state 0
load_balance 0
host_id 0x00010002
interface site1
tunnel_address 10.99.0.2/24
state_dir /var/lib/site
control_socket run/site.sock
localend
1/ip 4
1/address 192.0.2.1
1/port 6000
1/subnet1 192.168.10.0
1/mask1 255.255.255.0
1/key_type aes256
1/host_id 0x00010001
1/key_file site-a.key
1/tunnel_address 10.99.0.1
1/backup no
2/address 192.0.2.2
2/subnet1 192.168.10.0
2/mask1 255.255.255.0
2/host_id 0x00010003
2/key_file site-a2.key
2/backup yes
)",
                                   SiteRole::kSecondary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->role, SiteRole::kSecondary);
  const SiteLocal& l = r->local;
  EXPECT_EQ(l.address.to_string(), "198.51.100.7");
  EXPECT_EQ(l.heartbeat, (SiteHeartbeat{20, 90}));
  EXPECT_EQ(l.keying, SiteKeying{});  // the primary's to choose
  EXPECT_EQ(l.interface, "site1");
  EXPECT_EQ(l.state_dir, "/var/lib/site");
  EXPECT_EQ(l.control_socket, "/etc/cordon/run/site.sock");

  ASSERT_EQ(r->remotes.size(), 2u);
  const SiteRemote& primary = r->remotes[0];
  EXPECT_FALSE(primary.backup);
  EXPECT_EQ(primary.port, 6000);
  EXPECT_EQ(primary.suite, crypto::Suite::kAes256Gcm);
  EXPECT_EQ(primary.heartbeat, l.heartbeat);
  EXPECT_EQ(primary.keying, SiteKeying{});
  EXPECT_EQ(primary.tunnel_address->to_string(), "10.99.0.1");
  const SiteRemote& backup = r->remotes[1];
  EXPECT_TRUE(backup.backup);
  EXPECT_EQ(backup.port, 5653);
  EXPECT_EQ(backup.suite, crypto::Suite::kAes128Gcm);
  // The backup serves the same subnets as the primary: no overlap error.
  EXPECT_EQ(backup.subnets, primary.subnets);
}

TEST(SiteConfigTest, MinimalSecondaryGetsTheDefaults) {
  const SiteConfigResult r = parse(secondary_file(), SiteRole::kSecondary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->local.heartbeat, SiteHeartbeat{});
  ASSERT_EQ(r->remotes.size(), 1u);
  EXPECT_EQ(r->remotes[0].port, 5653);
  EXPECT_FALSE(r->remotes[0].backup);
  EXPECT_EQ(r->remotes[0].key_file, "/etc/cordon/site-a.key");
}

TEST(SiteConfigTest, SeparatorsBlanksCommentsAndCarriageReturns) {
  for (const char* line : {"port 6000", "port=6000", "port = 6000", "port\t=\t6000", "  port   6000  ",
                           "port 6000\r", "\tport= 6000 \t\r"}) {
    SCOPED_TRACE(line);
    const SiteConfigResult r = parse(primary_file({line, "", "   # a comment", "#port 7000"}), SiteRole::kPrimary);
    ASSERT_TRUE(r.ok()) << all_errors(r);
    EXPECT_EQ(r->local.port, 6000);
  }
  std::string crlf;
  for (char c : primary_file({"port 6001"})) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  const SiteConfigResult r = parse(crlf, SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->local.port, 6001);
  // The last line needs no newline.
  std::string no_newline = primary_file();
  no_newline.pop_back();
  EXPECT_TRUE(parse(no_newline, SiteRole::kPrimary).ok());
}

TEST(SiteConfigTest, RemoteLinesMayComeBeforeTheLocalSection) {
  const std::string text =
      "1/address 198.51.100.7\n1/host_id 0x00010002\n1/key_file b.key\n"
      "localstart\naddress 192.0.2.1\nhost_id 0x00010001\ntunnel_address 10.99.0.1/24\nlocalend\n";
  const SiteConfigResult r = parse(text, SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->remotes.size(), 1u);
}

TEST(SiteConfigTest, MasksInEveryForm) {
  struct Case {
    const char* subnet;
    const char* mask;
    const char* prefix;
  };
  const Case cases[] = {
      {"0.0.0.0", "0.0.0.0", "0.0.0.0/0"},  // overlaps subnet1: allowed within one remote
      {"10.0.0.0", "255.0.0.0", "10.0.0.0/8"},
      {"10.1.128.0", "255.255.128.0", "10.1.128.0/17"},
      {"192.0.2.9", "255.255.255.255", "192.0.2.9/32"},  // a standalone host
      {"fd00:1::", "ffff:ffff::", "fd00:1::/32"},
      {"fd00:1::", "32", "fd00:1::/32"},
      {"fd00:1:2:3::", "ffff:ffff:ffff:ffff::", "fd00:1:2:3::/64"},
      {"fd00::1", "128", "fd00::1/128"},
      {"::", "0", "::/0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.prefix);
    const SiteConfigResult r = parse(
        primary_file({}, {std::string("1/subnet2 ") + c.subnet, std::string("1/mask2 ") + c.mask}), SiteRole::kPrimary);
    ASSERT_TRUE(r.ok()) << all_errors(r);
    ASSERT_EQ(r->remotes[0].subnets.size(), 2u);
    EXPECT_EQ(r->remotes[0].subnets[1].to_string(), c.prefix);
  }
}

TEST(SiteConfigTest, KeyTypeIsReadInAnyCase) {
  for (const auto& [text, suite] : {std::pair{"AES128", crypto::Suite::kAes128Gcm},
                                    std::pair{"aes128", crypto::Suite::kAes128Gcm},
                                    std::pair{"AES256", crypto::Suite::kAes256Gcm},
                                    std::pair{"Aes256", crypto::Suite::kAes256Gcm}}) {
    SCOPED_TRACE(text);
    const SiteConfigResult r = parse(primary_file({}, {std::string("1/key_type ") + text}), SiteRole::kPrimary);
    ASSERT_TRUE(r.ok()) << all_errors(r);
    EXPECT_EQ(r->remotes[0].suite, suite);
  }
}

TEST(SiteConfigTest, TimesAndSizesAtTheirLimits) {
  const SiteConfigResult r =
      parse(primary_file({"rekey_wait 2147483648", "array_size 4096", "data_array_time 1", "control_array_time 1",
                          "heartbeat_time 2147483647", "heartbeat_fail 2147483648", "port 65535"},
                         {"1/key_array 1"}),
            SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->local.keying, (SiteKeying{2147483648u, 4096, 1, 1}));
  EXPECT_EQ(r->local.heartbeat, (SiteHeartbeat{2147483647u, 2147483648u}));
  EXPECT_EQ(r->local.port, 65535);
  EXPECT_EQ(r->remotes[0].keying.array_size, 1u);
}

// array_size 0: no key arrays; every rekey carries its material.
TEST(SiteConfigTest, ArraySizeZeroTurnsKeyArraysOff) {
  const SiteConfigResult r = parse(primary_file({"array_size 0"}, {"1/key_array 0"}), SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->local.keying.array_size, 0u);
  EXPECT_EQ(r->remotes[0].keying.array_size, 0u);
}

TEST(SiteConfigTest, AnEmptyPrimaryFileNamesEverythingMissing) {
  const SiteConfigResult r = parse("", SiteRole::kPrimary);
  ASSERT_FALSE(r.ok());
  const std::string errors = all_errors(r);
  for (const char* what : {"no local section", "address: missing", "host_id: missing", "tunnel_address: missing",
                           "a primary with no remote"}) {
    EXPECT_NE(errors.find(what), std::string::npos) << what << " in:\n" << errors;
  }
  for (const ConfigError& e : r.error()) EXPECT_EQ(e.line, 0u) << e.to_string();
}

TEST(SiteConfigTest, AnEmptySecondaryFileHasNoPrimary) {
  const SiteConfigResult r = parse("# nothing\n", SiteRole::kSecondary);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(all_errors(r).find("a secondary with no primary"), std::string::npos) << all_errors(r);
}

TEST(SiteConfigTest, ErrorsAreAllCollectedAndSortedByLine) {
  const SiteConfigResult r = parse(primary_file({"port 0", "rekey_wait never"}, {"1/key_type DES", "1/bogus 1"}),
                                   SiteRole::kPrimary);
  ASSERT_FALSE(r.ok());
  const auto& errors = r.error();
  ASSERT_EQ(errors.size(), 4u) << all_errors(r);
  EXPECT_EQ(errors[0].line, 6u);
  EXPECT_EQ(errors[0].field, "port");
  EXPECT_EQ(errors[1].line, 7u);
  EXPECT_EQ(errors[1].field, "rekey_wait");
  EXPECT_EQ(errors[2].line, 14u);
  EXPECT_EQ(errors[2].field, "1/key_type");
  EXPECT_EQ(errors[3].line, 15u);
  EXPECT_EQ(errors[3].field, "1/bogus");
  for (const ConfigError& e : errors) {
    EXPECT_EQ(e.file, kPath);
    EXPECT_EQ(e.column, 0u);
  }
  EXPECT_EQ(errors[0].to_string(), std::string(kPath) + ":6:0: port: \"0\" is not a whole number from 1 to 65535; "
                                                        "write one");
}

TEST(SiteConfigTest, MissingLocalendIsReportedAtLocalstart) {
  const SiteConfigResult r = parse("\nlocalstart\naddress 192.0.2.1\nhost_id 0x00010001\n"
                                   "tunnel_address 10.99.0.1/24\n1/address 198.51.100.7\n",
                                   SiteRole::kPrimary);
  ASSERT_FALSE(r.ok());
  bool found = false;
  for (const ConfigError& e : r.error()) {
    found |= e.line == 2 && e.field == "localstart" && e.message.find("no localend") != std::string::npos;
  }
  EXPECT_TRUE(found) << all_errors(r);
}

TEST(SiteConfigTest, LoadReadsTheFileAndResolvesAgainstItsDirectory) {
  testkit::TempDir dir("siteconf");
  const std::string path = dir.write("site.conf", primary_file({"state_dir ../state"}), 0644);
  const SiteConfigResult r = load_site_config(path, SiteRole::kPrimary);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r->path, path);
  EXPECT_EQ(r->remotes[0].key_file, (dir.path() / "site-b.key").string());
  EXPECT_EQ(r->local.state_dir, (dir.path().parent_path() / "state").string());
}

TEST(SiteConfigTest, LoadReportsAFileItCannotRead) {
  testkit::TempDir dir("siteconf");
  const std::string missing = (dir.path() / "none.conf").string();
  SiteConfigResult r = load_site_config(missing, SiteRole::kPrimary);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].line, 0u);
  EXPECT_NE(r.error()[0].message.find("does not exist"), std::string::npos);

  r = load_site_config(dir.path().string(), SiteRole::kSecondary);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_NE(r.error()[0].message.find("not a regular file"), std::string::npos);
}

TEST(SiteConfigTest, RoleNames) {
  EXPECT_EQ(site_role_name(SiteRole::kPrimary), "primary");
  EXPECT_EQ(site_role_name(SiteRole::kSecondary), "secondary");
}

// ---------------------------------------------------------------------------
// Errors: each case is a minimal good file with a few lines added. `local`
// lines start on line 6, `remote` lines on line 12 (or later, after `local`).

struct ErrorCase {
  const char* name;
  SiteRole role;
  std::vector<std::string> local;
  std::vector<std::string> remote;
  uint32_t line;      // where the error is
  const char* field;  // the keyword as written
  const char* what;   // a fragment of the message
  size_t count = 1;   // errors in all: no cascade from one mistake
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

constexpr SiteRole P = SiteRole::kPrimary;
constexpr SiteRole S = SiteRole::kSecondary;

const ErrorCase kErrorCases[] = {
    // Lines and sections.
    {"unknown local keyword", P, {"rekey_wiat 60"}, {}, 6, "rekey_wiat", "did you mean `rekey_wait`"},
    {"unknown remote keyword", P, {}, {"1/adress 198.51.100.8"}, 12, "1/adress", "did you mean `address`"},
    {"no value", P, {"state_dir"}, {}, 6, "state_dir", "needs a value"},
    {"no value after =", P, {}, {"1/key_file ="}, 12, "1/key_file", "needs a value"},
    {"no keyword", P, {"= 5"}, {}, 6, "", "no keyword"},
    {"control character", P, {std::string("port 56\x01") + "53"}, {}, 6, "port", "control character"},
    {"trailing comment", P, {"port 6000 # listen here"}, {}, 6, "port", "a comment must be on a line of its own"},
    // It still opens a second section, which then has no localend.
    {"localstart with a value", P, {}, {"localstart now"}, 12, "localstart", "takes no value", 3},
    {"localstart inside", P, {"localstart"}, {}, 6, "localstart", "is still open"},
    {"second local section", P, {}, {"localstart", "localend"}, 12, "localstart", "a second local section"},
    {"localend without localstart", P, {}, {"localend"}, 12, "localend", "without a localstart"},
    {"local keyword after localend", P, {}, {"rekey_wait 60"}, 12, "rekey_wait", "outside the local section"},
    {"remote keyword inside", P, {"1/key_type AES256"}, {}, 6, "1/key_type", "inside the local section"},
    {"duplicate local", P, {"host_id 0x00010003"}, {}, 6, "host_id", "already set on line 4"},
    {"duplicate remote", P, {}, {"1/address 198.51.100.8"}, 12, "1/address", "already set on line 7"},
    {"duplicate subnet", P, {}, {"1/subnet1 192.168.21.0"}, 12, "1/subnet1", "already set on line 8"},
    {"remote keyword without N", P, {"key_type AES256"}, {}, 6, "key_type", "write it N/key_type"},
    {"key_array in the local section", P, {"key_array 4"}, {}, 6, "key_array", "the local keyword is array_size"},
    {"array_size for a remote", P, {}, {"1/array_size 4"}, 12, "1/array_size", "N/key_array"},
    {"local keyword for a remote", P, {}, {"1/key_generation 1"}, 12, "1/key_generation", "is a local keyword"},
    {"remote number 0", P, {}, {"0/ip 4"}, 12, "0/ip", "not a remote number"},
    {"remote number too big", P, {}, {"65536/ip 4"}, 12, "65536/ip", "not a remote number"},
    {"remote number with a leading zero", P, {}, {"01/ip 4"}, 12, "01/ip", "no leading zeros"},
    {"remote number missing", P, {}, {"/ip 4"}, 12, "/ip", "not a remote number"},
    {"subnet without a number", P, {}, {"1/subnet 10.1.0.0"}, 12, "1/subnet", "is not 1/subnetM with a subnet number"},
    {"subnet number with a leading zero", P, {}, {"1/mask01 255.0.0.0"}, 12, "1/mask01", "without leading zeros"},

    // Values of the local section.
    {"ip version", P, {"ip 5"}, {}, 6, "ip", "write 4 or 6"},
    {"ip against address", P, {"ip 6"}, {}, 3, "address", "an IPv4 address but ip is 6 (line 6)"},
    {"port 0", P, {"port 0"}, {}, 6, "port", "from 1 to 65535"},
    {"port too big", P, {"port 65536"}, {}, 6, "port", "from 1 to 65535"},
    {"port not a number", P, {"port https"}, {}, 6, "port", "not a whole number"},
    {"key_generation 3", P, {"key_generation 3"}, {}, 6, "key_generation", "write 1 (software) or 2 (hardware)"},
    {"rekey_wait 0", P, {"rekey_wait 0"}, {}, 6, "rekey_wait", "from 1 to 2147483648 seconds"},
    {"rekey_wait past 2^31", P, {"rekey_wait 2147483649"}, {}, 6, "rekey_wait", "from 1 to 2147483648"},
    {"negative time", P, {"data_array_time -1"}, {}, 6, "data_array_time", "not a whole number"},
    {"fractional time", P, {"control_array_time 1.5"}, {}, 6, "control_array_time", "not a whole number"},
    {"huge number", P, {"heartbeat_time 99999999999999999999999"}, {}, 6, "heartbeat_time", "not a whole number"},
    {"array_size too big", P, {"array_size 4097"}, {}, 6, "array_size", "from 0 to 4096 keys"},
    {"key_array too big", P, {}, {"1/key_array 5000"}, 12, "1/key_array", "from 0 to 4096 keys"},
    {"heartbeat_fail not longer", P, {"heartbeat_fail 15"}, {}, 6, "heartbeat_fail", "must be longer"},
    {"heartbeat_time too long", P, {"heartbeat_time 200"}, {}, 6, "heartbeat_time", "must be longer"},
    {"cluster_state 1", P, {"cluster_state 1"}, {}, 6, "cluster_state", "clustering (IPVS) is not supported"},
    {"cluster_state not a number", P, {"cluster_state on"}, {}, 6, "cluster_state", "write 0"},
    {"load_balance 1", P, {"load_balance 1"}, {}, 6, "load_balance", "load balancing (IPVS) is not supported"},
    {"interface too long", P, {"interface sixteen-chars-xx"}, {}, 6, "interface", "not a usable interface name"},
    {"interface with a slash", P, {"interface a/b"}, {}, 6, "interface", "not a usable interface name"},
    {"local section closed and reopened", P, {"localend", "localstart"}, {}, 7, "localstart", "a second local"},
    {"control_socket too long", P, {"control_socket /" + std::string(120, 's')}, {}, 6, "control_socket",
     "more than 107"},
    {"size_classes out of order", S, {"size_classes 512, 256"}, {}, 6, "size_classes", "256 does not follow 512"},
    {"size_classes too large", P, {"size_classes 2000"}, {}, 6, "size_classes", "outside 25 .. 1444"},

    // Values of a primary's remotes.
    {"remote ip version", P, {}, {"1/ip 7"}, 12, "1/ip", "write 4 or 6"},
    {"remote ip against address", P, {}, {"1/ip 6"}, 7, "1/address", "but 1/ip is 6 (line 12)"},
    {"remote family differs", P, {}, {"2/address 2001:db8::9", "2/host_id 0x00010009", "2/key_file c.key"}, 12,
     "2/address", "same IP version"},
    {"subnet without mask", P, {}, {"1/subnet2 10.1.0.0"}, 12, "1/subnet2", "has no 1/mask2"},
    {"mask without subnet", P, {}, {"1/mask3 255.0.0.0"}, 12, "1/mask3", "has no 1/subnet3"},
    {"subnet host bits", P, {}, {"1/subnet2 10.1.0.1", "1/mask2 255.255.0.0"}, 12, "1/subnet2",
     "write the network address 10.1.0.0"},
    {"subnet with a length", P, {}, {"1/subnet2 10.1.0.0/16", "1/mask2 255.255.0.0"}, 12, "1/subnet2",
     "has a prefix length"},
    {"subnet not an address", P, {}, {"1/subnet2 lan", "1/mask2 255.255.0.0"}, 12, "1/subnet2",
     "not a network address"},
    {"mask not contiguous", P, {}, {"1/subnet2 10.1.0.0", "1/mask2 255.0.255.0"}, 13, "1/mask2",
     "not a contiguous mask"},
    {"IPv6 mask not contiguous", P, {}, {"1/subnet2 fd00::", "1/mask2 ffff::ffff"}, 13, "1/mask2",
     "not a contiguous mask"},
    {"length for an IPv4 subnet", P, {}, {"1/subnet2 10.1.0.0", "1/mask2 16"}, 13, "1/mask2",
     "write a dotted mask such as 255.255.255.0"},
    {"dotted mask for an IPv6 subnet", P, {}, {"1/subnet2 fd00::", "1/mask2 255.255.0.0"}, 13, "1/mask2",
     "not a mask for an IPv6 subnet"},
    {"IPv6 length too long", P, {}, {"1/subnet2 fd00::", "1/mask2 129"}, 13, "1/mask2", "from 0 to 128"},
    {"key_type", P, {}, {"1/key_type AES192"}, 12, "1/key_type", "write AES128 or AES256"},
    {"remote rekey_wait", P, {}, {"1/rekey_wait 0"}, 12, "1/rekey_wait", "from 1 to 2147483648"},
    {"remote heartbeat_fail", P, {}, {"1/heartbeat_fail 10"}, 12, "1/heartbeat_fail",
     "heartbeat_fail (10 s) must be longer than heartbeat_time (15 s)"},
    {"remote heartbeat_time", P, {"heartbeat_fail 30"}, {"1/heartbeat_time 30"}, 13, "1/heartbeat_time",
     "must be longer"},
    {"remote host_id twice", P, {}, {"1/host_id 0x0001"}, 12, "1/host_id", "already set on line 10"},
    {"remote tunnel_address is one address", P, {}, {"1/tunnel_address 10.99.0.2/24"}, 12, "1/tunnel_address",
     "not an IP address"},
    {"group name", P, {}, {"1/group East"}, 12, "1/group", "not a group name"},
    {"group name too long", P, {}, {"1/group " + std::string(33, 'g')}, 12, "1/group", "1 to 32"},
    {"group twice", P, {}, {"1/group east", "1/group east"}, 13, "1/group", "already in group east (line 12)"},
    {"port on a primary's remote", P, {}, {"1/port 5653"}, 12, "1/port", "not a keyword of a primary"},
    {"backup on a primary", P, {}, {"1/backup yes"}, 12, "1/backup", "only a secondary has backup primaries"},

    // Across remotes.
    {"remote without address", P, {}, {"2/host_id 0x00010003", "2/key_file c.key"}, 12, "2/address", "missing"},
    {"remote without host_id", P, {}, {"2/address 198.51.100.8", "2/key_file c.key"}, 12, "2/host_id", "missing"},
    {"remote without key_file", P, {}, {"2/address 198.51.100.8", "2/host_id 0x00010003"}, 12, "2/key_file",
     "missing"},
    {"two remotes, one host", P, {}, {"2/address 198.51.100.8", "2/host_id 0x00010002", "2/key_file c.key"}, 13,
     "2/host_id", "remote 1 has the same host ID"},
    {"remote with our host_id", P, {}, {"2/address 198.51.100.8", "2/host_id 0x00010001", "2/key_file c.key"}, 13,
     "2/host_id", "this gateway's own host_id"},
    {"overlapping subnets", P, {},
     {"2/address 198.51.100.8", "2/host_id 0x00010003", "2/key_file c.key", "2/subnet1 192.168.0.0",
      "2/mask1 255.255.0.0"},
     15, "2/subnet1", "overlaps 192.168.20.0/24 of remote 1 (1/subnet1, line 8)"},

    // A secondary.
    {"key_generation on a secondary", S, {"key_generation 2"}, {}, 6, "key_generation", "key master"},
    {"rekey_wait on a secondary", S, {"rekey_wait 60"}, {}, 6, "rekey_wait", "set this in the primary's file"},
    {"array_size on a secondary", S, {"array_size 16"}, {}, 6, "array_size", "key master"},
    {"data_array_time on a secondary", S, {"data_array_time 60"}, {}, 6, "data_array_time", "key master"},
    {"control_array_time on a secondary", S, {"control_array_time 60"}, {}, 6, "control_array_time",
     "key master"},
    {"port on a secondary", S, {"port 5653"}, {}, 6, "port", "a secondary does not listen"},
    {"remote override on a secondary", S, {}, {"1/rekey_wait 60"}, 12, "1/rekey_wait", "key master"},
    {"remote key_array on a secondary", S, {}, {"1/key_array 6"}, 12, "1/key_array", "key master"},
    {"remote heartbeat on a secondary", S, {}, {"1/heartbeat_time 5"}, 12, "1/heartbeat_time",
     "one heartbeat for its primaries"},
    {"group on a secondary", S, {}, {"1/group east"}, 12, "1/group", "kept in the primary's file"},
    {"secondary heartbeat order", S, {"heartbeat_time 30", "heartbeat_fail 20"}, {}, 7, "heartbeat_fail",
     "must be longer"},
    {"backup value", S, {}, {"1/backup maybe"}, 12, "1/backup", "neither yes nor no"},
    {"remote port", S, {}, {"1/port 0"}, 12, "1/port", "from 1 to 65535"},
    {"two primaries", S, {}, {"2/address 192.0.2.9", "2/host_id 0x00010009", "2/key_file b.key"}, 12, "2/backup",
     "remote 1 is the primary already"},
    {"two backups", S, {},
     {"2/address 192.0.2.8", "2/host_id 0x00010008", "2/key_file b.key", "2/backup yes", "3/address 192.0.2.9",
      "3/host_id 0x00010009", "3/key_file c.key", "3/backup yes"},
     19, "3/backup", "at most one backup"},
    {"only a backup", S, {}, {"1/backup yes"}, 0, "", "only a backup primary"},
    {"cluster_state on a secondary", S, {"cluster_state 2"}, {}, 6, "cluster_state", "not supported"},
};

// Cases that need a file other than the minimal one with lines added.
struct WholeCase {
  const char* name;
  SiteRole role;
  std::string text;
  uint32_t line;
  const char* field;
  const char* what;
};

void PrintTo(const WholeCase& c, std::ostream* os) { *os << c.name; }

const WholeCase kWholeCases[] = {
    {"local address missing", P,
     "localstart\nhost_id 0x00010001\ntunnel_address 10.99.0.1/24\nlocalend\n1/address 198.51.100.7\n"
     "1/host_id 0x00010002\n1/key_file b.key\n",
     1, "address", "missing; add `address`"},
    {"local address bad", P,
     "localstart\naddress 192.0.2.300\nhost_id 0x00010001\ntunnel_address 10.99.0.1/24\nlocalend\n"
     "1/address 198.51.100.7\n1/host_id 0x00010002\n1/key_file b.key\n",
     2, "address", "not an IP address"},
    {"local host_id missing", S,
     "localstart\naddress 198.51.100.7\ntunnel_address 10.99.0.2/24\nlocalend\n1/address 192.0.2.1\n"
     "1/host_id 0x00010001\n1/key_file a.key\n",
     1, "host_id", "missing"},
    {"local host_id bad", S,
     "localstart\naddress 198.51.100.7\nhost_id 0x0000ffff\ntunnel_address 10.99.0.2/24\nlocalend\n"
     "1/address 192.0.2.1\n1/host_id 0x00010001\n1/key_file a.key\n",
     3, "host_id", "not a host ID"},
    {"tunnel_address missing", P,
     "localstart\naddress 192.0.2.1\nhost_id 0x00010001\nlocalend\n1/address 198.51.100.7\n"
     "1/host_id 0x00010002\n1/key_file b.key\n",
     1, "tunnel_address", "missing"},
    {"tunnel_address without a length", S,
     "localstart\naddress 198.51.100.7\nhost_id 0x00010002\ntunnel_address 10.99.0.2\nlocalend\n"
     "1/address 192.0.2.1\n1/host_id 0x00010001\n1/key_file a.key\n",
     4, "tunnel_address", "e.g. 10.99.0.1/24"},
    {"remote address bad", P,
     "localstart\naddress 192.0.2.1\nhost_id 0x00010001\ntunnel_address 10.99.0.1/24\nlocalend\n"
     "1/address gw.example\n1/host_id 0x00010002\n1/key_file b.key\n",
     6, "1/address", "host names are not resolved"},
    {"remote host_id bad", P,
     "localstart\naddress 192.0.2.1\nhost_id 0x00010001\ntunnel_address 10.99.0.1/24\nlocalend\n"
     "1/address 198.51.100.7\n1/host_id 2\n1/key_file b.key\n",
     7, "1/host_id", "not a host ID"},
    {"primary without remotes", P,
     "localstart\naddress 192.0.2.1\nhost_id 0x00010001\ntunnel_address 10.99.0.1/24\nlocalend\n", 0, "",
     "a primary with no remote"},
};

std::string test_name(const char* text) {
  std::string name = text;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

void expect_error(const SiteConfigResult& r, uint32_t line, const std::string& field, const std::string& what) {
  ASSERT_FALSE(r.ok()) << "expected an error";
  bool found = false;
  for (const ConfigError& e : r.error()) {
    EXPECT_EQ(e.file, kPath);
    // Every message says what is wrong, then what to do.
    EXPECT_NE(e.message.find("; "), std::string::npos) << e.to_string();
    found |= e.line == line && e.field == field && e.message.find(what) != std::string::npos;
  }
  EXPECT_TRUE(found) << "expected line " << line << ", field `" << field << "`, containing `" << what
                     << "`; got:\n"
                     << all_errors(r);
}

class SiteConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(SiteConfigErrorTest, NamesLineAndKeyword) {
  const ErrorCase& c = GetParam();
  const std::string text = c.role == P ? primary_file(c.local, c.remote) : secondary_file(c.local, c.remote);
  const SiteConfigResult r = parse(text, c.role);
  expect_error(r, c.line, c.field, c.what);
  if (!r.ok()) EXPECT_EQ(r.error().size(), c.count) << all_errors(r);
}

INSTANTIATE_TEST_SUITE_P(SiteConfig, SiteConfigErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return test_name(info.param.name); });

class SiteConfigWholeErrorTest : public ::testing::TestWithParam<WholeCase> {};

TEST_P(SiteConfigWholeErrorTest, NamesLineAndKeyword) {
  const WholeCase& c = GetParam();
  const SiteConfigResult r = parse(c.text, c.role);
  expect_error(r, c.line, c.field, c.what);
  if (!r.ok()) EXPECT_EQ(r.error().size(), 1u) << all_errors(r);
}

INSTANTIATE_TEST_SUITE_P(SiteConfig, SiteConfigWholeErrorTest, ::testing::ValuesIn(kWholeCases),
                         [](const ::testing::TestParamInfo<WholeCase>& info) { return test_name(info.param.name); });

}  // namespace
}  // namespace cordon::daemon
