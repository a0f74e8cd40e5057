// The counter file through the real `cordon` binary (docs/configuration.md,
// "The counter file"): a managed host's keys are fresh after `cordon keyset
// install` and start; once started they are recorded in the counter file
// with this machine's ID. The same state directory seen as written on
// another machine (as a copy on a standby or a restored backup would be) is
// refused, naming the peers and the file, until the operator passes
// --accept-new-keys.
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/common/keyset_builder.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using testkit::KeySetMaker;
using CounterFileCliTest = NetnsTest;

KeySetMaker maker() {
  KeySetMaker m;
  m.body.book.entries = {
      testkit::book_entry(0x0001000a, "site-a", "10.77.0.1/24", "fd77::1/64"),
      testkit::book_entry(0x0001000b, "site-b", "10.77.0.2/24", "fd77::2/64"),
  };
  m.body.links.push_back(keys::LinkKeyEntry{HostId{0x0001000b}, testkit::filled_key(0xab)});
  return m;
}

// A managed host's files: key set version 1 installed with `cordon keyset
// install`, and a config that names it.
struct ManagedHost {
  TempDir dir;
  KeySetMaker m = maker();
  fs::path state = dir / "state", password = dir / "password";
  fs::path socket = dir / "cordon0.sock", config = dir / "managed.toml";

  explicit ManagedHost(const std::string& tag) : dir("netns-" + tag) {
    write_file(password, m.password + "\n", 0600);
    put("a.keyset", m.seal(1));
    RunResult installed = run(nullptr, cli({"keyset", "install", (dir / "a.keyset").string()}));
    if (!installed.ok()) throw std::runtime_error(installed.describe());
    write_file(config, "[host]\nkeyset = \"" + (state / "keyset").string() + "\"\npassword_file = \"" +
                           password.string() + "\"\nstate_dir = \"" + state.string() + "\"\ncontrol_socket = \"" +
                           socket.string() + "\"\n");
  }
  void put(const std::string& name, const std::vector<std::byte>& bytes) const {
    write_file(dir / name, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 0644);
  }
  // `cordon ARGS --password-file P --state-dir S`
  std::vector<std::string> cli(std::vector<std::string> args) const {
    args.insert(args.begin(), cordon_bin().string());
    args.insert(args.end(), {"--password-file", password.string(), "--state-dir", state.string()});
    return args;
  }
  std::vector<std::string> up() const { return {cordon_bin().string(), "up", "-c", config.string()}; }
};

TEST_F(CounterFileCliTest, AStateDirectoryFromAnotherMachineIsRefusedUntilAccepted) {
  ManagedHost host("floor-copy");
  const fs::path& dir = host.dir.path();
  const fs::path &state = host.state, &socket = host.socket;
  EXPECT_TRUE(fs::exists(state / "keyset.fresh"));
  Namespace ns("floor-copy");
  const std::vector<std::string> up = host.up();
  std::string why;
  {
    Process first(&ns, up, dir / "first.log", "first start");
    ASSERT_TRUE(wait_for_daemon(ns, socket, "cordon0", first, deadline_in(20s), &why)) << why;
  }
  const fs::path counter = state / "0x0001000a.counter";
  EXPECT_FALSE(fs::exists(state / "keyset.fresh")) << "the first start consumes the fresh record";
  std::string text = read_file(counter);
  ASSERT_NE(text.find("\nkey "), std::string::npos) << text;

  // The machine line of another machine.
  const size_t line = text.find("\nmachine ") + 9;
  text.replace(line, text.find('\n', line) - line, "0123456789abcdef0123456789abcdef");
  write_file(counter, text, 0600);
  RunResult refused = run(&ns, up, 30s);
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  const std::string log = refused.out + refused.err;
  EXPECT_NE(log.find("was written on another machine"), std::string::npos) << refused.describe();
  EXPECT_NE(log.find("peer 0x0001000b (site-b) has no counter floor record in " + counter.string()),
            std::string::npos)
      << refused.describe();
  EXPECT_NE(log.find("--accept-new-keys"), std::string::npos) << refused.describe();
  EXPECT_FALSE(run(&ns, {"ip", "link", "show", "dev", "cordon0"}).ok());

  // The operator's explicit choice starts it, and the file is this
  // machine's again.
  std::vector<std::string> accept = up;
  accept.push_back("--accept-new-keys");
  Process accepted(&ns, accept, dir / "accepted.log", "accepted start");
  ASSERT_TRUE(wait_for_daemon(ns, socket, "cordon0", accepted, deadline_in(20s), &why)) << why;
  EXPECT_NE(accepted.log_text().find("started because of --accept-new-keys"), std::string::npos)
      << accepted.log_text();
  EXPECT_EQ(read_file(counter).find("0123456789abcdef0123456789abcdef"), std::string::npos);
}

// A reload refuses a key set whose new link key is neither fresh nor in the
// counter file (here: its fresh record was lost), and keeps running what
// it ran; the log names the peer and the file.
TEST_F(CounterFileCliTest, AReloadRefusesANewKeyWithoutARecord) {
  ManagedHost host("floor-reload");
  const fs::path& dir = host.dir.path();
  const fs::path &state = host.state, &socket = host.socket;
  const KeySetMaker& m = host.m;
  Namespace ns("floor-reload");
  Process daemon(&ns, host.up(), dir / "daemon.log", "daemon");
  std::string why;
  ASSERT_TRUE(wait_for_daemon(ns, socket, "cordon0", daemon, deadline_in(20s), &why)) << why;

  // Version 2 adds a link to C; applied while no daemon answers on the
  // given socket, and its fresh record lost before the reload.
  keys::KeySetBody next = m.body;
  next.book.entries.push_back(testkit::book_entry(0x0001000c, "site-c", "10.77.0.3/24", "fd77::3/64"));
  next.links.push_back(keys::LinkKeyEntry{HostId{0x0001000c}, testkit::filled_key(0xac)});
  host.put("2.update", m.update(2, next));
  RunResult applied =
      run(nullptr, host.cli({"update", "apply", (dir / "2.update").string(), "-s", (dir / "nobody.sock").string()}));
  ASSERT_EQ(applied.exit_code, 0) << applied.describe();
  fs::remove(state / "keyset.fresh");

  daemon.signal(SIGHUP);
  const std::string expected =
      "reload failed: the link key of peer 0x0001000c (site-c) has no counter floor record in " +
      (state / "0x0001000a.counter").string();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] { return daemon.log_text().find(expected) != std::string::npos; }))
      << daemon.log_text();
  const nlohmann::json status = status_json(ns, socket);
  EXPECT_EQ(find_peer(status, "0x0001000c"), nullptr) << status.dump(2);
  EXPECT_NE(find_peer(status, "0x0001000b"), nullptr) << status.dump(2);
  EXPECT_TRUE(daemon.running());
}

}  // namespace
}  // namespace cordon::netns
