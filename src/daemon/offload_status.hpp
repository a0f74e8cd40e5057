// What `cordon status` shows of the offloads (docs/design.md, "Offloads"):
// the TUN device's features, the sockets' UDP GSO and GRO with their
// fallbacks, and the workers' splitting and coalescing counters, summed.
#pragma once

#include <span>

#include "daemon/status_json.hpp"
#include "daemon/workers.hpp"
#include "os/linux/tun.hpp"
#include "os/linux/udp.hpp"

namespace cordon::daemon {

OffloadStatus offload_status(bool enabled, const os::TunDevice& tun, std::span<const os::UdpSocket> sockets,
                             const WorkerPool& workers);

}  // namespace cordon::daemon
