// SimHost: one simulated Cordon host. It wraps a cordon::Node with what the
// daemon would give it: a tunnel device (FakeTun), a socket on the underlay
// (FakeTransport on a SimNetwork), a clock, and a disk that keeps the
// counter file across restarts (SimDisk), written and read by the daemon's
// own CounterKeeper (daemon/counter_keeper.hpp).
//
// step() does at the current instant what the daemon's loops would do:
//   1. finish a counter-floor write whose time has come (when writes take
//      time, SimHostOptions::floor_write_delay_ns);
//   2. call tick() if its deadline has come: send the datagrams it made,
//      persist the floor it asks for, and remember the next deadline;
//   3. run the production worker's send_batch (daemon/workers.hpp) until
//      the tunnel is empty: process_tun, then the verdict dispatcher;
//   4. run its receive_batch until the socket is empty: process_wire, the
//      dispatcher, and a tick() at once when control messages came.
// The workers run on the fakes through the edge interfaces (FakeTun is an
// os::TunQueue, FakeTransport an os::DatagramSocket), with a StreamOutbox,
// so a simulation exercises the daemon's data path, not a copy of it.
// The core gets exactly the room it may use: each inner packet sits at
// wire::kHeadroom in a slot with room for the MTU and wire::kTailroom, and
// in the sanitizer build the worker poisons the rest of each receive
// buffer (workers.hpp), so a core that writes outside that room is caught
// by ASan; the dispatcher counts a verdict outside its buffer in
// SimHostCounters::contract_violations.
//
// Lifecycle, as the daemon and the machine can end it:
//   start()    a new Node from the counter file on disk, as the daemon's
//              start reads it (CounterKeeper::open; none: floor 0), then tick()
//              at once: until its first floor is persisted a node refuses
//              to send (`nonce_reservation`).
//   stop()     graceful: a floor write in progress completes (the daemon
//              waits for its fsync), then the Node is destroyed.
//   kill()     kill -9: the Node and a floor write in progress are lost, and
//              so is everything queued in its socket.
//   restart()  stop() then start().
// While a host is down, datagrams that reach its socket are dropped.
//
// settle() and run_until() drive a set of hosts and their network: settle()
// moves everything that can move at the current instant; run_until()
// advances the clock from event to event (the next delivery or the next
// node deadline) and settles at each.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/node_config.hpp"
#include "core/types.hpp"
#include "daemon/counter_keeper.hpp"
#include "daemon/stream_outbox.hpp"
#include "daemon/workers.hpp"
#include "testing/fake_file_store.hpp"
#include "testing/fake_transport.hpp"
#include "testing/fake_tun.hpp"
#include "testing/manual_clock.hpp"
#include "testing/sim_network.hpp"

namespace cordon::testing {

// What survives a restart or a crash: only what was written to disk. The
// counter file in `files` is the truth a start reads; the fields beside it
// record the writes that put it there.
struct SimDisk {
  FakeFileStore files;
  std::optional<uint64_t> counter_floor;  // the floor the latest floor write stored
  uint64_t writes = 0;                    // floor writes
  // The receive floors the node last offered (TickResult), when
  // SimHostOptions::persist_receive_floors; stored at once.
  std::vector<ReceiveFloor> receive_floors;
  uint64_t receive_floor_writes = 0;
};

struct SimHostOptions {
  unsigned workers = 1;  // production workers, used in turn, one per node worker index
  size_t batch = 32;     // slots per batch step (at most os::DatagramSocket::kMaxBatch)
  // Sizes the workers' buffers as the daemon's mtu setting does (its
  // default): a longer inner packet is cut, a longer datagram dropped.
  unsigned mtu = 1420;
  // How long a counter-floor write takes to become durable (write + fsync).
  // 0: it is on disk before tick() returns to the loop. Above 0: it
  // completes at the first step() this much later, so a kill() in between
  // loses it, as kill -9 loses a write that was never fsynced. The node
  // keeps running meanwhile on the floor it already had confirmed.
  int64_t floor_write_delay_ns = 0;
  // Keep the receive floors the node offers, as the daemon does. Off, a
  // restarted node starts with empty replay windows.
  bool persist_receive_floors = true;
  // Seeds the per-start random value (NodeConfig::boot_random) each start draws.
  uint64_t seed = 1;
  // Gives the node randomness (NodeConfig::random, from a generator seeded
  // at each start), so that it rekeys its links (link/rekey.hpp). Off, as
  // before rekeying existed: every link stays on generation 0.
  bool rekey = false;
};

// One call of Node::tick.
struct TickRecord {
  Now now;
  size_t datagrams = 0;  // keepalives and other control datagrams
  std::optional<uint64_t> persist_counter_floor;
  int64_t next_deadline_mono_ns = 0;
  std::vector<TcpTarget> tcp_targets;  // the TCP tunnels the node wanted open (the sim has no TCP)
};

// Every verdict the host has seen, over all its Nodes' lives.
struct SimHostCounters {
  uint64_t starts = 0;
  uint64_t tun_read = 0;  // inner packets handed to process_tun
  uint64_t sent = 0;      // datagrams from process_tun put on the network
  std::array<uint64_t, kDropReasonCount> tx_drops{};
  uint64_t wire_received = 0;  // datagrams handed to process_wire
  uint64_t delivered = 0;      // inner packets written to the tunnel
  uint64_t consumed = 0;       // valid datagrams with nothing to deliver (keepalives)
  uint64_t forwarded = 0;      // relayed datagrams passed on (coordinators)
  uint64_t control = 0;        // control messages queued for tick()
  std::array<uint64_t, kDropReasonCount> rx_drops{};
  uint64_t tick_datagrams = 0;       // datagrams from tick() put on the network
  uint64_t floors_persisted = 0;     // counter_floor_persisted calls
  uint64_t floors_lost = 0;          // writes lost to kill()
  uint64_t received_while_down = 0;  // datagrams dropped because no node ran
  uint64_t past_deadlines = 0;       // tick() returned a deadline not in the future
  uint64_t contract_violations = 0;  // `wire` or `inner` outside the buffer handed in
  uint64_t truncated = 0;            // datagrams longer than the workers' buffers
  uint64_t start_errors = 0;         // starts the counter file refused (last_error())
  std::vector<RekeyLogEvent> rekey_events;  // every tick's, over all lives
  std::vector<SessionLogEvent> session_events;  // likewise
  std::vector<CourierMessage> courier;     // courier messages tick() handed out (docs/couriers.md)

  uint64_t tx_drop(DropReason r) const { return tx_drops[static_cast<size_t>(r)]; }
  uint64_t rx_drop(DropReason r) const { return rx_drops[static_cast<size_t>(r)]; }
};

class SimHost {
 public:
  // Binds `local` on `network` (behind `nat`, if any) and starts the node.
  SimHost(SimNetwork& network, const ManualClock& clock, NodeConfig config, const Endpoint& local,
          std::shared_ptr<NatModel> nat = nullptr, SimHostOptions options = {});
  ~SimHost();
  SimHost(const SimHost&) = delete;
  SimHost& operator=(const SimHost&) = delete;

  void start();
  void stop();
  void kill();
  void restart();
  bool running() const { return node_ != nullptr; }

  // The time this host's node sees: the shared clock, with this host's own
  // wall-clock offset (a host whose clock was set back, or skewed).
  Now now() const;
  void shift_real(int64_t delta_ns) { real_offset_ns_ += delta_ns; }
  void set_real_offset(int64_t offset_ns) { real_offset_ns_ = offset_ns; }
  int64_t real_offset_ns() const { return real_offset_ns_; }

  // One pass of the loops above. Returns how much it did (0: idle).
  size_t step();
  // Calls tick() now, deadline or not.
  void tick();
  // The node's next deadline, or a floor write's completion if sooner;
  // INT64_MAX when the host is down or has nothing scheduled.
  int64_t next_deadline_mono_ns() const;
  bool floor_write_pending() const { return pending_floor_.has_value(); }

  Node& node() { return *node_; }
  const Node& node() const { return *node_; }
  FakeTun& tun() { return tun_; }
  FakeTransport& transport() { return *transport_; }
  SimDisk& disk() { return disk_; }
  const SimDisk& disk() const { return disk_; }
  const SimHostCounters& counters() const { return counters_; }
  // Why the latest start() did not start a node (the counter file refused it).
  const std::string& last_error() const { return last_error_; }
  std::string counter_path() const;
  const std::vector<TickRecord>& ticks() const { return ticks_; }
  const NodeConfig& config() const { return config_; }
  HostId id() const { return config_.self; }

  // The node's view of one peer; nullopt if the host is down or has no such
  // peer.
  std::optional<PeerStatus> peer_status(HostId peer) const;

 private:
  void run_tick(const Now& now);
  void persist_floor(uint64_t floor);
  void complete_floor_write();
  size_t pump_tun(const Now& now);
  size_t pump_wire(const Now& now);
  daemon::Worker& next_worker();
  // What the daemon's control thread does with the outbox when a worker
  // wakes it: take it (the simulation has no TCP streams to write it to).
  void take_outbox(const daemon::BatchReport& report);

  const ManualClock& clock_;
  NodeConfig config_;
  SimHostOptions options_;
  std::unique_ptr<FakeTransport> transport_;
  FakeTun tun_;
  SimDisk disk_;
  std::optional<daemon::CounterKeeper> keeper_;  // while the node runs, as in the daemon
  std::string last_error_;
  std::unique_ptr<Node> node_;
  daemon::StreamOutbox outbox_;
  daemon::StreamOutbox::Batch outbox_batch_;
  std::vector<std::unique_ptr<daemon::Worker>> workers_;  // while the node runs
  std::optional<uint64_t> pending_floor_;
  int64_t pending_floor_due_ = 0;
  int64_t next_deadline_ = std::numeric_limits<int64_t>::max();
  int64_t real_offset_ns_ = 0;
  unsigned worker_ = 0;
  SimHostCounters counters_;
  std::vector<TickRecord> ticks_;
  std::mt19937_64 boot_rng_;
};

// Moves everything that can move at the clock's current instant: due
// datagrams, then each host's step, until nothing changes. Returns false if
// it had to give up (a loop that never went idle), which a test should
// treat as a failure.
bool settle(SimNetwork& network, const std::vector<SimHost*>& hosts);

// Advances `clock` from event to event until `until_mono_ns`, settling at
// each. Returns false if a settle gave up.
bool run_until(ManualClock& clock, SimNetwork& network, const std::vector<SimHost*>& hosts, int64_t until_mono_ns);

inline bool run_for(ManualClock& clock, SimNetwork& network, const std::vector<SimHost*>& hosts, int64_t duration_ns) {
  return run_until(clock, network, hosts, clock.mono_ns() + duration_ns);
}

}  // namespace cordon::testing
