// The status document the control socket returns to `cordon status`
// (control.hpp). One JSON object:
//
//   {"host": "0x0001000a", "interface": "cordon0", "listen_port": 51820,
//    "counter_floor": N, "time": UNIX_SECONDS,
//    "peers": [{"id", "name", "endpoint" (or null), "suite", "allowed_prefixes",
//               "last_rx", "last_tx" (Unix seconds or null), "rx_bytes",
//               "rx_packets", "tx_bytes", "tx_packets", "keepalives_sent",
//               "keepalives_received", "roams", "drops": {reason: count}}],
//    "drops": {reason: count}}
//
// Drop maps hold only non-zero counters, keyed by the stable reason names of
// core/drop_reason.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/drop_reason.hpp"
#include "core/status.hpp"

namespace cordon::daemon {

struct StatusContext {
  std::string interface;
  uint16_t listen_port = 0;  // the bound port (listen_port = 0 picks one)
  int64_t now_real_ns = 0;
};

nlohmann::json status_to_json(const NodeStatus& status, const StatusContext& context);

nlohmann::json drops_to_json(const std::array<uint64_t, kDropReasonCount>& drops);

}  // namespace cordon::daemon
