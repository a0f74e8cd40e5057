// Console sessions and the login rate limit (docs/console.md, "Security").
// Pure: time comes in as an argument (Unix seconds), so tests drive it.
//
// Timers, each with its reason:
//   kIdleTimeout      15 min: an unattended browser stops being able to
//                     write (OWASP Session Management Cheat Sheet, "Session
//                     Expiration": 15-30 min idle for low-risk, shorter for
//                     high-value applications);
//   kAbsoluteTimeout  8 h: one working day, then the password again;
//   login delay       after kFreeFailures wrong passwords from one address
//                     or for one name, each further one doubles the wait
//                     (1 s, 2 s, 4 s ...) up to kMaxDelay; a success for
//                     the name clears both; quiet for kForgetAfter forgets.
//
// A session ID and its CSRF token are 256-bit random values from libsodium,
// written as 64 hex digits. The store keeps only a BLAKE2b hash of each ID,
// so a look-up by ID leaks nothing useful through timing, and compares the
// CSRF token in constant time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/sync.hpp"
#include "daemon/stream_outbox.hpp"  // daemon::Mutex, annotated

namespace cordon::admin::console {

constexpr int64_t kIdleTimeout = 15 * 60;
constexpr int64_t kAbsoluteTimeout = 8 * 60 * 60;
constexpr size_t kMaxSessions = 64;

struct Session {
  std::string id;    // the cookie's value; given out once, at login
  std::string csrf;  // required on every POST (X-CSRF-Token header)
  std::string user;
  int64_t created = 0, last_used = 0;
};

class SessionStore {
 public:
  // A new session for `user`. The oldest is dropped beyond kMaxSessions.
  Session create(const std::string& user, int64_t now);
  // The live session with this ID, its idle clock restarted; nullopt when
  // unknown, idle too long or too old (then it is also dropped).
  std::optional<Session> find(std::string_view id, int64_t now);
  // find() plus the CSRF token check, in constant time.
  std::optional<Session> find_for_write(std::string_view id, std::string_view csrf, int64_t now);
  void remove(std::string_view id);
  size_t size();

 private:
  std::optional<Session> find_locked(std::string_view id, int64_t now) CORDON_REQUIRES(mutex_);
  daemon::Mutex mutex_;
  std::map<std::string, Session> sessions_ CORDON_GUARDED_BY(mutex_);  // by hash of the ID
};

constexpr int kFreeFailures = 3;
constexpr int64_t kMaxDelay = 15 * 60;
constexpr int64_t kForgetAfter = 60 * 60;
constexpr size_t kMaxTracked = 10000;

// Wrong passwords per source address and per user name.
class LoginLimiter {
 public:
  // Seconds until a login from `address` for `user` may be tried; 0: now.
  int64_t wait(const std::string& address, const std::string& user, int64_t now);
  void failed(const std::string& address, const std::string& user, int64_t now);
  void succeeded(const std::string& address, const std::string& user);

 private:
  struct Entry {
    int failures = 0;
    int64_t last = 0, blocked_until = 0;
  };
  void count_locked(std::map<std::string, Entry>& table, const std::string& key, int64_t now)
      CORDON_REQUIRES(mutex_);
  int64_t wait_locked(std::map<std::string, Entry>& table, const std::string& key, int64_t now)
      CORDON_REQUIRES(mutex_);
  daemon::Mutex mutex_;
  std::map<std::string, Entry> by_address_ CORDON_GUARDED_BY(mutex_);
  std::map<std::string, Entry> by_user_ CORDON_GUARDED_BY(mutex_);
};

// The delay after `failures` wrong passwords in a row.
int64_t login_delay(int failures);

// 64 hex digits of fresh randomness.
std::string random_token();

}  // namespace cordon::admin::console
