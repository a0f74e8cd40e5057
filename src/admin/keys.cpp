// Key rotation (admin.hpp; docs/administration.md, "Key rotation and
// compromise"). As in the ViPNet technology description
// ("Symmetric Keys"), link keys are renewed when the topology changes, on
// schedule, and when a host's keys are compromised.
//
// A new link key reaches both hosts in their next packages (kind "keys").
// A new host key waits in hosts.next_host_key until the next package is
// built: that package wraps it under the user key of every current user of
// the host and seals its body under the new key, never under the old one
// (core/keys/update_package.hpp, format 2), so whoever kept the old host
// key or a removed user's key learns nothing from it. Then it is promoted
// to hosts.host_key. A host that never got a key set has nothing to keep
// in step with, so its host key is replaced at once.
#include "admin/internal.hpp"

namespace cordon::admin {

void new_link_key(Database& db, HostId a, HostId b) {
  const crypto::SecretBytes key = random_key();
  db.cached("UPDATE links SET key = ?1, rotated_at = ?2 WHERE a = ?3 AND b = ?4")
      .bind_blob(1, key.view())
      .bind(2, now_seconds())
      .bind(3, sql_id(a))
      .bind(4, sql_id(b))
      .run();
  mark_dirty(db, a, DirtyKind::kKeys);
  mark_dirty(db, b, DirtyKind::kKeys);
}

static void new_host_key(Database& db, HostId host) {
  const crypto::SecretBytes key = random_key();
  db.cached(
        "UPDATE hosts SET host_key = CASE WHEN exported = 0 THEN ?1 ELSE host_key END, "
        "next_host_key = CASE WHEN exported = 0 THEN NULL ELSE ?1 END WHERE id = ?2")
      .bind_blob(1, key.view())
      .bind(2, sql_id(host))
      .run();
  mark_dirty(db, host, DirtyKind::kKeys);
}

// All link pairs of `host` (or of everyone), read before rewriting them.
std::vector<std::pair<HostId, HostId>> pairs_of(Database& db, std::optional<HostId> host) {
  std::vector<std::pair<HostId, HostId>> out;
  Statement st = db.prepare("SELECT a, b FROM links WHERE ?1 IS NULL OR a = ?1 OR b = ?1");
  st.bind(1, host ? std::optional<int64_t>(sql_id(*host)) : std::nullopt);
  while (st.step()) out.emplace_back(host_from_sql(st.int64(0)), host_from_sql(st.int64(1)));
  return out;
}

RotateResult Admin::rotate_link(const std::string& a, const std::string& b) {
  return run_command(db_, batch_, "keys rotate --link", fmt::format("a={} b={}", a, b), [&] {
    const HostId ha = resolve_host(db_, a, "--link: first host");
    const HostId hb = resolve_host(db_, b, "--link: second host");
    const auto [lo, hi] = ordered(ha, hb);
    Statement& st = db_.cached("SELECT 1 FROM links WHERE a = ?1 AND b = ?2");
    st.bind(1, sql_id(lo)).bind(2, sql_id(hi));
    if (!st.step()) {
      throw AdminError(fmt::format("--link: {} and {} are not linked; see `cordon admin link list`",
                                   host_label(db_, ha), host_label(db_, hb)));
    }
    st.reset();
    new_link_key(db_, lo, hi);
    return RotateResult{1, 0};
  });
}

RotateResult rotate_host_keys(Database& db, HostId host) {
  RotateResult r;
  for (const auto& [a, b] : pairs_of(db, host)) {
    new_link_key(db, a, b);
    ++r.link_keys;
  }
  new_host_key(db, host);
  r.host_keys = 1;
  return r;
}

RotateResult Admin::rotate_host(const std::string& ref) {
  return run_command(db_, batch_, "keys rotate --host", "host=" + ref,
                     [&] { return rotate_host_keys(db_, resolve_host(db_, ref, "--host")); });
}

RotateResult Admin::rotate_all() {
  return run_command(db_, batch_, "keys rotate --all", "", [&] {
    RotateResult r;
    for (const auto& [a, b] : pairs_of(db_, std::nullopt)) {
      new_link_key(db_, a, b);
      ++r.link_keys;
    }
    std::vector<HostId> hosts;
    Statement st = db_.prepare("SELECT id FROM hosts");
    while (st.step()) hosts.push_back(host_from_sql(st.int64(0)));
    for (HostId h : hosts) new_host_key(db_, h);
    r.host_keys = hosts.size();
    return r;
  });
}

}  // namespace cordon::admin
