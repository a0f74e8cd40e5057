// Console administrators (docs/console.md, "Logging in"): who may use the
// console's write operations. They are not the network's users (those are
// people on hosts, with user keys); a console account is a name and an
// Argon2id hash (libsodium crypto_pwhash_str, the "interactive" cost: 2
// passes, 64 MiB), one per line in FILE = `console-users` next to the
// network database, mode 0600, written atomically. Every change is
// recorded in the database's audit log.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "admin/admin.hpp"

namespace cordon::admin::console {

// DIR/console-users for the database DIR/NAME.
std::string accounts_path(const std::string& db_path);

// Names are 1-32 of [A-Za-z0-9._-]; the password follows the user-password
// rule (9-32 bytes, core/keys/password.hpp). Refuses a name already there.
void add_account(Admin& admin, const std::string& db_path, const std::string& name, std::string_view password);
// Refuses a name that is not there.
void remove_account(Admin& admin, const std::string& db_path, const std::string& name);
std::vector<std::string> list_accounts(const std::string& db_path);

// Whether `password` is the account's. An unknown name costs the same
// Argon2id run as a known one, so timing does not tell which names exist.
bool verify_account(const std::string& db_path, const std::string& name, std::string_view password);

// One audit row in its own transaction: the console's own events (logins,
// accounts) and the attribution row of each write ("console USER: ...").
void record_console_audit(Admin& admin, std::string_view operation, std::string_view arguments,
                          std::string_view result) noexcept;

}  // namespace cordon::admin::console
