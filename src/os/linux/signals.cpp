#include "os/linux/signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

namespace cordon::os {

Result<SignalSet> SignalSet::create() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // pthread_sigmask returns the error number instead of setting errno.
  if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return sys_error("block SIGHUP/SIGTERM/SIGINT", err);
  }
  SignalSet s;
  s.fd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!s.fd_.valid()) return sys_error("signalfd");
  return s;
}

Result<int> SignalSet::read() const {
  for (;;) {
    signalfd_siginfo info{};
    // signalfd(2): a read returns whole signalfd_siginfo structures.
    ssize_t n = ::read(fd_.get(), &info, sizeof(info));
    if (n == static_cast<ssize_t>(sizeof(info))) return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return sys_error("read signalfd", n < 0 ? errno : EIO);
  }
}

}  // namespace cordon::os
