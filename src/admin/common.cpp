// Helpers shared by the admin module (internal.hpp).
#include <time.h>

#include <algorithm>
#include <cctype>

#include "admin/internal.hpp"
#include "os/linux/random.hpp"

namespace cordon::admin {

int64_t now_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

crypto::SecretBytes random_key() {
  auto key = os::random_secret(32);
  if (!key)
    throw AdminError("the OS random number generator failed (" + key.error().message() + "); nothing was changed");
  return std::move(key.value());
}

void random_fill(std::span<std::byte> out) {
  if (auto st = os::random_bytes(out); !st) {
    throw AdminError("the OS random number generator failed (" + st.error().message() + "); nothing was changed");
  }
}

std::optional<HostId> find_host(Database& db, std::string_view ref) {
  if (auto id = HostId::parse(ref)) {
    Statement& st = db.cached("SELECT id FROM hosts WHERE id = ?1");
    st.bind(1, sql_id(*id));
    if (st.step()) return id;
    return std::nullopt;
  }
  Statement& st = db.cached("SELECT id FROM hosts WHERE name = ?1");
  st.bind(1, ref);
  if (st.step()) return host_from_sql(st.int64(0));
  return std::nullopt;
}

HostId resolve_host(Database& db, std::string_view ref, std::string_view what) {
  if (auto id = find_host(db, ref)) return *id;
  if (HostId::parse(ref)) {
    throw AdminError(fmt::format("{}: no host with ID {} in the network; see `cordon admin host list`", what, ref));
  }
  throw AdminError(fmt::format("{}: no host named '{}' in the network; see `cordon admin host list`", what, ref));
}

std::string host_label(Database& db, HostId id) {
  Statement& st = db.cached("SELECT name FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(id));
  if (st.step()) return fmt::format("'{}' ({})", st.text(0), id.to_string());
  return id.to_string();
}

Role host_role(Database& db, HostId id) {
  Statement& st = db.cached("SELECT role FROM hosts WHERE id = ?1");
  st.bind(1, sql_id(id));
  if (!st.step()) throw AdminError(fmt::format("no host {} in the network", id.to_string()));
  return static_cast<Role>(st.int64(0));
}

std::optional<int64_t> find_group(Database& db, std::string_view name) {
  Statement& st = db.cached("SELECT id FROM host_groups WHERE name = ?1");
  st.bind(1, name);
  if (st.step()) return st.int64(0);
  return std::nullopt;
}

int64_t resolve_group(Database& db, std::string_view name) {
  if (auto group = find_group(db, name)) return *group;
  throw AdminError(fmt::format("no group named '{}'; see `cordon admin group list`", name));
}

void check_name(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > keys::kMaxHostNameSize) {
    throw AdminError(
        fmt::format("{} '{}' is {} bytes; it must be 1 to {} bytes", what, name, name.size(), keys::kMaxHostNameSize));
  }
  const bool bad_char = std::any_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  if (bad_char || name.front() == ' ' || name.back() == ' ') {
    throw AdminError(fmt::format("{} '{}' has control characters or spaces at either end; choose another", what, name));
  }
  if (name.size() >= 2 && name[0] == '0' && (name[1] == 'x' || name[1] == 'X')) {
    throw AdminError(
        fmt::format("{} '{}' looks like a host ID; choose a name that does not start with 0x", what, name));
  }
}

}  // namespace cordon::admin
