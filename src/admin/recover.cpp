// `network recover` (admin.hpp): the way back after admin.db or a backup
// leaked (docs/administration.md, "Recovering from a leak").
//
// `keys rotate --all` is not enough then: its packages are sealed under the
// hosts' current host keys, and the leaked database holds every one of
// them in the clear, so whoever has the copy opens every package and reads
// the new keys. Here every key is replaced at once, in one transaction:
// link keys, host keys (at once, not as a pending rotation, since nothing
// may be sealed under an old one again) and user keys, each user key
// wrapped under the password key of a new generated password that the old
// database never saw. Every user gets a fresh key set in the output
// directory, at a version above any package built before, so those
// packages are refused as stale.
#include "admin/internal.hpp"

namespace cordon::admin {
namespace {

std::vector<HostId> all_hosts(Database& db) {
  std::vector<HostId> hosts;
  Statement st = db.prepare("SELECT id FROM hosts ORDER BY id");
  while (st.step()) hosts.push_back(host_from_sql(st.int64(0)));
  return hosts;
}

void replace_host_key(Database& db, HostId host) {
  const crypto::SecretBytes key = random_key();
  db.cached("UPDATE hosts SET host_key = ?1, next_host_key = NULL WHERE id = ?2")
      .bind_blob(1, key.view())
      .bind(2, sql_id(host))
      .run();
}

std::vector<NewPassword> renew_users(Database& db) {
  std::vector<NewPassword> out;
  Statement st = db.prepare(
      "SELECT u.host, h.name, u.name, u.created_at FROM users u JOIN hosts h ON h.id = u.host "
      "ORDER BY u.host, u.name");
  while (st.step()) {
    NewPassword p;
    p.user.host = host_from_sql(st.int64(0));
    p.user.host_name = st.text(1);
    p.user.name = st.text(2);
    p.user.created_at = st.int64(3);
    p.user.generated_password = true;
    p.user.kdf = keys::kdf_policy(keys::PasswordOrigin::kGenerated);
    out.push_back(std::move(p));
  }
  st.reset();
  for (NewPassword& p : out) p.generated = renew_user_key(db, p.user.host, p.user.name);
  return out;
}

// A host with a fresh key set needs nothing older; a host without users
// got none, and its old key set is void: it waits for `keyset export`.
// Packages built before are sealed under the old host keys: none is sent
// any more (deliveries).
std::vector<std::pair<HostId, std::string>> settle_marks(Database& db) {
  db.exec(fmt::format(
      "UPDATE hosts SET dirty = {}, urgent = 0, exported = 1 WHERE id IN (SELECT host FROM users);"
      "UPDATE hosts SET dirty = {}, urgent = 0, exported = 0 WHERE id NOT IN (SELECT host FROM users);"
      "DELETE FROM deliveries",
      static_cast<int>(DirtyKind::kNone), static_cast<int>(DirtyKind::kKeys)));
  std::vector<std::pair<HostId, std::string>> out;
  Statement st = db.prepare("SELECT id, name FROM hosts WHERE exported = 0 ORDER BY id");
  while (st.step()) out.emplace_back(host_from_sql(st.int64(0)), st.text(1));
  return out;
}

}  // namespace

RecoveryResult Admin::recover_network(const std::string& out_dir) {
  return run_command(db_, batch_, "network recover", "out=" + out_dir, [&] {
    RecoveryResult r;
    for (const auto& [a, b] : pairs_of(db_, std::nullopt)) {
      new_link_key(db_, a, b);
      ++r.rotated.link_keys;
    }
    for (HostId host : all_hosts(db_)) {
      replace_host_key(db_, host);
      ++r.rotated.host_keys;
    }
    r.passwords = renew_users(db_);
    r.user_keys = r.passwords.size();
    // The links are new already: exporting must not rotate them again.
    r.keysets = export_all(db_, network_, out_dir, /*keep_keys=*/true);
    r.without_users = settle_marks(db_);
    return r;
  });
}

}  // namespace cordon::admin
