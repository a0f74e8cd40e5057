// `keyset export`: a host's key set for one of its users (admin.hpp;
// format in core/keys/keyset.hpp).
//
// Versions: every export takes the host's next key-set version, so a host
// can tell any two files apart and a later update (a higher version)
// always supersedes an installed key set. The first export of a host
// clears its dirty mark: the key set carries the whole current state, and
// no earlier state was ever delivered. Later exports (another user, a
// reinstall) leave the mark alone, because hosts already running an older
// version still need their update package.
//
// Exporting again: a second installation of the same link keys (a
// reinstall, a cloned VM, a restored backup, a standby) starts its counters
// without the first one's counter floor and would repeat nonces
// (docs/protocol.md, "Nonce uniqueness"). So a host exported before gets new link
// keys first, and its peers get them in a "keys" update, unless the caller
// says --keep-keys (docs/administration.md, "Exporting again").
#include <algorithm>
#include <map>
#include <set>

#include "admin/internal.hpp"
#include "admin/snapshot.hpp"
#include "admin/staged_files.hpp"
#include "core/keys/keyset.hpp"

namespace cordon::admin {
namespace {

UserKeys choose_user(Database& db, HostId host, const std::optional<std::string>& user) {
  Statement st = db.prepare(
      "SELECT name, user_key, kdf_alg, opslimit, memlimit, salt, wrapped_user_key FROM users "
      "WHERE host = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name");
  st.bind(1, sql_id(host)).bind(2, user);
  std::vector<std::string> names;
  std::optional<UserKeys> found;
  while (st.step()) {
    if (!found) found = read_user(st, host, 0);
    names.push_back(st.text(0));
  }
  if (names.empty() && user) {
    throw AdminError(fmt::format("--user: host {} has no user '{}'; see `cordon admin user list --host {}`",
                                 host_label(db, host), *user, host.to_string()));
  }
  if (names.empty()) {
    throw AdminError(
        fmt::format("--host: host {} has no users; add one with `cordon admin user add --host {} "
                    "--name NAME`",
                    host_label(db, host), host.to_string()));
  }
  if (names.size() > 1) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    throw AdminError(fmt::format("--user: host {} has {} users ({}); say which one with --user", host_label(db, host),
                                 names.size(), list));
  }
  return std::move(*found);
}

std::vector<std::byte> seal(const UserKeys& u, uint64_t version, const crypto::SecretBytes& host_key,
                            const keys::KeySetBody& body) {
  keys::KeySetNonces nonces;
  nonces.host_key = random_array<crypto::kXChaChaNonceSize>();
  nonces.body = random_array<crypto::kXChaChaNonceSize>();
  auto file = keys::seal_keyset(u.wrapped, version, u.user_key, host_key, body, nonces);
  if (!file) {
    throw AdminError(fmt::format("cannot build the key set of {} for user '{}': {}", u.wrapped.host.to_string(), u.name,
                                 file.error().message()));
  }
  return std::move(file.value());
}

void record_export(Database& db, HostId host, uint64_t version) {
  db.cached(
        "UPDATE hosts SET keyset_version = ?1, dirty = CASE WHEN exported = 0 THEN 0 ELSE dirty END, "
        "urgent = CASE WHEN exported = 0 THEN 0 ELSE urgent END, exported = 1 "
        "WHERE id = ?2")
      .bind(1, static_cast<int64_t>(version))
      .bind(2, sql_id(host))
      .run();
}

// A user name as a file-name part: safe characters kept, others as %XX.
std::string file_part(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

bool was_exported(Database& db, HostId host) {
  Statement& st = db.cached("SELECT exported FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(host));
  return st.step() && st.int64(0) != 0;
}

// Before a host's key set is written again: its links get new keys (both
// ends marked "keys"), so no two installations share a link key.
size_t renew_links_if_exported(Database& db, HostId host, bool keep_keys) {
  if (keep_keys || !was_exported(db, host)) return 0;
  return renew_links(db, {host})[host.value];
}

std::string keep_keys_argument(bool keep_keys) { return keep_keys ? " keep-keys" : ""; }

}  // namespace

UserKeys read_user(const Statement& st, HostId host, int first_column) {
  // Columns: name, user_key, kdf_alg, opslimit, memlimit, salt, wrapped_user_key
  const int c = first_column;
  UserKeys u;
  u.name = st.text(c);
  u.user_key = crypto::SecretBytes(st.blob(c + 1));
  u.wrapped.host = host;
  u.wrapped.user = u.name;
  u.wrapped.kdf = keys::KdfParams{static_cast<keys::KdfAlg>(st.int64(c + 2)), static_cast<uint32_t>(st.int64(c + 3)),
                                  static_cast<uint32_t>(st.int64(c + 4))};
  const auto salt = st.blob(c + 5);
  const auto sealed = st.blob(c + 6);
  if (salt.size() != u.wrapped.salt.size() || sealed.size() != u.wrapped.sealed.size()) {
    throw AdminError(
        fmt::format("user '{}' of host {}: the stored key wrap is damaged; reset the password with "
                    "`cordon admin user passwd`",
                    u.name, host.to_string()));
  }
  std::copy(salt.begin(), salt.end(), u.wrapped.salt.begin());
  std::copy(sealed.begin(), sealed.end(), u.wrapped.sealed.begin());
  return u;
}


ExportedKeySet Admin::export_keyset(const std::string& host_ref, const std::optional<std::string>& user,
                                    const std::string& out_file, bool keep_keys) {
  const std::string args = fmt::format("host={}{} out={}{}", host_ref, user ? " user=" + *user : std::string(),
                                       out_file, keep_keys_argument(keep_keys));
  return run_command(db_, batch_, "keyset export", args, [&] {
    const HostId host = resolve_host(db_, host_ref, "--host");
    const UserKeys u = choose_user(db_, host, user);
    const size_t rotated = renew_links_if_exported(db_, host, keep_keys);
    Statement& st = db_.cached("SELECT COALESCE(next_host_key, host_key), keyset_version FROM hosts WHERE id = ?1");
    st.bind(1, sql_id(host));
    st.step();
    // A pending host-key rotation ships its NEW key: the old one may be
    // known to a removed user. The rotation stays pending, and the next
    // package still wraps the new key for every user (keys.cpp), so hosts
    // on this file and hosts on an older one both open it.
    const crypto::SecretBytes host_key(st.blob(0));
    const uint64_t version = static_cast<uint64_t>(st.int64(1)) + 1;
    st.reset();

    const Snapshot snapshot = Snapshot::load_for(db_, network_, {host});
    const keys::KeySetBody body = snapshot.body_for(host);
    const std::vector<std::byte> file = seal(u, version, host_key, body);
    record_export(db_, host, version);
    write_private_file(out_file, file);
    return ExportedKeySet{host, body.book.entries.front().name, u.name, version, out_file, body.links.size(),
                          rotated};
  });
}

std::map<uint32_t, size_t> renew_links(Database& db, const std::vector<HostId>& hosts) {
  std::set<std::pair<HostId, HostId>> done;
  std::map<uint32_t, size_t> renewed;
  for (HostId host : hosts) {
    for (const auto& [a, b] : pairs_of(db, host)) {
      if (!done.emplace(a, b).second) continue;
      new_link_key(db, a, b);
      ++renewed[host.value];
    }
  }
  return renewed;
}

std::vector<ExportedKeySet> Admin::export_all_keysets(const std::string& out_dir, bool keep_keys) {
  return run_command(db_, batch_, "keyset export --all", "out=" + out_dir + keep_keys_argument(keep_keys),
                     [&] { return export_all(db_, network_, out_dir, keep_keys); });
}

std::vector<ExportedKeySet> export_all(Database& db, const NetworkSpec& network, const std::string& out_dir,
                                       bool keep_keys) {
  std::map<uint32_t, size_t> rotated;
  if (!keep_keys) {
    Statement st = db.prepare("SELECT id FROM hosts WHERE exported <> 0 AND id IN (SELECT host FROM users)");
    std::vector<HostId> again;
    while (st.step()) again.push_back(host_from_sql(st.int64(0)));
    rotated = renew_links(db, again);
  }
  const Snapshot snapshot = Snapshot::load_all(db, network);
  // Users by host, in one query.
  std::map<uint32_t, std::vector<UserKeys>> users;
  {
    Statement st = db.prepare(
        "SELECT host, name, user_key, kdf_alg, opslimit, memlimit, salt, wrapped_user_key FROM users "
        "ORDER BY host, name");
    while (st.step()) {
      const HostId host = host_from_sql(st.int64(0));
      users[host.value].push_back(read_user(st, host, 1));
    }
  }
  StagedFiles files(out_dir);
  std::vector<ExportedKeySet> out;
  // The new host key of a pending rotation, as in export_keyset.
  Statement st =
      db.prepare("SELECT id, name, COALESCE(next_host_key, host_key), keyset_version FROM hosts ORDER BY id");
  std::vector<std::pair<HostId, uint64_t>> versions;
  while (st.step()) {
    const HostId host = host_from_sql(st.int64(0));
    const auto it = users.find(host.value);
    if (it == users.end()) continue;  // no user: nothing can open a key set
    const crypto::SecretBytes host_key(st.blob(2));
    const uint64_t version = static_cast<uint64_t>(st.int64(3)) + 1;
    const keys::KeySetBody body = snapshot.body_for(host);
    for (const UserKeys& u : it->second) {
      const std::vector<std::byte> file = seal(u, version, host_key, body);
      const std::string path = files.add(fmt::format("{}-{}.keyset", host.to_string(), file_part(u.name)), file);
      out.push_back(ExportedKeySet{host, st.text(1), u.name, version, path, body.links.size(),
                                   std::exchange(rotated[host.value], 0)});
    }
    versions.emplace_back(host, version);
  }
  st.reset();
  for (const auto& [host, version] : versions) record_export(db, host, version);
  files.publish();
  return out;
}

}  // namespace cordon::admin
