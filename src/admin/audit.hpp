// The audit log: one row per admin operation, in the same transaction as
// the change (so a rolled-back command leaves no "ok" row). Arguments are
// recorded as given on the command line, minus secrets: passwords and keys
// never reach this table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::admin {

class Database;
struct AuditEntry;

void record_audit(Database& db, std::string_view operation, std::string_view arguments, std::string_view result);
// A refused command: written in its own transaction after the rollback;
// skipped silently when that is impossible (locked or unreadable database).
void record_refusal(Database& db, std::string_view operation, std::string_view arguments,
                    std::string_view message) noexcept;
std::vector<AuditEntry> read_audit(Database& db, int64_t limit);

}  // namespace cordon::admin
