// `cordon admin console`: the web console's HTTPS server (docs/console.md).
// cpp-httplib's SSLServer serves the embedded page and d3, and the JSON
// endpoints of view.hpp; writes go through the same Admin calls as the
// CLI, only for a logged-in console administrator (accounts.hpp) whose
// session (session.hpp) and CSRF token check out.
//
//   GET  /  /console.js  /console.css  /d3.min.js      the page (embedded)
//   GET  /api/state                                    map: hosts, links, live state
//   GET  /api/lists                                    users, groups, links, audit, updates
//   GET  /api/host?id=H                                one host's details
//   GET  /api/session                                  {"user":..,"csrf":..} or nulls
//   POST /api/login        {"user","password"}         sets the session cookie
//   POST /api/logout                                   (session + CSRF)
//   POST /api/link/add     {"a","b"}                   `link add A B`
//   POST /api/group/move   {"host","to","from"?}       `group member add TO H` [+ remove FROM H]
//   POST /api/updates/send {}                          `updates build --send`
//
// Errors are {"error": "..."}: 400 bad request, 403 no session or a bad
// CSRF token, 415 not JSON, 429 too many wrong passwords (Retry-After),
// 503 the database is busy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "admin/console/certificate.hpp"

namespace cordon::admin::console {

struct ConsoleOptions {
  std::string db_path;
  std::string listen_host;  // an IP address
  uint16_t listen_port = 0;
  std::string socket;  // the administration host's daemon's control socket
  CertificateFiles certificate;
  // Unix seconds for sessions and the rate limit; empty: the system clock.
  // Tests pass a fixed one.
  std::function<int64_t()> clock;
};

class ConsoleServer {
 public:
  // Opens the database and binds; AdminError naming the address when it is
  // in use or not this host's.
  static std::unique_ptr<ConsoleServer> open(const ConsoleOptions& options);
  ~ConsoleServer();
  uint16_t port() const;
  // Serves until stop() (from another thread).
  void run();
  void stop();

 private:
  struct Impl;
  explicit ConsoleServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cordon::admin::console
