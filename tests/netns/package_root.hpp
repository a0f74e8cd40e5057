// A throwaway copy of this machine's root file system, to install a package
// into (tests/netns/deb_test.cpp; docs/packaging.md, "How the package is
// tested").
//
// A child process enters a private mount namespace and mounts there an
// overlay of `/` whose writes go to a tmpfs, with /proc, /sys and /dev bound
// in and fresh tmpfs on /run and /tmp; it chroots into it and waits. Commands
// run inside through nsenter (that mount namespace and root), in whatever
// network namespace the harness puts them. The machine's own files are never
// written: dpkg's database, /usr, /etc and /var change only in the overlay.
//
// The destructor kills the child; the kernel then drops the namespace and
// every mount in it, also when the test failed or the test binary dies
// (the child has PR_SET_PDEATHSIG). Processes started inside must be stopped
// first, as the harness's Process does in its destructor.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace cordon::netns {

class PackageRoot {
 public:
  // `scratch`: an empty directory of the test's own (it becomes the tmpfs
  // mount point, inside the private namespace only). Throws with the step
  // that failed.
  explicit PackageRoot(const std::filesystem::path& scratch);
  ~PackageRoot();
  PackageRoot(const PackageRoot&) = delete;
  PackageRoot& operator=(const PackageRoot&) = delete;

  // argv run inside the root: nsenter into the mount namespace and root,
  // with a clean environment (PATH, HOME=/root, LANG=C.UTF-8).
  std::vector<std::string> inside(const std::vector<std::string>& argv) const;
  // A path inside the root as the test process sees it
  // (/proc/PID/root/...), for reading and writing files there.
  std::filesystem::path outside(const std::filesystem::path& inside_path) const;

 private:
  void stop();

  pid_t pid_ = -1;
  int hold_fd_ = -1;  // the child exits when this closes
};

}  // namespace cordon::netns
