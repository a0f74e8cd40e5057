// The status document the control socket returns to `cordon status`
// (control.hpp). One JSON object:
//
//   {"host": "0x0001000a", "interface": "cordon0", "listen_port": 51820,
//    "counter_floor": N, "time": UNIX_SECONDS,
//    "role": "client" | "coordinator",
//    "registry", "rendezvous": host ID or null (a client's coordinators),
//    "public_endpoint": as the registry last saw this host, or null,
//    "local_endpoints": [endpoint], "tcp": on the TCP tunnel (a client),
//    "tcp_port": the TCP tunnel port a coordinator listens on, or null,
//    "tcp_streams": TCP tunnel streams open now,
//    "tcp_tunnel": null, or while listening {"pending", "authenticated":
//        accepted streams now; "evicted": {"same_source", "oldest"},
//        "refused", "closed": {"no_first_datagram", "frame_timeout",
//        "write_stall", "idle"}: streams let go of since the start}
//        (docs/protocol.md, "Streams under flood"),
//    "peers": [{"id", "name", "endpoint" (or null), "suite", "allowed_prefixes",
//               "last_rx", "last_tx" (Unix seconds or null), "rx_bytes",
//               "rx_packets", "tx_bytes", "tx_packets", "keepalives_sent",
//               "keepalives_received", "roams", "failovers", "drops": {reason: count},
//               "role", "path": "none" | "direct" | "relayed" | "tcp",
//               "via": the relaying coordinator or null,
//               "reachability": "unknown" | "reachable" | "unreachable",
//               "last_status": when the registry last told (Unix s) or null,
//               "public_endpoint" (or null), "local_endpoints": [endpoint]}],
//    "clients": [{"id", "name", "state", "public_endpoint" (or null),
//                 "local_endpoints", "last_heard" (or null), "tcp"}],
//    "routes": [{"host", "via", "coordinator", "metric", "state"}],
//    "relay": {"packets", "bytes"},
//    "offloads": {"enabled": the `offloads` key,
//        "tun": {"vnet_header", "checksum", "tso", "uso"}: what the TUN
//            device granted (all false without offloads),
//        "udp": {"gso", "gro": in use now, "gso_messages", "gso_datagrams",
//            "gso_fallbacks", "gro_messages", "gro_datagrams"},
//        "split": {"super_packets", "segments", "drops",
//            "last_drop": a reason name or null},
//        "coalesced": {"packets", "writes"}}
//        (docs/design.md, "Offloads"),
//    "workers": {"lanes": the sockets are picked by lane (docs/design.md,
//        "Lanes"), "lanes_off": why not, or null,
//        "datagrams_in": [per worker], "packets_in": [per worker]}: what
//        each worker handed to the core from its socket and its TUN queue,
//    "drops": {reason: count},
//    "open": null without an [open] table, else the open-traffic firewall
//        (docs/firewall.md): {"table": table inet cordon is in place,
//        "error": why its counters could not be read, or null,
//        "counters": {"spoofed_protected", "spoofed_lan", "input_dropped",
//            "forward_dropped": {"packets", "bytes"}},
//        "rules": [{"number", "counter" ("open_rule_N"), "text",
//            "packets", "bytes"}]},
//    "control_queue": {"queued": control messages the workers queued that
//        the control thread has not taken yet, "limit": the most it holds
//        (beyond it they are dropped as control_backlog)}}
//
// "clients", "routes" and "relay" are a coordinator's (docs/protocol.md,
// "Registry", "Routing between coordinators", "Relayed datagrams"); a
// client has them empty. Fields are only ever added, so an older `cordon
// status` still reads the document. Drop maps hold only non-zero counters,
// keyed by the stable reason names of core/drop_reason.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/drop_reason.hpp"
#include "core/status.hpp"
#include "daemon/stream_slots.hpp"

namespace cordon::daemon {

// The offloads in force and what they did, summed over the workers and
// sockets (docs/design.md, "Offloads").
struct OffloadStatus {
  bool enabled = false;  // the config's `offloads`
  bool vnet_header = false, checksum = false, tso = false, uso = false;  // the TUN device
  bool gso = false, gro = false;  // UDP, on every socket
  uint64_t gso_messages = 0, gso_datagrams = 0, gso_fallbacks = 0, gro_messages = 0, gro_datagrams = 0;
  uint64_t super_packets = 0, segments = 0, split_drops = 0;
  std::string last_split_drop;  // empty: none
  uint64_t coalesced = 0, coalesced_writes = 0;
};

// The workers and how the traffic divides between them.
struct WorkersStatus {
  bool lanes = false;
  std::string lanes_off;  // empty: lanes are on, or one worker
  std::vector<uint64_t> datagrams_in, packets_in;  // per worker
};

// A named counter of table inet cordon; `text` is an open rule's, as
// written in [open].rules.
struct OpenCounter {
  std::string name;
  std::string origin;  // a rule's: "central 7" or "local"
  std::string text;
  uint64_t packets = 0, bytes = 0;
};

// The open-traffic firewall (open_firewall.hpp).
struct OpenStatus {
  bool enabled = false;  // the firewall is on (DaemonConfig::open_firewall)
  bool table = false;    // its counters were read
  std::string error;     // why not
  std::vector<OpenCounter> counters;  // spoofed_protected, spoofed_lan, input_dropped, forward_dropped
  std::vector<OpenCounter> rules;     // open_rule_1, ...
};

struct StatusContext {
  std::string interface;
  uint16_t listen_port = 0;  // the bound port (listen_port = 0 picks one)
  int64_t now_real_ns = 0;
  int64_t now_mono_ns = 0;  // with now_real_ns, dates the next rekey (0: not shown)
  uint16_t tcp_port = 0;   // the TCP tunnel listener's port; 0: none
  size_t tcp_streams = 0;  // open TCP tunnel streams
  TcpTunnelStats tcp_tunnel{};  // the listener's slots and evictions (tcp_port != 0)
  OffloadStatus offloads{};
  WorkersStatus workers{};
  OpenStatus open{};
};

nlohmann::json status_to_json(const NodeStatus& status, const StatusContext& context);

nlohmann::json drops_to_json(const std::array<uint64_t, kDropReasonCount>& drops);

}  // namespace cordon::daemon
