#include "daemon/courier_service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/logging.hpp"

#include "core/keys/update_package.hpp"
#include "daemon/keyset_store.hpp"
#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

constexpr size_t kMaxManifest = 16 * 1024 * 1024;

std::string hex_of(std::span<const std::byte> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) out += fmt::format("{:02x}", static_cast<unsigned>(b));
  return out;
}

std::string ids(const std::optional<HostId>& id) { return id ? id->to_string() : ""; }

}  // namespace

courier::CourierConfig courier_config(const DaemonConfig& config) {
  courier::CourierConfig out;
  out.self = config.node.self;
  out.coordinator = config.node.role == keys::Role::kCoordinator;
  out.own_courier = config.courier.own_courier;
  out.admin_host = config.courier.admin_host;
  out.admin_courier = config.courier.admin_courier;
  for (const PeerConfig& peer : config.node.peers) out.peers.push_back(peer.id);
  out.coordinators = config.courier.coordinators;
  out.served = config.courier.served;
  out.installed = config.courier.installed;
  out.spool_host_limit = config.courier_spool_limit * 1024 * 1024;
  return out;
}

cordon::Result<std::unique_ptr<CourierService>, std::string> CourierService::start(Wiring wiring,
                                                                                  const DaemonConfig& config,
                                                                                  uint64_t boot_random,
                                                                                  const Now& now) {
  auto spool = CourierSpool::open(config.state_dir + "/courier");
  if (!spool) return cordon::fail(spool.error());
  CourierSpool::Loaded loaded = spool->load();
  for (const std::string& problem : loaded.problems) spdlog::error("{}", problem);
  std::unique_ptr<CourierService> service(new CourierService(std::move(wiring), std::move(spool.value())));
  const size_t count = loaded.items.size();
  service->now_ = now;
  service->courier_ = std::make_unique<courier::Courier>(courier_config(config), *service, boot_random,
                                                          std::move(loaded.items), now.mono_ns);
  if (count > 0) spdlog::info("courier: {} item{} in the spool {}", count, count == 1 ? "" : "s", service->spool_.dir());
  return service;
}

void CourierService::reconfigure(const DaemonConfig& config, const Now& now) {
  host_key_.reset();  // an update may have replaced it
  host_key_failed_ = false;
  courier_->reconfigure(courier_config(config), now.mono_ns);
}

void CourierService::receive(std::vector<CourierMessage>& messages, const Now& now) {
  now_ = now;
  for (CourierMessage& m : messages) courier_->receive(m.peer, m.body, now.mono_ns);
}

int64_t CourierService::tick(const Now& now) {
  now_ = now;
  return courier_->tick(now.mono_ns);
}

bool CourierService::take_sent() { return std::exchange(sent_, false); }

bool CourierService::store(uint64_t id, std::span<const std::byte> encoded) {
  std::string error;
  if (spool_.store(id, encoded, error)) {
    if (storage_failing_) spdlog::info("courier spool {}: writable again", spool_.dir());
    storage_failing_ = false;
    return true;
  }
  // Said once until it works again; the item is refused (storage_failed)
  // and its sender tries again later.
  if (!storage_failing_) {
    log_event(spdlog::level::err, LogEvent::kSpoolFailed,
              "courier spool {}: {}; items are refused until it can be written", spool_.dir(), error);
  }
  storage_failing_ = true;
  return false;
}

void CourierService::erase(uint64_t id) { spool_.erase(id); }

bool CourierService::send(HostId peer, std::span<const std::byte> message) {
  const bool sent = wiring_.node.send_courier(peer, message, now_);
  sent_ = sent_ || sent;
  return sent;
}

// docs/couriers.md, "On the host": what `cordon update apply` does, with
// the user key the daemon holds, then the daemon's reload.
courier::Applied CourierService::apply(const courier::Item& package) {
  const KeysetStore store(wiring_.keyset_path);
  const std::string source = fmt::format("0x{:08x}-v{}.update (from the courier)", package.dest.value, package.version);
  courier::Receipt receipt{package.dest, package.version, courier_->config().installed,
                           courier::Receipt::Outcome::kApplied, now_.real_ns / kNsPerSecond, ""};
  auto applied = store.apply_update_with_user_key(package.payload, wiring_.user_key, source);
  if (applied) {
    receipt.installed = package.version;
    log_event(spdlog::level::info, LogEvent::kUpdateApplied, "courier: applied update {}: key set version {} -> {} ({}), {} peer{}",
              source, applied->replaced_version, package.version, keys::update_kind_name(applied->update.kind),
              applied->peers, applied->peers == 1 ? "" : "s");
    if (const std::string error = wiring_.adopt(package.version); !error.empty()) {
      receipt.reason = "stored, but the running daemon did not adopt it: " + error;
      log_event(spdlog::level::err, LogEvent::kUpdateNotApplied, "courier: update {} is stored but not adopted: {}",
                source, error);
    }
  } else if (applied.error().code == keys::KeySetError::kStaleVersion) {
    receipt.outcome = courier::Receipt::Outcome::kAlreadyApplied;
    spdlog::info("courier: update {} was applied before; acknowledged again", source);
  } else if (!applied.error().code) {
    // The file system, not the package: keep it and try again.
    log_event(spdlog::level::err, LogEvent::kUpdateNotApplied,
              "courier: update {} not applied now: {}; the courier sends it again", source, applied.error().message);
    return courier::Applied{std::nullopt, courier_->config().installed, true};
  } else {
    receipt.outcome = courier::Receipt::Outcome::kRefused;
    receipt.reason = applied.error().message.substr(0, courier::kMaxReceiptReason);
    log_event(spdlog::level::err, LogEvent::kUpdateNotApplied, "courier: update refused: {}",
              applied.error().message);
  }
  auto opened = store.open_with_user_key(wiring_.user_key);
  if (!opened) {
    spdlog::error("courier: no receipt for {}: {}", source, opened.error().message);
    return courier::Applied{std::nullopt, receipt.installed, false};
  }
  receipt.installed = opened->header.version;
  return courier::Applied{courier::seal_receipt(receipt, opened->host_key), opened->header.version, false};
}

nlohmann::json CourierService::answer(const nlohmann::json& request, const Now& now) {
  now_ = now;
  const auto action = request.find("action");
  const std::string name = action != request.end() && action->is_string() ? action->get<std::string>() : "";
  if (name == "send") return send_packages(request, now);
  if (name == "reports") return reports();
  if (name == "status") return status_json();
  if (name == "network") return network();
  return {{"error", "unknown courier action; use send, reports, status or network"}};
}

// docs/couriers.md, "Control commands": the packages of `dir`, as its
// manifest lists them.
nlohmann::json CourierService::send_packages(const nlohmann::json& request, const Now& now) {
  const auto dir_it = request.find("dir");
  if (dir_it == request.end() || !dir_it->is_string()) return {{"error", "send needs \"dir\": a directory"}};
  const std::string dir = dir_it->get<std::string>();
  const courier::CourierConfig& config = courier_->config();
  if (!config.admin_host || *config.admin_host != config.self) {
    return {{"error", fmt::format("this host ({}) is not the administration host its key set names ({}); run "
                                  "`cordon admin updates send` on the administration host",
                                  config.self.to_string(),
                                  config.admin_host ? config.admin_host->to_string() : "none")}};
  }
  auto text = os::read_file(dir + "/manifest.json", kMaxManifest);
  if (!text) return {{"error", fmt::format("{}/manifest.json: {}", dir, text.error().message())}};
  const nlohmann::json manifest = nlohmann::json::parse(text.value(), nullptr, false);
  if (!manifest.is_object() || !manifest.contains("packages") || !manifest["packages"].is_array()) {
    return {{"error", fmt::format("{}/manifest.json: not a manifest (an object with a \"packages\" list)", dir)}};
  }
  nlohmann::json accepted = nlohmann::json::array();
  nlohmann::json refused = nlohmann::json::array();
  for (const nlohmann::json& entry : manifest["packages"]) {
    const std::string file = entry.value("file", "");
    const auto via = HostId::parse(entry.value("via", ""));
    const auto refuse = [&](const std::string& error) { refused.push_back({{"file", file}, {"error", error}}); };
    if (file.empty() || file.find('/') != std::string::npos || !via) {
      refuse("a manifest entry needs \"file\" (a name in the directory) and \"via\" (a host ID)");
      continue;
    }
    auto bytes = os::read_file(dir + "/" + file, courier::kMaxItemPayload);
    if (!bytes) {
      refuse(bytes.error().message());
      continue;
    }
    const auto payload = std::as_bytes(std::span(bytes.value()));
    auto header = keys::parse_update_header(payload);
    if (!header) {
      refuse("not an update package: " + header.error().message());
      continue;
    }
    courier::Item item;
    item.kind = courier::ItemKind::kPackage;
    item.flags = static_cast<uint8_t>((header->sealed_under_new_host_key() ? courier::kFlagNewHostKey : 0) |
                                      (entry.value("urgent", false) ? courier::kFlagUrgent : 0));
    item.dest = item.subject = header->host;
    item.via = *via;
    item.version = header->version;
    item.payload.assign(payload.begin(), payload.end());
    auto submitted = courier_->submit(std::move(item), now.mono_ns);
    if (!submitted) {
      refuse(submitted.error());
      continue;
    }
    accepted.push_back({{"host", header->host.to_string()}, {"version", header->version}});
  }
  spdlog::info("courier: {} package{} accepted from `cordon admin updates send`, {} refused", accepted.size(),
               accepted.size() == 1 ? "" : "s", refused.size());
  return {{"accepted", std::move(accepted)}, {"refused", std::move(refused)}};
}

nlohmann::json CourierService::reports() const {
  const courier::CourierConfig& config = courier_->config();
  nlohmann::json out = {{"self", config.self.to_string()}, {"admin_host", ids(config.admin_host)}};
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [meta, encoded] : courier_->inbox()) {
    auto item = courier::parse_item(encoded);
    if (!item || meta.kind == courier::ItemKind::kStatus) continue;  // `network` answers those
    nlohmann::json r = {{"kind", courier::item_kind_name(meta.kind)},
                        {"subject", meta.subject.to_string()},
                        {"version", meta.version}};
    if (meta.kind == courier::ItemKind::kReceipt) {
      r["payload"] = hex_of(item->payload);
    } else if (const auto notice = courier::parse_notice(item->payload)) {
      r["courier"] = notice->courier.to_string();
      r["state"] = notice->state == courier::Notice::State::kHeld ? "held" : "refused";
      r["reason"] = courier::refusal_name(static_cast<courier::Refusal>(notice->reason));
    }
    list.push_back(std::move(r));
  }
  out["reports"] = std::move(list);
  nlohmann::json outbox = nlohmann::json::array();
  for (const courier::HeldItem& m : courier_->status().items) {
    if (m.inbox) continue;
    outbox.push_back({{"dest", m.dest.to_string()},
                      {"kind", courier::item_kind_name(m.kind)},
                      {"version", m.version},
                      {"next_hop", m.next_hop ? m.next_hop->to_string() : ""},
                      {"state", m.sending ? "sending" : (m.next_hop ? "waiting" : "no_route")}});
  }
  out["outbox"] = std::move(outbox);
  return out;
}

// docs/couriers.md, "Control commands": the newest status report of each
// coordinator, as received; `cordon admin status` checks their tags.
nlohmann::json CourierService::network() const {
  const courier::CourierConfig& config = courier_->config();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [meta, encoded] : courier_->inbox()) {
    if (meta.kind != courier::ItemKind::kStatus) continue;
    auto item = courier::parse_item(encoded);
    if (!item) continue;
    list.push_back({{"coordinator", meta.subject.to_string()}, {"version", meta.version}, {"payload", hex_of(item->payload)}});
  }
  return {{"self", config.self.to_string()},
          {"admin_host", ids(config.admin_host)},
          {"now", now_.real_ns / kNsPerSecond},
          {"reports", std::move(list)}};
}

nlohmann::json CourierService::status_json() const {
  const courier::CourierStatus st = courier_->status();
  const courier::CourierCounters& c = st.counters;
  uint64_t bytes = 0;
  nlohmann::json items = nlohmann::json::array();
  for (const courier::HeldItem& m : st.items) {
    bytes += m.bytes;
    items.push_back({{"id", m.id},
                     {"kind", courier::item_kind_name(m.kind)},
                     {"dest", m.dest.to_string()},
                     {"subject", m.subject.to_string()},
                     {"version", m.version},
                     {"urgent", m.urgent},
                     {"bytes", m.bytes},
                     {"next_hop", m.next_hop ? m.next_hop->to_string() : ""},
                     {"state", m.inbox ? "kept" : (m.sending ? "sending" : (m.next_hop ? "waiting" : "no_route"))}});
  }
  return {{"spool", spool_.dir()},
          {"items", std::move(items)},
          {"bytes", bytes},
          {"incoming", st.incoming},
          {"installed", courier_->config().installed},
          {"counters",
           {{"stored", c.items_stored},
            {"forwarded", c.items_forwarded},
            {"applied", c.packages_applied},
            {"superseded", c.superseded},
            {"duplicates", c.duplicates},
            {"refused_in", c.refused_in},
            {"refused_out", c.refused_out},
            {"segments_sent", c.segments_sent},
            {"segments_resent", c.segments_resent},
            {"bad_messages", c.bad_messages},
            {"stalled", c.stalled},
            {"refusals", c.refusals}}}};
}

}  // namespace cordon::daemon
