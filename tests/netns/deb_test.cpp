// The Debian package, end to end (docs/packaging.md, "How the package is
// tested"): it is built from the cordon binary under test through the
// repository's debian/ files (scripts/build-deb.sh --prebuilt, lintian
// included), installed with dpkg into a throwaway root (PackageRoot: an
// overlay of this machine's /), and the two-host tunnel of the README runs
// from the installed /usr/bin/cordon in two network namespaces. Then it
// checks what the package installed and with which modes, that systemd
// accepts its units, and what remove and purge leave behind.
#include <sys/stat.h>

#include <sstream>

#include "tests/netns/netns_harness.hpp"
#include "tests/netns/package_root.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using DebTest = NetnsTest;

#ifndef CORDON_SOURCE_DIR
#error "CORDON_SOURCE_DIR: the source tree whose debian/ and systemd/ are tested (tests/CMakeLists.txt)"
#endif
const fs::path kSource = CORDON_SOURCE_DIR;

struct Mode {
  bool exists = false;
  unsigned perm = 0;  // the permission bits
  uid_t uid = 0;
  bool dir = false;
};

Mode mode_of(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  return {true, st.st_mode & 07777u, st.st_uid, S_ISDIR(st.st_mode)};
}

std::string octal(unsigned perm) {
  std::ostringstream s;
  s << "0" << std::oct << perm;
  return s.str();
}

// The top-level subcommands `cordon --help` lists (CLI11's "Subcommands:"
// section: "  NAME  DESCRIPTION" lines).
std::vector<std::string> top_level_commands(const std::string& help) {
  std::vector<std::string> names;
  std::istringstream in(help);
  bool on = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "Subcommands:") {
      on = true;
    } else if (!line.empty() && line[0] != ' ') {
      on = false;
    } else if (on && line.size() > 2) {
      std::istringstream words(line);
      std::string name;
      if (words >> name) names.push_back(name);
    }
  }
  return names;
}

std::string config(const std::string& id, const std::string& iface, const std::string& address,
                   const std::string& peer_id, const std::string& peer_name, const std::string& endpoint,
                   const std::string& peer_address) {
  std::string text = "[host]\nid = \"" + id + "\"\ninterface = \"" + iface + "\"\naddresses = [\"" + address +
                     "/24\"]\n\n[[peer]]\nid = \"" + peer_id + "\"\nname = \"" + peer_name + "\"\n";
  if (!endpoint.empty()) text += "endpoint = \"" + endpoint + "\"\n";
  return text + "key_file = \"a-b.key\"\nallowed_prefixes = [\"" + peer_address + "/32\"]\n";
}

TEST_F(DebTest, InstallsAndRunsTheTwoHostTunnelFromThePackage) {
  TempDir dir("deb");
  // 1. The package, from the binary under test, through debian/ (lintian
  //    errors fail the script).
  const fs::path out = dir / "out";
  RunResult built = run(nullptr, {(kSource / "scripts/build-deb.sh").string(), "--prebuilt", cordon_bin().string(),
                                  "--out", out.string()},
                        240s);
  ASSERT_TRUE(built.ok()) << built.describe();
  std::string deb_path;
  for (const auto& entry : fs::directory_iterator(out)) {
    if (entry.path().extension() == ".deb") deb_path = entry.path().string();
  }
  ASSERT_FALSE(deb_path.empty()) << "no .deb in " << out << "\n" << built.describe();
  EXPECT_EQ(built.out.find("\nE: "), std::string::npos) << "lintian errors:\n" << built.out;

  // 2. A root to install it in. The machine itself has no cordon in
  //    /usr/bin, so whatever runs from there below is the package's.
  fs::create_directory(dir / "scratch");
  PackageRoot root(dir / "scratch");
  auto in_root = [&](const Namespace* ns, const std::vector<std::string>& argv, Clock::duration timeout = 60s) {
    return run(ns, root.inside(argv), timeout);
  };
  ASSERT_FALSE(fs::exists(root.outside("/usr/bin/cordon")))
      << "this machine has /usr/bin/cordon already; the test cannot tell the package's binary from it";
  fs::copy_file(deb_path, root.outside("/tmp/cordon.deb"));
  RunResult installed = in_root(nullptr, {"dpkg", "-i", "/tmp/cordon.deb"}, 120s);
  ASSERT_TRUE(installed.ok()) << installed.describe();
  RunResult owner = in_root(nullptr, {"dpkg", "-S", "/usr/bin/cordon"});
  EXPECT_EQ(owner.out, "cordon: /usr/bin/cordon\n") << owner.describe();

  // 3. What it installed, and the modes (docs/packaging.md, "What the
  //    package installs").
  struct Expected {
    const char* path;
    unsigned perm;
    bool dir;
  };
  for (const Expected& e : {Expected{"/usr/bin/cordon", 0755, false}, Expected{"/etc/cordon", 0750, true},
                            Expected{"/var/lib/cordon", 0700, true},
                            Expected{"/usr/share/bash-completion/completions/cordon", 0644, false},
                            Expected{"/usr/share/man/man1/cordon.1.gz", 0644, false},
                            Expected{"/usr/share/doc/cordon/copyright", 0644, false}}) {
    const Mode m = mode_of(root.outside(e.path));
    EXPECT_TRUE(m.exists) << e.path << " is missing";
    EXPECT_EQ(octal(m.perm), octal(e.perm)) << e.path;
    EXPECT_EQ(m.uid, 0u) << e.path;
    EXPECT_EQ(m.dir, e.dir) << e.path;
  }
  RunResult help = in_root(nullptr, {"/usr/bin/cordon", "--help"});
  ASSERT_TRUE(help.ok()) << help.describe();
  const std::vector<std::string> commands = top_level_commands(help.out);
  ASSERT_GE(commands.size(), 10u) << help.out;
  for (const std::string& name : commands) {
    const std::string page = "/usr/share/man/man1/cordon-" + name + ".1.gz";
    RunResult whatis = in_root(nullptr, {"lexgrog", page});
    EXPECT_TRUE(whatis.ok()) << page << ": " << whatis.describe();
    EXPECT_NE(whatis.out.find("\"cordon-" + name + " - "), std::string::npos) << page << ": " << whatis.out;
  }
  RunResult completion = in_root(nullptr, {"/usr/bin/cordon", "completion", "bash"});
  ASSERT_TRUE(completion.ok()) << completion.describe();
  EXPECT_EQ(read_file(root.outside("/usr/share/bash-completion/completions/cordon")), completion.out);
  RunResult syntax = in_root(nullptr, {"bash", "-n", "/usr/share/bash-completion/completions/cordon"});
  EXPECT_TRUE(syntax.ok()) << syntax.describe();

  // The units: every file of systemd/, unchanged, accepted by systemd, and
  // none enabled (an instance of the template is the administrator's choice).
  std::vector<std::string> units;
  if (fs::exists(kSource / "systemd")) {
    for (const auto& entry : fs::directory_iterator(kSource / "systemd")) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".service") || name.ends_with(".socket") || name.ends_with(".timer")) units.push_back(name);
    }
  }
  ASSERT_FALSE(units.empty()) << "no units in " << kSource / "systemd";
  for (const std::string& unit : units) {
    const fs::path installed_unit = root.outside("/lib/systemd/system/" + unit);
    ASSERT_TRUE(fs::exists(installed_unit)) << unit << " is not installed";
    EXPECT_EQ(read_file(installed_unit), read_file(kSource / "systemd" / unit)) << unit;
    EXPECT_EQ(octal(mode_of(installed_unit).perm), "0644") << unit;
    // A template is verified through an instance of it.
    const std::string name = unit.find("@.") != std::string::npos
                                 ? unit.substr(0, unit.find("@.") + 1) + "cordon0" + unit.substr(unit.find("@.") + 1)
                                 : unit;
    RunResult verify = in_root(nullptr, {"systemd-analyze", "verify", name});
    EXPECT_TRUE(verify.ok() && verify.err.empty() && verify.out.empty()) << name << ": " << verify.describe();
  }
  RunResult wanted = in_root(nullptr, {"find", "/etc/systemd/system", "-name", "cordon*"});
  EXPECT_TRUE(wanted.ok() && wanted.out.empty()) << "enabled at install:\n" << wanted.describe();

  // 4. The README's two hosts, from the installed binary: a key, a config
  //    each under /etc/cordon, `cordon up`, a ping across, `cordon status`.
  Namespace a("deb-a"), b("deb-b");
  Underlay underlay;
  underlay.v6 = false;
  connect_veth(a, b, underlay);
  RunResult key = in_root(nullptr, {"/usr/bin/cordon", "genkey", "--out", "/etc/cordon/a-b.key"});
  ASSERT_TRUE(key.ok()) << key.describe();
  write_file(root.outside("/etc/cordon/a.toml"),
             config("0x0001000a", "cordon0", "10.77.0.1", "0x0001000b", "site-b",
                    endpoint_text(underlay.b_v4, 51820), "10.77.0.2"));
  write_file(root.outside("/etc/cordon/b.toml"),
             config("0x0001000b", "cordon1", "10.77.0.2", "0x0001000a", "site-a", "", "10.77.0.1"));
  for (const char* file : {"/etc/cordon/a.toml", "/etc/cordon/b.toml"}) {
    RunResult check = in_root(nullptr, {"/usr/bin/cordon", "check", file});
    ASSERT_TRUE(check.ok()) << check.describe();
  }
  {
    Process daemon_a(&a, root.inside({"/usr/bin/cordon", "up", "/etc/cordon/a.toml"}), dir / "a.log", "cordon up a");
    Process daemon_b(&b, root.inside({"/usr/bin/cordon", "up", "/etc/cordon/b.toml"}), dir / "b.log", "cordon up b");
    auto answers = [&](const Namespace& ns, Process& daemon, const char* iface) {
      return poll_until(deadline_in(20s), [&] {
        return !daemon.running() || in_root(&ns, {"/usr/bin/cordon", "status", "-i", iface}).ok();
      }) && daemon.running();
    };
    ASSERT_TRUE(answers(a, daemon_a, "cordon0")) << daemon_a.log_text();
    ASSERT_TRUE(answers(b, daemon_b, "cordon1")) << daemon_b.log_text();
    // The daemon runs the package's binary: /usr/bin/cordon of the overlay,
    // which the kernel names by where the overlay is mounted.
    EXPECT_EQ(fs::read_symlink(fs::path("/proc") / std::to_string(daemon_a.pid()) / "exe"),
              dir / "scratch/root/usr/bin/cordon");

    ASSERT_TRUE(wait_for_ping(a, "10.77.0.2", deadline_in(20s))) << "no ping across the tunnel";
    EXPECT_TRUE(wait_for_ping(b, "10.77.0.1", deadline_in(10s)));
    RunResult text = in_root(&a, {"/usr/bin/cordon", "status"});
    ASSERT_TRUE(text.ok()) << text.describe();
    EXPECT_NE(text.out.find("interface cordon0  host 0x0001000a"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("site-b"), std::string::npos) << text.out;
    RunResult status = in_root(&b, {"/usr/bin/cordon", "status", "-i", "cordon1", "--json"});
    ASSERT_TRUE(status.ok()) << status.describe();
    const json sb = json::parse(status.out, nullptr, false);
    ASSERT_FALSE(sb.is_discarded()) << status.out;
    EXPECT_GT(peer_counter(sb, "0x0001000a", "rx_packets"), 0u) << sb.dump(2);
    EXPECT_EQ(peer_endpoint(sb, "0x0001000a"), endpoint_text(underlay.a_v4, 51820)) << sb.dump(2);

    EXPECT_EQ(WEXITSTATUS(daemon_a.stop()), 0) << daemon_a.log_text();
    EXPECT_EQ(WEXITSTATUS(daemon_b.stop()), 0) << daemon_b.log_text();
  }
  for (const char* counter : {"/var/lib/cordon/0x0001000a.counter", "/var/lib/cordon/0x0001000b.counter"}) {
    const Mode m = mode_of(root.outside(counter));
    EXPECT_TRUE(m.exists) << counter << " was not written";
    EXPECT_EQ(octal(m.perm), "0600") << counter;
  }

  // 5. Upgrade (the same version again), remove, purge
  //    (docs/packaging.md, "Upgrade, removal and purge").
  const std::string key_text = read_file(root.outside("/etc/cordon/a-b.key"));
  const std::string counter_text = read_file(root.outside("/var/lib/cordon/0x0001000a.counter"));
  RunResult again = in_root(nullptr, {"dpkg", "-i", "/tmp/cordon.deb"}, 120s);
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(read_file(root.outside("/etc/cordon/a-b.key")), key_text);
  EXPECT_EQ(read_file(root.outside("/var/lib/cordon/0x0001000a.counter")), counter_text);

  RunResult removed = in_root(nullptr, {"dpkg", "-r", "cordon"}, 120s);
  ASSERT_TRUE(removed.ok()) << removed.describe();
  EXPECT_FALSE(fs::exists(root.outside("/usr/bin/cordon")));
  EXPECT_FALSE(fs::exists(root.outside("/usr/share/man/man1/cordon.1.gz")));
  EXPECT_EQ(read_file(root.outside("/etc/cordon/a-b.key")), key_text) << "remove lost a link key";
  EXPECT_EQ(read_file(root.outside("/var/lib/cordon/0x0001000a.counter")), counter_text)
      << "remove lost a counter file";
  EXPECT_EQ(octal(mode_of(root.outside("/var/lib/cordon")).perm), "0700");

  write_file(root.outside("/var/lib/cordon/admin.db"), "the network database\n", 0600);
  RunResult purged = in_root(nullptr, {"dpkg", "-P", "cordon"}, 120s);
  ASSERT_TRUE(purged.ok()) << purged.describe();
  EXPECT_FALSE(fs::exists(root.outside("/etc/cordon"))) << "purge left /etc/cordon (keys without their counters)";
  EXPECT_FALSE(fs::exists(root.outside("/var/lib/cordon/0x0001000a.counter")));
  EXPECT_FALSE(fs::exists(root.outside("/var/lib/cordon/0x0001000b.counter")));
  EXPECT_EQ(read_file(root.outside("/var/lib/cordon/admin.db")), "the network database\n")
      << "purge removed the network database";
  EXPECT_NE(purged.err.find("kept /var/lib/cordon/admin.db"), std::string::npos) << purged.describe();
  RunResult gone = in_root(nullptr, {"dpkg-query", "-W", "-f", "${db:Status-Status}", "cordon"});
  EXPECT_TRUE(!gone.ok() || gone.out == "not-installed") << gone.describe();
}

}  // namespace
}  // namespace cordon::netns
