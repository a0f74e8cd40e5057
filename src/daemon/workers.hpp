// Data-path workers (docs/design.md, "The data path"): run to completion,
// one per core. A Worker moves packets between one tunnel queue and one
// datagram socket, in batches of up to DatagramSocket::kMaxBatch, through
// the edge interfaces (os/tun_queue.hpp, os/datagram_socket.hpp), so the
// same code runs on the kernel's devices in the daemon and on the fakes in
// the simulations (testing/sim_host.hpp):
//
//   receive_batch  socket receive -> Node::process_wire -> VerdictDispatch::received
//                  (inner packets to the tunnel, relayed datagrams on)
//   send_batch     tunnel read -> Node::process_tun -> VerdictDispatch::sealed
//                  (datagrams to the socket)
//
// A datagram for a TCP tunnel stream (its `to.stream` is not 0) does not go
// to the socket: the dispatcher copies it to the StreamOutbox, whose
// streams the control thread owns. A batch that queued such datagrams or
// control messages for Node::tick (kControl) says so (BatchReport::wake);
// the daemon then wakes the control thread, once per batch.
//
// Every buffer is allocated when the worker is built; the batch steps
// allocate nothing and throw nothing (edges return os::Result), except that
// the shared stream outbox grows to the TCP tunnel's traffic once and then
// reuses its buffers. Time is passed in: the daemon reads the clock once
// per batch.
//
// With offloads (docs/design.md, "Offloads"), the tunnel side goes through
// os::TunOffload: a packet read may be a TSO/USO super-packet, which
// offload::split cuts into MTU-sized inner packets in the tunnel slots
// just before sealing (a super-packet larger than the free slots is
// finished in the next batch), and inner packets delivered by a receive
// batch are coalesced per flow into super-packets (offload::Coalescer, in
// the dispatcher). A socket with UDP GRO fills up to
// UdpSocket::kMaxCoalescedBatch datagrams per receive from its own buffers.
//
// In the AddressSanitizer build, the bytes of each receive slot past the
// room the core was given (after a datagram's length) are poisoned while
// the core works on the batch, so a core that writes outside its room is
// caught as it would be with buffers of the exact size. A send slot is the
// core's to the end (it pads packets up to their size class there); its
// end is the buffer's.
//
// WorkerPool is the daemon's side: one thread per worker, each in an epoll
// loop over its TUN queue, its UDP socket and a stop event. Which worker
// gets a datagram is the socket group's choice, by the datagram's lane
// (underlay.hpp; docs/design.md, "Lanes"); which worker reads a packet
// from the TUN device is the tun driver's, which follows the queue that
// last wrote the packet's flow.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/node.hpp"
#include "core/offload/gso_split.hpp"
#include "core/offload/virtio_net.hpp"
#include "core/wire/header.hpp"
#include "daemon/stream_outbox.hpp"
#include "daemon/verdict_dispatch.hpp"
#include "os/datagram_socket.hpp"
#include "os/linux/poller.hpp"
#include "os/linux/tun.hpp"
#include "os/linux/udp.hpp"
#include "os/tun_offload.hpp"
#include "os/tun_queue.hpp"

namespace cordon::daemon {

// Receive buffers hold a relayed datagram from a peer with the same MTU:
// the inner packet, the direct overhead and the relay's 36 bytes
// (docs/protocol.md, "Relayed datagrams"). A larger datagram (the peers
// disagree on mtu) arrives truncated and is counted.
constexpr size_t receive_slot_size(unsigned mtu) { return mtu + wire::kOverhead + wire::kRelayExtra; }
// Tunnel buffers: wire::kHeadroom, an MTU-sized packet, wire::kTailroom.
constexpr size_t tunnel_slot_size(unsigned mtu) { return wire::kHeadroom + mtu + wire::kTailroom; }

// Problems a worker counts instead of logging per packet; the control thread
// reports changes (activity_log.hpp).
struct WorkerCounters {
  // What the worker handed to the core: datagrams from its socket, packets
  // from its tunnel queue (after splitting), for `cordon status`.
  std::atomic<uint64_t> datagrams_in{0};
  std::atomic<uint64_t> packets_in{0};
  std::atomic<uint64_t> truncated{0};          // datagrams larger than the receive buffer
  std::atomic<uint64_t> tun_write_errors{0};   // inner packets the kernel refused
  std::atomic<uint64_t> udp_receive_errors{0};
  std::atomic<uint64_t> udp_send_failures{0};  // datagrams not sent (error or full buffer)
  std::atomic<uint64_t> stream_drops{0};       // datagrams for a TCP stream refused by a full outbox
  std::atomic<uint64_t> contract_violations{0};  // verdicts outside their buffer (verdict_dispatch.hpp)
  std::atomic<int> last_errno{0};              // of the latest error above
  // Offloads: super-packets read from the tunnel, the inner packets they
  // became, and the packets the splitter refused (the latest one's reason).
  std::atomic<uint64_t> super_packets{0};
  std::atomic<uint64_t> segments{0};
  std::atomic<uint64_t> split_drops{0};
  std::atomic<uint8_t> last_split_drop{0};     // an offload::SplitDrop
  // Inner packets delivered inside coalesced super-packets, and how many
  // such writes carried them.
  std::atomic<uint64_t> coalesced{0};
  std::atomic<uint64_t> coalesced_writes{0};
  // Who sent the `unknown_peer` and `auth_failure` drops, for the drop log.
  DropSampleSlot unknown_peer, auth_failure;
};

// What one batch step did.
struct BatchReport {
  size_t slots = 0;      // packets or datagrams handed to the core
  size_t truncated = 0;  // received datagrams dropped before the core (too long)
  DispatchTally tally;
  bool wake() const { return tally.wake(); }
};

// The offloads one worker uses.
struct WorkerOffloads {
  os::TunOffload* tun = nullptr;   // the queue's offload side; null: plain packets
  bool tcp_coalescing = false;     // coalesce TCP on the way in (the device has TSO)
  bool udp_coalescing = false;     // and UDP (the device has USO)
  bool coalesced_receive = false;  // the socket has UDP GRO (UdpSocket::kMaxCoalescedBatch)
};

class Worker {
 public:
  // `index` is the node's worker index (core/node.hpp: one thread each).
  // `mtu` sizes the buffers (receive_slot_size, tunnel_slot_size); `batch`
  // (at most DatagramSocket::kMaxBatch) is the most packets one step reads
  // from the tunnel or datagrams from a socket without GRO.
  Worker(unsigned index, Node& node, os::TunQueue& tun, os::DatagramSocket& socket, StreamOutbox& outbox,
         unsigned mtu, size_t batch = os::DatagramSocket::kMaxBatch, WorkerOffloads offloads = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // One batch from the socket through the core and on. A receive error is
  // counted (WorkerCounters::udp_receive_errors) and reported as 0 slots.
  BatchReport receive_batch(const Now& now);
  // One batch from the tunnel through the core and on. An error: the queue
  // is gone (the device was deleted), nothing more can be done on it.
  os::Result<BatchReport> send_batch(const Now& now);

  // The slots of the latest step, verdicts included (valid until the next).
  std::span<const RxSlot> received() const { return std::span(rx_slots_).first(rx_count_); }
  std::span<const TxSlot> sealed() const { return std::span(tx_slots_).first(tx_count_); }

  unsigned index() const { return index_; }
  const WorkerCounters& counters() const { return counters_; }
  WorkerCounters& counters() { return counters_; }  // the control thread takes drop samples

 private:
  void count(const DispatchTally& tally);
  // The tunnel side with offloads: reads and splits into the tunnel slots.
  os::Result<size_t> fill_offloaded();
  // Cuts the pending super-packet into free slots; false when it is done.
  void split_pending();
  void add_slot(size_t length);

  unsigned index_;
  Node& node_;
  os::TunQueue& tun_;
  os::DatagramSocket& socket_;
  VerdictDispatch dispatch_;
  WorkerCounters counters_;

  static constexpr size_t kMaxBatch = os::DatagramSocket::kMaxBatch;
  // With offloads, room for a 64 KiB super-packet cut at a 1,280-byte MTU
  // and some more packets.
  static constexpr size_t kOffloadSlots = 128;
  size_t batch_;
  unsigned mtu_;
  size_t rx_slot_size_;
  size_t tx_slot_size_;
  os::TunOffload* offload_;
  std::vector<std::byte> rx_storage_;
  std::vector<std::byte> tx_storage_;
  std::vector<os::Datagram> rx_datagrams_;
  std::vector<RxSlot> rx_slots_;
  size_t rx_count_ = 0;
  std::vector<std::span<std::byte>> tx_buffers_;
  std::vector<size_t> tx_sizes_;
  std::vector<TxSlot> tx_slots_;
  size_t tx_count_ = 0;
  // The super-packet being split (offloads): its header, bytes, and the
  // next segment to cut.
  std::array<std::byte, offload::kVirtioNetHeaderSize> super_header_bytes_{};
  std::vector<std::byte> super_;
  offload::VirtioNetHeader super_header_{};
  size_t super_length_ = 0;
  size_t super_next_ = 0;
  size_t super_segments_ = 0;  // 0: nothing pending
};

// The workers and their threads. Stopping wakes every worker through one
// EventFd that nobody drains, so each sees it readable.
class WorkerPool {
 public:
  // One worker per socket, with worker indices [0, sockets.size()), worker
  // i on TUN queue i; the Node may have more indices (the daemon keeps one
  // for the control thread's TCP tunnel traffic, tcp_tunnel.hpp).
  // `outbox` and `control_wake` are shared by every worker and the control
  // thread.
  WorkerPool(Node& node, const os::TunDevice& tun, std::vector<os::UdpSocket>& sockets, unsigned mtu,
             StreamOutbox& outbox, const os::EventFd& control_wake);
  ~WorkerPool();  // stops and joins

  // Starts one thread per worker. `died` is notified when a worker stops on
  // an error; failure() then tells which.
  os::Status start(const os::EventFd& died);
  void stop();

  // Call after stop(): the error that ended a worker, if one did.
  std::optional<std::string> failure() const;
  size_t size() const { return lanes_.size(); }
  const Worker& worker(size_t i) const { return lanes_[i]->worker; }
  Worker& worker(size_t i) { return lanes_[i]->worker; }

 private:
  // A worker with the Linux objects its loop waits on.
  struct Lane {
    Lane(unsigned index, Node& node, os::TunDeviceQueue& queue, os::UdpSocket& socket, unsigned mtu,
         StreamOutbox& outbox)
        : queue(queue),
          socket(socket),
          worker(index, node, queue, socket, outbox, mtu, os::DatagramSocket::kMaxBatch, offloads_of(queue, socket)) {}
    static WorkerOffloads offloads_of(os::TunDeviceQueue& queue, const os::UdpSocket& socket);
    os::TunDeviceQueue& queue;
    os::UdpSocket& socket;
    Worker worker;
    std::optional<os::Poller> poller;
  };
  // Registers the lane's TUN queue, socket and the stop event.
  os::Status init(Lane& lane);
  // Runs until the stop event (Ok) or an error the worker cannot recover
  // from (the daemon then shuts down).
  os::Status run(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
  const os::EventFd& control_wake_;
  std::vector<std::thread> threads_;
  std::optional<os::EventFd> stop_;
  std::vector<std::optional<os::SysError>> results_;  // written by thread i before it ends
  std::atomic<bool> failed_{false};
};

}  // namespace cordon::daemon
