// `cordon admin` through the real binary: a whole network from `network
// init` to update packages, usage errors (exit 2), refusals (exit 1, one
// line naming the field), IPsec subnets, a database locked by another
// admin process, an unknown schema version, a crash right before COMMIT,
// and the encrypted backup. These tests need no namespace; they sit in this tier because they
// drive $CORDON_BIN.
//
// The tests hold SQLite locks and read PRAGMAs themselves through
// libsqlite3, loaded with dlopen so that this tier's link line stays as it
// is (libsqlite3 is a build dependency: scripts/install-deps.sh).
#include <dlfcn.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using AdminCliTest = NetnsTest;

// The few SQLite calls the tests need, from libsqlite3.so.0.
class Sqlite {
 public:
  Sqlite() {
    lib_ = ::dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib_ == nullptr) throw std::runtime_error("dlopen libsqlite3.so.0 failed");
    open_ = reinterpret_cast<decltype(open_)>(::dlsym(lib_, "sqlite3_open_v2"));
    close_ = reinterpret_cast<decltype(close_)>(::dlsym(lib_, "sqlite3_close_v2"));
    exec_ = reinterpret_cast<decltype(exec_)>(::dlsym(lib_, "sqlite3_exec"));
    if (!open_ || !close_ || !exec_) throw std::runtime_error("libsqlite3 lacks a symbol");
  }
  ~Sqlite() {
    if (db_ != nullptr) close_(db_);
    if (lib_ != nullptr) ::dlclose(lib_);
  }
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  void open(const fs::path& path) {
    if (open_(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path.string());
    }
  }
  int exec(const std::string& sql) { return exec_(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  // The first column of the first row, as text.
  std::string scalar(const std::string& sql) {
    std::string out;
    exec_(
        db_, sql.c_str(),
        [](void* p, int n, char** values, char**) {
          auto* s = static_cast<std::string*>(p);
          if (s->empty() && n > 0 && values[0] != nullptr) *s = values[0];
          return 0;
        },
        &out, nullptr);
    return out;
  }

 private:
  void* lib_ = nullptr;
  sqlite3* db_ = nullptr;
  decltype(&sqlite3_open_v2) open_ = nullptr;
  decltype(&sqlite3_close_v2) close_ = nullptr;
  decltype(&sqlite3_exec) exec_ = nullptr;
};

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

size_t line_count(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

// One network database in a private directory.
struct Network {
  TempDir dir{"admin-cli"};
  fs::path db = dir / "admin.db";

  RunResult admin(std::vector<std::string> args, const std::vector<std::string>& env = {}) const {
    std::vector<std::string> argv;
    if (!env.empty()) {
      argv.push_back("env");
      argv.insert(argv.end(), env.begin(), env.end());
    }
    argv.push_back(cordon_bin().string());
    argv.push_back("admin");
    argv.push_back("--db");
    argv.push_back(db.string());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(nullptr, argv, 60s);
  }
  RunResult ok(std::vector<std::string> args) const {
    RunResult r = admin(std::move(args));
    EXPECT_TRUE(r.ok()) << r.describe();
    return r;
  }
  json ok_json(std::vector<std::string> args) const {
    args.push_back("--json");
    const RunResult r = ok(std::move(args));
    return json::parse(r.out, nullptr, false);
  }
  fs::path password_file(const std::string& name, const std::string& password) const {
    const fs::path p = dir / name;
    write_file(p, password + "\n", 0600);
    return p;
  }
  void init() const {
    ok({"network", "init", "--number", "1", "--name", "lab", "--ipv4", "10.77.0.0/24", "--ipv6", "fd77::/64"});
  }
  // Everything a command could change, as the CLI shows it.
  std::string state() const {
    std::string s;
    for (auto args : std::vector<std::vector<std::string>>{{"host", "list"},
                                                           {"link", "list"},
                                                           {"user", "list"},
                                                           {"group", "list"},
                                                           {"updates", "pending"},
                                                           {"audit", "--limit", "0"}}) {
      s += ok_json(args).dump() + "\n";
    }
    return s;
  }
};

// A refusal: exit 1 and one line on stderr that contains every needle.
void expect_refusal(const RunResult& r, std::initializer_list<std::string_view> needles) {
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_EQ(line_count(r.err), 1u) << r.describe();
  for (std::string_view n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << "missing: " << n << "\n" << r.describe();
}

// ---------------------------------------------------------------------------

TEST_F(AdminCliTest, WholeNetworkFromInitToUpdatePackages) {
  Network net;
  net.init();
  EXPECT_EQ(file_mode(net.db), 0600u);
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator", "--endpoint", "192.0.2.1:51820"});
  net.ok({"host", "add", "--name", "a", "--role", "client", "--coordinator", "hub"});
  net.ok({"host", "add", "--name", "b", "--role", "client", "--coordinator", "0x00010001", "--id", "0x0001000b"});

  // A generated password is printed once, on its own labelled line.
  const RunResult user = net.ok({"user", "add", "--host", "a", "--name", "alice"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(user.out, m, std::regex("shown only now[^:]*: ([a-z2-9]{22})\n"))) << user.out;
  const std::string alice_password = m[1];
  const fs::path bob_pw = net.password_file("bob.pw", "bob's own password");
  net.ok({"user", "add", "--host", "b", "--name", "bob", "--password-file", bob_pw.string()});
  net.ok({"user", "add", "--host", "hub", "--name", "root"});

  net.ok({"link", "add", "a", "b"});
  const json hosts = net.ok_json({"host", "list"});
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[1]["name"], "a");
  EXPECT_EQ(hosts[1]["tunnel_v4"], "10.77.0.2/24");
  EXPECT_EQ(hosts[2]["id"], "0x0001000b");
  EXPECT_EQ(hosts[2]["tunnel_v4"], "10.77.0.11/24");
  EXPECT_EQ(hosts[2]["courier"], "0x00010001");
  const json links = net.ok_json({"link", "list"});
  EXPECT_EQ(links.size(), 3u);  // hub-a, hub-b (coordinator), a-b
  const json shown = net.ok_json({"host", "show", "a"});
  EXPECT_EQ(shown["peers"].size(), 2u);
  EXPECT_EQ(shown["users"], json::array({"alice"}));

  // --db may also come after the command words.
  EXPECT_TRUE(run(nullptr, {cordon_bin().string(), "admin", "host", "list", "--db", net.db.string()}).ok());

  // Key sets: private files that the host side installs with the password.
  const fs::path ka = net.dir / "a.keyset";
  const json exported = net.ok_json({"keyset", "export", "--host", "a", "--out", ka.string()});
  EXPECT_EQ(exported["version"], 1);
  EXPECT_EQ(exported["peers"], 2);
  EXPECT_EQ(file_mode(ka), 0600u);
  const fs::path state_dir = net.dir / "host-a";
  const fs::path alice_pw = net.password_file("alice.pw", alice_password);
  const RunResult install = run(nullptr, {cordon_bin().string(), "keyset", "install", ka.string(), "--password-file",
                                          alice_pw.string(), "--state-dir", state_dir.string()});
  EXPECT_TRUE(install.ok()) << install.describe();
  net.ok({"keyset", "export", "--host", "b", "--out", (net.dir / "b.keyset").string()});

  // Removing the link: both ends get a "keys" package; the hub, which never
  // had a key set, is reported instead of getting a package.
  net.ok({"link", "remove", "b", "a"});
  const json pending = net.ok_json({"updates", "pending"});
  ASSERT_EQ(pending.size(), 3u);
  const fs::path out = net.dir / "updates";
  const json built = net.ok_json({"updates", "build", "--out", out.string()});
  ASSERT_EQ(built["packages"].size(), 2u);
  EXPECT_EQ(built["packages"][0]["kind"], "keys");
  EXPECT_EQ(built["packages"][0]["version"], 2);
  EXPECT_TRUE(fs::exists(out / "0x00010002-v2.update"));
  EXPECT_TRUE(fs::exists(out / "0x0001000b-v2.update"));
  ASSERT_EQ(built["awaiting_keyset"].size(), 1u);
  EXPECT_EQ(built["awaiting_keyset"][0]["name"], "hub");

  // Every change is in the audit log, and no password is.
  const RunResult audit = net.ok({"audit", "--limit", "0", "--json"});
  EXPECT_NE(audit.out.find("\"link remove\""), std::string::npos);
  EXPECT_NE(audit.out.find("\"updates build\""), std::string::npos);
  EXPECT_EQ(audit.out.find(alice_password), std::string::npos);
  EXPECT_EQ(audit.out.find("bob's own"), std::string::npos);
  const json info = net.ok_json({"network", "show"});
  EXPECT_EQ(info["hosts"], 3);
  EXPECT_EQ(info["links"], 2);
}

TEST_F(AdminCliTest, UsageErrorsExitTwo) {
  Network net;
  net.init();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"host", "add", "--name", "x"},
           {"host", "add", "--name", "x", "--role", "king"},
           {"host", "add", "--name", "x", "--role", "client", "--id", "12"},
           {"host", "add", "--name", "x", "--role", "client", "--endpoint", "nowhere"},
           {"network", "init", "--number", "70000", "--name", "n", "--ipv4", "10.0.0.0/8"},
           {"link", "add", "a"},
           {"keys", "rotate", "--link", "a"},
           {"keys", "rotate"},
           {"keyset", "export", "--out", "x.keyset"},
       }) {
    const RunResult r = net.admin(args);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
  }
}

// A usage error says which command and what the missing argument is.
TEST_F(AdminCliTest, UsageErrorsSayWhatIsMissing) {
  Network net;
  net.init();
  const RunResult r = net.admin({"link", "add", "a"});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("cordon admin link add: B is required (B: the second host: its ID (0xNNNNHHHH) or name"),
            std::string::npos)
      << r.describe();
}

// `link add` on a pair a coordinator assignment links already: exit 0, and
// the answer says which link covers the pair and that nothing was needed.
TEST_F(AdminCliTest, LinkAddOnACoordinatorLinkSaysWhy) {
  Network net;
  net.init();
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator"});
  net.ok({"host", "add", "--name", "b", "--role", "client", "--coordinator", "hub"});
  const RunResult r = net.ok({"link", "add", "b", "hub"});
  EXPECT_EQ(r.out.find("no host pair changed"), std::string::npos) << r.describe();
  EXPECT_NE(r.out.find("'b' (0x00010002) and 'hub' (0x00010001) were already linked: 'hub' (0x00010001) is the "
                       "coordinator of 'b' (0x00010002)"),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.out.find("nothing needs delivering"), std::string::npos) << r.describe();
}

TEST_F(AdminCliTest, BadInputIsRefusedWithOneLineAndChangesNothing) {
  Network net;
  net.init();
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator"});
  net.ok({"host", "add", "--name", "a", "--role", "client", "--coordinator", "hub"});
  const std::string before = net.state();

  expect_refusal(net.admin({"host", "add", "--name", "a", "--role", "client"}), {"--name", "'a'", "already exists"});
  expect_refusal(net.admin({"host", "add", "--name", "c", "--role", "client", "--id", "0x00010002"}),
                 {"--id 0x00010002", "already used by host 'a'"});
  expect_refusal(net.admin({"host", "add", "--name", "c", "--role", "client", "--id", "0x00070002"}),
                 {"--id 0x00070002", "network 7"});
  expect_refusal(net.admin({"link", "add", "a", "ghost"}), {"second host", "no host named 'ghost'"});
  expect_refusal(net.admin({"link", "add", "0x00010063", "a"}), {"first host", "0x00010063"});
  expect_refusal(net.admin({"keyset", "export", "--host", "ghost", "--out", (net.dir / "g.keyset").string()}),
                 {"--host", "no host named 'ghost'"});
  expect_refusal(net.admin({"keyset", "export", "--host", "a", "--out", (net.dir / "a.keyset").string()}),
                 {"no users", "user add"});
  const fs::path short_pw = net.password_file("short.pw", "12345678");
  expect_refusal(net.admin({"user", "add", "--host", "a", "--name", "u", "--password-file", short_pw.string()}),
                 {"8 characters", "9 to 32"});
  const fs::path long_pw = net.password_file("long.pw", std::string(33, 'x'));
  expect_refusal(net.admin({"user", "add", "--host", "a", "--name", "u", "--password-file", long_pw.string()}),
                 {"33 characters", "9 to 32"});
  expect_refusal(net.admin({"host", "remove", "hub"}), {"cannot remove", "coordinator of 1 client"});
  expect_refusal(net.admin({"network", "init", "--number", "2", "--name", "x", "--ipv4", "10.0.0.0/8"}),
                 {"already exists"});
  EXPECT_FALSE(fs::exists(net.dir / "g.keyset"));
  EXPECT_FALSE(fs::exists(net.dir / "a.keyset"));

  // Only the audit log grew (refusals are recorded there).
  const std::string after = net.state();
  EXPECT_EQ(after.substr(0, after.rfind('\n', after.size() - 2)),
            before.substr(0, before.rfind('\n', before.size() - 2)));

  Network missing;
  expect_refusal(missing.admin({"host", "list"}), {"no network database", "network init"});
}

// docs/ipsec.md, "Routing IPsec subnets from Cordon hosts": --ipsec-subnet
// on `host add` and `host set`, how `host list` and `host show` mark them,
// their JSON, the refusals (a client; a value that is no PREFIX[=PEER];
// --clear-ipsec-subnets together with --ipsec-subnet) and the clearing.
TEST_F(AdminCliTest, IpsecSubnetsAreDeclaredShownAndCleared) {
  Network net;
  net.init();
  net.ok({"host", "add", "--name", "gw", "--role", "coordinator", "--subnet", "192.168.71.0/24", "--ipsec-subnet",
          "10.50.0.0/24=branch"});
  net.ok({"host", "add", "--name", "road", "--role", "client", "--coordinator", "gw"});
  const RunResult set = net.ok({"host", "set", "gw", "--ipsec-subnet", "10.50.0.0/24=branch", "--ipsec-subnet",
                                "10.3.7.0/24"});
  EXPECT_NE(set.out.find("subnets      192.168.71.0/24\nipsec        10.50.0.0/24=branch 10.3.7.0/24\n"),
            std::string::npos)
      << set.out;
  EXPECT_NE(net.ok({"host", "list"}).out.find("192.168.71.0/24,ipsec:10.50.0.0/24=branch,ipsec:10.3.7.0/24"),
            std::string::npos);
  const json gw = net.ok_json({"host", "show", "gw"});
  EXPECT_EQ(gw["ipsec_subnets"], json::parse(R"([{"prefix": "10.50.0.0/24", "peer": "branch"},
                                                 {"prefix": "10.3.7.0/24", "peer": null}])"));
  EXPECT_EQ(gw["subnets"], json::array({"192.168.71.0/24"}));

  const std::string before = net.state();
  expect_refusal(net.admin({"host", "set", "road", "--ipsec-subnet", "10.60.0.0/24"}),
                 {"--ipsec-subnet", "only a coordinator"});
  EXPECT_EQ(net.admin({"host", "set", "gw", "--ipsec-subnet", "branch"}).exit_code, 2);
  EXPECT_EQ(net.admin({"host", "set", "gw", "--ipsec-subnet", "10.60.0.0/24", "--clear-ipsec-subnets"}).exit_code, 2);
  const std::string after = net.state();
  EXPECT_EQ(after.substr(0, after.rfind('\n', after.size() - 2)),
            before.substr(0, before.rfind('\n', before.size() - 2)));

  EXPECT_NE(net.ok({"host", "set", "gw", "--clear-ipsec-subnets"}).out.find("ipsec        -\n"), std::string::npos);
  EXPECT_EQ(net.ok_json({"host", "show", "gw"})["ipsec_subnets"], json::array());
}

// docs/administration.md, "Network settings": `network set --rekey-period`
// changes it, `network show` shows it, a value out of range is refused with
// the value and the range.
TEST_F(AdminCliTest, NetworkSetRekeyPeriod) {
  Network net;
  net.init();
  EXPECT_EQ(net.ok_json({"network", "show"}).value("rekey_period", -1), 3600);
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator"});
  net.ok({"host", "add", "--name", "a", "--role", "client", "--coordinator", "hub"});
  const RunResult set = net.ok({"network", "set", "--rekey-period", "600"});
  EXPECT_NE(set.out.find("rekey period: every 600 s (was every 3600 s); 2 host(s) need an update"), std::string::npos)
      << set.describe();
  EXPECT_NE(net.ok({"network", "show"}).out.find("rekey       every 600 s\n"), std::string::npos);
  const json off = net.ok_json({"network", "set", "--rekey-period", "0"});
  EXPECT_EQ(off.value("rekey_period", -1), 0) << off.dump();
  EXPECT_EQ(off.value("previous", -1), 600) << off.dump();
  EXPECT_NE(net.ok({"network", "show"}).out.find("rekey       off\n"), std::string::npos);

  expect_refusal(net.admin({"network", "set", "--rekey-period", "30"}),
                 {"cordon admin network set: --rekey-period: 30 is out of range; it must be 0 (off) or 60 to 86400 "
                  "seconds"});
  expect_refusal(net.admin({"network", "set", "--rekey-period=86401"}), {"86401 is out of range"});
  EXPECT_EQ(net.admin({"network", "set"}).exit_code, 2);
  EXPECT_EQ(net.admin({"network", "set", "--rekey-period", "hourly"}).exit_code, 2);
  EXPECT_EQ(net.ok_json({"network", "show"}).value("rekey_period", -1), 0);
}

TEST_F(AdminCliTest, DatabaseLockedByAnotherAdminProcessIsReportedAtOnce) {
  Network net;
  net.init();
  const std::string before = net.state();
  Sqlite other;
  other.open(net.db);
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  // Answered after the short busy timeout; a hang would hit run()'s timeout
  // and fail expect_refusal (exit code -1).
  const RunResult r = net.admin({"host", "add", "--name", "x", "--role", "coordinator"});
  expect_refusal(r, {net.db.string(), "locked by another `cordon admin`", "run this command again"});
  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  EXPECT_EQ(net.state(), before);
  net.ok({"host", "add", "--name", "x", "--role", "coordinator"});
}

TEST_F(AdminCliTest, UnknownSchemaVersionIsRefused) {
  Network net;
  net.init();
  {
    Sqlite raw;
    raw.open(net.db);
    ASSERT_EQ(raw.exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  expect_refusal(net.admin({"host", "list"}), {"schema version 99", "newer than this cordon"});
  expect_refusal(net.admin({"host", "add", "--name", "x", "--role", "coordinator"}), {"schema version 99"});
}

TEST_F(AdminCliTest, CrashBeforeCommitLeavesTheDatabaseUnchangedAndConsistent) {
  Network net;
  net.init();
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator"});
  net.ok({"host", "add", "--name", "a", "--role", "client", "--coordinator", "hub"});
  net.ok({"host", "add", "--name", "b", "--role", "client", "--coordinator", "hub"});
  net.ok({"user", "add", "--host", "a", "--name", "alice"});
  net.ok({"keyset", "export", "--host", "a", "--out", (net.dir / "a.keyset").string()});
  const std::vector<std::vector<std::string>> commands = {
      {"host", "add", "--name", "c", "--role", "client", "--coordinator", "hub"},
      {"link", "add", "a", "b"},
      {"user", "add", "--host", "b", "--name", "bob"},
      {"keys", "rotate", "--all"},
      {"host", "remove", "b"},
      {"group", "add", "g"},
      {"keyset", "export", "--host", "a", "--out", (net.dir / "a2.keyset").string()},
      {"updates", "build", "--out", (net.dir / "updates").string()},
  };
  for (const auto& command : commands) {
    const std::string before = net.state();
    const RunResult crashed = net.admin(command, {"CORDON_ADMIN_TEST_CRASH=before-commit"});
    EXPECT_EQ(crashed.term_signal, SIGKILL) << crashed.describe();
    EXPECT_EQ(net.state(), before) << join(command);
    Sqlite raw;
    raw.open(net.db);
    EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok") << join(command);
    EXPECT_EQ(raw.scalar("PRAGMA foreign_key_check"), "") << join(command);
  }
  // And every command works once the hook is gone.
  for (const auto& command : commands) net.ok(command);
}

TEST_F(AdminCliTest, EncryptedBackupRoundTrip) {
  Network net;
  net.init();
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator"});
  net.ok({"user", "add", "--host", "hub", "--name", "root"});
  const fs::path pw = net.password_file("backup.pw", "backup pass phrase");
  const fs::path backup = net.dir / "lab.backup";
  net.ok({"network", "export", "--out", backup.string(), "--password-file", pw.string()});
  EXPECT_EQ(file_mode(backup), 0600u);
  EXPECT_FALSE(file_contains(backup, "SQLite format"));

  // Import refuses to overwrite a database, and a wrong password.
  expect_refusal(net.admin({"network", "import", backup.string(), "--password-file", pw.string()}),
                 {"never overwrites"});
  Network restored;
  const fs::path wrong = net.password_file("wrong.pw", "not the pass phrase");
  expect_refusal(restored.admin({"network", "import", backup.string(), "--password-file", wrong.string()}),
                 {"password is wrong"});
  EXPECT_FALSE(fs::exists(restored.db));
  restored.ok({"network", "import", backup.string(), "--password-file", pw.string()});
  EXPECT_EQ(file_mode(restored.db), 0600u);
  EXPECT_EQ(restored.ok_json({"host", "list"}), net.ok_json({"host", "list"}));
  EXPECT_EQ(restored.ok_json({"user", "list"}), net.ok_json({"user", "list"}));
}

// Revocation through the real binaries (docs/administration.md,
// "Revocation"): a removed user's installed key set and password cannot
// apply the host's next package, the remaining user's can; a forced
// password reset needs the new password on the host.
TEST_F(AdminCliTest, RemovedUserAndResetPasswordAreLockedOut) {
  Network net;
  net.init();
  net.ok({"host", "add", "--name", "hub", "--role", "coordinator"});
  net.ok({"host", "add", "--name", "a", "--role", "client", "--coordinator", "hub"});
  std::map<std::string, fs::path> pw, state;
  for (const char* user : {"alice", "carol"}) {
    const RunResult added = net.ok({"user", "add", "--host", "a", "--name", user});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(added.out, m, std::regex("shown only now[^:]*: ([a-z2-9]{22})\n"))) << added.out;
    pw[user] = net.password_file(std::string(user) + ".pw", m[1]);
    const fs::path keyset = net.dir / (std::string(user) + ".keyset");
    net.ok({"keyset", "export", "--host", "a", "--user", user, "--out", keyset.string()});
    state[user] = net.dir / ("host-" + std::string(user));
    const RunResult install = run(nullptr, {cordon_bin().string(), "keyset", "install", keyset.string(),
                                            "--password-file", pw[user].string(), "--state-dir", state[user].string()});
    ASSERT_TRUE(install.ok()) << install.describe();
  }
  const auto apply = [&](const std::string& package, const std::string& user, const fs::path& password) {
    return run(nullptr, {cordon_bin().string(), "update", "apply", package, "--password-file", password.string(),
                         "--state-dir", state[user].string(), "-s", (net.dir / "no-daemon.sock").string()});
  };

  const RunResult removed = net.ok({"user", "remove", "--host", "a", "--name", "carol"});
  EXPECT_NE(removed.out.find("new host key and 1 link key(s)"), std::string::npos) << removed.describe();
  expect_refusal(net.admin({"user", "remove", "--host", "a", "--name", "alice"}), {"'alice' is its last user"});
  const fs::path out = net.dir / "updates";
  const json built = net.ok_json({"updates", "build", "--out", out.string()});
  const std::string v3 = (out / "0x00010002-v3.update").string();
  ASSERT_TRUE(fs::exists(v3)) << built.dump();
  const std::string carol_before = read_file(state["carol"] / "keyset");
  expect_refusal(apply(v3, "carol", pw["carol"]), {"the user was removed from this host"});
  EXPECT_EQ(read_file(state["carol"] / "keyset"), carol_before);
  const RunResult applied = apply(v3, "alice", pw["alice"]);
  EXPECT_TRUE(applied.ok()) << applied.describe();
  EXPECT_NE(applied.out.find("new host key"), std::string::npos) << applied.describe();

  // A forced reset (a generated password) rotates alice's user key: her
  // host applies the next package with the new password only.
  const RunResult reset = net.ok({"user", "passwd", "--host", "a", "--name", "alice"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(reset.out, m, std::regex("shown only now[^:]*: ([a-z2-9]{22})\n"))) << reset.out;
  const fs::path new_pw = net.password_file("alice-new.pw", m[1]);
  net.ok({"updates", "build", "--out", out.string()});
  const std::string v4 = (out / "0x00010002-v4.update").string();
  expect_refusal(apply(v4, "alice", pw["alice"]), {"new password"});
  const RunResult adopted = apply(v4, "alice", new_pw);
  EXPECT_TRUE(adopted.ok()) << adopted.describe();
  EXPECT_NE(adopted.out.find("new user key"), std::string::npos) << adopted.describe();
}

}  // namespace
}  // namespace cordon::netns
