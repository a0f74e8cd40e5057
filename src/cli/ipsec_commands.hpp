// cordon ipsec: the IPsec gateway of a running daemon (docs/ipsec.md,
// "Commands"), over its control socket:
//   cordon ipsec connection list|up NAME|down NAME
//   cordon ipsec sa list|add ...|remove SPI
//   cordon ipsec policy list|add LOCAL REMOTE bypass|discard|remove POSITION
// Each with -i IFACE / -s SOCKET and --json.
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace cordon::cli {

void add_ipsec_commands(CLI::App& app);
std::optional<int> dispatch_ipsec_commands();

}  // namespace cordon::cli
