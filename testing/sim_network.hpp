// SimNetwork: an underlay inside one process (docs/design.md, practice 3;
// Nebula's e2e router). Transports bound on it exchange datagrams through
// NAT models (testing/nat_model.hpp), with per-link loss, duplication,
// reordering and latency, on the time of a ManualClock.
//
// Determinism: every random choice comes from one generator seeded at
// construction, and datagrams due at the same instant are delivered in the
// order they were sent; the same seed and the same calls give the same run.
//
// How a datagram travels:
//   1. send: the sender's NAT translates the source (outbound); the tap sees
//      the datagram as an on-path observer would; the link's conditions
//      decide whether it is lost, duplicated or held back, and when it is
//      due.
//   2. deliver_due(): for each datagram whose time has come, the NAT that
//      serves the destination translates it (inbound) and the transport
//      bound there receives it. Nobody there: counted as unroutable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "core/types.hpp"
#include "testing/fake_transport.hpp"
#include "testing/manual_clock.hpp"
#include "testing/nat_model.hpp"

namespace cordon::testing {

struct LinkConditions {
  double loss_percent = 0;       // datagrams dropped
  double duplicate_percent = 0;  // datagrams delivered twice (the copy has its own delay)
  double reorder_percent = 0;    // datagrams held back, so later ones overtake them
  int64_t latency_ns = 0;        // one-way delay of every datagram
  int64_t jitter_ns = 0;         // plus a delay uniform in [0, jitter_ns]
  int64_t hold_ns = 5 * kNsPerMs;  // a held datagram waits a further (0, hold_ns]
};

struct SimNetworkStats {
  uint64_t sent = 0;         // datagrams handed to the network by transports
  uint64_t injected = 0;     // datagrams put on the wire by inject()
  uint64_t delivered = 0;    // datagrams received by a transport, copies included
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t held = 0;         // held back for reordering
  uint64_t unroutable = 0;   // no transport at the destination when due
  uint64_t nat_dropped = 0;  // refused by a NAT, either way
};

// What an on-path observer sees of one datagram. `data` is valid only
// during the tap call.
struct CapturedDatagram {
  int64_t mono_ns = 0;
  Endpoint from;  // public source, after the sender's NAT
  Endpoint to;
  ByteSpan data;
  const FakeTransport* sender = nullptr;
};

class SimNetwork {
 public:
  SimNetwork(const ManualClock& clock, uint64_t seed);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Binds a transport at `local` behind `nat`; without one, the host is on
  // the public underlay. The network must outlive the transport. Binding
  // the same endpoint twice behind the same NAT throws std::invalid_argument
  // (a broken test setup, not a network event).
  std::unique_ptr<FakeTransport> bind(const Endpoint& local, std::shared_ptr<NatModel> nat = nullptr);

  // Conditions of the datagrams a transport bound at `from_local` sends to
  // the address `to` (the destination as addressed, before any NAT). A pair
  // without its own conditions uses the defaults.
  void set_default_conditions(const LinkConditions& c) { default_conditions_ = c; }
  void set_link_conditions(const Endpoint& from_local, const IpAddress& to, const LinkConditions& c);

  // Called for every datagram a transport sends, before the link's
  // conditions apply (lost datagrams are seen too).
  void set_tap(std::function<void(const CapturedDatagram&)> tap) { tap_ = std::move(tap); }

  // An attacker on the path puts `data` on the wire with a forged source,
  // due now, with no loss and no NAT on the sending side.
  void inject(const Endpoint& from, const Endpoint& to, ByteSpan data);

  // Delivers every datagram due at the clock's current time. Returns how
  // many reached a transport.
  size_t deliver_due();
  // When the next datagram is due, if any is in flight.
  std::optional<int64_t> next_delivery_mono_ns() const;
  size_t in_flight() const { return queue_.size(); }

  const SimNetworkStats& stats() const { return stats_; }
  const ManualClock& clock() const { return clock_; }

 private:
  friend class FakeTransport;

  struct Binding {
    FakeTransport* transport;
    Endpoint local;
    std::shared_ptr<NatModel> nat;
  };
  struct InFlight {
    int64_t due_mono_ns;
    uint64_t order;  // send order breaks ties: same instant, first sent first
    Endpoint from;
    Endpoint to;
    std::vector<std::byte> data;
  };
  struct Later {
    bool operator()(const InFlight& a, const InFlight& b) const {
      return std::pair(a.due_mono_ns, a.order) > std::pair(b.due_mono_ns, b.order);
    }
  };

  void send(FakeTransport& from, const Endpoint& to, ByteSpan data);
  void unbind(FakeTransport* transport);
  const Binding* binding_of(const FakeTransport* transport) const;
  const LinkConditions& conditions(const Endpoint& from_local, const IpAddress& to) const;
  void enqueue(const Endpoint& from, const Endpoint& to, ByteSpan data, int64_t delay_ns);
  int64_t delay(const LinkConditions& c);
  bool chance(double percent);
  int64_t uniform(int64_t max_inclusive);  // in [0, max_inclusive]

  const ManualClock& clock_;
  std::mt19937_64 rng_;
  std::shared_ptr<PassThroughNat> public_;
  std::vector<Binding> bindings_;
  LinkConditions default_conditions_;
  std::vector<std::tuple<Endpoint, IpAddress, LinkConditions>> link_conditions_;
  std::vector<InFlight> queue_;  // a heap ordered by Later: the earliest on top
  uint64_t next_order_ = 0;
  std::function<void(const CapturedDatagram&)> tap_;
  SimNetworkStats stats_;
};

}  // namespace cordon::testing
