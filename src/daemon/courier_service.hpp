// The daemon's courier (docs/couriers.md): the core's Courier
// (core/courier/courier.hpp) wired to the Node (courier messages), the
// spool on disk (courier_spool.hpp) and the installed key set (packages
// for this host are applied with the user key the daemon holds, then
// adopted live by the daemon's reload, which keeps every link whose keys
// did not change).
//
// Managed mode only: the key set names the courier and the administration
// host. Runs on the control thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/courier/courier.hpp"
#include "core/courier/status_report.hpp"
#include "core/crypto/secret.hpp"
#include "core/node.hpp"
#include "daemon/config.hpp"
#include "daemon/courier_spool.hpp"

namespace cordon::daemon {

constexpr int64_t kStatusCheckNs = 5 * kNsPerSecond;
constexpr int64_t kStatusReportNs = 60 * kNsPerSecond;

courier::CourierConfig courier_config(const DaemonConfig& config);

class CourierService final : public courier::Environment {
 public:
  struct Wiring {
    Node& node;
    std::string keyset_path;
    const crypto::SecretBytes& user_key;  // the daemon's, kept for reloads
    // Adopts the key set just stored (the daemon's reload); an error text,
    // or empty on success.
    std::function<std::string(uint64_t version)> adopt;
  };

  // Opens <state_dir>/courier and loads what it holds; the problems found
  // there (files set aside) are logged.
  static cordon::Result<std::unique_ptr<CourierService>, std::string> start(Wiring wiring, const DaemonConfig& config,
                                                                            uint64_t boot_random, const Now& now);

  void reconfigure(const DaemonConfig& config, const Now& now);
  void receive(std::vector<CourierMessage>& messages, const Now& now);
  // Timers; the next deadline (monotonic).
  int64_t tick(const Now& now);
  // True once after anything was handed to the node: the daemon ticks it
  // at once so that the datagrams leave now.
  bool take_sent();

  // The "courier" control command (docs/couriers.md, "Control commands"):
  // actions send, reports and status.
  nlohmann::json answer(const nlohmann::json& request, const Now& now);
  nlohmann::json status_json() const;

  // A coordinator whose key set names the administration host sends it a
  // status report (core/courier/status_report.hpp) when what its registry
  // says changed, checked every kStatusCheckNs, and at least every
  // kStatusReportNs (docs/administration.md, "Live status"). True when
  // this host sends reports at all: the daemon then calls report_status
  // with its node status at the deadline status_due() gives.
  bool reports_status() const;
  int64_t status_due() const { return next_status_ns_; }
  // True when a report was handed to the courier (it leaves at once).
  bool report_status(const NodeStatus& status, const Now& now);

  // courier::Environment
  bool store(uint64_t id, std::span<const std::byte> encoded) override;
  void erase(uint64_t id) override;
  bool send(HostId peer, std::span<const std::byte> message) override;
  courier::Applied apply(const courier::Item& package) override;

 private:
  CourierService(Wiring wiring, CourierSpool spool) : wiring_(std::move(wiring)), spool_(std::move(spool)) {}
  nlohmann::json send_packages(const nlohmann::json& request, const Now& now);
  nlohmann::json reports() const;
  nlohmann::json network() const;
  const crypto::SecretBytes* host_key();

  Wiring wiring_;
  CourierSpool spool_;
  std::unique_ptr<courier::Courier> courier_;
  Now now_{};  // of the call under way, for the environment's callbacks
  bool sent_ = false;
  bool storage_failing_ = false;
  // Status reports (courier_status.cpp).
  std::optional<crypto::SecretBytes> host_key_;  // read from the key set at the first report
  bool host_key_failed_ = false;                 // and said so, once
  std::optional<courier::StatusReport> last_report_;
  int64_t last_report_mono_ns_ = 0;
  uint64_t last_report_version_ = 0;
  int64_t next_status_ns_ = 0;
};

}  // namespace cordon::daemon
