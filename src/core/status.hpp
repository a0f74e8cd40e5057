// A read-only view of the node for `cordon status` and metrics.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/drop_reason.hpp"
#include "core/types.hpp"

namespace cordon {

struct PeerStatus {
  HostId id;
  std::string name;
  crypto::Suite suite = crypto::Suite::kAes256Gcm;
  std::optional<Endpoint> endpoint;
  std::vector<Prefix> allowed_prefixes;
  int64_t last_rx_real_ns = 0;  // 0: never
  int64_t last_tx_real_ns = 0;
  uint64_t rx_bytes = 0, rx_packets = 0;  // inner bytes delivered to the tunnel
  uint64_t tx_bytes = 0, tx_packets = 0;  // inner bytes sent to the peer
  uint64_t keepalives_sent = 0, keepalives_received = 0;
  uint64_t roams = 0;  // times the endpoint moved
  std::array<uint64_t, kDropReasonCount> drops{};
};

struct NodeStatus {
  HostId self;
  std::vector<PeerStatus> peers;
  std::array<uint64_t, kDropReasonCount> drops{};  // drops not attributable to a peer
  uint64_t counter_floor = 0;                       // persisted nonce reservation, in counter units
};

}  // namespace cordon
