// The verdict dispatcher: what happens to a batch after the core has judged
// it (core/node.hpp, Verdict). One copy serves every caller: the data-path
// workers (workers.hpp), the TCP tunnel's receive path (tcp_tunnel.hpp)
// and the simulation host (testing/sim_host.hpp), so a simulation tests the
// code the daemon runs (docs/architecture.md, "The dispatcher").
//
//   received (after process_wire)
//     kDeliver  write `inner` to the tunnel queue
//     kForward  send `wire` (rewritten in place) to `to`: over the socket,
//               or to the StreamSink when to.stream is not 0
//     kControl  counted: the caller wakes the control thread (tick soon)
//     kConsumed, kDrop  counted; the first `unknown_peer` and the first
//               `auth_failure` drop of the batch are sampled (drop_sample.hpp)
//   sealed (after process_tun)
//     kDeliver  send `wire` to `to`, over the socket or to the StreamSink
//     kDrop     counted
//
// A verdict whose `inner` or `wire` lies outside the buffer the core was
// given, or a receive-side verdict on the send side, is a broken contract:
// it is counted and nothing is sent. Datagrams for the socket go out in one
// send() per batch with the error policy of os/datagram_socket.hpp: a
// failed datagram is skipped and counted, the rest still go.
//
// With a CoalescingTun (the tunnel has offloads), inner packets to deliver
// go through offload::Coalescer: consecutive packets of one flow become one
// super-packet, written with its virtio-net header in one writev, at the
// end of the batch (or when the coalescer is full).
//
// Nothing here allocates (the coalescer's storage is allocated by the
// constructor), throws or reads a clock; the tally is returned
// and the caller adds it to its own counters (atomic in a worker, plain in
// a simulation).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/node.hpp"
#include "core/offload/gro.hpp"
#include "daemon/drop_sample.hpp"
#include "os/datagram_socket.hpp"
#include "os/tun_offload.hpp"
#include "os/tun_queue.hpp"

namespace cordon::daemon {

// Where datagrams for a TCP tunnel stream go: the StreamOutbox from a
// worker, the stream itself from the control thread.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // False: refused (full, or the stream is gone); the datagram is dropped.
  virtual bool push(uint32_t stream, std::span<const std::byte> datagram) = 0;
};

// What one dispatch did.
struct DispatchTally {
  size_t delivered = 0;            // inner packets the tunnel took
  size_t tun_write_errors = 0;     // writes it refused (a packet, or a coalesced super-packet)
  size_t coalesced = 0;            // delivered packets that went in super-packets
  size_t coalesced_writes = 0;     // super-packets written
  size_t sent = 0;                 // datagrams the socket took (sealed or forwarded)
  size_t udp_send_failures = 0;    // datagrams it did not take (error or full buffer)
  size_t forwarded = 0;            // kForward datagrams handed on (socket or stream)
  size_t streamed = 0;             // datagrams a StreamSink took
  size_t stream_drops = 0;         // datagrams a StreamSink refused
  size_t consumed = 0;
  size_t control = 0;
  size_t dropped = 0;
  size_t reflected = 0;            // kReflect replies (a reset, an ICMP error) the tunnel took
  size_t contract_violations = 0;  // see above
  int last_errno = 0;              // of the latest tunnel or socket error
  std::optional<DropSample> unknown_peer, auth_failure;  // received: who sent the first such drop

  // The control thread has work: control messages, or datagrams in an outbox.
  bool wake() const { return control > 0 || streamed > 0; }
};

// The tunnel's offload side, and which protocols its device takes as
// super-packets (os/tun_offload.hpp, TunFeatures).
struct CoalescingTun {
  os::TunOffload* tun = nullptr;
  bool tcp = false;
  bool udp = false;
};

class VerdictDispatch {
 public:
  VerdictDispatch(os::TunQueue& tun, os::DatagramSocket& socket, StreamSink& streams,
                  std::optional<CoalescingTun> coalescing = std::nullopt);

  DispatchTally received(std::span<const RxSlot> batch);
  DispatchTally sealed(std::span<const TxSlot> batch);

 private:
  // Queues a datagram for the socket; sends the queue when it is full.
  // Sends `part` (which must lie inside `whole`, else a contract violation)
  // to `to`: UDP, or the TCP stream to.stream. False on the violation.
  bool pass_on(std::span<const std::byte> part, std::span<std::byte> whole, const Endpoint& to, DispatchTally& tally);
  void queue_udp(std::span<std::byte> datagram, const Endpoint& to, DispatchTally& tally);
  void send_udp(DispatchTally& tally);
  void to_stream(uint32_t stream, std::span<const std::byte> datagram, DispatchTally& tally);
  void deliver(std::span<const std::byte> inner, DispatchTally& tally);
  void reflect(std::span<const std::byte> reply, DispatchTally& tally);
  void write_coalesced(DispatchTally& tally);

  os::TunQueue& tun_;
  os::TunOffload* offload_ = nullptr;
  std::optional<offload::Coalescer> coalescer_;
  os::DatagramSocket& socket_;
  StreamSink& streams_;
  std::array<os::Datagram, os::DatagramSocket::kMaxBatch> out_{};
  size_t queued_ = 0;
};

}  // namespace cordon::daemon
