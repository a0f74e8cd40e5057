// A coordinator's status reports to the administration host
// (courier_service.hpp; docs/administration.md, "Live status").
#include <spdlog/spdlog.h>

#include "daemon/courier_service.hpp"
#include "daemon/keyset_store.hpp"

namespace cordon::daemon {

bool CourierService::reports_status() const {
  const courier::CourierConfig& c = courier_->config();
  return c.coordinator && c.admin_host && c.admin_courier;
}

// The host key signs the reports (status_report.hpp, "tag"); it is read
// once from the key set with the user key the daemon keeps, and again after
// a reload (reconfigure forgets it).
const crypto::SecretBytes* CourierService::host_key() {
  if (host_key_) return &*host_key_;
  const KeysetStore store(wiring_.keyset_path);
  auto opened = store.open_with_user_key(wiring_.user_key);
  if (!opened) {
    // Said once, not at every 5 s check; a reload (reconfigure) tries anew.
    if (!host_key_failed_) {
      spdlog::error("courier: no status reports for the administration host until the key set opens: {}",
                    opened.error().message);
    }
    host_key_failed_ = true;
    return nullptr;
  }
  host_key_failed_ = false;
  host_key_ = std::move(opened->host_key);
  return &*host_key_;
}

bool CourierService::report_status(const NodeStatus& status, const Now& now) {
  now_ = now;
  next_status_ns_ = now.mono_ns + kStatusCheckNs;
  courier::StatusReport report = courier::report_of(status, now.real_ns);
  const bool changed = !last_report_ || !courier::same_state(*last_report_, report);
  if (!changed && now.mono_ns - last_report_mono_ns_ < kStatusReportNs) return false;
  const crypto::SecretBytes* key = host_key();
  if (!key) return false;
  auto sealed = courier::seal_status_report(report, *key);
  if (!sealed) return false;
  // Newer than the last one even if the clock stepped back: couriers keep
  // the highest version (core/courier/item.hpp, kind 4).
  const uint64_t version = std::max(last_report_version_ + 1, static_cast<uint64_t>(now.real_ns / kNsPerMs));
  if (!courier_->report_status(std::move(*sealed), version, now.mono_ns)) return false;
  last_report_version_ = version;
  last_report_mono_ns_ = now.mono_ns;
  last_report_ = std::move(report);
  return true;
}

}  // namespace cordon::daemon
