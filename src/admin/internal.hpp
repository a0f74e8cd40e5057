// Helpers shared by the admin module's .cpp files (not part of the facade).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "admin/admin.hpp"
#include "admin/audit.hpp"
#include "admin/database.hpp"
#include "core/crypto/secret.hpp"
#include "core/keys/update_package.hpp"
#include "core/types.hpp"

namespace cordon::admin {

int64_t now_seconds();

// 32 bytes from the OS CSPRNG (getrandom): link, host and user keys.
crypto::SecretBytes random_key();
// Fills a salt or nonce from the OS CSPRNG.
void random_fill(std::span<std::byte> out);
template <size_t N>
std::array<std::byte, N> random_array() {
  std::array<std::byte, N> a{};
  random_fill(a);
  return a;
}

inline int64_t sql_id(HostId id) { return static_cast<int64_t>(id.value); }
inline HostId host_from_sql(int64_t v) { return HostId{static_cast<uint32_t>(v)}; }

// Hex text (either case) to bytes; nullopt when it is not hex. The daemon's
// control answers carry receipts and status reports so (delivery.cpp).
std::optional<std::vector<std::byte>> from_hex(std::string_view text);
// A host's current host key, which tags its receipts and status reports;
// nullopt for a host not in the database.
std::optional<crypto::SecretBytes> current_host_key(Database& db, HostId host);

// Resolves "0xNNNNHHHH" or a host name to an existing host. `what` names the
// argument in the error ("--coordinator", "first host of the link").
HostId resolve_host(Database& db, std::string_view ref, std::string_view what = "host");
std::optional<HostId> find_host(Database& db, std::string_view ref);
// "name (0xNNNNHHHH)"
std::string host_label(Database& db, HostId id);
Role host_role(Database& db, HostId id);

int64_t resolve_group(Database& db, std::string_view name);
std::optional<int64_t> find_group(Database& db, std::string_view name);
// A group's members, sorted by host ID (groups.cpp).
std::vector<HostId> group_members(Database& db, int64_t group);

// Names: 1..64 bytes of printable text without spaces at either end; a host
// name may not look like a host ID (hosts are named by either).
void check_name(std::string_view name, std::string_view what);

// The network row (network.cpp).
NetworkSpec load_network(Database& db);
// network.rekey_period, in seconds (network.cpp).
int64_t load_rekey_period(Database& db);

// One host's rows of a list table in position order: `sql` selects one
// text column, bound to the host as ?1; each is parsed by T::parse, and a
// row that does not parse is left out.
template <typename T>
std::vector<T> load_parsed(Database& db, const char* sql, HostId id) {
  std::vector<T> out;
  Statement& st = db.cached(sql);
  st.bind(1, sql_id(id));
  while (st.step()) {
    if (auto item = T::parse(st.text(0))) out.push_back(*item);
  }
  return out;
}

// One host with its endpoints and subnets (hosts.cpp).
HostInfo load_host(Database& db, const NetworkSpec& net, HostId id);
std::vector<Endpoint> load_endpoints(Database& db, HostId id);

// ---- Routed subnets (subnets.cpp) ---------------------------------------
// A coordinator's tunneled subnets (`lan`) and IPsec peers' subnets
// (`ipsec`): both are routed to it by its peers.

// Only a coordinator has them, at most keys::kMaxSubnets in all, each a
// network prefix; an IPsec subnet's peer name is 1..64 of [A-Za-z0-9._-].
void check_routed_subnets(const std::vector<Prefix>& lan, const std::vector<IpsecSubnet>& ipsec, Role role);
// None overlaps another of the host's own, the network's tunnel addresses,
// or another host's tunneled or IPsec subnets (named in the error).
void check_routed_subnets_free(Database& db, const NetworkSpec& network, HostId self, const std::vector<Prefix>& lan,
                               const std::vector<IpsecSubnet>& ipsec);
void write_subnets(Database& db, HostId id, const std::vector<Prefix>& subnets);
void write_ipsec_subnets(Database& db, HostId id, const std::vector<IpsecSubnet>& subnets);
std::vector<Prefix> load_subnets(Database& db, HostId id);
std::vector<IpsecSubnet> load_ipsec_subnets(Database& db, HostId id);
// What a key set lists for the host: its tunneled subnets, then the
// prefixes of its IPsec subnets.
std::vector<Prefix> routed_prefixes(const std::vector<Prefix>& lan, const std::vector<IpsecSubnet>& ipsec);
std::vector<Prefix> load_routed_subnets(Database& db, HostId id);

// ---- Links (links.cpp) --------------------------------------------------

inline std::pair<HostId, HostId> ordered(HostId a, HostId b) { return a < b ? std::pair{a, b} : std::pair{b, a}; }

// Makes sure the pair is linked; a new link gets a new key and marks both
// hosts "keys". `manual` also records an explicit `link add`.
void ensure_link(Database& db, HostId a, HostId b, bool manual, LinkChange& change);
// Removes the pair's link if nothing asks for it any more (no manual mark,
// no coordinator assignment, no group link); marks both hosts if removed.
void reconcile_link(Database& db, HostId a, HostId b, LinkChange& change);
// Why the pair is linked (empty: it shouldn't be).
std::vector<std::string> link_reasons(Database& db, HostId a, HostId b);
// The hosts `host` is linked with.
std::vector<HostId> linked_hosts(Database& db, HostId host);

// ---- The administration host (admin_host.cpp) ------------------------------

// The administration host and its courier (docs/couriers.md, "Who is who").
struct AdminRoute {
  HostId host;
  HostId courier;  // the host itself when it is a coordinator
};
// network.admin_host, if one is designated.
std::optional<HostId> load_admin_host(Database& db);
// Both, when a host is designated and has a courier (a client whose courier
// was removed as compromised has none): what key sets carry as network
// settings 2 and 3; nullopt otherwise, and key sets carry neither.
std::optional<AdminRoute> load_admin_route(Database& db);
// Refuses a host that cannot be the administration host: a client without
// a courier. `what` names the option ("--admin-host").
void check_admin_host_candidate(Database& db, HostId host, std::string_view what);
// Whether the pair is the administration courier and another coordinator
// (the reason "courier" of link_reasons).
bool courier_requires(Database& db, HostId a, HostId b);
// Links the administration courier with every other coordinator and drops
// the courier links nothing asks for any more.
void reconcile_courier_links(Database& db, LinkChange& change);
// After a command that may have moved the administration host or courier
// (`before`: load_admin_route() at its start): if either moved, every host
// is marked "address book" (every key set carries them); then the courier
// links are reconciled.
void sync_admin_route(Database& db, const std::optional<AdminRoute>& before, LinkChange& change);

// ---- Deliveries (delivery.cpp) ------------------------------------------------

// Stores a package `updates build` made, in its transaction, and drops the
// host's packages it makes unneeded.
void store_delivery(Database& db, const BuiltPackage& built, std::span<const std::byte> package);

// Every host pair a group link between groups `a` and `b` asks for.
std::vector<std::pair<HostId, HostId>> group_link_pairs(Database& db, int64_t group_a, int64_t group_b);

// ---- Keys (keys.cpp, users.cpp, export.cpp) -------------------------------

// A new host key for `host` (pending until the next package, keys.cpp) and
// a new key for each of its links, which marks both ends "keys": what
// `keys rotate --host` does, and what locks a removed user or a rotated
// user key out (docs/administration.md, "Revocation").
RotateResult rotate_host_keys(Database& db, HostId host);

// One user's keys as the users table stores them.
struct UserKeys {
  std::string name;
  crypto::SecretBytes user_key;
  keys::WrappedUserKey wrapped;
};
// Reads a users row whose columns, from `first_column`, are: name,
// user_key, kdf_alg, opslimit, memlimit, salt, wrapped_user_key (export.cpp).
// Throws AdminError for a damaged stored record.
UserKeys read_user(const Statement& st, HostId host, int first_column);

// Every user of `host` with its user key and stored user-key record, for
// wrapping a new host key (updates.cpp). Throws AdminError for a damaged
// stored record.
std::vector<keys::UserKeyHolder> user_key_holders(Database& db, HostId host);

// A new key for the link a-b (a < b); both ends are marked "keys".
void new_link_key(Database& db, HostId a, HostId b);
// All link pairs of `host` (nullopt: of the whole network).
std::vector<std::pair<HostId, HostId>> pairs_of(Database& db, std::optional<HostId> host);
// New keys for every link of `hosts`, each link once (new_link_key).
// Returns, per host ID, how many links it renewed: a link two of them
// share counts for the first.
std::map<uint32_t, size_t> renew_links(Database& db, const std::vector<HostId>& hosts);
// A new user key under a new generated password (returned, to be shown
// once); the old wrap and user key are gone.
crypto::SecretBytes renew_user_key(Database& db, HostId host, const std::string& name);

// Every host's key sets into `out_dir` (Admin::export_all_keysets without
// its transaction; export.cpp).
std::vector<ExportedKeySet> export_all(Database& db, const NetworkSpec& network, const std::string& out_dir,
                                       bool keep_keys);

// ---- Commands -------------------------------------------------------------

// Runs `body` as one admin command: BEGIN IMMEDIATE (or inside the open
// batch), the audit row, COMMIT. If `body` throws, the transaction rolls
// back and the refusal is recorded in the audit log in its own small
// transaction (best effort: not when the database is locked).
template <typename F>
auto run_command(Database& db, Transaction* batch, std::string_view operation, std::string arguments, F&& body) {
  try {
    std::optional<Transaction> tx;
    if (batch == nullptr) tx.emplace(db, Transaction::Kind::kWrite);
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      if (batch == nullptr) {
        record_audit(db, operation, arguments, "ok");
        tx->commit();
      }
    } else {
      auto result = body();
      if (batch == nullptr) {
        record_audit(db, operation, arguments, "ok");
        tx->commit();
      }
      return result;
    }
  } catch (const DatabaseLocked&) {
    throw;
  } catch (const AdminError& e) {
    if (batch == nullptr) record_refusal(db, operation, arguments, e.what());
    throw;
  }
}

// A read-only command: a consistent snapshot, no audit row.
template <typename F>
auto run_query(Database& db, Transaction* batch, F&& body) {
  std::optional<Transaction> tx;
  if (batch == nullptr) tx.emplace(db, Transaction::Kind::kRead);
  return body();
}

}  // namespace cordon::admin
