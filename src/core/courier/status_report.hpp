// A coordinator's status report: its registry's view of the network, sent
// to the administration host as a courier item of kind 4 (item.hpp;
// docs/couriers.md, "Status reports"; docs/administration.md, "Live
// status"). `cordon admin status` and the console read the newest one of
// each coordinator.
//
// Encoding (big-endian), the item's payload:
//
//   coordinator 4 | time 8 | relay packets 8 | relay bytes 8 |
//   drops 1 | (reason 1 | count 8) * drops |
//   links 2 | (host 4 | state 1 | path 1) * links |
//   clients 4 | client * clients |
//   tag 32
//
//   client:  host 4 | state 1 | transport 1 | last heard 8 |
//            relayed packets 8 | endpoint | peers 2 | (host 4 | path 1) * peers
//   endpoint: family 1 (0 none, 4, 6) | address 4 or 16 | port 2
//
//   time        Unix seconds at the coordinator when it made the report
//   drops       its node-wide drop counters that are not zero, by
//               DropReason value (drop_reason.hpp)
//   links       its links with other coordinators: registry state and path
//   state       Reachability (status.hpp): 0 unknown, 1 reachable, 2 unreachable
//   path        PathKind (status.hpp): 0 none, 1 direct, 2 relayed, 3 tcp
//   transport   how the client reaches this coordinator: 0 udp, 1 tcp
//   last heard  Unix seconds of the client's last status report; 0 never
//   relayed     datagrams from the client this coordinator relayed on
//   peers       the client's paths to its own peers, as it last told this
//               coordinator (wire PathReport)
//   tag         HMAC-SHA256 (RFC 2104) over every byte before it, under
//               HKDF-SHA256 (RFC 5869) of the coordinator's host key with
//               info "cordon courier status" || coordinator 4: a courier
//               on the way cannot forge or alter another's report
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/status.hpp"
#include "core/types.hpp"

namespace cordon::courier {

// Bounds that keep a report's parse cheap (a forged length cannot make the
// parser reserve memory beyond the input anyway).
constexpr size_t kMaxReportLinks = 65535;
constexpr size_t kMaxReportPeers = 65535;
constexpr size_t kMaxReportClients = 1u << 20;

struct PeerPath {
  HostId host;
  PathKind path = PathKind::kNone;
  friend bool operator==(const PeerPath&, const PeerPath&) = default;
};

struct CoordinatorLink {
  HostId host;
  Reachability state = Reachability::kUnknown;
  PathKind path = PathKind::kNone;
  friend bool operator==(const CoordinatorLink&, const CoordinatorLink&) = default;
};

struct ClientState {
  HostId host;
  Reachability state = Reachability::kUnknown;
  bool tcp = false;
  int64_t last_heard_s = 0;  // 0: never
  uint64_t relayed_packets = 0;
  std::optional<Endpoint> public_endpoint;  // UDP only: stream is 0
  std::vector<PeerPath> peers;
  friend bool operator==(const ClientState&, const ClientState&) = default;
};

struct StatusReport {
  HostId coordinator;
  int64_t time_s = 0;
  uint64_t relay_packets = 0, relay_bytes = 0;
  std::vector<std::pair<DropReason, uint64_t>> drops;
  std::vector<CoordinatorLink> links;
  std::vector<ClientState> clients;
  friend bool operator==(const StatusReport&, const StatusReport&) = default;
};

// A coordinator's report from its node status (core/status.hpp), made at
// `real_ns` (Unix nanoseconds). Clients in host ID order.
StatusReport report_of(const NodeStatus& status, int64_t real_ns);
// True when `a` and `b` say the same about reachability and paths (times
// and counters aside): a report that differs so from the last one sent
// goes at once rather than at the next period.
bool same_state(const StatusReport& a, const StatusReport& b);

// The report, tagged under `host_key` (the coordinator's, 32 bytes).
// nullopt when a list is longer than its bound, a host ID is 0, or HMAC or
// HKDF fails.
std::optional<std::vector<std::byte>> seal_status_report(const StatusReport& report,
                                                          const crypto::SecretBytes& host_key);
// Parses and checks the tag in constant time: nullopt when malformed,
// forged, or tagged under another key.
std::optional<StatusReport> verify_status_report(std::span<const std::byte> payload,
                                                 const crypto::SecretBytes& host_key);
// The coordinator a report claims to come from, without verifying it (to
// pick the key, and for couriers to check the item's subject); nullopt when
// malformed.
std::optional<HostId> status_report_host(std::span<const std::byte> payload);

}  // namespace cordon::courier
