// How `cordon admin` shows things: aligned tables for people, JSON (--json)
// for scripts. JSON field names are stable.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"

namespace cordon::cli {

// A table with a header row; columns padded to their widest cell.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

std::string format_time(int64_t unix_seconds);  // "2024-05-01 12:00:00Z"; "-" for 0

nlohmann::json to_json(const admin::NetworkInfo& info);
// `detailed`: also users, groups and peers (`host show`).
nlohmann::json to_json(const admin::HostInfo& host, bool detailed = false);
nlohmann::json to_json(const admin::UserInfo& user);
nlohmann::json to_json(const admin::GroupInfo& group);
nlohmann::json to_json(const admin::LinkInfo& link);
nlohmann::json to_json(const admin::LinkChange& change);
nlohmann::json to_json(const admin::FilterRuleInfo& rule);
nlohmann::json to_json(const admin::ReachInfo& limit);
nlohmann::json to_json(const admin::ExportedKeySet& keyset);
nlohmann::json to_json(const admin::BuildResult& result);
nlohmann::json to_json(const admin::PendingUpdate& pending);
nlohmann::json to_json(const admin::AuditEntry& entry);
nlohmann::json to_json(const admin::AdminHostChange& change);
nlohmann::json to_json(const admin::DeliveryStatus& status);

std::string format_network(const admin::NetworkInfo& info);
std::string format_rekey_period(int64_t seconds);  // "every 3600 s", or "off" for 0
std::string format_host(const admin::HostInfo& host, bool detailed);  // `host show`: detailed
std::string format_hosts(const std::vector<admin::HostInfo>& hosts);
std::string format_users(const std::vector<admin::UserInfo>& users);
std::string format_groups(const std::vector<admin::GroupInfo>& groups);
std::string format_links(const std::vector<admin::LinkInfo>& links);
std::string format_link_change(const admin::LinkChange& change);
std::string format_filter_rules(const std::vector<admin::FilterRuleInfo>& rules);
std::string format_reach(const std::vector<admin::ReachInfo>& limits);
std::string format_reach_one(const admin::ReachInfo& limit);
std::string format_build(const admin::BuildResult& result);
std::string format_pending(const std::vector<admin::PendingUpdate>& pending);
std::string format_audit(const std::vector<admin::AuditEntry>& entries);
std::string format_admin_host_change(const admin::AdminHostChange& change);

// `updates send`: one row per package handed to the daemon, with what it
// said ("sent", "refused: ...", "not taken").
struct SentPackage {
  admin::OutgoingPackage package;
  std::string state;
};
nlohmann::json to_json(const SentPackage& sent);
std::string format_sent(const std::vector<SentPackage>& sent);

// `updates status`: the STATE column of a package ("applied v3 at ...").
std::string delivery_state_text(const admin::DeliveryStatus& status);
// The table and its summary line ("2 applied, 1 pending, 0 failed").
std::string format_delivery_report(const admin::DeliveryReport& report);

}  // namespace cordon::cli
