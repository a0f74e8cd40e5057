// Delivery by couriers, the administrator's side (delivery.hpp, admin.hpp).
//
// The deliveries table (schema.cpp, version 6) keeps, per host, the built
// packages still needed, as a courier's spool does (docs/couriers.md, "The
// spool"): a package carries the host's whole state, so only the newest
// one is needed, plus the newest package that replaces the host key when it
// is older and not confirmed applied (a host that missed it cannot open
// later packages; docs/administration.md, "Missed packages").
//
// What the administration host's daemon reports is recorded there:
//  - a receipt only when its tag verifies under the host's current host key
//    (core/courier/item.hpp): only the host and the administrator hold that
//    key, so neither a courier nor another host can make one up. It
//    answers the package of its version, and confirms every package up to
//    the version the host says it has installed.
//  - a courier's notice (held, refused) for a package not yet confirmed.
// Recording the same report twice changes nothing, and a confirmation is
// never taken back by a later report.
#include "admin/delivery.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "admin/internal.hpp"
#include "core/courier/item.hpp"
#include "os/linux/files.hpp"

namespace cordon::admin {
namespace {

using json = nlohmann::json;

constexpr const char* kManifestName = "manifest.json";

// ---- JSON fields ---------------------------------------------------------

[[noreturn]] void malformed(std::string_view answer, std::string_view field, std::string_view why) {
  throw AdminError(fmt::format("the daemon's answer to `{}` is malformed: {} {}; is it a Cordon of this version?",
                               answer, field, why));
}

const json& member(const json& object, std::string_view answer, const char* field) {
  const auto it = object.find(field);
  if (it == object.end()) malformed(answer, field, "is missing");
  return *it;
}

HostId host_field(const json& object, std::string_view answer, const char* field) {
  const json& v = member(object, answer, field);
  const std::optional<HostId> id = v.is_string() ? HostId::parse(v.get<std::string>()) : std::nullopt;
  if (!id) malformed(answer, field, "is not a host ID such as 0x00010002");
  return *id;
}

uint64_t version_field(const json& object, std::string_view answer, const char* field) {
  const json& v = member(object, answer, field);
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
    malformed(answer, field, "is not a version number");
  }
  return v.get<uint64_t>();
}

std::string text_field(const json& object, std::string_view answer, const char* field) {
  const json& v = member(object, answer, field);
  if (!v.is_string()) malformed(answer, field, "is not text");
  return v.get<std::string>();
}

const json& array_field(const json& object, std::string_view answer, const char* field) {
  const json& v = member(object, answer, field);
  if (!v.is_array()) malformed(answer, field, "is not a list");
  return v;
}

void refuse_error_answer(const json& reply, std::string_view answer) {
  if (!reply.is_object()) malformed(answer, "the answer", "is not a JSON object");
  if (const auto e = reply.find("error"); e != reply.end()) {
    throw AdminError(fmt::format("the daemon refused `{}`: {}", answer, e->is_string() ? e->get<std::string>() : e->dump()));
  }
}


// ---- The table -------------------------------------------------------------

bool is_confirmed(const std::optional<std::string>& outcome) {
  return outcome && (*outcome == "applied" || *outcome == "already_applied");
}

// Drops the packages of `host` no longer needed (top of this file).
void prune_deliveries(Database& db, HostId host) {
  Statement& st = db.cached(
      "SELECT MAX(version), "
      "(SELECT MAX(confirmed_version) FROM deliveries WHERE host = ?1 AND outcome IN ('applied', 'already_applied')) "
      "FROM deliveries WHERE host = ?1");
  st.bind(1, sql_id(host));
  if (!st.step() || st.is_null(0)) {
    st.reset();
    return;
  }
  const int64_t newest = st.int64(0);
  const int64_t confirmed = st.is_null(1) ? 0 : st.int64(1);
  st.reset();
  // The newest package that replaces the host key; when that is the
  // newest package itself, no older one is needed (it wraps the newest
  // host key for every user).
  Statement& key = db.cached(
      "SELECT MAX(version) FROM deliveries WHERE host = ?1 AND new_host_key = 1 AND version > ?2 "
      "AND (outcome IS NULL OR outcome = 'refused')");
  key.bind(1, sql_id(host)).bind(2, confirmed);
  std::optional<int64_t> keep;
  if (key.step() && !key.is_null(0) && key.int64(0) != newest) keep = key.int64(0);
  key.reset();
  db.cached("DELETE FROM deliveries WHERE host = ?1 AND version <> ?2 AND version IS NOT ?3")
      .bind(1, sql_id(host))
      .bind(2, newest)
      .bind(3, keep)
      .run();
}

// A verified receipt (top of this file). True if anything changed.
bool record_receipt(Database& db, const courier::Receipt& r, int64_t now) {
  bool changed = false;
  const std::string outcome(courier::receipt_outcome_name(r.outcome));
  const std::optional<std::string> reason =
      r.outcome == courier::Receipt::Outcome::kRefused ? std::optional(r.reason) : std::nullopt;
  Statement& row = db.cached(
      "SELECT outcome, confirmed_version, confirmed_at, reason FROM deliveries WHERE host = ?1 AND version = ?2");
  row.bind(1, sql_id(r.host)).bind(2, static_cast<int64_t>(r.version));
  if (row.step()) {
    const std::optional<std::string> old_outcome = row.is_null(0) ? std::nullopt : std::optional(row.text(0));
    const bool same = old_outcome == outcome && !row.is_null(1) &&
                      row.int64(1) == static_cast<int64_t>(r.installed) && !row.is_null(2) &&
                      row.int64(2) == r.time_s &&
                      (row.is_null(3) ? std::optional<std::string>() : std::optional(row.text(3))) == reason;
    row.reset();
    // A confirmation stays: a refusal reported later does not undo it.
    if (!same && !(is_confirmed(old_outcome) && r.outcome == courier::Receipt::Outcome::kRefused)) {
      db.cached(
            "UPDATE deliveries SET outcome = ?1, confirmed_version = ?2, confirmed_at = ?3, reason = ?4, "
            "updated_at = ?5 WHERE host = ?6 AND version = ?7")
          .bind(1, outcome)
          .bind(2, static_cast<int64_t>(r.installed))
          .bind(3, r.time_s)
          .bind(4, reason)
          .bind(5, now)
          .bind(6, sql_id(r.host))
          .bind(7, static_cast<int64_t>(r.version))
          .run();
      changed = true;
    }
  } else {
    row.reset();
  }
  // The host has `installed`: every package up to it is no longer needed.
  db.cached(
        "UPDATE deliveries SET outcome = 'already_applied', confirmed_version = ?1, confirmed_at = ?2, reason = NULL, "
        "updated_at = ?3 WHERE host = ?4 AND version <= ?1 AND version <> ?5 "
        "AND (outcome IS NULL OR outcome = 'refused')")
      .bind(1, static_cast<int64_t>(r.installed))
      .bind(2, r.time_s)
      .bind(3, now)
      .bind(4, sql_id(r.host))
      .bind(5, static_cast<int64_t>(r.version))
      .run();
  changed = changed || db.changes() > 0;
  prune_deliveries(db, r.host);
  return changed;
}

// A courier's notice about a package not yet confirmed.
bool record_notice(Database& db, const CourierReports::Report& n, int64_t now) {
  const std::optional<std::string> reason = n.state == "refused" ? std::optional(n.reason) : std::nullopt;
  db.cached(
        "UPDATE deliveries SET courier = ?1, courier_state = ?2, reason = ?3, updated_at = ?4 "
        "WHERE host = ?5 AND version = ?6 AND outcome IS NULL "
        "AND (courier IS NOT ?1 OR courier_state IS NOT ?2 OR reason IS NOT ?3)")
      .bind(1, sql_id(n.courier))
      .bind(2, n.state)
      .bind(3, reason)
      .bind(4, now)
      .bind(5, sql_id(n.subject))
      .bind(6, static_cast<int64_t>(n.version))
      .run();
  return db.changes() > 0;
}


// The state of each kept package, from the table and the daemon's outbox.
std::vector<DeliveryStatus> read_status(Database& db, const std::optional<CourierReports>& reports,
                                        const std::set<uint32_t>& unverified) {
  std::map<std::pair<uint32_t, uint64_t>, HostId> waiting;
  if (reports) {
    for (const CourierReports::Outbox& o : reports->outbox) {
      if (o.kind == "package") waiting[{o.dest.value, o.version}] = o.next_hop;
    }
  }
  std::vector<DeliveryStatus> out;
  Statement st = db.prepare(
      "SELECT d.host, h.name, d.version, d.kind, d.new_host_key, d.urgent, d.via, d.built_at, d.sent_at, d.outcome, "
      "d.confirmed_version, d.confirmed_at, d.reason, d.courier, d.courier_state "
      "FROM deliveries d JOIN hosts h ON h.id = d.host ORDER BY d.host, d.version");
  while (st.step()) {
    DeliveryStatus s;
    s.host = host_from_sql(st.int64(0));
    s.host_name = st.text(1);
    s.version = static_cast<uint64_t>(st.int64(2));
    s.kind = static_cast<DirtyKind>(st.int64(3));
    s.new_host_key = st.int64(4) != 0;
    s.urgent = st.int64(5) != 0;
    if (!st.is_null(6)) s.via = host_from_sql(st.int64(6));
    s.built_at = st.int64(7);
    if (!st.is_null(8)) s.sent_at = st.int64(8);
    const std::optional<std::string> outcome = st.is_null(9) ? std::nullopt : std::optional(st.text(9));
    if (!st.is_null(10)) s.confirmed_version = static_cast<uint64_t>(st.int64(10));
    if (!st.is_null(11)) s.confirmed_at = st.int64(11);
    if (!st.is_null(12)) s.reason = st.text(12);
    if (!st.is_null(13)) s.courier = host_from_sql(st.int64(13));
    const std::optional<std::string> courier_state = st.is_null(14) ? std::nullopt : std::optional(st.text(14));
    s.unverified_receipt = unverified.count(s.host.value) > 0;

    const auto wait = waiting.find({s.host.value, s.version});
    if (is_confirmed(outcome)) {
      s.state = DeliveryState::kApplied;
    } else if (outcome == "refused") {
      s.state = DeliveryState::kFailed;
    } else if (courier_state == "refused") {
      s.state = DeliveryState::kRefusedByCourier;
    } else if (wait != waiting.end()) {
      s.state = DeliveryState::kWaiting;
      s.next_hop = wait->second;
    } else if (courier_state == "held") {
      s.state = DeliveryState::kHeld;
    } else if (s.sent_at) {
      s.state = DeliveryState::kInTransit;
    } else {
      s.state = DeliveryState::kBuilt;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::optional<std::vector<std::byte>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::byte> out(text.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::byte>((hi << 4) | lo);
  }
  return out;
}

std::optional<crypto::SecretBytes> current_host_key(Database& db, HostId host) {
  Statement& st = db.cached("SELECT host_key FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(host));
  std::optional<crypto::SecretBytes> key;
  if (st.step()) key.emplace(st.blob(0));
  st.reset();
  return key;
}

// ---- Requests, the send directory, answers ----------------------------------

std::string OutgoingPackage::file_name() const { return fmt::format("{}-v{}.update", host.to_string(), version); }

std::string_view delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::kBuilt: return "built";
    case DeliveryState::kWaiting: return "waiting";
    case DeliveryState::kInTransit: return "in_transit";
    case DeliveryState::kHeld: return "held";
    case DeliveryState::kApplied: return "applied";
    case DeliveryState::kFailed: return "failed";
    case DeliveryState::kRefusedByCourier: return "refused_by_courier";
  }
  return "built";
}

json send_request(const std::string& dir) { return json{{"command", "courier"}, {"action", "send"}, {"dir", dir}}; }

json reports_request() { return json{{"command", "courier"}, {"action", "reports"}}; }

json send_manifest(const std::vector<OutgoingPackage>& packages) {
  json list = json::array();
  for (const OutgoingPackage& p : packages) {
    list.push_back(json{{"file", p.file_name()}, {"via", p.via.to_string()}, {"urgent", p.urgent}});
  }
  return json{{"packages", list}};
}

std::string default_send_parent() {
  const char* tmp = ::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? std::string(tmp) : std::string("/tmp");
}

SendDirectory::SendDirectory(const std::vector<OutgoingPackage>& packages, const std::string& parent) {
  std::string templ = (std::filesystem::path(parent) / "cordon-send.XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    throw AdminError(fmt::format("cannot make a directory in {} for the packages: {}; set TMPDIR to a writable "
                                 "directory",
                                 parent, std::strerror(errno)));
  }
  path_ = templ;  // mkdtemp made it with mode 0700
  for (const OutgoingPackage& p : packages) {
    const std::string file = path_ + "/" + p.file_name();
    if (auto st = os::write_file_atomic(file, p.package, 0600); !st) {
      throw AdminError(fmt::format("cannot write {}: {}", file, st.error().message()));
    }
  }
  const std::string manifest = path_ + "/" + kManifestName;
  if (auto st = os::write_file_atomic(manifest, send_manifest(packages).dump(), 0600); !st) {
    throw AdminError(fmt::format("cannot write {}: {}", manifest, st.error().message()));
  }
}

SendDirectory::~SendDirectory() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

SendReply parse_send_reply(const json& reply) {
  constexpr std::string_view answer = "courier send";
  refuse_error_answer(reply, answer);
  SendReply out;
  for (const json& a : array_field(reply, answer, "accepted")) {
    if (!a.is_object()) malformed(answer, "accepted", "holds something other than objects");
    out.accepted.emplace_back(host_field(a, answer, "host"), version_field(a, answer, "version"));
  }
  if (reply.contains("refused")) {
    for (const json& r : array_field(reply, answer, "refused")) {
      if (!r.is_object()) malformed(answer, "refused", "holds something other than objects");
      out.refused.emplace_back(text_field(r, answer, "file"), text_field(r, answer, "error"));
    }
  }
  return out;
}

CourierReports parse_courier_reports(const json& reply) {
  constexpr std::string_view answer = "courier reports";
  refuse_error_answer(reply, answer);
  CourierReports out;
  out.self = host_field(reply, answer, "self");
  if (const auto it = reply.find("admin_host"); it != reply.end() && !it->is_null()) {
    out.admin_host = host_field(reply, answer, "admin_host");
  }
  for (const json& r : array_field(reply, answer, "reports")) {
    if (!r.is_object()) malformed(answer, "reports", "holds something other than objects");
    CourierReports::Report report;
    const std::string kind = text_field(r, answer, "kind");
    report.subject = host_field(r, answer, "subject");
    report.version = version_field(r, answer, "version");
    if (kind == "receipt") {
      report.kind = CourierReports::Report::Kind::kReceipt;
      auto bytes = from_hex(text_field(r, answer, "payload"));
      if (!bytes) malformed(answer, "payload", "is not hex");
      report.payload = std::move(*bytes);
    } else if (kind == "notice") {
      report.kind = CourierReports::Report::Kind::kNotice;
      report.courier = host_field(r, answer, "courier");
      report.state = text_field(r, answer, "state");
      if (report.state != "held" && report.state != "refused") malformed(answer, "state", "is not held or refused");
      if (r.contains("reason")) report.reason = text_field(r, answer, "reason");
    } else {
      continue;  // a kind of a later version: not ours to judge
    }
    out.reports.push_back(std::move(report));
  }
  if (reply.contains("outbox")) {
    for (const json& o : array_field(reply, answer, "outbox")) {
      if (!o.is_object()) malformed(answer, "outbox", "holds something other than objects");
      CourierReports::Outbox entry;
      entry.dest = host_field(o, answer, "dest");
      entry.kind = text_field(o, answer, "kind");
      entry.version = version_field(o, answer, "version");
      entry.next_hop = host_field(o, answer, "next_hop");
      if (o.contains("state")) entry.state = text_field(o, answer, "state");
      out.outbox.push_back(std::move(entry));
    }
  }
  return out;
}

// ---- The table ----------------------------------------------------------------

void store_delivery(Database& db, const BuiltPackage& built, std::span<const std::byte> package) {
  const int64_t now = now_seconds();
  db.cached(
        "INSERT INTO deliveries (host, version, kind, new_host_key, urgent, via, package, built_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (host, version) DO UPDATE SET "
        "kind = excluded.kind, new_host_key = excluded.new_host_key, urgent = excluded.urgent, via = excluded.via, "
        "package = excluded.package, built_at = excluded.built_at, updated_at = excluded.updated_at, "
        "sent_at = NULL, outcome = NULL, confirmed_version = NULL, confirmed_at = NULL, reason = NULL, "
        "courier = NULL, courier_state = NULL")
      .bind(1, sql_id(built.host))
      .bind(2, static_cast<int64_t>(built.version))
      .bind(3, static_cast<int64_t>(built.kind))
      .bind(4, int64_t{built.new_host_key ? 1 : 0})
      .bind(5, int64_t{built.urgent ? 1 : 0})
      .bind(6, built.via.value == 0 ? std::nullopt : std::optional<int64_t>(sql_id(built.via)))
      .bind_blob(7, package)
      .bind(8, now)
      .run();
  prune_deliveries(db, built.host);
}

SendBatch Admin::unsent_packages() {
  return run_query(db_, batch_, [&] {
    const std::optional<HostId> admin_host = load_admin_host(db_);
    if (!admin_host) {
      throw AdminError(
          "no administration host is designated: packages leave through the daemon of the host where you run "
          "`cordon admin`; designate it with `cordon admin network set --admin-host HOST`");
    }
    const std::optional<AdminRoute> route = load_admin_route(db_);
    if (!route) {
      throw AdminError(fmt::format("the administration host {} is a client without a courier: its packages cannot "
                                   "leave it; give it one (`cordon admin host set {} --courier COORDINATOR`)",
                                   host_label(db_, *admin_host), admin_host->to_string()));
    }
    SendBatch batch{route->host, route->courier, {}, {}};
    Statement st = db_.prepare(
        "SELECT d.host, h.name, d.version, d.kind, d.new_host_key, d.urgent, d.via, d.package "
        "FROM deliveries d JOIN hosts h ON h.id = d.host WHERE d.sent_at IS NULL AND d.outcome IS NULL "
        "ORDER BY d.urgent DESC, d.host, d.version");
    while (st.step()) {
      OutgoingPackage p;
      p.host = host_from_sql(st.int64(0));
      p.host_name = st.text(1);
      p.version = static_cast<uint64_t>(st.int64(2));
      p.kind = static_cast<DirtyKind>(st.int64(3));
      p.new_host_key = st.int64(4) != 0;
      p.urgent = st.int64(5) != 0;
      if (!st.is_null(6)) p.via = host_from_sql(st.int64(6));
      const auto bytes = st.blob(7);
      p.package.assign(bytes.begin(), bytes.end());
      (p.via.value == 0 ? batch.unroutable : batch.packages).push_back(std::move(p));
    }
    return batch;
  });
}

void Admin::mark_sent(const std::vector<std::pair<HostId, uint64_t>>& accepted, const std::string& socket) {
  run_command(db_, batch_, "updates send", fmt::format("socket={} accepted={}", socket, accepted.size()), [&] {
    const int64_t now = now_seconds();
    for (const auto& [host, version] : accepted) {
      db_.cached("UPDATE deliveries SET sent_at = ?1, updated_at = ?1 WHERE host = ?2 AND version = ?3")
          .bind(1, now)
          .bind(2, sql_id(host))
          .bind(3, static_cast<int64_t>(version))
          .run();
    }
  });
}

DeliveryReport Admin::delivery_status(const std::optional<CourierReports>& reports) {
  DeliveryReport report;
  auto finish = [&](std::vector<DeliveryStatus> rows) {
    report.packages = std::move(rows);
    for (const DeliveryStatus& s : report.packages) {
      if (s.state == DeliveryState::kApplied) {
        ++report.applied;
      } else if (s.state == DeliveryState::kFailed || s.state == DeliveryState::kRefusedByCourier) {
        ++report.failed;
      } else {
        ++report.pending;
      }
    }
    return report;
  };
  if (!reports) return run_query(db_, batch_, [&] { return finish(read_status(db_, std::nullopt, {})); });

  report.daemon_answered = true;
  for (const CourierReports::Report& r : reports->reports) {
    ++(r.kind == CourierReports::Report::Kind::kReceipt ? report.receipts : report.notices);
  }
  // Nothing to record: a query, no audit row.
  if (reports->reports.empty()) return run_query(db_, batch_, [&] { return finish(read_status(db_, reports, {})); });
  const std::string args = fmt::format("receipts={} notices={}", report.receipts, report.notices);
  return run_command(db_, batch_, "updates status", args, [&] {
    const int64_t now = now_seconds();
    std::set<uint32_t> unverified;
    for (const CourierReports::Report& r : reports->reports) {
      if (r.kind == CourierReports::Report::Kind::kNotice) {
        record_notice(db_, r, now);
        continue;
      }
      // The tag is checked under the key of the host the receipt names,
      // which must be the host the daemon filed it under.
      const std::optional<HostId> claimed = courier::receipt_host(r.payload);
      const std::optional<crypto::SecretBytes> key =
          claimed && *claimed == r.subject ? current_host_key(db_, r.subject) : std::nullopt;
      const std::optional<courier::Receipt> receipt =
          key ? courier::verify_receipt(r.payload, *key) : std::nullopt;
      if (!receipt) {
        ++report.unverified_receipts;
        unverified.insert(r.subject.value);
        continue;
      }
      record_receipt(db_, *receipt, now);
    }
    return finish(read_status(db_, reports, unverified));
  });
}

}  // namespace cordon::admin
