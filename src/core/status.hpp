// A read-only view of the node for `cordon status` and metrics.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/drop_reason.hpp"
#include "core/filter/conntrack.hpp"
#include "core/keys/address_book.hpp"
#include "core/link/key_array.hpp"
#include "core/types.hpp"

namespace cordon {

// How traffic to a peer travels now (docs/protocol.md, "Rendezvous").
enum class PathKind : uint8_t { kNone, kDirect, kRelayed, kTcp };
std::string_view path_kind_name(PathKind kind);  // "none", "direct", "relayed", "tcp"

// What the registry says about a peer (docs/protocol.md, "Registry").
enum class Reachability : uint8_t { kUnknown, kReachable, kUnreachable };
std::string_view reachability_name(Reachability r);  // "unknown", "reachable", "unreachable"

// A link's key generations and rekey rounds.
struct RekeyStatusView {
  bool enabled = false;                  // a rekey session runs (the daemon gave the node randomness)
  bool key_master = false;
  uint32_t generation = 0;               // the one this host seals with
  std::string phase = "idle";            // idle | offered | answered | switching
  std::optional<int64_t> last_real_ns;   // the last completed round
  std::optional<int64_t> next_mono_ns;   // the key master's next round (monotonic clock)
  int64_t period_ns = 0;
  uint64_t done = 0, failed = 0, refused = 0;
  // Key arrays, data then control (link/key_array.hpp); none when off.
  std::optional<std::array<link::KeyArrayView, 2>> arrays;
};

// A site link's session (link/session.hpp).
struct SessionStatusView {
  std::string state;         // connecting | up | lost | shutdown | standby
  std::string reason;        // why it last went down: none | heartbeat_timeout | ...
  int64_t since_mono_ns = 0;  // when the state last changed (monotonic clock)
  std::optional<int64_t> next_try_mono_ns;  // a secondary's next recovery try
  int64_t retry_wait_ns = 0;  // the wait before that try
  bool initiator = false;     // this side connects (a secondary)
  int64_t heartbeat_ns = 0, fail_ns = 0;
  uint64_t losses = 0, tries = 0, heartbeats = 0;
};

struct PeerStatus {
  HostId id;
  std::string name;
  keys::Role role = keys::Role::kClient;
  PathKind path = PathKind::kNone;
  HostId via;  // kRelayed/kTcp: the coordinator carrying the traffic
  Reachability reachability = Reachability::kUnknown;
  int64_t last_status_real_ns = 0;  // when the registry's latest record about it arrived; 0: never
  std::optional<Endpoint> public_endpoint;  // from the record
  std::vector<Endpoint> local_endpoints;    // from the record
  crypto::Suite suite = crypto::Suite::kAes256Gcm;
  std::optional<Endpoint> endpoint;
  std::vector<Prefix> allowed_prefixes;
  std::optional<std::vector<Prefix>> reach;  // PeerConfig::reach
  int64_t last_rx_real_ns = 0;  // 0: never
  int64_t last_tx_real_ns = 0;
  uint64_t rx_bytes = 0, rx_packets = 0;  // inner bytes delivered to the tunnel
  uint64_t tx_bytes = 0, tx_packets = 0;  // inner bytes sent to the peer
  uint64_t keepalives_sent = 0, keepalives_received = 0;
  uint64_t roams = 0;  // times the endpoint moved
  uint64_t failovers = 0;  // times a direct path was given up for the relay
  uint64_t relayed_packets = 0;  // a coordinator: datagrams from this peer it relayed on
  std::array<uint64_t, kDropReasonCount> drops{};
  // Key generations (docs/protocol.md, "Rekey exchange").
  RekeyStatusView rekey;
  std::optional<SessionStatusView> session;
};

// A client a coordinator serves as registry.
struct RegisteredClient {
  HostId id;
  std::string name;
  Reachability state = Reachability::kUnknown;  // kUnknown: not heard from since start
  std::optional<Endpoint> public_endpoint;
  std::vector<Endpoint> local_endpoints;
  int64_t last_heard_real_ns = 0;
  bool tcp = false;  // reached over the TCP tunnel
  // The client's paths to its peers, as its last path report said
  // (docs/protocol.md, "Path reports").
  std::vector<std::pair<HostId, PathKind>> peer_paths;
};

// A route to another coordinator's client (docs/protocol.md, "Routing
// between coordinators").
struct RouteStatus {
  HostId host;
  HostId via;          // the neighbour coordinator
  HostId coordinator;  // the host's registry
  uint8_t metric = 0;
  Reachability state = Reachability::kUnknown;
};

struct RelayCounters {
  uint64_t packets = 0, bytes = 0;  // relayed datagrams forwarded, and their bytes
};

// The protected-traffic filter (docs/gateways.md): its ruleset, what each
// rule decided, and the connections it tracks.
struct FilterRuleStatus {
  std::string text;
  std::string origin;  // "central N" (the administrator's rule N) or "local"
  filter::Action action = filter::Action::kAllow;
  uint64_t hits = 0;   // packets it dropped, or connections it allowed
};
struct FilterStatus {
  uint64_t version = 0;  // rises each time a reload changes the rules
  std::vector<FilterRuleStatus> rules;
  size_t connections = 0;
  size_t capacity = 0;  // 0 until rules first exist
  std::vector<filter::Connection> tracked;  // up to kStatusConnections of them
};
constexpr size_t kStatusConnections = 64;

struct NodeStatus {
  HostId self;
  keys::Role role = keys::Role::kClient;
  HostId registry, rendezvous;              // a client's coordinators; 0 = none
  std::optional<Endpoint> public_endpoint;  // as the registry last saw it
  std::vector<Endpoint> local_endpoints;
  bool tcp = false;  // a client whose rendezvous coordinator is reached over the TCP tunnel
  std::vector<RegisteredClient> clients;  // a coordinator's registry
  std::vector<RouteStatus> routes;
  RelayCounters relay;
  std::vector<PeerStatus> peers;
  std::array<uint64_t, kDropReasonCount> drops{};  // drops not attributable to a peer
  uint64_t counter_floor = 0;                       // persisted nonce reservation, in counter units
  FilterStatus filter;
  // The control inbox (docs/architecture.md): messages workers queued that
  // the control thread has not taken yet, and how many it holds at most.
  size_t control_queued = 0, control_queue_limit = 0;
};

}  // namespace cordon
