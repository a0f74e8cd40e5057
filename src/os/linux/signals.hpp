// SIGHUP (reload), SIGTERM and SIGINT (stop), delivered through a signalfd
// so that the control thread handles them in its poll loop instead of in an
// async-signal handler (signalfd(2)).
#pragma once

#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

class SignalSet {
 public:
  // Blocks SIGHUP, SIGTERM and SIGINT in the calling thread and opens a
  // signalfd for them. Call it in main() before starting any thread: new
  // threads inherit the signal mask (pthread_sigmask(3)), so the signals are
  // then blocked everywhere and land only on the signalfd. A thread that
  // still had them unblocked would take the default action: exit.
  static Result<SignalSet> create();

  int fd() const { return fd_.get(); }  // non-blocking; poll it for input

  // Returns the number of a signal that arrived (SIGHUP, ...) or 0 when
  // none is pending.
  Result<int> read() const;

 private:
  Fd fd_;
};

}  // namespace cordon::os
