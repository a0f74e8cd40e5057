// libFuzzer target for the daemon's TOML config parser: the input is the
// text of a config file, fed to daemon::parse_config (what load_config runs
// on the file's content; toml++ syntax, then the checks of every field).
//
// The config names a directory made once per process that holds a valid key
// file, a-b.key, so `key_file = "a-b.key"` loads and a whole valid config is
// reachable; any other key file is most likely missing, which is an error
// like any other.
//
// Asserts, besides "no crash, hang, leak or escaping exception": a result is
// either a config or a non-empty error list, never both; errors name the
// file, come sorted by line, and render; a config that passes holds what the
// checks promise: a manual config has peers with full-size keys, a managed
// one (host.keyset) names its key set and has no [[peer]] of its own (its
// peers come from the key set when the daemon unlocks it; docs/
// configuration.md, "Managed mode: key sets"); both have a usable control
// socket path.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "daemon/config.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// 32 bytes of 0x01 in base64, the key file `cordon genkey` would write.
constexpr const char* kKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

// The config's directory, made once per process and removed at exit (a
// fuzzer killed by a crash leaves it behind: a few bytes under /tmp).
struct ConfigDir {
  std::string dir, key, config;

  ConfigDir() {
    char templ[] = "/tmp/cordon-config-fuzz-XXXXXX";
    if (::mkdtemp(templ) == nullptr) std::abort();
    dir = templ;
    key = dir + "/a-b.key";
    config = dir + "/cordon.toml";  // never written: the text comes from the fuzzer
    std::ofstream(key, std::ios::binary | std::ios::trunc) << kKey;
    if (::chmod(key.c_str(), 0600) != 0) std::abort();
  }
  ~ConfigDir() {
    ::unlink(key.c_str());
    ::rmdir(dir.c_str());
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ConfigDir dir;
  const std::string& path = dir.config;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const daemon::ConfigResult result = daemon::parse_config(text, path);

  const std::vector<daemon::ConfigError> none;
  const auto& errors = result ? none : result.error();
  check(result.ok() || !errors.empty());
  for (size_t i = 0; i < errors.size(); ++i) {
    const daemon::ConfigError& e = errors[i];
    check(e.file == path && !e.message.empty() && !e.to_string().empty());
    if (i > 0) check(errors[i - 1].line <= e.line);
  }
  if (!result) return 0;

  const daemon::DaemonConfig& config = *result;
  check(config.path == path);
  if (config.managed()) {
    check(!config.keyset->empty() && config.node.peers.empty());
  } else {
    check(!config.node.peers.empty());
  }
  for (const PeerConfig& peer : config.node.peers) check(peer.link_key.size() == kLinkKeySize);
  check(!config.interface.empty() && config.interface.size() <= 15);
  check(!config.control_socket.empty() && config.control_socket.size() <= 107);
  check(!daemon::counter_file_path(config).empty());
  return 0;
}
