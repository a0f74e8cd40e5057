#include "tests/netns/package_root.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cordon::netns {

namespace fs = std::filesystem;

namespace {

// The child's steps, each a system call; the first that fails is reported
// to the parent through the pipe as "STEP: strerror" and the child exits.
struct Step {
  const char* what;
  int (*call)(const Step&);
  std::string a, b, type, data;
  unsigned long flags = 0;
};

int do_mount(const Step& s) {
  return ::mount(s.a.empty() ? nullptr : s.a.c_str(), s.b.c_str(), s.type.empty() ? nullptr : s.type.c_str(),
                 s.flags, s.data.empty() ? nullptr : s.data.c_str());
}
int do_mkdir(const Step& s) { return ::mkdir(s.a.c_str(), 0755); }
int do_unshare(const Step&) { return ::unshare(CLONE_NEWNS); }
int do_chroot(const Step& s) { return ::chroot(s.a.c_str()) == 0 ? ::chdir("/") : -1; }

[[noreturn]] void report_and_exit(int fd, const char* what, int err) {
  const char* text = std::strerror(err);
  (void)!::write(fd, what, std::strlen(what));
  (void)!::write(fd, ": ", 2);
  (void)!::write(fd, text, std::strlen(text));
  ::_exit(1);
}

}  // namespace

PackageRoot::PackageRoot(const fs::path& scratch) {
  const std::string tmp = scratch.string(), upper = tmp + "/upper", work = tmp + "/work", root = tmp + "/root";
  // Built before fork, so that the child only makes system calls.
  const std::vector<Step> steps = {
      {"unshare(CLONE_NEWNS)", do_unshare, "", "", "", "", 0},
      // Nothing mounted from here on propagates back to the machine.
      {"make / private", do_mount, "", "/", "", "", MS_REC | MS_PRIVATE},
      {"tmpfs on the scratch directory", do_mount, "tmpfs", tmp, "tmpfs", "mode=0700", 0},
      {"mkdir upper", do_mkdir, upper, "", "", "", 0},
      {"mkdir work", do_mkdir, work, "", "", "", 0},
      {"mkdir root", do_mkdir, root, "", "", "", 0},
      // Only the root file system itself is the lower layer; its submounts
      // (/proc, /sys, /dev) are bound in below.
      {"overlay of /", do_mount, "overlay", root, "overlay",
       "lowerdir=/,upperdir=" + upper + ",workdir=" + work, 0},
      {"bind /proc", do_mount, "/proc", root + "/proc", "", "", MS_BIND | MS_REC},
      {"bind /sys", do_mount, "/sys", root + "/sys", "", "", MS_BIND | MS_REC},
      {"bind /dev", do_mount, "/dev", root + "/dev", "", "", MS_BIND | MS_REC},
      // A booted machine's /run and /tmp start empty; the host's must not
      // show through (its /run/cordon, its daemons' sockets).
      {"tmpfs on /run", do_mount, "tmpfs", root + "/run", "tmpfs", "mode=0755", 0},
      {"tmpfs on /tmp", do_mount, "tmpfs", root + "/tmp", "tmpfs", "mode=1777", 0},
      {"chroot", do_chroot, root, "", "", "", 0},
  };

  int ready[2], hold[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(hold, O_CLOEXEC) != 0) {
    ::close(ready[0]);
    ::close(ready[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(ready[0]);
    ::close(hold[1]);
    for (const Step& s : steps) {
      if (s.call(s) != 0) report_and_exit(ready[1], s.what, errno);
    }
    (void)!::write(ready[1], "ok", 2);
    ::close(ready[1]);
    char c;
    while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(hold[0]);
  hold_fd_ = hold[1];
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = ::read(ready[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(ready[0]);
  if (answer != "ok") {
    stop();
    throw std::runtime_error("package root in " + tmp + ": " + (answer.empty() ? "the child died" : answer));
  }
}

PackageRoot::~PackageRoot() { stop(); }

void PackageRoot::stop() {
  if (hold_fd_ >= 0) ::close(hold_fd_);
  hold_fd_ = -1;
  if (pid_ > 0) {
    int status = 0;
    // Closing the pipe ends the child; SIGKILL in case it is stuck.
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

std::vector<std::string> PackageRoot::inside(const std::vector<std::string>& argv) const {
  const std::string pid = std::to_string(pid_);
  std::vector<std::string> out = {"nsenter", "--target", pid, "--mount", "--root", "--wd", "--",
                                  "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "HOME=/root", "LANG=C.UTF-8"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

fs::path PackageRoot::outside(const fs::path& inside_path) const {
  return fs::path("/proc") / std::to_string(pid_) / "root" / inside_path.relative_path();
}

}  // namespace cordon::netns
