#include "daemon/workers.hpp"

#include <cerrno>

#include "core/wire/header.hpp"
#include "os/linux/clock.hpp"

namespace cordon::daemon {
namespace {

size_t tx_slot_size(unsigned mtu) { return wire::kHeadroom + mtu + wire::kTailroom; }

}  // namespace

Worker::Worker(unsigned index, Node& node, const os::TunDevice& tun, os::UdpSocket& socket, unsigned mtu,
               StreamOutbox& outbox, const os::EventFd& control_wake)
    : index_(index),
      node_(node),
      tun_(tun),
      socket_(socket),
      outbox_(outbox),
      control_wake_(control_wake),
      rx_slot_size_(receive_slot_size(mtu)),
      tx_slot_size_(tx_slot_size(mtu)),
      rx_storage_(kBatch * rx_slot_size_),
      tx_storage_(kBatch * tx_slot_size_) {
  for (size_t i = 0; i < kBatch; ++i) {
    rx_datagrams_[i].data = std::span(rx_storage_).subspan(i * rx_slot_size_, rx_slot_size_);
  }
}

os::Status Worker::init(const os::EventFd& stop) {
  auto poller = os::Poller::create();
  if (!poller) return poller.error();
  poller_.emplace(std::move(poller.value()));
  stop_fd_ = stop.fd();
  for (int fd : {tun_.queue_fd(index_), socket_.fd(), stop_fd_}) {
    auto added = poller_->add_readable(fd);
    if (!added) return added.error();
  }
  return os::Ok{};
}

std::optional<os::SysError> Worker::run() {
  std::array<int, 4> ready{};
  for (;;) {
    auto n = poller_->wait(-1, ready);
    if (!n) return n.error();
    for (size_t i = 0; i < n.value(); ++i) {
      if (ready[i] == stop_fd_) return std::nullopt;
    }
    // One batch per direction per wakeup; epoll is level-triggered, so
    // whatever is left is reported again and neither direction starves.
    for (size_t i = 0; i < n.value(); ++i) {
      if (ready[i] == socket_.fd()) {
        receive_batch();
      } else if (ready[i] == tun_.queue_fd(index_)) {
        std::optional<os::SysError> fatal;
        if (!send_batch(fatal)) return fatal;
      }
    }
  }
}

void Worker::receive_batch() {
  auto received = socket_.receive(rx_datagrams_);
  if (!received) {
    counters_.udp_receive_errors.fetch_add(1, std::memory_order_relaxed);
    counters_.last_errno.store(received.error().err, std::memory_order_relaxed);
    return;
  }
  size_t count = 0;
  for (size_t i = 0; i < received.value(); ++i) {
    const os::Datagram& d = rx_datagrams_[i];
    if (d.truncated) {
      counters_.truncated.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    rx_slots_[count++] = RxSlot{.from = d.peer, .data = d.data.first(d.length)};
  }
  if (count == 0) return;

  node_.process_wire(index_, os::now(), std::span(rx_slots_).first(count));

  size_t forwards = 0;
  bool wake = false;
  for (size_t i = 0; i < count; ++i) {
    const RxSlot& slot = rx_slots_[i];
    switch (slot.verdict) {
      case Verdict::kDeliver:
        if (auto written = tun_.write(index_, slot.inner); !written) {
          counters_.tun_write_errors.fetch_add(1, std::memory_order_relaxed);
          counters_.last_errno.store(written.error().err, std::memory_order_relaxed);
        }
        break;
      case Verdict::kForward:
        // A relayed datagram, rewritten in place in the receive buffer.
        if (slot.to.is_udp()) {
          const size_t offset = static_cast<size_t>(slot.wire.data() - slot.data.data());
          forward_datagrams_[forwards++] = os::Datagram{
              .data = slot.data.subspan(offset, slot.wire.size()), .length = slot.wire.size(), .peer = slot.to};
        } else {
          wake |= to_stream(slot.to.stream, slot.wire);
        }
        break;
      case Verdict::kControl:
        wake = true;
        break;
      case Verdict::kDrop:
      case Verdict::kConsumed:
        break;
    }
  }
  send_udp(std::span(forward_datagrams_).first(forwards));
  if (wake) control_wake_.notify();
}

bool Worker::send_batch(std::optional<os::SysError>& fatal) {
  size_t count = 0;
  while (count < kBatch) {
    auto buffer = std::span(tx_storage_).subspan(count * tx_slot_size_, tx_slot_size_);
    auto room = buffer.subspan(wire::kHeadroom, tx_slot_size_ - wire::kHeadroom - wire::kTailroom);
    auto read = tun_.read(index_, room);
    if (!read) {
      // A TUN queue fails only when the device is gone (EBADFD after
      // `ip link delete`); nothing more can be done on this path.
      fatal = read.error();
      return false;
    }
    if (read.value() == 0) break;
    tx_slots_[count++] = TxSlot{.buffer = buffer, .headroom = wire::kHeadroom, .length = read.value()};
  }
  if (count == 0) return true;

  node_.process_tun(index_, os::now(), std::span(tx_slots_).first(count));

  size_t datagrams = 0;
  bool wake = false;
  for (size_t i = 0; i < count; ++i) {
    const TxSlot& slot = tx_slots_[i];
    if (slot.verdict != Verdict::kDeliver) continue;
    if (!slot.to.is_udp()) {
      wake |= to_stream(slot.to.stream, slot.wire);
      continue;
    }
    // `wire` lies inside `buffer`; take the mutable view of the same bytes
    // because os::Datagram carries one span type for both directions.
    const size_t offset = static_cast<size_t>(slot.wire.data() - slot.buffer.data());
    tx_datagrams_[datagrams++] = os::Datagram{
        .data = slot.buffer.subspan(offset, slot.wire.size()), .length = slot.wire.size(), .peer = slot.to};
  }
  send_udp(std::span(tx_datagrams_).first(datagrams));
  if (wake) control_wake_.notify();
  return true;
}

void Worker::send_udp(std::span<const os::Datagram> batch) {
  size_t sent = 0;
  while (sent < batch.size()) {
    auto r = socket_.send(batch.subspan(sent));
    if (!r) {
      // One unreachable destination must not hold back the others: skip it
      // and go on with the rest of the batch.
      counters_.udp_send_failures.fetch_add(1, std::memory_order_relaxed);
      counters_.last_errno.store(r.error().err, std::memory_order_relaxed);
      ++sent;
      continue;
    }
    if (r.value() == 0) break;
    sent += r.value();
  }
  if (sent < batch.size()) counters_.udp_send_failures.fetch_add(batch.size() - sent, std::memory_order_relaxed);
}

bool Worker::to_stream(uint32_t stream, std::span<const std::byte> datagram) {
  if (outbox_.push(stream, datagram)) return true;
  counters_.stream_drops.fetch_add(1, std::memory_order_relaxed);
  return false;
}

WorkerPool::WorkerPool(Node& node, const os::TunDevice& tun, std::vector<os::UdpSocket>& sockets, unsigned mtu,
                       StreamOutbox& outbox, const os::EventFd& control_wake) {
  for (unsigned i = 0; i < sockets.size(); ++i) {
    workers_.push_back(std::make_unique<Worker>(i, node, tun, sockets[i], mtu, outbox, control_wake));
  }
  results_.resize(workers_.size());
}

WorkerPool::~WorkerPool() { stop(); }

os::Status WorkerPool::start(const os::EventFd& died) {
  auto stop = os::EventFd::create();
  if (!stop) return stop.error();
  stop_.emplace(std::move(stop.value()));
  for (auto& worker : workers_) {
    auto ready = worker->init(*stop_);
    if (!ready) return ready.error();
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_.emplace_back([this, i, &died] {
      results_[i] = workers_[i]->run();
      if (results_[i]) {
        failed_.store(true, std::memory_order_release);
        died.notify();
      }
    });
  }
  return os::Ok{};
}

void WorkerPool::stop() {
  if (stop_) stop_->notify();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::optional<std::string> WorkerPool::failure() const {
  if (!failed_.load(std::memory_order_acquire)) return std::nullopt;
  for (size_t i = 0; i < results_.size(); ++i) {
    if (results_[i]) return "worker " + std::to_string(i) + ": " + results_[i]->message();
  }
  return std::nullopt;
}

}  // namespace cordon::daemon
