// FakeTransport: one UDP socket of a simulated host, bound on a SimNetwork.
//
// It plays the part the real UDP transport plays for the daemon: send() puts
// a datagram on the network, receive() hands back what the network has
// delivered, with the source the world sees (after any NAT) and the local
// endpoint it arrived at. Nothing moves until the network delivers it, so a
// simulation decides when datagrams arrive by advancing its ManualClock.
//
// Make one with SimNetwork::bind(); destroying it unbinds it, and datagrams
// that arrive afterwards are dropped as unroutable, like datagrams sent to a
// closed port.
//
// It is an os::DatagramSocket (os/datagram_socket.hpp), so the simulation
// host runs the production worker on it (daemon/workers.hpp): the batch
// receive copies each datagram into the worker's buffer and marks one
// longer than it `truncated`, as MSG_TRUNC does.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/types.hpp"
#include "os/datagram_socket.hpp"

namespace cordon::testing {

class SimNetwork;

struct Datagram {
  Endpoint from;  // as the receiver sees it
  Endpoint to;    // the receiving transport's local endpoint
  std::vector<std::byte> data;
};

class FakeTransport final : public os::DatagramSocket {
 public:
  ~FakeTransport();
  FakeTransport(const FakeTransport&) = delete;
  FakeTransport& operator=(const FakeTransport&) = delete;

  // The endpoint it is bound at, behind its NAT.
  const Endpoint& local() const { return local_; }

  void send(const Endpoint& to, ByteSpan datagram);
  // os::DatagramSocket, the worker's side: every datagram goes out.
  os::Result<size_t> receive(std::span<os::Datagram> batch) override;
  os::Result<size_t> send(std::span<const os::Datagram> batch) override;

  // The next delivered datagram, oldest first.
  std::optional<Datagram> receive();
  size_t pending() const { return inbox_.size(); }
  // Forgets everything queued (a socket closed by a crash).
  void clear() { inbox_.clear(); }

  uint64_t sent() const { return sent_; }
  uint64_t received() const { return received_; }

 private:
  friend class SimNetwork;
  FakeTransport(SimNetwork& network, Endpoint local) : network_(network), local_(local) {}
  void deliver(Datagram d);

  SimNetwork& network_;
  Endpoint local_;
  std::deque<Datagram> inbox_;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
};

}  // namespace cordon::testing
