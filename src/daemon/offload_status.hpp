// What `cordon status` shows of the offloads (docs/design.md, "Offloads"):
// the TUN device's features, the sockets' UDP GSO and GRO with their
// fallbacks, and the workers' splitting and coalescing counters, summed;
// and how the traffic divides between the workers.
#pragma once

#include <span>

#include "daemon/status_json.hpp"
#include "daemon/workers.hpp"
#include "os/linux/tun.hpp"
#include "os/linux/udp.hpp"

namespace cordon::daemon {

OffloadStatus offload_status(bool enabled, const os::TunDevice& tun, std::span<const os::UdpSocket> sockets,
                             const WorkerPool& workers);

// `lanes` and `lanes_off` as the underlay reported them (underlay.hpp).
WorkersStatus workers_status(bool lanes, const std::string& lanes_off, const WorkerPool& workers);

}  // namespace cordon::daemon
