// Site links (docs/site-links.md):
//
//   cordon sitelink primary|secondary FILE|-c FILE [--check] [--log-level L] [--accept-new-keys]
//   cordon sitelink status   [--peer P | --group G | --all] [-i IFACE | -s SOCKET] [--json]
//   cordon sitelink rekey    --peer P | --group G | --all [-i IFACE | -s SOCKET] [--json]
//   cordon sitelink shutdown --peer P | --group G | --all [-i IFACE | -s SOCKET] [--json]
//   cordon sitelink start    --peer P | --group G | --all [-i IFACE | -s SOCKET] [--json]
//   cordon sitelink return   [-i IFACE | -s SOCKET] [--json]
//
// The first runs the gateway (as `cordon up` runs a host); the others ask
// a running one over its control socket (daemon/control.hpp, "sitelink").
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace cordon::cli {

// Adds `sitelink` to `app`; after parsing, dispatch_sitelink_commands runs
// the one given (nullopt: not this one).
void add_sitelink_commands(CLI::App& app);
std::optional<int> dispatch_sitelink_commands();

}  // namespace cordon::cli
