#include "daemon/forwarding.hpp"

#include <sstream>

#include <fmt/format.h>

namespace cordon::daemon {

Forwarding::Forwarding(Switches switches, FileStore& files, std::string state_dir)
    : switches_(std::move(switches)), files_(files), state_dir_(std::move(state_dir)) {}

Forwarding::~Forwarding() { restore(); }

std::string Forwarding::record_path() const { return state_dir_ + "/" + kRecordName; }

// The record holds "switch=value" lines; anything else in it is ignored.
void Forwarding::load_record(Applied& out) {
  if (loaded_) return;
  loaded_ = true;
  auto text = files_.read(record_path(), 4096);
  if (!text) return;  // no record: nothing was left changed
  std::istringstream in(text.value());
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = line.substr(0, eq);
    if (name == kIpv4 || name == kIpv6) original_[name] = line.substr(eq + 1);
  }
  if (!original_.empty()) {
    out.changes.push_back(fmt::format("{} found: a previous run stopped without restoring IP forwarding; the "
                                      "values it recorded are the ones to restore",
                                      record_path()));
  }
}

bool Forwarding::store_record(Applied& out) {
  if (original_.empty()) {
    if (auto removed = files_.remove(record_path()); !removed) {
      out.errors.push_back(fmt::format("cannot remove {}: {}", record_path(), removed.error().message()));
      return false;
    }
    return true;
  }
  std::string text;
  for (const auto& [name, value] : original_) text += name + "=" + value + "\n";
  // The state directory may not exist yet on a first start (the counter
  // file, written later, would make it too).
  if (auto made = files_.ensure_dir(state_dir_, 0700); !made) {
    out.errors.push_back(fmt::format("cannot record the forwarding switches: {}; IP forwarding is left as it is",
                                     made.error().message()));
    return false;
  }
  if (auto written = files_.write_atomic(record_path(), text, 0600); !written) {
    out.errors.push_back(fmt::format("cannot record the forwarding switches in {}: {}; IP forwarding is left as "
                                     "it is",
                                     record_path(), written.error().message()));
    return false;
  }
  return true;
}

Forwarding::Applied Forwarding::apply(const std::vector<Prefix>& subnets) {
  Applied out;
  load_record(out);
  bool v4 = false, v6 = false;
  for (const Prefix& p : subnets) (p.address.is_v4() ? v4 : v6) = true;

  // Record first, change after: a crash in between leaves a record of the
  // values found, never a changed switch without one.
  bool recorded = false;
  for (const auto& [name, wanted] : {std::pair{kIpv4, v4}, std::pair{kIpv6, v6}}) {
    if (!wanted || original_.count(name) != 0) continue;
    auto value = switches_.get(name);
    if (!value) {
      out.errors.push_back(fmt::format("cannot read {}: {}; the gateway may not forward {} packets",
                                       name, value.error().message(), name == kIpv4 ? "IPv4" : "IPv6"));
      continue;
    }
    original_[name] = value.value();
    recorded = true;
  }
  if (recorded && !store_record(out)) {
    for (const char* name : {kIpv4, kIpv6}) original_.erase(name);
    return out;
  }
  for (const auto& [name, wanted] : {std::pair{kIpv4, v4}, std::pair{kIpv6, v6}}) {
    auto found = original_.find(name);
    if (found == original_.end()) continue;
    const std::string value = wanted ? "1" : found->second;
    if (auto set = switches_.set(name, value); !set) {
      out.errors.push_back(fmt::format("cannot set {} to {}: {}", name, value, set.error().message()));
      continue;
    }
    if (wanted) {
      out.changes.push_back(fmt::format("IP forwarding on ({} = 1, was {}; restored when the daemon stops)", name,
                                        found->second));
    } else {
      out.changes.push_back(fmt::format("IP forwarding restored ({} = {})", name, value));
      original_.erase(found);
      store_record(out);
    }
  }
  return out;
}

}  // namespace cordon::daemon
