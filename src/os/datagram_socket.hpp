// The underlay edge: a datagram socket that moves batches (docs/architecture.md,
// "Edges"). The daemon's implementation is os::UdpSocket (linux/udp.hpp),
// the simulations' is testing::FakeTransport; the data path (daemon/workers.hpp)
// sees only this interface, so the simulations run the production worker.
//
// Sizes. A receive buffer holds one whole datagram: the daemon sizes it
// receive_slot_size(mtu) (daemon/workers.hpp), an inner packet of the MTU
// plus the direct overhead plus a relay's extra bytes (docs/protocol.md,
// "Relayed datagrams"). A longer datagram is cut to the buffer and marked
// `truncated`; the caller drops and counts it. A datagram to send is
// data[0, length); length is clamped to data.size().
//
// Batches. receive() fills at most min(batch.size(), kMaxBatch) entries and
// never blocks. send() takes a batch of any size and returns how many went
// out, in order: k < batch.size() means batch[k] was not sent (the send
// buffer stayed full, or batch[k] failed and a call with batch.subspan(k)
// reports why). An error result means batch[0] failed and nothing was sent.
//
// Errors. Results carry the call's name and errno (os::SysError). A receive
// error is counted and the worker goes on; a send error costs only the
// datagram it names.
//
// Threads. One worker calls receive(); send() may be called by the worker
// and the control thread at once (the implementations keep no state
// between calls).
//
// Optional features (UDP GSO/GRO, ECN, the local address a datagram came
// to) will be separate small interfaces beside this one, not new methods
// here.
#pragma once

#include <cstddef>
#include <span>

#include "core/types.hpp"
#include "os/linux/result.hpp"  // os::Result, os::SysError: portable, no system header

namespace cordon::os {

// One datagram in a batch. For receive, `data` is the buffer to fill and
// `length`, `peer` and `truncated` are outputs; for send, data[0, length)
// goes to `peer`.
struct Datagram {
  std::span<std::byte> data;
  size_t length = 0;
  Endpoint peer;
  // Receive only: the datagram was longer than `data` and was cut to
  // data.size() bytes; the caller drops it.
  bool truncated = false;
};

class DatagramSocket {
 public:
  // The largest batch one receive() fills (recvmmsg's vector on Linux).
  static constexpr size_t kMaxBatch = 64;

  virtual ~DatagramSocket() = default;

  // Fills batch[0, k) and returns k; 0 when nothing is queued.
  virtual Result<size_t> receive(std::span<Datagram> batch) = 0;
  // Sends batch[0, k) and returns k (see "Batches" above).
  virtual Result<size_t> send(std::span<const Datagram> batch) = 0;

 protected:
  DatagramSocket() = default;
  DatagramSocket(const DatagramSocket&) = default;
  DatagramSocket& operator=(const DatagramSocket&) = default;
  DatagramSocket(DatagramSocket&&) = default;
  DatagramSocket& operator=(DatagramSocket&&) = default;
};

}  // namespace cordon::os
