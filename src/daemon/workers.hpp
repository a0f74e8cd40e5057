// Data-path workers (DESIGN.md, "Performance"): run to completion, one per
// core. Worker i owns TUN queue i and UDP socket i and moves packets in
// batches of up to UdpSocket::kMaxBatch:
//
//   UDP readable  recvmmsg -> Node::process_wire -> write inner packets to the TUN queue,
//                 sendmmsg relayed datagrams a coordinator forwards (kForward)
//   TUN readable  read a batch -> Node::process_tun -> sendmmsg datagrams
//
// A datagram for a TCP tunnel stream (its `to.stream` is not 0) does not go
// to UDP: the worker copies it to the StreamOutbox, whose streams the
// control thread owns. The control thread is woken through `control_wake`,
// at most once per batch, when the batch queued such datagrams or control
// messages for Node::tick (kControl).
//
// Every buffer is allocated when the worker is built; the loop allocates
// nothing and throws nothing (OS calls return os::Result), except that the
// shared stream outbox grows to the TCP tunnel's traffic once and then
// reuses its buffers. The clock is read once per batch.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/node.hpp"
#include "core/wire/header.hpp"
#include "daemon/stream_outbox.hpp"
#include "os/linux/poller.hpp"
#include "os/linux/tun.hpp"
#include "os/linux/udp.hpp"

namespace cordon::daemon {

// Receive buffers hold a relayed datagram from a peer with the same MTU:
// the inner packet, the direct overhead and the relay's 36 bytes
// (docs/protocol.md, "Relayed datagrams"). A larger datagram (the peers
// disagree on mtu) arrives truncated and is counted.
constexpr size_t receive_slot_size(unsigned mtu) { return mtu + wire::kOverhead + wire::kRelayExtra; }

// Problems a worker counts instead of logging per packet; the control thread
// reports changes (activity_log.hpp).
struct WorkerCounters {
  std::atomic<uint64_t> truncated{0};          // datagrams larger than the receive buffer
  std::atomic<uint64_t> tun_write_errors{0};   // inner packets the kernel refused
  std::atomic<uint64_t> udp_receive_errors{0};
  std::atomic<uint64_t> udp_send_failures{0};  // datagrams not sent (error or full buffer)
  std::atomic<uint64_t> stream_drops{0};       // datagrams for a TCP stream refused by a full outbox
  std::atomic<int> last_errno{0};              // of the latest error above
};

class Worker {
 public:
  // `mtu` sizes the buffers: TUN reads hold one MTU-sized packet with
  // wire::kHeadroom before and wire::kTailroom after it.
  // `outbox` and `control_wake` are shared by every worker and the control
  // thread (see above).
  Worker(unsigned index, Node& node, const os::TunDevice& tun, os::UdpSocket& socket, unsigned mtu,
         StreamOutbox& outbox, const os::EventFd& control_wake);

  // Registers the TUN queue, the socket and the two event fds. Call before run().
  os::Status init(const os::EventFd& stop);

  // Runs until `stop` is notified (returns nullopt) or an error that the
  // worker cannot recover from (returns it; the daemon then shuts down).
  std::optional<os::SysError> run();

  const WorkerCounters& counters() const { return counters_; }

 private:
  void receive_batch();
  // False when the TUN queue failed: the device is gone.
  bool send_batch(std::optional<os::SysError>& fatal);
  // sendmmsg with the UDP error policy of both directions.
  void send_udp(std::span<const os::Datagram> datagrams);
  // Copies a datagram for a TCP stream to the outbox; true if it was queued.
  bool to_stream(uint32_t stream, std::span<const std::byte> datagram);

  unsigned index_;
  Node& node_;
  const os::TunDevice& tun_;
  os::UdpSocket& socket_;
  StreamOutbox& outbox_;
  const os::EventFd& control_wake_;
  int stop_fd_ = -1;
  std::optional<os::Poller> poller_;
  WorkerCounters counters_;

  static constexpr size_t kBatch = os::UdpSocket::kMaxBatch;
  size_t rx_slot_size_;  // one received datagram
  size_t tx_slot_size_;  // headroom + MTU + tailroom
  std::vector<std::byte> rx_storage_;
  std::vector<std::byte> tx_storage_;
  std::array<os::Datagram, kBatch> rx_datagrams_{};
  std::array<RxSlot, kBatch> rx_slots_{};
  std::array<TxSlot, kBatch> tx_slots_{};
  std::array<os::Datagram, kBatch> tx_datagrams_{};
  std::array<os::Datagram, kBatch> forward_datagrams_{};  // views into rx_storage_
};

// The workers and their threads. Stopping wakes every worker through one
// EventFd that nobody drains, so each sees it readable.
class WorkerPool {
 public:
  // One worker per socket, with worker indices [0, sockets.size()); the
  // Node may have more indices (the daemon keeps one for the control
  // thread's TCP tunnel traffic, tcp_tunnel.hpp).
  WorkerPool(Node& node, const os::TunDevice& tun, std::vector<os::UdpSocket>& sockets, unsigned mtu,
             StreamOutbox& outbox, const os::EventFd& control_wake);
  ~WorkerPool();  // stops and joins

  // Starts one thread per worker. `died` is notified when a worker stops on
  // an error; failure() then tells which.
  os::Status start(const os::EventFd& died);
  void stop();

  // Call after stop(): the error that ended a worker, if one did.
  std::optional<std::string> failure() const;
  size_t size() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_[i]; }

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::optional<os::EventFd> stop_;
  std::vector<std::optional<os::SysError>> results_;  // written by thread i before it ends
  std::atomic<bool> failed_{false};
};

}  // namespace cordon::daemon
