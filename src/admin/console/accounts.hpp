// Console administrators (docs/console.md, "Logging in"): who may use the
// console's write operations. They are not the network's users (those are
// people on hosts, with user keys); a console account is a name and an
// Argon2id hash (libsodium crypto_pwhash_str, the "interactive" cost: 2
// passes, 64 MiB) in the database's console_accounts table (schema version
// 7), so that administrators sharing a database, SQLite or PostgreSQL,
// share the accounts. Every change is audited in the same transaction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin.hpp"

namespace cordon::admin::console {

// Names are 1-32 of [A-Za-z0-9._-]; the password follows the user-password
// rule (9-32 bytes, core/keys/password.hpp). Refuses a name already there.
void add_account(Admin& admin, const std::string& name, std::string_view password);
// Refuses a name that is not there.
void remove_account(Admin& admin, const std::string& name);
std::vector<std::string> list_accounts(Admin& admin);

// The account's hash, or nullopt when there is no such account. Quick: the
// caller may hold the database while it asks, and verify afterwards.
std::optional<std::string> account_hash(Admin& admin, const std::string& name);
// Whether `password` matches `hash`. No hash (an unknown name) costs the
// same Argon2id run as a known one, so timing does not tell which names
// exist; the answer is then false.
bool verify_password(const std::optional<std::string>& hash, std::string_view password);

// One audit row in its own transaction: the console's own events (logins,
// accounts) and the attribution row of each write ("console USER: ...").
void record_console_audit(Admin& admin, std::string_view operation, std::string_view arguments,
                          std::string_view result) noexcept;

}  // namespace cordon::admin::console
