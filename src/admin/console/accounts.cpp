// Console administrators (accounts.hpp).
#include "admin/console/accounts.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <span>

#include <fmt/format.h>

#include "admin/audit.hpp"
#include "admin/console/session.hpp"
#include "core/crypto/secret.hpp"
#include "core/keys/password.hpp"
#include "os/linux/files.hpp"

namespace cordon::admin::console {
namespace {

using Accounts = std::map<std::string, std::string>;  // name -> crypto_pwhash_str

void check_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
  if (!ok) throw AdminError(fmt::format("console-user: name '{}' must be 1 to 32 of A-Z a-z 0-9 . _ -", name));
}

Accounts read_accounts(const std::string& path) {
  Accounts out;
  if (!std::filesystem::exists(path)) return out;
  auto text = os::read_private_file(path);
  if (!text) throw AdminError(fmt::format("console accounts: {}", text.error().message()));
  size_t line_no = 0;
  for (size_t at = 0; at < text->size();) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos) end = text->size();
    const std::string line = text->substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos || line.compare(space + 1, 10, "$argon2id$") != 0) {
      throw AdminError(fmt::format("{} line {}: expected NAME $argon2id$...; fix or remove the line", path, line_no));
    }
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  crypto::wipe(std::as_writable_bytes(std::span(text->data(), text->size())));
  return out;
}

void write_accounts(const std::string& path, const Accounts& accounts) {
  std::string text;
  for (const auto& [name, hash] : accounts) text += name + " " + hash + "\n";
  if (auto st = os::write_file_atomic(path, text, 0600); !st) {
    throw AdminError(fmt::format("console accounts: {}; nothing was changed", st.error().message()));
  }
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

std::string accounts_path(const std::string& db_path) {
  return (std::filesystem::path(db_path).parent_path() / "console-users").string();
}

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

void add_account(Admin& admin, const std::string& db_path, const std::string& name, std::string_view password) {
  const std::string args = "name=" + name;
  try {
    check_name(name);
    if (auto bad = keys::check_password_length(password); !bad) throw AdminError("password: " + bad.error());
    const std::string path = accounts_path(db_path);
    Accounts accounts = read_accounts(path);
    if (accounts.contains(name)) {
      throw AdminError(fmt::format("console-user: '{}' exists; remove it first to give it a new password", name));
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
      throw AdminError("console-user: out of memory for Argon2id (64 MiB); nothing was changed");
    }
    accounts[name] = hash;
    write_accounts(path, accounts);
  } catch (const AdminError& e) {
    record_console_audit(admin, "console-user add", args, std::string("refused: ") + e.what());
    throw;
  }
  record_console_audit(admin, "console-user add", args, "ok");
}

void remove_account(Admin& admin, const std::string& db_path, const std::string& name) {
  const std::string args = "name=" + name;
  try {
    const std::string path = accounts_path(db_path);
    Accounts accounts = read_accounts(path);
    if (accounts.erase(name) == 0) {
      throw AdminError(fmt::format("console-user: no account '{}'; see `cordon admin console-user list`", name));
    }
    write_accounts(path, accounts);
  } catch (const AdminError& e) {
    record_console_audit(admin, "console-user remove", args, std::string("refused: ") + e.what());
    throw;
  }
  record_console_audit(admin, "console-user remove", args, "ok");
}

std::vector<std::string> list_accounts(const std::string& db_path) {
  std::vector<std::string> out;
  for (const auto& [name, hash] : read_accounts(accounts_path(db_path))) out.push_back(name);
  return out;
}

bool verify_account(const std::string& db_path, const std::string& name, std::string_view password) {
  const Accounts accounts = read_accounts(accounts_path(db_path));
  const auto it = accounts.find(name);
  const std::string& hash = it != accounts.end() ? it->second : decoy_hash();
  const bool match = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return match && it != accounts.end();
}

}  // namespace cordon::admin::console
