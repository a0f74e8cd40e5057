// `cordon admin …`: the administrator's commands over the network database
// (src/admin/admin.hpp). Global option --db PATH (default
// /var/lib/cordon/admin.db) or --db postgresql://URI; --json on list/show and on most changes.
//
//   admin network init --number N --name NAME --ipv4 PREFIX [--ipv6 PREFIX]
//   admin network show
//   admin network export --out FILE [--password-file F]
//   admin network import FILE [--password-file F]
//   admin network migrate --to postgresql://...
//   admin host add --name NAME --role client|coordinator [--id 0xNNNNHHHH] [--endpoint ADDR:PORT]...
//                  [--coordinator H] [--registry H] [--rendezvous H] [--courier H] [--subnet PREFIX]...
//   admin host set H [--name N] [--role R] [--endpoint E]... [--clear-endpoints] [--coordinator H] ...
//                  [--clear-coordinators] [--subnet P]... [--clear-subnets]
//   admin host remove|show|compromise H ; admin host list
//   admin user add|remove|passwd --host H --name U [--password-file F] ; admin user list [--host H]
//   admin group add|remove NAME ; admin group member add|remove GROUP HOST ; admin group list
//   admin link add|remove A B [--groups] ; admin link list
//   admin keys rotate (--link A B | --host H | --all)
//   admin keyset export (--host H [--user U] --out FILE | --all --out DIR)
//   admin updates build --out DIR ; admin updates pending
//   admin audit [--limit N]
//
// Exit codes: 0 done, 1 refused or failed (one line on stderr naming the
// field, host or file and what to do; nothing was changed), 2 usage.
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace cordon::cli {

// Adds `admin` to `app`; after parsing, dispatch_admin_commands runs the
// command that was given (nullopt: not an admin command).
void add_admin_commands(CLI::App& app);
std::optional<int> dispatch_admin_commands();

}  // namespace cordon::cli
