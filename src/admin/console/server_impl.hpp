// The console server's state, shared by server.cpp (HTTP set-up, the page)
// and api.cpp (the JSON endpoints). Internal to src/admin/console.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/admin.hpp"
#include "admin/console/server.hpp"
#include "admin/console/session.hpp"
#include "core/sync.hpp"
#include "daemon/stream_outbox.hpp"

namespace cordon::admin::console {

// The session cookie: the __Host- prefix makes browsers require Secure,
// Path=/ and no Domain (RFC 6265bis section 4.1.3.2).
constexpr const char* kSessionCookie = "__Host-cordon_session";
constexpr const char* kCsrfHeader = "X-CSRF-Token";

int64_t unix_now();

struct ConsoleServer::Impl {
  ConsoleOptions options;
  httplib::SSLServer http;
  int port = 0;
  SessionStore sessions;
  LoginLimiter limiter;
  // One database connection, used by one request at a time.
  daemon::Mutex admin_mutex;
  std::optional<Admin> admin CORDON_GUARDED_BY(admin_mutex);

  explicit Impl(const ConsoleOptions& o);
  int64_t now() const { return options.clock ? options.clock() : unix_now(); }
  void add_routes();
  void add_api_routes();

  // api.cpp
  void get_state(httplib::Response& res);
  void get_lists(httplib::Response& res);
  void get_host(const httplib::Request& req, httplib::Response& res);
  void get_session(const httplib::Request& req, httplib::Response& res);
  void post_login(const httplib::Request& req, httplib::Response& res);
  void post_logout(const httplib::Request& req, httplib::Response& res);
  void post_write(const httplib::Request& req, httplib::Response& res, const std::string& action);
};

// Helpers shared by both files.
void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, const std::string& message);
// The value of cookie `name` in the request's Cookie header, or empty.
std::string cookie_value(const std::string& header, const std::string& name);

}  // namespace cordon::admin::console
