#include "daemon/workers.hpp"

#include <algorithm>

#include "os/linux/clock.hpp"
#include "os/linux/udp.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define CORDON_POISON_SLACK 1
#endif
#endif

namespace cordon::daemon {
namespace {

// The AddressSanitizer check of workers.hpp: bytes the core must not touch
// are poisoned while it works, and opened again before the edges refill
// the buffers. Nothing in other builds.
void poison(std::span<std::byte> slack) {
#ifdef CORDON_POISON_SLACK
  if (!slack.empty()) ASAN_POISON_MEMORY_REGION(slack.data(), slack.size());
#else
  (void)slack;
#endif
}
void unpoison(std::span<std::byte> bytes) {
#ifdef CORDON_POISON_SLACK
  if (!bytes.empty()) ASAN_UNPOISON_MEMORY_REGION(bytes.data(), bytes.size());
#else
  (void)bytes;
#endif
}

template <typename Counter>
void add(Counter& counter, size_t n) {
  if (n != 0) counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

Worker::Worker(unsigned index, Node& node, os::TunQueue& tun, os::DatagramSocket& socket, StreamOutbox& outbox,
               unsigned mtu, size_t batch, WorkerOffloads offloads)
    : index_(index),
      node_(node),
      tun_(tun),
      socket_(socket),
      dispatch_(tun, socket, outbox,
                offloads.tun ? std::optional(CoalescingTun{offloads.tun, offloads.tcp_coalescing,
                                                           offloads.udp_coalescing})
                             : std::nullopt),
      batch_(std::clamp<size_t>(batch, 1, kMaxBatch)),
      mtu_(mtu),
      rx_slot_size_(receive_slot_size(mtu)),
      tx_slot_size_(tunnel_slot_size(mtu)),
      offload_(offloads.tun),
      rx_storage_(batch_ * rx_slot_size_),
      rx_datagrams_(offloads.coalesced_receive ? os::UdpSocket::kMaxCoalescedBatch : batch_),
      rx_slots_(rx_datagrams_.size()) {
  const size_t tx_slots = offload_ ? kOffloadSlots : batch_;
  tx_storage_.resize(tx_slots * tx_slot_size_);
  tx_buffers_.resize(tx_slots);
  tx_sizes_.resize(tx_slots);
  tx_slots_.resize(tx_slots);
  // A socket with GRO points the entries at its own buffers; without it,
  // the first batch_ entries are the receive buffers.
  for (size_t i = 0; i < batch_; ++i) {
    rx_datagrams_[i].data = std::span(rx_storage_).subspan(i * rx_slot_size_, rx_slot_size_);
  }
  for (size_t i = 0; i < tx_slots; ++i) {
    // The tunnel fills the MTU after the headroom; the tailroom stays free.
    tx_buffers_[i] = std::span(tx_storage_).subspan(i * tx_slot_size_, tx_slot_size_ - wire::kTailroom);
  }
  // The largest packet a TUN read returns: 64 KiB of IP packet.
  if (offload_) super_.resize(65536);
}

Worker::~Worker() {
  unpoison(rx_storage_);
  unpoison(tx_storage_);
}

void Worker::count(const DispatchTally& tally) {
  add(counters_.tun_write_errors, tally.tun_write_errors);
  add(counters_.udp_send_failures, tally.udp_send_failures);
  add(counters_.stream_drops, tally.stream_drops);
  add(counters_.contract_violations, tally.contract_violations);
  add(counters_.coalesced, tally.coalesced);
  add(counters_.coalesced_writes, tally.coalesced_writes);
  if (tally.last_errno != 0) counters_.last_errno.store(tally.last_errno, std::memory_order_relaxed);
  if (tally.unknown_peer) counters_.unknown_peer.offer(*tally.unknown_peer);
  if (tally.auth_failure) counters_.auth_failure.offer(*tally.auth_failure);
}

BatchReport Worker::receive_batch(const Now& now) {
  BatchReport report;
  rx_count_ = 0;
  unpoison(rx_storage_);
  auto received = socket_.receive(rx_datagrams_);
  if (!received) {
    counters_.udp_receive_errors.fetch_add(1, std::memory_order_relaxed);
    counters_.last_errno.store(received.error().err, std::memory_order_relaxed);
    return report;
  }
  for (size_t i = 0; i < received.value(); ++i) {
    const os::Datagram& d = rx_datagrams_[i];
    if (d.truncated) {
      ++report.truncated;
      continue;
    }
    const size_t length = std::min(d.length, d.data.size());
    poison(d.data.subspan(length));
    rx_slots_[rx_count_++] = RxSlot{.from = d.peer, .data = d.data.first(length)};
  }
  add(counters_.truncated, report.truncated);
  report.slots = rx_count_;
  if (rx_count_ == 0) return report;
  add(counters_.datagrams_in, rx_count_);

  node_.process_wire(index_, now, std::span(rx_slots_).first(rx_count_));
  report.tally = dispatch_.received(std::span(rx_slots_).first(rx_count_));
  count(report.tally);
  return report;
}

os::Result<BatchReport> Worker::send_batch(const Now& now) {
  BatchReport report;
  tx_count_ = 0;
  unpoison(tx_storage_);
  if (offload_) {
    auto filled = fill_offloaded();
    if (!filled) return filled.error();
  } else {
    auto read = tun_.read(std::span<const std::span<std::byte>>(tx_buffers_).first(batch_),
                          std::span(tx_sizes_).first(batch_), wire::kHeadroom);
    if (!read) return read.error();
    for (size_t i = 0; i < read.value(); ++i) add_slot(tx_sizes_[i]);
  }
  report.slots = tx_count_;
  if (tx_count_ == 0) return report;
  add(counters_.packets_in, tx_count_);

  node_.process_tun(index_, now, std::span(tx_slots_).first(tx_count_));
  report.tally = dispatch_.sealed(std::span(tx_slots_).first(tx_count_));
  count(report.tally);
  return report;
}

// Slot tx_count_ holds a packet of `length` bytes after the headroom. The
// core gets the whole slot: room for the MTU, so that size classes can pad
// any packet up to its class (core/node.hpp, TxSlot).
void Worker::add_slot(size_t length) {
  const auto buffer = std::span(tx_storage_).subspan(tx_count_ * tx_slot_size_, tx_slot_size_);
  length = std::min(length, tx_slot_size_ - wire::kHeadroom - wire::kTailroom);
  tx_slots_[tx_count_++] = TxSlot{.buffer = buffer, .headroom = wire::kHeadroom, .length = length};
}

// Reads up to batch_ packets (and finishes a super-packet left from the
// previous batch) while free slots remain. A read error on the first read
// is the queue's end; after packets were read, the next call reports it.
os::Result<size_t> Worker::fill_offloaded() {
  size_t reads = 0;
  while (tx_count_ < tx_slots_.size()) {
    if (super_segments_ != 0) {
      split_pending();
      continue;
    }
    if (reads == batch_) break;
    auto read = offload_->read_offloaded(super_header_bytes_, super_);
    if (!read) {
      if (reads == 0 && tx_count_ == 0) return read.error();
      break;
    }
    if (read.value() == 0) break;
    ++reads;
    super_length_ = read.value();
    const auto header = offload::decode_virtio_net(super_header_bytes_);
    const auto packet = std::span<const std::byte>(super_).first(super_length_);
    auto segments = header ? offload::segment_count(*header, packet, mtu_)
                           : cordon::Result<size_t, offload::SplitDrop>(fail(offload::SplitDrop::kUnsupportedGso));
    if (!segments || (header->gso_type == offload::GsoType::kNone && super_length_ > mtu_)) {
      // A packet larger than the MTU without GSO was cut by the room, as a
      // plain read would have cut it; the core drops such packets as
      // malformed, so it is counted here instead.
      counters_.split_drops.fetch_add(1, std::memory_order_relaxed);
      counters_.last_split_drop.store(
          static_cast<uint8_t>(segments ? offload::SplitDrop::kTruncated : segments.error()),
          std::memory_order_relaxed);
      continue;
    }
    super_header_ = *header;
    super_next_ = 0;
    super_segments_ = segments.value();
    if (super_segments_ > 1) {
      counters_.super_packets.fetch_add(1, std::memory_order_relaxed);
      counters_.segments.fetch_add(super_segments_, std::memory_order_relaxed);
    }
  }
  return tx_count_;
}

void Worker::split_pending() {
  const size_t free = tx_slots_.size() - tx_count_;
  auto cut = offload::split(super_header_, std::span<const std::byte>(super_).first(super_length_), mtu_,
                            super_next_, std::span<const std::span<std::byte>>(tx_buffers_).subspan(tx_count_, free),
                            std::span(tx_sizes_).subspan(tx_count_, free), wire::kHeadroom);
  if (!cut || cut.value() == 0) {
    if (!cut) {
      counters_.split_drops.fetch_add(1, std::memory_order_relaxed);
      counters_.last_split_drop.store(static_cast<uint8_t>(cut.error()), std::memory_order_relaxed);
    }
    super_segments_ = 0;
    return;
  }
  const size_t first = tx_count_;
  for (size_t i = 0; i < cut.value(); ++i) add_slot(tx_sizes_[first + i]);
  super_next_ += cut.value();
  if (super_next_ >= super_segments_) super_segments_ = 0;
}

WorkerOffloads WorkerPool::Lane::offloads_of(os::TunDeviceQueue& queue, const os::UdpSocket& socket) {
  const auto udp = socket.offloads();
  WorkerOffloads o{.coalesced_receive = udp.gro};
  if (queue.offloads()) {
    o.tun = &queue;
    o.tcp_coalescing = queue.features().tso;
    o.udp_coalescing = queue.features().uso;
  }
  return o;
}

WorkerPool::WorkerPool(Node& node, const os::TunDevice& tun, std::vector<os::UdpSocket>& sockets, unsigned mtu,
                       StreamOutbox& outbox, const os::EventFd& control_wake)
    : control_wake_(control_wake) {
  for (unsigned i = 0; i < sockets.size(); ++i) {
    lanes_.push_back(std::make_unique<Lane>(i, node, tun.queue(i), sockets[i], mtu, outbox));
  }
  results_.resize(lanes_.size());
}

WorkerPool::~WorkerPool() { stop(); }

os::Status WorkerPool::init(Lane& lane) {
  auto poller = os::Poller::create();
  if (!poller) return poller.error();
  lane.poller.emplace(std::move(poller.value()));
  for (int fd : {lane.queue.fd(), lane.socket.fd(), stop_->fd()}) {
    auto added = lane.poller->add_readable(fd);
    if (!added) return added.error();
  }
  return os::Ok{};
}

os::Status WorkerPool::run(Lane& lane) {
  std::array<int, 4> ready{};
  for (;;) {
    auto n = lane.poller->wait(-1, ready);
    if (!n) return n.error();
    const auto fds = std::span(ready).first(n.value());
    if (std::find(fds.begin(), fds.end(), stop_->fd()) != fds.end()) return os::Ok{};
    // One batch per direction per wakeup; epoll is level-triggered, so
    // whatever is left is reported again and neither direction starves.
    for (int fd : fds) {
      if (fd == lane.socket.fd()) {
        // The clock is read once per batch.
        if (lane.worker.receive_batch(os::now()).wake()) control_wake_.notify();
      } else if (fd == lane.queue.fd()) {
        auto sent = lane.worker.send_batch(os::now());
        if (!sent) return sent.error();
        if (sent.value().wake()) control_wake_.notify();
      }
    }
  }
}

os::Status WorkerPool::start(const os::EventFd& died) {
  auto stop = os::EventFd::create();
  if (!stop) return stop.error();
  stop_.emplace(std::move(stop.value()));
  for (auto& lane : lanes_) {
    auto ready = init(*lane);
    if (!ready) return ready.error();
  }
  for (size_t i = 0; i < lanes_.size(); ++i) {
    threads_.emplace_back([this, i, &died] {
      auto ended = run(*lanes_[i]);
      if (!ended) {
        results_[i] = std::move(ended).error();
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
