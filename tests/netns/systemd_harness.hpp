// A real systemd, as PID 1 of a PID and mount namespace of the test's own
// (the way a container runs it), for the tests of Cordon's units
// (docs/operations.md, "systemd"). It sees the host's file system except:
//  - /etc, /usr/bin and /var/lib are overlays whose upper layers are in the
//    test's temporary directory: what the test writes there before the
//    start (units, configs, keys, the cordon binary) appears in place, and
//    nothing the instance writes reaches the host;
//  - /run is a fresh tmpfs, with the host's /run/netns carried over so that
//    units can join the test's network namespaces (NetworkNamespacePath=);
//  - the journal is its own (in that /run).
// It joins a control group of its own below the test's in every hierarchy,
// removed with it. The destructor kills the whole namespace (PID 1 first:
// the kernel then kills every process in it), also when the test fails.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {

class SystemdInstance {
 public:
  // `work` holds the overlays' upper layers: work/etc, work/usr-bin,
  // work/var-lib (made here if missing; fill them before start()).
  SystemdInstance(std::string_view tag, fs::path work);
  ~SystemdInstance();
  SystemdInstance(const SystemdInstance&) = delete;
  SystemdInstance& operator=(const SystemdInstance&) = delete;

  fs::path etc() const { return work_ / "etc"; }
  fs::path usr_bin() const { return work_ / "usr-bin"; }

  // Boots it with the target cordon-test.target (written here: only the
  // journal), and waits until it runs. Throws with its log on failure.
  void start();

  // Runs a command inside the instance's namespaces (nsenter), e.g.
  // {"systemctl", "start", "cordon@a"}.
  RunResult run(const std::vector<std::string>& argv, Clock::duration timeout = 60s) const;
  // `systemctl show -p NAME --value UNIT`.
  std::string property(const std::string& unit, const std::string& name) const;
  // The unit's journal records, one JSON object each (journalctl -o json).
  std::vector<nlohmann::json> journal(const std::string& unit) const;

 private:
  std::string cgroup_;
  fs::path work_;
  std::unique_ptr<Process> process_;  // unshare; its child is PID 1
  pid_t init_pid_ = -1;               // PID 1's PID in the test's namespace
};

// The first record whose fields all have the given values, or nullptr.
const nlohmann::json* find_record(const std::vector<nlohmann::json>& records,
                                  const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace cordon::netns
