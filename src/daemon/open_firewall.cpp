#include "daemon/open_firewall.hpp"

#include <spdlog/spdlog.h>

namespace cordon::daemon {

cordon::Result<OpenFirewall, std::string> OpenFirewall::start(const os::OpenPolicy& policy,
                                                               std::vector<OpenRuleLabel> labels) {
  auto tables = os::NftTables::open();
  if (!tables) return cordon::fail("open-traffic firewall: " + tables.error().message());
  OpenFirewall firewall(std::move(tables.value()));
  if (auto done = firewall.replace(policy, std::move(labels)); !done) {
    // A table a crashed run left goes too: a daemon that is not running
    // leaves none.
    (void)firewall.stop();
    return cordon::fail(std::move(done.error()));
  }
  return firewall;
}

std::optional<std::string> OpenFirewall::remove_stale() {
  auto tables = os::NftTables::open();
  if (!tables || !tables->counters()) return std::nullopt;
  if (auto removed = tables->remove(); !removed) {
    return "open-traffic firewall: a previous run left table inet cordon, and it could not be deleted: " +
           removed.error().message();
  }
  return std::string("open-traffic firewall: deleted table inet cordon, which a previous run left");
}

OpenFirewall::OpenFirewall(OpenFirewall&& other) noexcept
    : tables_(std::move(other.tables_)), labels_(std::move(other.labels_)) {
  other.tables_.reset();
}

OpenFirewall::~OpenFirewall() {
  if (auto stopped = stop(); !stopped) spdlog::error("{}", stopped.error());
}

cordon::Result<Ok, std::string> OpenFirewall::replace(const os::OpenPolicy& policy,
                                                      std::vector<OpenRuleLabel> labels) {
  if (!tables_) return cordon::fail(std::string("open-traffic firewall: stopped"));
  if (auto applied = tables_->apply(policy); !applied) {
    return cordon::fail("open-traffic firewall: " + applied.error().message());
  }
  labels_ = std::move(labels);
  return Ok{};
}

cordon::Result<Ok, std::string> OpenFirewall::stop() {
  if (!tables_) return Ok{};
  auto removed = tables_->remove();
  tables_.reset();
  if (!removed) return cordon::fail("open-traffic firewall: " + removed.error().message());
  return Ok{};
}

OpenStatus OpenFirewall::status() {
  OpenStatus out{.enabled = true};
  if (!tables_) {
    out.error = "stopped";
    return out;
  }
  auto counters = tables_->counters();
  if (!counters) {
    out.error = counters.error().message();
    return out;
  }
  out.table = true;
  const auto read = [&](const std::string& name, const OpenRuleLabel& label) {
    OpenCounter c{.name = name, .origin = label.origin, .text = label.text};
    if (auto it = counters->find(name); it != counters->end()) {
      c.packets = it->second.packets;
      c.bytes = it->second.bytes;
    }
    return c;
  };
  for (std::string_view name : {os::kCounterSpoofedProtected, os::kCounterSpoofedLan, os::kCounterInputDropped,
                                os::kCounterForwardDropped}) {
    out.counters.push_back(read(std::string(name), OpenRuleLabel{}));
  }
  for (size_t i = 0; i < labels_.size(); ++i) out.rules.push_back(read(os::open_rule_counter(i), labels_[i]));
  return out;
}

}  // namespace cordon::daemon
