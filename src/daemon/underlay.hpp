// The underlay: one UDP socket per worker on listen_address:listen_port,
// bound with SO_REUSEPORT so the kernel spreads peers across workers.
#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "os/linux/udp.hpp"

namespace cordon::daemon {

struct Underlay {
  std::vector<os::UdpSocket> sockets;  // `count` of them
  uint16_t port = 0;                   // the bound port (listen_port 0 picks one)
};
// Or an error ready to print.
using UnderlayResult = cordon::Result<Underlay, std::string>;

// `config_path` only appears in the "port already in use" message.
UnderlayResult open_underlay(const IpAddress& address, uint16_t port, unsigned count,
                             const std::string& config_path);

}  // namespace cordon::daemon
