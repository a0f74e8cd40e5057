// Users of a host and their keys (admin.hpp; key hierarchy in
// core/keys/keyset.hpp). The administrator keeps each user's user key (it
// wraps the host key in every key set it exports and in every package that
// replaces the host key) and the user key wrapped under the password key,
// made once here: later key-set versions reuse the wrap, so the password is
// never stored and never needed again. Removing a user, or rotating a user
// key, replaces the host's keys (docs/administration.md, "Revocation").
#include <algorithm>

#include "admin/internal.hpp"
#include "core/keys/keyset.hpp"

namespace cordon::admin {
namespace {

struct PasswordChoice {
  crypto::SecretBytes generated;  // empty when chosen
  keys::KdfParams kdf;
};

// Checks a chosen password, or generates one: the administrator may
// generate it or the user choose it (docs/administration.md, "Passwords
// and the KDF policy").
PasswordChoice choose_password(std::optional<std::string_view> chosen) {
  PasswordChoice c;
  if (chosen) {
    if (auto bad = keys::check_password_length(*chosen); !bad) throw AdminError("--password-file: " + bad.error());
    c.kdf = keys::kdf_policy(keys::PasswordOrigin::kChosen);
    return c;
  }
  auto random = random_array<keys::kGeneratedPasswordSize>();
  c.generated = keys::generate_password(random);
  crypto::wipe(random);
  c.kdf = keys::kdf_policy(keys::PasswordOrigin::kGenerated);
  return c;
}

keys::WrappedUserKey wrap(HostId host, std::string_view user, std::string_view password, const keys::KdfParams& kdf,
                          const crypto::SecretBytes& user_key) {
  const auto salt = random_array<keys::kSaltSize>();
  const auto nonce = random_array<crypto::kXChaChaNonceSize>();
  auto wrapped = keys::wrap_user_key(host, user, password, kdf, salt, user_key, nonce);
  if (!wrapped) throw AdminError("cannot protect the user key: " + wrapped.error().message());
  return std::move(wrapped.value());
}

void check_user_name(std::string_view name) {
  if (name.empty() || name.size() > keys::kMaxUserNameSize) {
    throw AdminError(fmt::format("--name: user name '{}' is {} bytes; it must be 1 to {} bytes", name, name.size(),
                                 keys::kMaxUserNameSize));
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) throw AdminError("--name: the user name has control characters; choose another");
  }
}

UserInfo load_user(Database& db, HostId host, std::string_view name) {
  Statement& st = db.cached(
      "SELECT h.name, u.password_source, u.kdf_alg, u.opslimit, u.memlimit, u.created_at "
      "FROM users u JOIN hosts h ON h.id = u.host WHERE u.host = ?1 AND u.name = ?2");
  st.bind(1, sql_id(host)).bind(2, name);
  if (!st.step()) {
    throw AdminError(fmt::format("--name: host {} has no user '{}'; see `cordon admin user list --host {}`",
                                 host_label(db, host), name, host.to_string()));
  }
  UserInfo u;
  u.host = host;
  u.host_name = st.text(0);
  u.name = std::string(name);
  u.generated_password = st.text(1) == "generated";
  u.kdf = keys::KdfParams{static_cast<keys::KdfAlg>(st.int64(2)), static_cast<uint32_t>(st.int64(3)),
                          static_cast<uint32_t>(st.int64(4))};
  u.created_at = st.int64(5);
  return u;
}

void store_user(Database& db, HostId host, std::string_view name, const crypto::SecretBytes& user_key,
                const keys::WrappedUserKey& w, bool generated) {
  db.cached(
        "INSERT INTO users (host, name, user_key, kdf_alg, opslimit, memlimit, salt, wrapped_user_key, "
        "password_source, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
      .bind(1, sql_id(host))
      .bind(2, name)
      .bind_blob(3, user_key.view())
      .bind(4, static_cast<int64_t>(w.kdf.alg))
      .bind(5, int64_t{w.kdf.opslimit})
      .bind(6, int64_t{w.kdf.memlimit})
      .bind_blob(7, w.salt)
      .bind_blob(8, w.sealed)
      .bind(9, std::string_view(generated ? "generated" : "chosen"))
      .bind(10, now_seconds())
      .run();
}

// Replaces a user's password (and user key, when `user_key` is a new one):
// the user key wrapped under the new password key, and where the password
// came from.
void update_user_key(Database& db, HostId host, std::string_view name, std::string_view password,
                     const keys::KdfParams& kdf, const crypto::SecretBytes& user_key, bool generated) {
  const keys::WrappedUserKey w = wrap(host, name, password, kdf, user_key);
  db.cached(
        "UPDATE users SET kdf_alg = ?1, opslimit = ?2, memlimit = ?3, salt = ?4, wrapped_user_key = ?5, "
        "password_source = ?6, user_key = ?7 WHERE host = ?8 AND name = ?9")
      .bind(1, static_cast<int64_t>(w.kdf.alg))
      .bind(2, int64_t{w.kdf.opslimit})
      .bind(3, int64_t{w.kdf.memlimit})
      .bind_blob(4, w.salt)
      .bind_blob(5, w.sealed)
      .bind(6, std::string_view(generated ? "generated" : "chosen"))
      .bind_blob(7, user_key.view())
      .bind(8, sql_id(host))
      .bind(9, name)
      .run();
}

void refuse_duplicate_user(Database& db, HostId host, std::string_view name) {
  Statement& st = db.cached("SELECT 1 FROM users WHERE host = ?1 AND name = ?2");
  st.bind(1, sql_id(host)).bind(2, name);
  if (st.step()) {
    throw AdminError(
        fmt::format("--name: host {} already has a user '{}'; choose another name", host_label(db, host), name));
  }
}

bool host_exported(Database& db, HostId host) {
  Statement& st = db.cached("SELECT exported FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(host));
  const bool exported = st.step() && st.int64(0) != 0;
  st.reset();
  return exported;
}

// A new host key must be wrapped for somebody (update_package.hpp).
void refuse_without_users(Database& db, HostId host, std::string_view why) {
  Statement& st = db.cached("SELECT count(*) FROM users WHERE host = ?1");
  st.bind(1, sql_id(host));
  st.step();
  const int64_t users = st.int64(0);
  st.reset();
  if (users > 0) return;
  throw AdminError(fmt::format(
      "--name: host {} would have no user left to receive its new host key ({}); nothing was changed. Add a user "
      "first (`cordon admin user add --host {} --name NAME`), or remove the host (`cordon admin host remove`)",
      host_label(db, host), why, host.to_string()));
}

}  // namespace

NewPassword Admin::add_user(const std::string& host_ref, const std::string& name,
                            std::optional<std::string_view> password) {
  const std::string args =
      fmt::format("host={} name={} password={}", host_ref, name, password ? "chosen" : "generated");
  return run_command(db_, batch_, "user add", args, [&] {
    const HostId host = resolve_host(db_, host_ref, "--host");
    check_user_name(name);
    refuse_duplicate_user(db_, host, name);
    PasswordChoice choice = choose_password(password);
    const std::string_view text = password ? *password : keys::as_text(choice.generated);
    const crypto::SecretBytes user_key = random_key();
    const keys::WrappedUserKey w = wrap(host, name, text, choice.kdf, user_key);
    store_user(db_, host, name, user_key, w, !password);
    // A user added to a host is a keys change (dirty.hpp).
    mark_dirty(db_, host, DirtyKind::kKeys);
    return NewPassword{load_user(db_, host, name), std::move(choice.generated), false, {}};
  });
}

void Admin::add_user_generated(HostId host, const std::string& name) {
  run_command(db_, batch_, "user add", fmt::format("host={} name={} password=generated", host.to_string(), name), [&] {
    check_user_name(name);
    refuse_duplicate_user(db_, host, name);
    PasswordChoice choice = choose_password(std::nullopt);
    const crypto::SecretBytes user_key = random_key();
    const keys::WrappedUserKey w = wrap(host, name, keys::as_text(choice.generated), choice.kdf, user_key);
    store_user(db_, host, name, user_key, w, true);
    mark_dirty(db_, host, DirtyKind::kKeys);
  });
}

RotateResult Admin::remove_user(const std::string& host_ref, const std::string& name) {
  return run_command(db_, batch_, "user remove", fmt::format("host={} name={}", host_ref, name), [&] {
    const UrgentMarks urgent(db_);  // a revocation (dirty.hpp)
    const HostId host = resolve_host(db_, host_ref, "--host");
    (void)load_user(db_, host, name);
    db_.cached("DELETE FROM users WHERE host = ?1 AND name = ?2").bind(1, sql_id(host)).bind(2, name).run();
    mark_dirty(db_, host, DirtyKind::kKeys);
    if (!host_exported(db_, host)) return RotateResult{};  // no key set ever left the database
    // The user's key set opens the host key and every link key it holds:
    // replace them all, for the remaining users only (keys.cpp).
    refuse_without_users(db_, host, fmt::format("'{}' is its last user", name));
    return rotate_host_keys(db_, host);
  });
}

NewPassword Admin::reset_password(const std::string& host_ref, const std::string& name,
                                  std::optional<std::string_view> password, UserKeyChoice user_key_choice) {
  const bool rotate = user_key_choice == UserKeyChoice::kRotate ||
                      (user_key_choice == UserKeyChoice::kDefault && !password);
  const std::string args = fmt::format("host={} name={} password={} user_key={}", host_ref, name,
                                       password ? "chosen" : "generated", rotate ? "rotated" : "kept");
  return run_command(db_, batch_, "user passwd", args, [&] {
    const HostId host = resolve_host(db_, host_ref, "--host");
    (void)load_user(db_, host, name);
    PasswordChoice choice = choose_password(password);
    const std::string_view text = password ? *password : keys::as_text(choice.generated);
    Statement& st = db_.cached("SELECT user_key FROM users WHERE host = ?1 AND name = ?2");
    st.bind(1, sql_id(host)).bind(2, name);
    st.step();
    // Kept: key sets exported from now on open with the new password; an
    // installed key set keeps its old one. Rotated: whoever holds the old
    // password or user key is locked out once the host key changes too.
    const crypto::SecretBytes user_key = rotate ? random_key() : crypto::SecretBytes(st.blob(0));
    st.reset();
    update_user_key(db_, host, name, text, choice.kdf, user_key, !password);
    NewPassword out{load_user(db_, host, name), std::move(choice.generated), rotate, {}};
    // The old user key opens the current host key: replace it (and the
    // link keys it protects), delivered under the new user key.
    if (rotate && host_exported(db_, host)) {
      const UrgentMarks urgent(db_);  // the old user key is revoked (dirty.hpp)
      out.rotated = rotate_host_keys(db_, host);
    }
    return out;
  });
}

std::vector<keys::UserKeyHolder> user_key_holders(Database& db, HostId host) {
  Statement st = db.prepare(
      "SELECT name, user_key, kdf_alg, opslimit, memlimit, salt, wrapped_user_key FROM users WHERE host = ?1 "
      "ORDER BY name");
  st.bind(1, sql_id(host));
  std::vector<keys::UserKeyHolder> out;
  while (st.step()) {
    UserKeys u = read_user(st, host, 0);
    out.push_back(keys::UserKeyHolder{std::move(u.wrapped), std::move(u.user_key),
                                      random_array<crypto::kXChaChaNonceSize>()});
  }
  return out;
}

std::vector<UserInfo> Admin::list_users(const std::optional<std::string>& host_ref) {
  return run_query(db_, batch_, [&] {
    std::optional<HostId> host;
    if (host_ref) host = resolve_host(db_, *host_ref, "--host");
    Statement st = db_.prepare(
        "SELECT u.host, h.name, u.name, u.password_source, u.kdf_alg, u.opslimit, u.memlimit, u.created_at "
        "FROM users u JOIN hosts h ON h.id = u.host WHERE ?1 IS NULL OR u.host = ?1 ORDER BY u.host, u.name");
    st.bind(1, host ? std::optional<int64_t>(sql_id(*host)) : std::nullopt);
    std::vector<UserInfo> out;
    while (st.step()) {
      UserInfo u;
      u.host = host_from_sql(st.int64(0));
      u.host_name = st.text(1);
      u.name = st.text(2);
      u.generated_password = st.text(3) == "generated";
      u.kdf = keys::KdfParams{static_cast<keys::KdfAlg>(st.int64(4)), static_cast<uint32_t>(st.int64(5)),
                              static_cast<uint32_t>(st.int64(6))};
      u.created_at = st.int64(7);
      out.push_back(std::move(u));
    }
    return out;
  });
}

crypto::SecretBytes renew_user_key(Database& db, HostId host, const std::string& name) {
  PasswordChoice choice = choose_password(std::nullopt);
  const crypto::SecretBytes user_key = random_key();
  update_user_key(db, host, name, keys::as_text(choice.generated), choice.kdf, user_key, true);
  return std::move(choice.generated);
}

}  // namespace cordon::admin
