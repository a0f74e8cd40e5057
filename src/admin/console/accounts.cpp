// Console administrators (accounts.hpp).
#include "admin/console/accounts.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <span>

#include <fmt/format.h>

#include "admin/audit.hpp"
#include "admin/console/server_impl.hpp"
#include "admin/console/session.hpp"
#include "core/crypto/secret.hpp"
#include "core/keys/password.hpp"

namespace cordon::admin::console {
namespace {

void check_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
  if (!ok) throw AdminError(fmt::format("console-user: name '{}' must be 1 to 32 of A-Z a-z 0-9 . _ -", name));
}

// A hash no password matches in practice, for unknown names.
const std::string& decoy_hash() {
  static const std::string hash = [] {
    char out[crypto_pwhash_STRBYTES];
    const std::string secret = random_token();
    if (crypto_pwhash_str(out, secret.data(), secret.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
      throw AdminError("console login: out of memory for Argon2id (64 MiB); try again");
    }
    return std::string(out);
  }();
  return hash;
}

}  // namespace

void record_console_audit(Admin& admin, std::string_view operation, std::string_view arguments,
                          std::string_view result) noexcept {
  try {
    Transaction tx(admin.database(), Transaction::Kind::kWrite);
    record_audit(admin.database(), operation, arguments, result);
    tx.commit();
  } catch (...) {
    // Locked or read-only: the operation itself was already answered.
  }
}

namespace {

// Runs `change` and its audit row in one write transaction; a refusal is
// audited after the rollback (admin/audit.hpp, record_refusal).
template <typename Change>
void audited(Admin& admin, std::string_view operation, const std::string& args, Change change) {
  try {
    Transaction tx(admin.database(), Transaction::Kind::kWrite);
    change(admin.database());
    record_audit(admin.database(), operation, args, "ok");
    tx.commit();
  } catch (const AdminError& e) {
    record_refusal(admin.database(), operation, args, e.what());
    throw;
  }
}

std::optional<std::string> hash_of(Database& db, const std::string& name) {
  Statement st = db.prepare("SELECT hash FROM console_accounts WHERE name = ?1");
  st.bind(1, name);
  if (!st.step()) return std::nullopt;
  return st.text(0);
}

}  // namespace

void add_account(Admin& admin, const std::string& name, std::string_view password) {
  audited(admin, "console-user add", "name=" + name, [&](Database& db) {
    check_name(name);
    if (auto bad = keys::check_password_length(password); !bad) throw AdminError("password: " + bad.error());
    if (hash_of(db, name)) {
      throw AdminError(fmt::format("console-user: '{}' exists; remove it first to give it a new password", name));
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
      throw AdminError("console-user: out of memory for Argon2id (64 MiB); nothing was changed");
    }
    db.prepare("INSERT INTO console_accounts (name, hash, created_at) VALUES (?1, ?2, ?3)")
        .bind(1, name)
        .bind(2, std::string_view(hash))
        .bind(3, unix_now())
        .run();
  });
}

void remove_account(Admin& admin, const std::string& name) {
  audited(admin, "console-user remove", "name=" + name, [&](Database& db) {
    db.prepare("DELETE FROM console_accounts WHERE name = ?1").bind(1, name).run();
    if (db.changes() == 0) {
      throw AdminError(fmt::format("console-user: no account '{}'; see `cordon admin console-user list`", name));
    }
  });
}

// Reads run in a read transaction of their own: a fresh snapshot, so that
// a long-running console sees an account another administrator just
// added or removed.
std::vector<std::string> list_accounts(Admin& admin) {
  std::vector<std::string> out;
  Transaction tx(admin.database(), Transaction::Kind::kRead);
  {
    Statement st = admin.database().prepare("SELECT name FROM console_accounts ORDER BY name");
    while (st.step()) out.push_back(st.text(0));
  }
  tx.commit();
  return out;
}

std::optional<std::string> account_hash(Admin& admin, const std::string& name) {
  Transaction tx(admin.database(), Transaction::Kind::kRead);
  std::optional<std::string> hash = hash_of(admin.database(), name);
  tx.commit();
  return hash;
}

bool verify_password(const std::optional<std::string>& hash, std::string_view password) {
  const std::string& h = hash ? *hash : decoy_hash();
  const bool match = crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
  return match && hash.has_value();
}

}  // namespace cordon::admin::console
