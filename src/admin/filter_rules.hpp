// Filter rules as key sets and packages carry them (filter_rules.cpp; the
// facade's commands are in admin.hpp). Not part of the facade.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/keys/keyset.hpp"
#include "core/types.hpp"

namespace cordon::admin {

class Database;

// A stored rule, resolved for export.
struct StoredFilterRule {
  int64_t number = 0;
  keys::FilterRuleKind kind = keys::FilterRuleKind::kProtected;
  std::optional<HostId> host;     // a host's rule, or
  std::optional<int64_t> group;   // a group's, with
  std::vector<HostId> members;    // its members now, sorted
  std::string text;
  // The text hosts receive (an open rule's as written), or nullopt when
  // its peers name no host now.
  std::optional<std::string> exported;
};

// `text` (a stored rule) with the names after `peer` replaced by the host
// IDs they stand for now, in canonical form; nullopt when they stand for no
// host (the rule could never match, so no host receives it).
std::optional<std::string> exported_rule_text(Database& db, std::string_view text);

// Every rule in order, resolved: a few queries, for any number of hosts.
std::vector<StoredFilterRule> load_filter_rules(Database& db);

// The rules `host` receives, in order: its own and its groups'.
std::vector<keys::FilterRuleEntry> filter_rules_for(const std::vector<StoredFilterRule>& rules, HostId host);

// Marks every host some rule is for with an address-book update: a change
// of hosts or groups can change what the names in rules stand for.
void mark_rule_hosts_dirty(Database& db);

// Keeps rules meaning what they meant when hosts or groups change (call in
// the same transaction, before the change): `rename_in_filter_rules` writes
// the new name where a rule names a host or group by the old one;
// `forget_in_filter_rules` takes a host or group about to be removed out of
// the rules' peer lists (by each of `names`: a host's name and ID), and
// removes a rule whose list is then empty, since it could never match.
// Each marks the hosts of the rules it changed.
void rename_in_filter_rules(Database& db, std::string_view old_name, std::string_view new_name);
void forget_in_filter_rules(Database& db, const std::vector<std::string>& names);

// Refuses (AdminError) a new host or group name that a rule already uses
// after `peer` for another host or group: the rule would change meaning.
void refuse_name_in_filter_rules(Database& db, std::string_view name);

}  // namespace cordon::admin
