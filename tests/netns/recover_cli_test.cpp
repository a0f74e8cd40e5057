// `cordon admin network recover` and `keyset export --keep-keys` through the
// real binary (docs/administration.md, "Recovering from a leak", "Exporting
// again"): the host installs the recovery key set with the new password and
// not with the old one. No namespace: these sit in this tier because they
// drive $CORDON_BIN.
#include <regex>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using RecoverCliTest = NetnsTest;

struct AdminDb {
  TempDir dir{"netns-recover"};
  std::string db = (dir / "admin.db").string();

  RunResult admin(std::vector<std::string> args) const {
    std::vector<std::string> argv{cordon_bin().string(), "admin", "--db", db};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(nullptr, argv);
  }
  // `keyset install` of `file` into STATE with the password `password`.
  RunResult install(const std::string& file, const std::string& password) const {
    write_file(dir / "pw", password + "\n", 0600);
    return run(nullptr, {cordon_bin().string(), "keyset", "install", file, "--password-file", (dir / "pw").string(),
                         "--state-dir", (dir / "state").string()});
  }
};

// The password a command printed on a line that contains `label`.
std::string password_in(const std::string& out, const std::string& label) {
  std::smatch m;
  const std::regex re(label + "[^\\n]*\\): ([a-z0-9]+)\\n");
  return std::regex_search(out, m, re) ? m[1].str() : "";
}

TEST_F(RecoverCliTest, HostInstallsTheRecoveryKeySetWithTheNewPasswordOnly) {
  AdminDb a;
  ASSERT_TRUE(a.admin({"network", "init", "--number", "7", "--name", "lab", "--ipv4", "10.88.0.0/24"}).ok());
  ASSERT_TRUE(a.admin({"host", "add", "--name", "core", "--role", "coordinator", "--endpoint", "192.0.2.1:51820"}).ok());
  ASSERT_TRUE(a.admin({"host", "add", "--name", "laptop", "--role", "client", "--coordinator", "core"}).ok());
  const RunResult user = a.admin({"user", "add", "--host", "laptop", "--name", "carol"});
  ASSERT_TRUE(user.ok()) << user.describe();
  const std::string old_password = password_in(user.out + "\n", "password");
  ASSERT_FALSE(old_password.empty()) << user.out;
  const RunResult added = a.admin({"user", "add", "--host", "core", "--name", "ops"});
  ASSERT_TRUE(added.ok());
  ASSERT_TRUE(a.admin({"keyset", "export", "--all", "--out", (a.dir / "first").string()}).ok());
  ASSERT_TRUE(a.install((a.dir / "first/0x00070002-carol.keyset").string(), old_password).ok());

  const RunResult r = a.admin({"network", "recover", "--out", (a.dir / "recovery").string()});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.out.find("2 key set(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("update packages built before are void"), std::string::npos) << r.out;
  const std::string new_password = password_in(r.out, "user 'carol'");
  ASSERT_FALSE(new_password.empty()) << r.out;
  EXPECT_NE(new_password, old_password);

  const std::string file = (a.dir / "recovery/0x00070002-carol.keyset").string();
  const RunResult refused = a.install(file, old_password);
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_NE(refused.err.find("password does not open"), std::string::npos) << refused.err;
  const RunResult installed = a.install(file, new_password);
  ASSERT_TRUE(installed.ok()) << installed.describe();
  EXPECT_NE(installed.out.find("(replaced version 1)"), std::string::npos) << installed.out;
}

TEST_F(RecoverCliTest, ExportingAgainRenewsLinksUnlessKeepKeys) {
  AdminDb a;
  ASSERT_TRUE(a.admin({"network", "init", "--number", "7", "--name", "lab", "--ipv4", "10.88.0.0/24"}).ok());
  ASSERT_TRUE(a.admin({"host", "add", "--name", "a", "--role", "client"}).ok());
  ASSERT_TRUE(a.admin({"host", "add", "--name", "b", "--role", "client"}).ok());
  ASSERT_TRUE(a.admin({"link", "add", "a", "b"}).ok());
  ASSERT_TRUE(a.admin({"user", "add", "--host", "a", "--name", "alice"}).ok());
  const std::string out = (a.dir / "a.keyset").string();
  const RunResult first = a.admin({"keyset", "export", "--host", "a", "--out", out});
  ASSERT_TRUE(first.ok()) << first.describe();
  EXPECT_EQ(first.out.find("renewed"), std::string::npos) << first.out;
  const RunResult kept = a.admin({"keyset", "export", "--host", "a", "--keep-keys", "--out", out});
  ASSERT_TRUE(kept.ok()) << kept.describe();
  EXPECT_EQ(kept.out.find("renewed"), std::string::npos) << kept.out;
  const RunResult again = a.admin({"keyset", "export", "--host", "a", "--out", out});
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_NE(again.out.find("renewed 1 link key(s)"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace cordon::netns
