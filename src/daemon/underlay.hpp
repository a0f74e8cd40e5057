// The underlay: one UDP socket per worker on listen_address:listen_port,
// bound with SO_REUSEPORT. With 2 to 4 workers the group picks the socket
// by the datagram's lane (docs/design.md, "Lanes"), so that several flows
// to one peer spread over the workers; with more workers, or where the
// kernel refuses the program, by the kernel's hash of the addresses and
// ports, which keeps each peer on one worker and spreads peers.
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
  bool lanes = false;                  // the sockets are picked by lane
  std::string lanes_off;               // why not, when there are 2 or more sockets
};
// Or an error ready to print.
using UnderlayResult = cordon::Result<Underlay, std::string>;

// `config_path` only appears in the "port already in use" message.
UnderlayResult open_underlay(const IpAddress& address, uint16_t port, unsigned count,
                             const std::string& config_path);

}  // namespace cordon::daemon
