// Console sessions and the login rate limit (session.hpp).
#include "admin/console/session.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

namespace cordon::admin::console {
namespace {

std::string hex(const unsigned char* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

std::string id_hash(std::string_view id) {
  std::array<unsigned char, crypto_generichash_BYTES> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(id.data()), id.size(), nullptr, 0);
  return hex(h.data(), h.size());
}

bool expired(const Session& s, int64_t now) {
  return now - s.last_used > kIdleTimeout || now - s.created > kAbsoluteTimeout || now < s.created;
}

}  // namespace

std::string random_token() {
  std::array<unsigned char, 32> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string out = hex(bytes.data(), bytes.size());
  sodium_memzero(bytes.data(), bytes.size());
  return out;
}

Session SessionStore::create(const std::string& user, int64_t now) {
  Session s{random_token(), random_token(), user, now, now};
  daemon::MutexLock lock(mutex_);
  std::erase_if(sessions_, [now](const auto& entry) { return expired(entry.second, now); });
  while (sessions_.size() >= kMaxSessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    sessions_.erase(oldest);
  }
  sessions_[id_hash(s.id)] = s;
  return s;
}

std::optional<Session> SessionStore::find_locked(std::string_view id, int64_t now) {
  if (id.size() != 64) return std::nullopt;
  auto it = sessions_.find(id_hash(id));
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second;
}

std::optional<Session> SessionStore::find(std::string_view id, int64_t now) {
  daemon::MutexLock lock(mutex_);
  return find_locked(id, now);
}

std::optional<Session> SessionStore::find_for_write(std::string_view id, std::string_view csrf, int64_t now) {
  daemon::MutexLock lock(mutex_);
  // Peek without restarting the idle clock: a forged POST must not keep a
  // session alive.
  if (id.size() != 64) return std::nullopt;
  auto it = sessions_.find(id_hash(id));
  if (it == sessions_.end() || expired(it->second, now)) return std::nullopt;
  const std::string& want = it->second.csrf;
  if (csrf.size() != want.size() || sodium_memcmp(csrf.data(), want.data(), want.size()) != 0) return std::nullopt;
  return find_locked(id, now);
}

void SessionStore::remove(std::string_view id) {
  daemon::MutexLock lock(mutex_);
  sessions_.erase(id_hash(id));
}

size_t SessionStore::size() {
  daemon::MutexLock lock(mutex_);
  return sessions_.size();
}

int64_t login_delay(int failures) {
  if (failures < kFreeFailures) return 0;
  const int doublings = failures - kFreeFailures;
  if (doublings >= 20) return kMaxDelay;
  return std::min<int64_t>(int64_t{1} << doublings, kMaxDelay);
}

int64_t LoginLimiter::wait_locked(std::map<std::string, Entry>& table, const std::string& key, int64_t now) {
  auto it = table.find(key);
  if (it == table.end()) return 0;
  if (now - it->second.last > kForgetAfter) {
    table.erase(it);
    return 0;
  }
  return std::max<int64_t>(0, it->second.blocked_until - now);
}

void LoginLimiter::count_locked(std::map<std::string, Entry>& table, const std::string& key, int64_t now) {
  if (table.size() >= kMaxTracked && !table.contains(key)) {
    std::erase_if(table, [now](const auto& e) { return now - e.second.last > kForgetAfter; });
    // Still full: forget the quietest, so memory stays bounded under a
    // spray of addresses.
    if (table.size() >= kMaxTracked) {
      table.erase(std::min_element(table.begin(), table.end(),
                                   [](const auto& a, const auto& b) { return a.second.last < b.second.last; }));
    }
  }
  Entry& e = table[key];
  if (now - e.last > kForgetAfter) e = Entry{};
  e.failures += 1;
  e.last = now;
  e.blocked_until = now + login_delay(e.failures);
}

int64_t LoginLimiter::wait(const std::string& address, const std::string& user, int64_t now) {
  daemon::MutexLock lock(mutex_);
  return std::max(wait_locked(by_address_, address, now), wait_locked(by_user_, user, now));
}

void LoginLimiter::failed(const std::string& address, const std::string& user, int64_t now) {
  daemon::MutexLock lock(mutex_);
  count_locked(by_address_, address, now);
  count_locked(by_user_, user, now);
}

void LoginLimiter::succeeded(const std::string& address, const std::string& user) {
  daemon::MutexLock lock(mutex_);
  by_address_.erase(address);
  by_user_.erase(user);
}

}  // namespace cordon::admin::console
