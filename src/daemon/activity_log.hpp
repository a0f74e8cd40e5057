// What the operator sees in the log without asking: peers that come up or
// move, drops by reason (for `unknown_peer` and `auth_failure` also who sent
// one of them and the likely causes, drop_sample.hpp), and the errors
// workers count instead of logging per packet. The control thread compares status snapshots every
// kActivityIntervalNs and logs only what changed, so a flood of bad packets
// costs one line per interval, not one per packet.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "core/status.hpp"
#include "daemon/status_json.hpp"
#include "daemon/workers.hpp"

namespace cordon::daemon {

constexpr int64_t kActivityIntervalNs = 10 * kNsPerSecond;

class ActivityLog {
 public:
  // Takes the workers' drop samples.
  void report(const NodeStatus& status, WorkerPool& workers, const OffloadStatus& offloads);
  // One line after `cordon up:`: the offloads the kernel granted.
  void started(const OffloadStatus& offloads);

 private:
  struct PeerSeen {
    std::optional<Endpoint> endpoint;
    bool heard = false;
    std::array<uint64_t, kDropReasonCount> drops{};
  };
  std::map<uint32_t, PeerSeen> peers_;
  std::array<uint64_t, kDropReasonCount> node_drops_{};
  struct WorkerSeen {
    uint64_t truncated = 0, tun_write_errors = 0, udp_receive_errors = 0, udp_send_failures = 0, stream_drops = 0;
  };
  std::map<size_t, WorkerSeen> workers_;
  OffloadStatus offloads_;
  void report_offloads(const OffloadStatus& now);
};

}  // namespace cordon::daemon
