#include "tests/netns/systemd_harness.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace cordon::netns {
namespace {

std::runtime_error failure(const std::string& what) { return std::runtime_error("systemd harness: " + what); }

// Joins a new control group below the current one in every hierarchy
// (recording each for removal), then starts PID 1 in new PID and mount
// namespaces. --kill-child: when unshare dies, PID 1 is killed with it.
constexpr const char* kBootScript = R"(#!/bin/sh
set -eu
W="$1"; CG="$2"
: > "$W/cgroups"
while IFS=: read -r id controllers path; do
  case "$controllers" in
    "") if [ -d /sys/fs/cgroup/unified ]; then mnt=/sys/fs/cgroup/unified; else mnt=/sys/fs/cgroup; fi ;;
    name=systemd) mnt=/sys/fs/cgroup/systemd ;;
    *) mnt="/sys/fs/cgroup/$controllers" ;;
  esac
  dir="$mnt${path%/}/$CG"
  # A hierarchy that refuses the move (cpuset: a new group has no CPUs
  # yet) is left as it is.
  if [ -d "$mnt${path%/}" ] && mkdir "$dir" 2>/dev/null; then
    if (echo $$ > "$dir/cgroup.procs") 2>/dev/null; then
      echo "$dir" >> "$W/cgroups"
    else
      rmdir "$dir"
    fi
  fi
done < /proc/self/cgroup
exec unshare --pid --fork --mount --kill-child=SIGKILL /bin/sh "$W/pid1.sh" "$W"
)";

constexpr const char* kPid1Script = R"(#!/bin/sh
set -eu
W="$1"
mount --make-rprivate /
mkdir -p "$W/netns-hold"
mount --rbind /run/netns "$W/netns-hold"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/netns
mount --move "$W/netns-hold" /run/netns
for d in etc usr/bin var/lib; do
  n=$(echo "$d" | tr / -)
  mkdir -p "$W/$n" "$W/$n.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$W/$n,workdir=$W/$n.work" "/$d"
done
mount -t proc proc /proc
# PrivateTmp= directories stay inside the instance.
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
# The journal stays in /run: no /var/log/journal, even if the host has one.
mount -t tmpfs -o mode=0755 tmpfs /var/log
# Shared again, inside this namespace only (its peer groups are new): as on
# a booted system, where systemd's helpers rely on mounts propagating back,
# e.g. the credentials a unit's LoadCredential= gives it.
mount --make-rshared /
export container=cordon-test
exec /lib/systemd/systemd --system --unit=cordon-test.target
)";

constexpr const char* kTarget = R"([Unit]
Description=Cordon test instance
DefaultDependencies=no
Wants=systemd-journald.service
)";

// The command name of a process (/proc/PID/comm), or "".
std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

// The child of `parent`, found in /proc (fields 4 of /proc/PID/stat).
pid_t child_of(pid_t parent) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// Removes a control group and every group below it, deepest first; a
// group empties a little after its processes are killed, so this polls.
void remove_cgroup(const fs::path& dir) {
  poll_until(deadline_in(10s), [&] {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return true;
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path());
    }
    for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) ::rmdir(d->c_str());
    ::rmdir(dir.c_str());
    return !fs::exists(dir, ec);
  }, 50ms);
}

}  // namespace

SystemdInstance::SystemdInstance(std::string_view tag, fs::path work)
    : cgroup_("cordon-" + std::string(tag) + "-" + std::to_string(::getpid())), work_(std::move(work)) {
  for (const char* d : {"etc", "usr-bin", "var-lib", "etc/systemd/system"}) fs::create_directories(work_ / d);
  write_file(work_ / "boot.sh", kBootScript, 0755);
  write_file(work_ / "pid1.sh", kPid1Script, 0755);
  write_file(etc() / "systemd/system/cordon-test.target", kTarget);
}

void SystemdInstance::start() {
  process_ = std::make_unique<Process>(nullptr, std::vector<std::string>{"/bin/sh", (work_ / "boot.sh").string(),
                                                                          work_.string(), cgroup_},
                                       work_ / "systemd.log", "systemd " + cgroup_);
  bool died = false;
  poll_until(deadline_in(10s), [&] {
    died = !process_->running();
    // Its child once boot.sh has become unshare (before, the children
    // are the script's own commands).
    if (!died && comm_of(process_->pid()) == "unshare") init_pid_ = child_of(process_->pid());
    return died || init_pid_ > 0;
  });
  if (died || init_pid_ <= 0) throw failure("PID 1 did not start:\n" + process_->log_text());
  std::string state;
  const bool up = poll_until(deadline_in(30s), [&] {
    state = run({"systemctl", "is-system-running"}, 5s).out;
    return state.starts_with("running") || state.starts_with("degraded");
  }, 100ms);
  if (!up) throw failure("systemd is not running (" + state + "):\n" + process_->log_text());
}

SystemdInstance::~SystemdInstance() {
  if (process_) process_->stop(1s);  // unshare dies; --kill-child kills PID 1 and so the namespace
  std::ifstream list(work_ / "cgroups");
  for (std::string dir; std::getline(list, dir);) {
    if (!dir.empty()) remove_cgroup(dir);
  }
}

RunResult SystemdInstance::run(const std::vector<std::string>& argv, Clock::duration timeout) const {
  std::vector<std::string> full{"nsenter", "-t", std::to_string(init_pid_), "-m", "-p", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return netns::run(nullptr, full, timeout);
}

std::string SystemdInstance::property(const std::string& unit, const std::string& name) const {
  std::string out = run({"systemctl", "show", "-p", name, "--value", unit}, 10s).out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::vector<nlohmann::json> SystemdInstance::journal(const std::string& unit) const {
  RunResult r = run({"journalctl", "--no-pager", "-o", "json", "-u", unit}, 20s);
  std::vector<nlohmann::json> records;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_object()) records.push_back(std::move(parsed));
  }
  return records;
}

const nlohmann::json* find_record(const std::vector<nlohmann::json>& records,
                                  const std::vector<std::pair<std::string, std::string>>& fields) {
  for (const nlohmann::json& r : records) {
    bool all = true;
    for (const auto& [name, value] : fields) {
      const auto it = r.find(name);
      if (it == r.end() || !it->is_string() || it->get<std::string>() != value) {
        all = false;
        break;
      }
    }
    if (all) return &r;
  }
  return nullptr;
}

}  // namespace cordon::netns
