// The counter file through the real `cordon` binary (docs/configuration.md,
// "The counter file"): a managed host's keys are fresh after `cordon keyset
// install` and start; once started they are recorded in the counter file
// with this machine's ID. The same state directory seen as written on
// another machine (as a copy on a standby or a restored backup would be) is
// refused, naming the peers and the file, until the operator passes
// --accept-new-keys.
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

TEST_F(CounterFileCliTest, AStateDirectoryFromAnotherMachineIsRefusedUntilAccepted) {
  TempDir dir("netns-floor-copy");
  const KeySetMaker m = maker();
  const fs::path state = dir / "state", password = dir / "password", exported = dir / "a.keyset";
  write_file(password, m.password + "\n", 0600);
  const auto sealed = m.seal(1);
  write_file(exported, std::string(reinterpret_cast<const char*>(sealed.data()), sealed.size()), 0644);
  RunResult installed = run(nullptr, {cordon_bin().string(), "keyset", "install", exported.string(),
                                      "--password-file", password.string(), "--state-dir", state.string()});
  ASSERT_EQ(installed.exit_code, 0) << installed.describe();
  EXPECT_TRUE(fs::exists(state / "keyset.fresh"));

  const fs::path socket = dir / "cordon0.sock", config = dir / "managed.toml";
  write_file(config,
             "[host]\nkeyset = \"" + (state / "keyset").string() + "\"\npassword_file = \"" + password.string() +
                 "\"\nstate_dir = \"" + state.string() + "\"\ncontrol_socket = \"" + socket.string() + "\"\n");
  Namespace ns("floor-copy");
  const std::vector<std::string> up = {cordon_bin().string(), "up", "-c", config.string()};
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

}  // namespace
}  // namespace cordon::netns
