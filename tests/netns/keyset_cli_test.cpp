// The host side of a managed network (docs/administration.md, "Host
// commands") through the real `cordon` binary: `keyset
// install`, `keyset show`, `passwd` and `update apply`, each bad input
// giving a clear error, a non-zero exit and an installed key set left byte
// for byte as it was; then two managed daemons in namespaces that start
// from their key sets, pass traffic, and adopt an update through the
// control socket without dropping the link that did not change.
//
// Key sets and packages are built with the core API (tests/common/
// keyset_builder.hpp), as `cordon admin` would build them.
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include "tests/common/keyset_builder.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using testkit::KeySetMaker;
using KeysetCliTest = NetnsTest;

std::string as_string(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

size_t count(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// One host's files: its state dir, password file and the inputs the tests
// hand to the CLI.
struct HostFiles {
  TempDir dir;
  KeySetMaker maker;
  fs::path state;
  fs::path password;

  explicit HostFiles(const std::string& tag, KeySetMaker m = KeySetMaker::three_hosts())
      : dir("netns-" + tag), maker(std::move(m)), state(dir / "state"), password(dir / "password") {
    write_file(password, maker.password + "\n", 0600);
  }
  fs::path keyset() const { return state / "keyset"; }

  fs::path put(const std::string& name, const std::vector<std::byte>& bytes) const {
    write_file(dir / name, as_string(bytes), 0644);  // as copied from the admin: any mode
    return dir / name;
  }
  fs::path put_text(const std::string& name, const std::string& text, unsigned mode = 0600) const {
    write_file(dir / name, text, mode);
    return dir / name;
  }

  std::vector<std::string> cmd(std::vector<std::string> args) const {
    args.insert(args.begin(), cordon_bin().string());
    args.push_back("--state-dir");
    args.push_back(state.string());
    return args;
  }
  RunResult install(const fs::path& file, const fs::path& pw) const {
    return run(nullptr, cmd({"keyset", "install", file.string(), "--password-file", pw.string()}), 30s);
  }
  RunResult apply(const fs::path& file, const fs::path& pw, const fs::path& socket) const {
    return run(nullptr,
               cmd({"update", "apply", file.string(), "--password-file", pw.string(), "-s", socket.string()}), 30s);
  }
  // Installs version `version`; fails the test on refusal.
  void install_version(uint64_t version) const {
    RunResult r = install(put("v" + std::to_string(version) + ".keyset", maker.seal(version)), password);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
  }
};

// The body of the next version: C removed, B's endpoint moved.
keys::KeySetBody without_c(const keys::KeySetBody& body) {
  keys::KeySetBody next = body;
  next.book.entries.pop_back();
  next.links.pop_back();
  next.book.entries[1].endpoints = {*Endpoint::parse("192.0.2.20:51820")};
  return next;
}

// ---------------------------------------------------------------------------
// The happy path

TEST_F(KeysetCliTest, InstallShowApplyAndPasswd) {
  HostFiles host("keyset-happy");
  RunResult r = host.install(host.put("a.keyset", host.maker.seal(1)), host.password);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("installed key set for host 0x0001000a"), std::string::npos) << r.describe();
  EXPECT_EQ(file_mode(host.keyset()), 0600u);
  EXPECT_EQ(read_file(host.keyset()), read_file(host.dir / "a.keyset"));  // stored as-is: encrypted at rest

  RunResult show = run(nullptr, host.cmd({"keyset", "show"}));
  ASSERT_EQ(show.exit_code, 0) << show.describe();
  EXPECT_NE(show.out.find("0x0001000a"), std::string::npos) << show.describe();
  EXPECT_NE(show.out.find("version  1"), std::string::npos) << show.describe();
  EXPECT_NE(show.out.find("alice"), std::string::npos) << show.describe();

  // No daemon runs: the update waits for the next start.
  RunResult apply = host.apply(host.put("2.update", host.maker.update(2, without_c(host.maker.body))),
                               host.password, host.dir / "no-daemon.sock");
  ASSERT_EQ(apply.exit_code, 0) << apply.describe();
  EXPECT_NE(apply.out.find("version 1 -> 2"), std::string::npos) << apply.describe();
  EXPECT_NE(apply.out.find("takes effect at the next `cordon up`"), std::string::npos) << apply.describe();
  EXPECT_EQ(file_mode(host.keyset()), 0600u);

  // passwd: the old password stops working, the new one works.
  const fs::path fresh = host.put_text("new-password", "my new passphrase\n");
  RunResult passwd = run(nullptr, host.cmd({"passwd", "--password-file", host.password.string(),
                                            "--new-password-file", fresh.string()}), 60s);
  ASSERT_EQ(passwd.exit_code, 0) << passwd.describe();
  const fs::path update3 = host.put("3.update", host.maker.update(3, host.maker.body));
  RunResult old_pw = host.apply(update3, host.password, host.dir / "no-daemon.sock");
  EXPECT_NE(old_pw.exit_code, 0) << old_pw.describe();
  RunResult new_pw = host.apply(update3, fresh, host.dir / "no-daemon.sock");
  EXPECT_EQ(new_pw.exit_code, 0) << new_pw.describe();
  RunResult show3 = run(nullptr, host.cmd({"keyset", "show"}));
  EXPECT_NE(show3.out.find("version  3"), std::string::npos) << show3.describe();
}

// ---------------------------------------------------------------------------
// Bad input: clear error, non-zero exit, nothing changed

struct BadInput {
  const char* name;
  // Builds the command to run against a host with version 2 installed.
  std::vector<std::string> (*command)(HostFiles& host);
  std::vector<const char*> needles;  // each must appear in stderr
};

std::vector<std::byte> truncated(std::vector<std::byte> bytes, size_t keep) {
  bytes.resize(std::min(keep, bytes.size()));
  return bytes;
}
std::vector<std::byte> flipped(std::vector<std::byte> bytes, size_t from_end) {
  bytes[bytes.size() - from_end] ^= std::byte{0x01};
  return bytes;
}
std::vector<std::string> install_cmd(HostFiles& h, const fs::path& file, const fs::path& pw) {
  return h.cmd({"keyset", "install", file.string(), "--password-file", pw.string()});
}
std::vector<std::string> apply_cmd(HostFiles& h, const fs::path& file, const fs::path& pw) {
  return h.cmd({"update", "apply", file.string(), "--password-file", pw.string(), "-s",
                (h.dir / "no-daemon.sock").string()});
}

const BadInput kBadInputs[] = {
    {"install_wrong_password",
     [](HostFiles& h) {
       return install_cmd(h, h.put("3.keyset", h.maker.seal(3)), h.put_text("wrong", "not-the-password\n"));
     },
     {"3.keyset", "password does not open"}},
    {"install_short_password",
     [](HostFiles& h) { return install_cmd(h, h.put("3.keyset", h.maker.seal(3)), h.put_text("short", "short\n")); },
     {"short", "9 to 32"}},
    {"install_long_password",
     [](HostFiles& h) {
       return install_cmd(h, h.put("3.keyset", h.maker.seal(3)), h.put_text("long", std::string(40, 'x') + "\n"));
     },
     {"9 to 32"}},
    {"install_password_file_others_can_read",
     [](HostFiles& h) {
       return install_cmd(h, h.put("3.keyset", h.maker.seal(3)), h.put_text("open", h.maker.password, 0644));
     },
     {"chmod 600"}},
    {"install_truncated",
     [](HostFiles& h) { return install_cmd(h, h.put("cut.keyset", truncated(h.maker.seal(3), 100)), h.password); },
     {"cut.keyset", "ends early"}},
    {"install_empty",
     [](HostFiles& h) { return install_cmd(h, h.put("empty.keyset", {}), h.password); },
     {"empty.keyset"}},
    {"install_tampered_body",
     [](HostFiles& h) { return install_cmd(h, h.put("bad.keyset", flipped(h.maker.seal(3), 20)), h.password); },
     {"bad.keyset", "altered"}},
    {"install_tampered_version",
     [](HostFiles& h) {
       auto bytes = h.maker.seal(3);
       bytes[23] = std::byte{4};  // version 3 -> 4: a header byte every later AEAD covers
       return install_cmd(h, h.put("bad.keyset", bytes), h.password);
     },
     {"bad.keyset", "altered"}},
    {"install_other_host",
     [](HostFiles& h) {
       KeySetMaker d = KeySetMaker::other_host();
       return install_cmd(h, h.put("d.keyset", d.seal(3)), h.password);
     },
     {"0x0001000d", "0x0001000a", "re-purpose"}},
    {"install_other_network",
     [](HostFiles& h) {
       KeySetMaker n = KeySetMaker::other_network();
       return install_cmd(h, h.put("n.keyset", n.seal(3)), h.password);
     },
     {"0x0002000a", "0x0001000a", "network 0x0002"}},
    {"install_same_version",
     [](HostFiles& h) { return install_cmd(h, h.put("2.keyset", h.maker.seal(2)), h.password); },
     {"the same as the installed version 2"}},
    {"install_older_version",
     [](HostFiles& h) { return install_cmd(h, h.put("1.keyset", h.maker.seal(1)), h.password); },
     {"older than the installed version 2"}},
    {"install_missing_file",
     [](HostFiles& h) { return install_cmd(h, h.dir / "nope.keyset", h.password); },
     {"nope.keyset", "does not exist"}},
    {"update_wrong_password",
     [](HostFiles& h) {
       return apply_cmd(h, h.put("3.update", h.maker.update(3, h.maker.body)), h.put_text("wrong", "not-the-pw!\n"));
     },
     {"password does not open"}},
    {"update_short_password",
     [](HostFiles& h) {
       return apply_cmd(h, h.put("3.update", h.maker.update(3, h.maker.body)), h.put_text("short", "short"));
     },
     {"9 to 32"}},
    {"update_truncated",
     [](HostFiles& h) {
       return apply_cmd(h, h.put("cut.update", truncated(h.maker.update(3, h.maker.body), 40)), h.password);
     },
     {"cut.update", "ends early"}},
    {"update_tampered",
     [](HostFiles& h) {
       return apply_cmd(h, h.put("bad.update", flipped(h.maker.update(3, h.maker.body), 5)), h.password);
     },
     {"bad.update", "altered"}},
    {"update_wrong_host_key",
     [](HostFiles& h) {
       KeySetMaker wrong = h.maker;
       wrong.host_key = testkit::filled_key(0x77);
       return apply_cmd(h, h.put("w.update", wrong.update(3, h.maker.body)), h.password);
     },
     {"w.update", "another host key"}},
    {"update_other_host",
     [](HostFiles& h) {
       KeySetMaker d = KeySetMaker::other_host();
       return apply_cmd(h, h.put("d.update", d.update(3, d.body)), h.password);
     },
     {"0x0001000d", "0x0001000a"}},
    {"update_other_network",
     [](HostFiles& h) {
       KeySetMaker n = KeySetMaker::other_network();
       return apply_cmd(h, h.put("n.update", n.update(3, n.body)), h.password);
     },
     {"0x0002000a", "network 0x0002"}},
    {"update_replayed",
     [](HostFiles& h) { return apply_cmd(h, h.put("2.update", h.maker.update(2, h.maker.body)), h.password); },
     {"older than or the same as the installed version 2", "already applied or replayed"}},
    {"update_out_of_order",
     [](HostFiles& h) { return apply_cmd(h, h.put("1.update", h.maker.update(1, h.maker.body)), h.password); },
     {"older than or the same as the installed version 2"}},
    {"update_is_a_keyset",
     [](HostFiles& h) { return apply_cmd(h, h.put("3.keyset", h.maker.seal(3)), h.password); },
     {"not a Cordon update package"}},
    {"passwd_wrong_old_password",
     [](HostFiles& h) {
       return h.cmd({"passwd", "--password-file", h.put_text("wrong", "not-the-password\n").string(),
                     "--new-password-file", h.put_text("new", "my new passphrase\n").string()});
     },
     {"password does not open"}},
    {"passwd_short_new_password",
     [](HostFiles& h) {
       return h.cmd({"passwd", "--password-file", h.password.string(), "--new-password-file",
                     h.put_text("new", "short\n").string()});
     },
     {"new password", "9 to 32"}},
    {"passwd_new_password_file_others_can_read",
     [](HostFiles& h) {
       return h.cmd({"passwd", "--password-file", h.password.string(), "--new-password-file",
                     h.put_text("new", "my new passphrase\n", 0644).string()});
     },
     {"chmod 600"}},
    {"install_without_terminal_or_password_file",
     [](HostFiles& h) {
       // setsid: a new session has no controlling terminal.
       std::vector<std::string> argv = h.cmd({"keyset", "install", h.put("3.keyset", h.maker.seal(3)).string()});
       argv.insert(argv.begin(), {"setsid", "--wait"});
       return argv;
     },
     {"no terminal and no --password-file", "systemd credential"}},
};

void PrintTo(const BadInput& c, std::ostream* os) { *os << c.name; }

class KeysetBadInputTest : public NetnsTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(KeysetBadInputTest, ClearErrorNonZeroExitNothingChanged) {
  const BadInput& c = GetParam();
  HostFiles host(std::string("keyset-bad"));
  host.install_version(2);
  const std::string before = read_file(host.keyset());

  RunResult r = run(nullptr, c.command(host), 60s);
  EXPECT_FALSE(r.timed_out) << r.describe();
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  for (const char* needle : c.needles) {
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected \"" << needle << "\" in:\n" << r.describe();
  }
  EXPECT_EQ(read_file(host.keyset()), before) << "the installed key set changed";
  EXPECT_EQ(file_mode(host.keyset()), 0600u);
  // No temporary file left behind next to it (keyset.fresh is the install's
  // record of fresh link keys, docs/configuration.md "The counter file").
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(host.state)) {
    if (entry.path().filename() != "keyset.fresh") ++files;
  }
  EXPECT_EQ(files, 1u);
}

INSTANTIATE_TEST_SUITE_P(Keyset, KeysetBadInputTest, ::testing::ValuesIn(kBadInputs),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(KeysetCliTest, ShowWithoutAKeySetSaysHowToInstall) {
  TempDir dir("netns-keyset-none");
  RunResult r = run(nullptr, {cordon_bin().string(), "keyset", "show", "--state-dir", (dir / "state").string()});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find("cordon keyset install"), std::string::npos) << r.describe();
}

TEST_F(KeysetCliTest, CheckAcceptsAManagedConfigWithItsKeySet) {
  HostFiles host("keyset-check");
  host.install_version(1);
  const std::string host_table =
      "[host]\nkeyset = \"state/keyset\"\npassword_file = \"" + host.password.string() + "\"\n";
  const fs::path config = host.put_text("managed.toml", host_table + "state_dir = \"state\"\n", 0644);
  // Given as an argument, as users type it, or with -c.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"check", config.string()},
                                               std::vector<std::string>{"check", "-c", config.string()}}) {
    std::vector<std::string> argv{cordon_bin().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult ok = run(nullptr, argv, 30s);
    EXPECT_EQ(ok.exit_code, 0) << ok.describe();
    EXPECT_NE(ok.out.find("managed mode"), std::string::npos) << ok.describe();
    EXPECT_NE(ok.out.find("2 peers"), std::string::npos) << ok.describe();
  }

  const fs::path bad = host.put_text("bad.toml", host_table + "id = \"0x0001000a\"\n", 0644);
  RunResult refused = run(nullptr, {cordon_bin().string(), "check", "-c", bad.string()});
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("bad.toml:4:"), std::string::npos) << refused.describe();
}

// `cordon check` refuses what `cordon up` would refuse before it touches
// the network: the password file, the password, the counter floor records.
TEST_F(KeysetCliTest, CheckRefusesWhatUpWouldRefuse) {
  HostFiles host("keyset-check-up");
  host.install_version(1);
  auto config_with = [&](const fs::path& password_file) {
    return host.put_text("managed.toml",
                         "[host]\nkeyset = \"state/keyset\"\nstate_dir = \"state\"\npassword_file = \"" +
                             password_file.string() + "\"\n",
                         0644);
  };
  auto check = [&](const fs::path& config, std::initializer_list<std::string_view> needles) {
    RunResult r = run(nullptr, {cordon_bin().string(), "check", config.string()}, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    EXPECT_EQ(r.out.find("ok"), std::string::npos) << r.describe();
    for (std::string_view n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "missing: " << n << "\n" << r.describe();
  };

  check(config_with(host.dir / "no-such-password"), {"managed.toml", "no-such-password", "does not exist"});
  const fs::path readable = host.put_text("readable.pw", host.maker.password + "\n", 0644);
  check(config_with(readable), {"readable.pw", "chmod 600"});
  const fs::path wrong = host.put_text("wrong.pw", "not-the-password\n", 0600);
  check(config_with(wrong), {"password does not open"});

  // Installed again by hand (no fresh-key record): `up` would refuse the keys.
  const fs::path config = config_with(host.password);
  fs::remove(fs::path(host.keyset().string() + ".fresh"));
  check(config, {"no counter floor record", "--accept-new-keys"});
  RunResult accepted = run(nullptr, {cordon_bin().string(), "check", config.string(), "--accept-new-keys"}, 30s);
  EXPECT_EQ(accepted.exit_code, 0) << accepted.describe();
}

// ---------------------------------------------------------------------------
// Managed daemons

// Two hosts A and B of network 1, linked; A also has a link to C (no
// daemon). Each key set lists the other with its tunnel addresses; A knows
// B's underlay endpoint, B learns A's.
struct ManagedPair {
  Underlay underlay;
  Namespace ns_a{"keyset-a"}, ns_b{"keyset-b"};
  HostFiles a{"keyset-pair-a", maker_a()}, b{"keyset-pair-b", maker_b()};
  std::unique_ptr<Process> daemon_a, daemon_b;

  static KeySetMaker maker_a() {
    KeySetMaker m;
    m.host = HostId{0x0001000a};
    m.user_key = testkit::filled_key(0x1a);
    m.host_key = testkit::filled_key(0x2a);
    m.body.book.entries = {
        testkit::book_entry(0x0001000a, "site-a", "10.77.0.1/24", "fd77::1/64"),
        testkit::book_entry(0x0001000b, "site-b", "10.77.0.2/24", "fd77::2/64", {"10.200.0.2:51820"}),
        testkit::book_entry(0x0001000c, "site-c", "10.77.0.3/24", "fd77::3/64"),
    };
    m.body.links.push_back(keys::LinkKeyEntry{HostId{0x0001000b}, testkit::filled_key(0xab)});
    m.body.links.push_back(keys::LinkKeyEntry{HostId{0x0001000c}, testkit::filled_key(0xac)});
    return m;
  }
  static KeySetMaker maker_b() {
    KeySetMaker m;
    m.host = HostId{0x0001000b};
    m.user = "bob";
    m.password = "bobs-password-1";
    m.user_key = testkit::filled_key(0x1b);
    m.host_key = testkit::filled_key(0x2b);
    m.body.book.entries = {
        testkit::book_entry(0x0001000b, "site-b", "10.77.0.2/24", "fd77::2/64", {"10.200.0.2:51820"}),
        testkit::book_entry(0x0001000a, "site-a", "10.77.0.1/24", "fd77::1/64"),
    };
    m.body.links.push_back(keys::LinkKeyEntry{HostId{0x0001000a}, testkit::filled_key(0xab)});
    return m;
  }

  ManagedPair() {
    connect_veth(ns_a, ns_b, underlay);
    a.install_version(1);
    b.install_version(1);
  }

  static fs::path socket(const HostFiles& h) { return h.dir / "cordon0.sock"; }
  static fs::path config(const HostFiles& h) {
    write_file(h.dir / "managed.toml",
               "[host]\nkeyset = \"" + h.keyset().string() + "\"\npassword_file = \"" + h.password.string() +
                   "\"\nstate_dir = \"" + h.state.string() + "\"\ncontrol_socket = \"" + socket(h).string() +
                   "\"\nlog_level = \"debug\"\n",
               0644);
    return h.dir / "managed.toml";
  }
  void start(std::unique_ptr<Process>& slot, Namespace& ns, HostFiles& h, const std::string& label) {
    slot = std::make_unique<Process>(&ns, std::vector<std::string>{cordon_bin().string(), "up", "-c",
                                                                  config(h).string()},
                                     h.dir / "daemon.log", label);
    std::string why;
    if (!wait_for_daemon(ns, socket(h), "cordon0", *slot, deadline_in(20s), &why)) {
      throw std::runtime_error(why + "\n" + slot->log_text());
    }
  }
};

TEST_F(KeysetCliTest, ManagedDaemonsStartFromKeySetsAndAdoptAnUpdate) {
  ManagedPair pair;
  pair.start(pair.daemon_a, pair.ns_a, pair.a, "managed daemon A");
  pair.start(pair.daemon_b, pair.ns_b, pair.b, "managed daemon B");

  nlohmann::json status = status_json(pair.ns_a, ManagedPair::socket(pair.a));
  EXPECT_EQ(status["host"], "0x0001000a") << status.dump(2);
  EXPECT_NE(find_peer(status, "0x0001000b"), nullptr) << status.dump(2);
  EXPECT_NE(find_peer(status, "0x0001000c"), nullptr) << status.dump(2);
  ASSERT_TRUE(wait_for_ping(pair.ns_a, "10.77.0.2", deadline_in(20s))) << pair.daemon_a->log_text();
  ASSERT_TRUE(wait_for_ping(pair.ns_a, "fd77::2", deadline_in(20s))) << pair.daemon_a->log_text();
  const uint64_t rx_before = peer_counter(status_json(pair.ns_a, ManagedPair::socket(pair.a)), "0x0001000b",
                                          "rx_packets");
  EXPECT_GT(rx_before, 0u);

  // Version 2 for A: the link to C is removed; B's entry and key are as before.
  keys::KeySetBody next = pair.a.maker.body;
  next.book.entries.pop_back();
  next.links.pop_back();
  RunResult apply = pair.a.apply(pair.a.put("2.update", pair.a.maker.update(2, next)), pair.a.password,
                                 ManagedPair::socket(pair.a));
  ASSERT_EQ(apply.exit_code, 0) << apply.describe() << pair.daemon_a->log_text();
  EXPECT_NE(apply.out.find("reloaded: version 2, 1 peers"), std::string::npos) << apply.describe();

  status = status_json(pair.ns_a, ManagedPair::socket(pair.a));
  EXPECT_EQ(find_peer(status, "0x0001000c"), nullptr) << status.dump(2);
  ASSERT_NE(find_peer(status, "0x0001000b"), nullptr) << status.dump(2);
  // The unchanged link kept its state: its counters did not restart.
  EXPECT_GE(peer_counter(status, "0x0001000b", "rx_packets"), rx_before) << status.dump(2);
  EXPECT_TRUE(ping_once(pair.ns_a, "10.77.0.2")) << pair.daemon_a->log_text();

  // SIGHUP reloads too; with nothing new it is a no-op for traffic.
  pair.daemon_a->signal(SIGHUP);
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return count(pair.daemon_a->log_text(), "key set version 2, 1 peers") >= 2;  // control reload, then SIGHUP
  })) << pair.daemon_a->log_text();
  EXPECT_TRUE(ping_once(pair.ns_a, "10.77.0.2")) << pair.daemon_a->log_text();

  // A replayed package is refused and the daemon is not asked to reload.
  RunResult replay = pair.a.apply(pair.a.dir / "2.update", pair.a.password, ManagedPair::socket(pair.a));
  EXPECT_EQ(replay.exit_code, 1) << replay.describe();
  EXPECT_NE(replay.err.find("already applied or replayed"), std::string::npos) << replay.describe();

  // Version 3 replaces A's host key, as after a user was removed: the new
  // key travels wrapped under the user key, and the daemon, which holds
  // that user key, reloads it and keeps the link.
  RunResult rotated = pair.a.apply(
      pair.a.put("3.update", pair.a.maker.update(3, next, keys::UpdateKind::kKeys, testkit::filled_key(0x5a))),
      pair.a.password, ManagedPair::socket(pair.a));
  ASSERT_EQ(rotated.exit_code, 0) << rotated.describe() << pair.daemon_a->log_text();
  EXPECT_NE(rotated.out.find("new host key"), std::string::npos) << rotated.describe();
  EXPECT_NE(rotated.out.find("reloaded: version 3, 1 peers"), std::string::npos) << rotated.describe();
  EXPECT_TRUE(ping_once(pair.ns_a, "10.77.0.2")) << pair.daemon_a->log_text();

  EXPECT_TRUE(pair.daemon_a->running());
  EXPECT_TRUE(pair.daemon_b->running());
}

TEST_F(KeysetCliTest, ManagedDaemonRefusesAWrongPasswordFile) {
  HostFiles host("keyset-wrongpw");
  host.install_version(1);
  Namespace ns("keyset-wrongpw");
  write_file(host.password, "not-the-password\n", 0600);
  const fs::path config = ManagedPair::config(host);
  RunResult r = run(&ns, {cordon_bin().string(), "up", "-c", config.string()}, 30s);
  EXPECT_FALSE(r.timed_out) << r.describe();
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE((r.out + r.err).find("password does not open"), std::string::npos) << r.describe();
  EXPECT_FALSE(run(&ns, {"ip", "link", "show", "dev", "cordon0"}).ok());
}

}  // namespace
}  // namespace cordon::netns
