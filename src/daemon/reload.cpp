#include "daemon/reload.hpp"

#include <fmt/format.h>

namespace cordon::daemon {
namespace {

std::string addresses_text(const std::vector<Prefix>& list) {
  std::string out;
  for (const Prefix& p : list) {
    if (!out.empty()) out += ", ";
    out += p.to_string();
  }
  return "[" + out + "]";
}

template <typename T>
void compare(std::vector<std::string>& out, const char* field, const T& before, const T& after) {
  if (before == after) return;
  out.push_back(fmt::format("{} changed ({} -> {}) and needs a restart; the running value stays until then", field,
                            before, after));
}

// [metrics] is bound once, at start (docs/configuration.md, "[metrics]").
std::string metrics_text(const std::optional<MetricsConfig>& m) {
  if (!m) return "off";
  return m->listen.to_string() + (m->optional ? ", optional" : "");
}

}  // namespace

std::vector<std::string> restart_only_changes(const DaemonConfig& running, const DaemonConfig& next) {
  std::vector<std::string> out;
  compare(out, "host.id", running.node.self.to_string(), next.node.self.to_string());
  compare(out, "host.interface", running.interface, next.interface);
  compare(out, "host.addresses", addresses_text(running.addresses), addresses_text(next.addresses));
  compare(out, "host.mtu", running.mtu, next.mtu);
  compare(out, "host.listen_port", running.listen_port, next.listen_port);
  compare(out, "host.listen_address", running.listen_address.to_string(), next.listen_address.to_string());
  compare(out, "host.state_dir", running.state_dir, next.state_dir);
  compare(out, "host.workers", running.workers, next.workers);
  compare(out, "host.offloads", running.offloads, next.offloads);
  compare(out, "host.control_socket", running.control_socket, next.control_socket);
  compare(out, "host.keyset", running.keyset.value_or("(none)"), next.keyset.value_or("(none)"));
  compare(out, "host.tcp_port", running.node.mesh.tcp_port, next.node.mesh.tcp_port);
  compare(out, "[metrics]", metrics_text(running.metrics), metrics_text(next.metrics));
  return out;
}

}  // namespace cordon::daemon
