// The courier service (docs/couriers.md): store and forward of the
// administrator's update packages, the hosts' receipts and the couriers'
// notices, over courier messages (message.hpp) on Cordon links.
//
// One Courier runs on every host, in the daemon's control thread. What it
// is on a host follows from its configuration: the administration host
// hands it packages (submit) and keeps the receipts and notices it gets
// back; a coordinator forwards and holds; every host applies the packages
// addressed to it. The core performs no I/O: the Environment stores items
// durably, sends messages and applies packages, and time comes in as
// arguments.
//
// Delivery is at least once on every hop, and exactly once where it
// counts: a hop deletes an item only after the next hop said it stored it
// (or, for the host it is for, handled it), and a host applies a version
// only when it is newer than what it has (keys/update_package.hpp), so a
// repeat is answered "already applied" and changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/courier/item.hpp"
#include "core/courier/message.hpp"
#include "core/types.hpp"

namespace cordon::courier {

// Tunables (docs/couriers.md, "Transport").
constexpr size_t kWindowSegments = 16;                    // segments in flight per transfer
constexpr size_t kMaxTransfersPerPeer = 4;                 // outgoing, per next hop
constexpr size_t kMaxIncomingPerPeer = 8;                  // partial items held per sending peer
constexpr size_t kMaxIncomingBytes = 128u * 1024 * 1024;   // all partial items together
constexpr size_t kMaxClientItem = 4096;                    // what a client may send: its receipts
constexpr size_t kMaxAhead = 4 * kWindowSegments;          // segments held past a gap, per transfer
constexpr unsigned kDuplicateAcks = 3;                      // then the first missing segment goes again
constexpr int64_t kInitialRtoNs = 300 * kNsPerMs;
constexpr int64_t kMaxRtoNs = 5 * kNsPerSecond;
constexpr int64_t kStallNs = 60 * kNsPerSecond;            // no progress: the transfer is given up
constexpr int64_t kMaxBackoffNs = 30 * kNsPerSecond;
constexpr int64_t kHelloIntervalNs = 20 * kNsPerSecond;
constexpr int64_t kHelloFreshNs = 75 * kNsPerSecond;        // a client heard this recently is sent to
constexpr int64_t kDoneMemoryNs = 120 * kNsPerSecond;       // final acks repeated for late segments
constexpr uint64_t kDefaultSpoolHostLimit = 64u * 1024 * 1024;

struct CourierConfig {
  HostId self;
  bool coordinator = false;
  std::optional<HostId> own_courier;    // a client's courier
  std::optional<HostId> admin_host;     // key-set network setting 2
  std::optional<HostId> admin_courier;  // setting 3
  std::vector<HostId> peers;            // every host this host is linked with
  std::vector<HostId> coordinators;     // the peers that are coordinators
  std::vector<HostId> served;           // the clients whose courier this host is
  uint64_t installed = 0;               // this host's key-set version
  uint64_t spool_host_limit = kDefaultSpoolHostLimit;
};

// What applying a package on this host gave (Environment::apply).
struct Applied {
  // The sealed receipt (item.hpp) to send to the administration host;
  // nullopt when none can be made.
  std::optional<std::vector<std::byte>> receipt;
  uint64_t installed = 0;  // the key-set version installed now
  // The daemon could not handle it now (a disk error): the courier keeps
  // the package and tries again later.
  bool retry = false;
};

class Environment {
 public:
  virtual ~Environment() = default;
  // Stores an encoded item durably (flushed) under `id`, replacing nothing.
  // False when it could not: the item is refused (`storage_failed`).
  virtual bool store(uint64_t id, std::span<const std::byte> encoded) = 0;
  virtual void erase(uint64_t id) = 0;
  // One courier message to `peer`. False when the link has no path now.
  virtual bool send(HostId peer, std::span<const std::byte> message) = 0;
  // Applies a package addressed to this host (verify, store the key set,
  // adopt it live) and seals the receipt.
  virtual Applied apply(const Item& package) = 0;
};

// Counters for `cordon status` and the log.
struct CourierCounters {
  uint64_t items_stored = 0;       // taken into the spool
  uint64_t items_forwarded = 0;    // the next hop stored them
  uint64_t packages_applied = 0;   // packages for this host handled (applied or not)
  uint64_t superseded = 0;         // dropped for a newer one, or one the host confirmed
  uint64_t duplicates = 0;         // an item this hop already held or passed on
  uint64_t refused_in = 0;         // items this host refused
  uint64_t refused_out = 0;        // items the next hop refused
  uint64_t segments_sent = 0;
  uint64_t segments_resent = 0;
  uint64_t bad_messages = 0;       // malformed courier messages
  uint64_t stalled = 0;            // transfers given up for want of progress
  std::map<std::string, uint64_t> refusals;  // refused_in by reason name
};

struct HeldItem {
  uint64_t id = 0;
  ItemKind kind = ItemKind::kPackage;
  HostId dest, via, subject;
  uint64_t version = 0;
  bool urgent = false;
  bool new_host_key = false;
  size_t bytes = 0;
  std::optional<HostId> next_hop;  // nullopt: kept here (this host's inbox), or no route
  bool inbox = false;              // a receipt or notice for this host (the administration host)
  bool sending = false;            // a transfer is under way
};

struct CourierStatus {
  std::vector<HeldItem> items;
  size_t incoming = 0;  // partial items being received
  CourierCounters counters;
};

class Courier {
 public:
  // `loaded`: the spool's items (id, encoded), read back at start; ones
  // that do not parse are the caller's to set aside (they never get here:
  // the spool reader checks them with parse_item).
  Courier(CourierConfig config, Environment& env, uint64_t boot_random,
          std::vector<std::pair<uint64_t, std::vector<std::byte>>> loaded, int64_t now_ns);

  // A new configuration (a reload): routes are worked out again.
  void reconfigure(CourierConfig config, int64_t now_ns);

  // The administration host: a package from `cordon admin updates send`.
  // Stored before it returns; an error names the reason.
  Result<Ok, std::string> submit(Item item, int64_t now_ns);

  // A coordinator: its status report (status_report.hpp), sealed, made at
  // `time_ms` (Unix milliseconds), for the administration host. Replaces
  // the report held before. False when the key set names no
  // administration host or the spool cannot store it.
  bool report_status(std::vector<std::byte> payload, uint64_t time_ms, int64_t now_ns);

  // A courier message from an authenticated peer.
  void receive(HostId from, std::span<const std::byte> message, int64_t now_ns);

  // Timers: hellos, transfers, retries. Returns the next deadline.
  int64_t tick(int64_t now_ns);

  CourierStatus status() const;
  // The encoded items kept for this host: receipts and notices on the
  // administration host (docs/couriers.md, "Control commands").
  std::vector<std::pair<HeldItem, std::vector<std::byte>>> inbox() const;
  const CourierConfig& config() const { return config_; }

 private:
  struct Held {
    HeldItem meta;
    std::vector<std::byte> encoded;
    uint64_t seq = 0;  // order of arrival, after urgency
  };
  struct Outgoing {
    HostId peer;
    uint64_t item = 0;
    uint32_t total = 0;
    uint32_t acked = 0;
    uint32_t sent = 0;
    int64_t rto_ns = kInitialRtoNs;
    int64_t resend_at = 0;
    int64_t progress_at = 0;
    unsigned duplicate_acks = 0;
  };
  struct Incoming {
    std::vector<std::byte> data;
    uint32_t received = 0;                 // the contiguous prefix held
    std::map<uint32_t, uint32_t> ahead;    // segments past it: offset -> length
    int64_t seen_at = 0;
  };
  struct Done {
    Ack ack;
    int64_t at = 0;
  };
  struct PeerState {
    int64_t hello_at = 0;      // 0: no hello since this start
    std::optional<uint64_t> installed;
    int64_t backoff_ns = 0;
    int64_t retry_at = 0;
  };
  using TransferKey = std::pair<uint32_t, uint64_t>;  // (peer host ID, transfer number)

  // Routing (docs/couriers.md, "The path of an update").
  bool linked(HostId peer) const;
  bool is_coordinator(HostId peer) const;
  bool serves(HostId client) const;
  std::optional<HostId> next_hop(const HeldItem& item) const;
  void route_all();

  // Taking an item in (courier.cpp).
  Refusal accept(HostId from, const Item& item, int64_t now_ns);
  Refusal admit(HostId from, const Item& item) const;
  Refusal hold(Item item, int64_t now_ns);
  Refusal deliver_here(const Item& package, int64_t now_ns);
  bool supersedes_nothing(const Item& item) const;
  void drop_superseded(const Item& item);
  void drop_confirmed(HostId host, uint64_t version);
  Item to_admin(ItemKind kind, const Item& package, HostId subject, std::vector<std::byte> payload) const;
  void erase(uint64_t id);
  void notify(const Item& package, HostId courier, Notice::State state, Refusal reason, int64_t now_ns);

  // Transfers (courier_transfer.cpp).
  void on_segment(HostId from, const Segment& segment, int64_t now_ns);
  void on_ack(HostId from, const Ack& ack, int64_t now_ns);
  void on_hello(HostId from, const Hello& hello, int64_t now_ns);
  void answer(HostId to, const Ack& ack);
  bool peer_ready(HostId peer, const PeerState& state, int64_t now_ns) const;
  void start_transfers(int64_t now_ns);
  void pump(uint64_t transfer, Outgoing& out, int64_t now_ns);
  bool resend_first(uint64_t transfer, Outgoing& out, int64_t now_ns);
  void back_off(HostId peer, int64_t now_ns);
  void end_transfers_of(uint64_t item);
  bool in_transfer(uint64_t item) const;
  int64_t run_transfers(int64_t now_ns);

  CourierConfig config_;
  Environment& env_;
  uint64_t boot_random_ = 0;
  uint64_t next_transfer_ = 0;
  uint64_t next_id_ = 1;
  uint64_t next_seq_ = 0;
  std::map<uint64_t, Held> items_;
  std::map<uint64_t, Outgoing> out_;             // by transfer number
  std::map<TransferKey, Incoming> in_;
  std::map<TransferKey, Done> done_;
  std::map<uint32_t, PeerState> peers_;          // by host ID
  size_t incoming_bytes_ = 0;
  int64_t next_hello_ns_ = 0;
  CourierCounters counters_;
};

}  // namespace cordon::courier
