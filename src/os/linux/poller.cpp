#include "os/linux/poller.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <array>

namespace cordon::os {

Result<Poller> Poller::create() {
  Poller p;
  p.epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!p.epoll_.valid()) return sys_error("epoll_create1");
  return p;
}

Status Poller::add_readable(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    return sys_error_of(errno, "epoll add fd ", fd);
  }
  return Ok{};
}

Status Poller::set_writable(int fd, bool writable) {
  epoll_event ev{};
  ev.events = EPOLLIN | (writable ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) {
    return sys_error_of(errno, "epoll modify fd ", fd);
  }
  return Ok{};
}

Status Poller::remove(int fd) {
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) < 0) {
    return sys_error_of(errno, "epoll remove fd ", fd);
  }
  return Ok{};
}

Result<size_t> Poller::wait(int timeout_ms, std::span<int> ready) {
  // A worker watches a handful of fds; a small fixed array avoids
  // allocating on every wait.
  std::array<epoll_event, 16> events;
  const int max = static_cast<int>(std::min(ready.size(), events.size()));
  if (max == 0) return size_t{0};
  int n = ::epoll_wait(epoll_.get(), events.data(), max, timeout_ms);
  if (n < 0) {
    // EINTR: the caller re-checks its stop flag and its deadline anyway.
    if (errno == EINTR) return size_t{0};
    return sys_error("epoll_wait");
  }
  for (int i = 0; i < n; ++i) ready[i] = events[i].data.fd;
  return static_cast<size_t>(n);
}

Result<EventFd> EventFd::create() {
  EventFd e;
  e.fd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!e.fd_.valid()) return sys_error("eventfd");
  return e;
}

void EventFd::notify() const {
  // EAGAIN means the counter is saturated, i.e. already readable.
  [[maybe_unused]] int r = ::eventfd_write(fd_.get(), 1);
}

void EventFd::drain() const {
  // A non-blocking read returns the whole counter and resets it to zero.
  eventfd_t value = 0;
  [[maybe_unused]] int r = ::eventfd_read(fd_.get(), &value);
}

}  // namespace cordon::os
