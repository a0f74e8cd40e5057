// Readiness for a worker: an epoll set over its TUN queue, its UDP socket
// and an EventFd that other threads use to wake it (for a new snapshot or
// shutdown).
#pragma once

#include <cstdint>
#include <span>

#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

class Poller {
 public:
  static Result<Poller> create();

  // Watches fd for input, level-triggered: a worker that leaves data queued
  // (its batch was full) is told again on the next wait, so it need not
  // drain a socket to EAGAIN before sleeping.
  Status add_readable(int fd);
  // Watches fd for output as well as input (a TCP stream that is connecting
  // or has bytes queued), or for input only again. fd must be added.
  Status set_writable(int fd, bool writable);
  Status remove(int fd);

  // Waits up to timeout_ms (-1: no limit, 0: just check) and writes the
  // ready fds to `ready`. Returns how many; 0 on timeout or when a signal
  // interrupted the wait.
  Result<size_t> wait(int timeout_ms, std::span<int> ready);

  int fd() const { return epoll_.get(); }

 private:
  Fd epoll_;
};

// A counter that wakes a thread blocked in Poller::wait (eventfd(2)).
class EventFd {
 public:
  static Result<EventFd> create();

  int fd() const { return fd_.get(); }
  // Safe from any thread. Never blocks: a counter that is already at its
  // maximum is still readable, so the wakeup is not lost.
  void notify() const;
  // Resets the counter; call after the fd polled readable.
  void drain() const;

 private:
  Fd fd_;
};

}  // namespace cordon::os
