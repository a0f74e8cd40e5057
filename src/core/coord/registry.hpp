// The coordinator's part of the mesh (docs/protocol.md, "Registry" and
// "Routing between coordinators"): the registry of served clients, the
// exchange of host records with linked coordinators, and the relay routes
// workers use.
//
// Timers (defaults and sources in docs/protocol.md, "Timers"): poll period
// (5 min 30 s, MeshConfig), coordinator exchange (15 min, MeshConfig),
// route lifetime (35 min), report request (at most every 5 s per client).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/coord/role.hpp"
#include "core/coord/routes.hpp"

namespace cordon::coord {

constexpr int64_t kRouteLifetimeNs = 35 * 60 * kNsPerSecond;
constexpr int64_t kReportRequestGapNs = 5 * kNsPerSecond;

class Registry final : public Role {
 public:
  explicit Registry(NodeLink& link) : link_(link) {}

  void configure(const Snapshot& s, const Now& now) override;
  void probed(const Snapshot& s, const InboxItem& item, const Now& now) override;
  void handle(const Snapshot& s, const InboxItem& item, const Now& now) override;
  int64_t tick(const Snapshot& s, const Now& now, TickResult& out) override;
  void stream_closed(const Snapshot& s, uint32_t stream) override;

  void fill_status(const Snapshot& s, NodeStatus& out) const;
  void fill_peer_status(const PeerEntry& e, PeerStatus& out) const;

 private:
  struct ClientEntry {
    Reachability state = Reachability::kUnknown;
    bool reported = false;  // a status report arrived since this coordinator started
    std::optional<Endpoint> public_endpoint;
    std::vector<Endpoint> local;
    int64_t last_heard_mono_ns = 0;
    int64_t last_heard_real_ns = 0;
    int64_t last_request_mono_ns = 0;
    std::vector<std::pair<HostId, PathKind>> peer_paths;  // its last path report
  };
  void take_report(const Snapshot& s, const InboxItem& item, const wire::StatusReport& m, const Now& now);
  void take_records(const Snapshot& s, const InboxItem& item, const wire::HostRecords& m, const Now& now);
  std::optional<wire::HostRecord> own_record(const Snapshot& s, HostId client, const Now& now) const;
  std::optional<wire::HostRecord> known_record(const Snapshot& s, HostId host, const Now& now) const;
  void announce(const Snapshot& s, const Now& now, const std::vector<HostId>& hosts, HostId except_neighbor);
  void send_records(const Snapshot& s, const Now& now, HostId to, const std::vector<wire::HostRecord>& records);
  RelayRoutes::Change relay_route(HostId host) const;
  void publish_all_relay_routes();
  void publish_changed_relay_routes();
  void send_table(const Snapshot& s, const Now& now, HostId neighbor);
  void tell_new_links(const Snapshot& s, const Now& now,
                      const std::unordered_map<uint32_t, std::vector<HostId>>& before);
  std::vector<HostId> neighbors(const Snapshot& s) const;
  void sweep_clients(const Snapshot& s, const Now& now);

  std::map<uint32_t, ClientEntry> clients_;                      // served clients
  std::unordered_map<uint32_t, std::vector<HostId>> linked_to_;  // host -> served clients linked with it
  std::unordered_map<uint32_t, std::vector<HostId>> links_of_;   // served client -> its linked hosts
  RouteTable routes_;
  int64_t started_mono_ns_ = 0;
  int64_t next_exchange_mono_ns_ = 0;
  int64_t next_sweep_mono_ns_ = 0;  // the next sweep_clients
  std::vector<HostId> changed_routes_;  // hosts whose best route changed: tick publishes them
  bool ask_neighbors_ = true;  // at start: ask every neighbour for its table
  NodeLink& link_;
};

}  // namespace cordon::coord
