// Two IPsec gateways (core/ipsec/gateway.hpp) in one process, joined by a
// wire that can lose, duplicate and reorder datagrams and put a NAT in
// front of one side, on a ManualClock (docs/design.md, practice 3). The IKE
// state machines run exactly as in the daemon; only the sockets are
// replaced. What each side installs and removes is kept for the test to
// compare.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <random>
#include <vector>

#include "core/ipsec/gateway.hpp"
#include "testing/manual_clock.hpp"

namespace cordon::testing {

struct IkeWire {
  int loss_percent = 0;       // each datagram is lost with this chance
  int duplicate_percent = 0;  // ... or delivered twice
  bool reorder = false;       // in-flight datagrams are delivered in random order
  // 0: each datagram takes one millisecond, delivered before any timer
  // fires. Otherwise each takes this long (plus up to as much again when
  // reordering), and timers fire meanwhile, so both ends can start an
  // exchange before either hears of the other's.
  int64_t latency_ns = 0;
  bool nat_in_front_of_a = false;  // A's address and port are rewritten (a NAPT)
  uint64_t seed = 1;
};

class IkePair {
 public:
  static constexpr const char* kAddressA = "192.0.2.1";
  static constexpr const char* kAddressB = "192.0.2.2";
  static constexpr const char* kNatAddress = "198.51.100.7";

  IkePair(ipsec::GatewayConfig a, ipsec::GatewayConfig b, IkeWire wire = {});

  ipsec::Gateway& a() { return *a_; }
  ipsec::Gateway& b() { return *b_; }
  ManualClock& clock() { return clock_; }
  ipsec::IkeEvents& events_a() { return events_a_; }
  ipsec::IkeEvents& events_b() { return events_b_; }

  // Starts both gateways (start_action = start connections initiate).
  void start();
  // Delivers in-flight datagrams and runs timers, moving the clock to each
  // next deadline, for `ns` of simulated time.
  void run_for(int64_t ns);
  // The same until `done()` holds; false if it never did within `limit_ns`.
  bool run_until(const std::function<bool()>& done, int64_t limit_ns);
  // Everything from now on is lost (a dead peer), or delivered again.
  void set_blocked(bool blocked) { blocked_ = blocked; }
  // Decides the fate of each datagram before the wire's own loss: how many
  // copies go out (0: lost, 2: duplicated). `message` is the IKE message
  // without the non-ESP marker.
  using Fault = std::function<int(bool from_a, std::span<const std::byte> message)>;
  void set_fault(Fault fault) { fault_ = std::move(fault); }
  // Sees (and may change) every random draw of one side after it is made,
  // for tests that need an order between nonces.
  using RandomHook = std::function<void(bool a, std::span<std::byte> drawn)>;
  void set_random_hook(RandomHook hook) { random_hook_ = std::move(hook); }

  // The CHILD_SAs each side has installed and not removed, by inbound SPI.
  const std::map<uint32_t, ipsec::ChildSaInstall>& children_a() const { return children_a_; }
  const std::map<uint32_t, ipsec::ChildSaInstall>& children_b() const { return children_b_; }
  // Every CHILD_SA of A has its mirror in B (SPIs swapped, A's outbound
  // keys are B's inbound ones and the other way round), and no more.
  bool children_paired() const;
  // Both sides' log lines, "A event detail" per line, for failure messages.
  std::string log_text() const;
  // Whether either side logged `event`.
  bool logged(std::string_view event) const;
  size_t datagrams_sent() const { return sent_; }
  // The largest UDP payload either side sent.
  size_t largest_datagram() const { return largest_; }
  // NAT keepalives (RFC 3948 section 4) delivered to B.
  size_t keepalives_to_b() const { return keepalives_to_b_; }
  // How many CHILD_SAs either side has removed (child_down) so far.
  size_t children_removed() const { return removed_; }

 private:
  struct InFlight {
    bool to_b = true;
    Endpoint from;  // as the receiver sees it
    Endpoint to;
    std::vector<std::byte> payload;
    int64_t due_ns = 0;  // with latency: when it arrives
  };
  void collect(bool from_a);
  void send(InFlight f, bool from_a);
  void deliver(InFlight d);
  void tick_both();
  // The in-flight datagram to deliver next, if one has arrived by now.
  std::optional<size_t> next_arrival();
  int64_t earliest_arrival() const;

  ManualClock clock_;
  std::mt19937_64 rng_;
  IkeWire wire_;
  std::unique_ptr<ipsec::Gateway> a_, b_;
  ipsec::IkeEvents events_a_, events_b_;
  std::vector<InFlight> flight_;
  std::map<uint32_t, ipsec::ChildSaInstall> children_a_, children_b_;
  std::map<uint16_t, uint16_t> nat_ports_;  // A's port -> its port on the NAT
  bool blocked_ = false;
  Fault fault_;
  RandomHook random_hook_;
  size_t removed_ = 0;
  size_t sent_ = 0;
  size_t largest_ = 0;
  size_t keepalives_to_b_ = 0;
};

}  // namespace cordon::testing
