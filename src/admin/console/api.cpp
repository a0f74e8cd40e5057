// The console's JSON endpoints (server.hpp): reads for everyone who can
// reach the console, writes for a logged-in console administrator.
#include <algorithm>

#include <fmt/format.h>

#include "admin/console/accounts.hpp"
#include "admin/console/courier_calls.hpp"
#include "admin/console/live_state.hpp"
#include "admin/console/server_impl.hpp"
#include "admin/console/view.hpp"
#include "core/crypto/secret.hpp"
#include "core/keys/password.hpp"

namespace cordon::admin::console {
namespace {

using json = nlohmann::json;

// Runs `body` and turns what it throws into a JSON error.
template <typename F>
void answer(httplib::Response& res, F&& body) {
  try {
    body();
  } catch (const DatabaseLocked& e) {
    send_error(res, 503, std::string(e.what()) + "; try again");
  } catch (const AdminError& e) {
    send_error(res, 400, e.what());
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("unexpected error: ") + e.what() + "; nothing was changed");
  }
}

bool is_json(const httplib::Request& req) {
  return req.get_header_value("Content-Type").rfind("application/json", 0) == 0;
}

std::string field(const json& body, const char* name, bool required = true) {
  if (body.contains(name) && body[name].is_string() && !body[name].get<std::string>().empty()) {
    return body[name].get<std::string>();
  }
  if (required) throw AdminError(fmt::format("the request has no \"{}\" (a string)", name));
  return {};
}

std::string session_cookie(const std::string& id) {
  return fmt::format("{}={}; Path=/; Secure; HttpOnly; SameSite=Strict", kSessionCookie, id);
}

}  // namespace

void ConsoleServer::Impl::get_state(httplib::Response& res) {
  std::string error;
  const std::optional<json> reply = ask_network(options.socket, &error);
  answer(res, [&] {
    daemon::MutexLock lock(admin_mutex);
    const LiveState live = live_state(*admin, reply, error, now());
    json j = state_json(*admin, live);
    j["live"]["socket"] = options.socket;
    send_json(res, 200, j);
  });
}

void ConsoleServer::Impl::get_lists(httplib::Response& res) {
  answer(res, [&] {
    daemon::MutexLock lock(admin_mutex);
    send_json(res, 200, lists_json(*admin, delivery_report(*admin, options.socket)));
  });
}

void ConsoleServer::Impl::get_host(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.get_param_value("id");
  if (id.empty()) return send_error(res, 400, "say which host: /api/host?id=0xNNNNHHHH");
  std::string error;
  const std::optional<json> reply = ask_network(options.socket, &error);
  answer(res, [&] {
    daemon::MutexLock lock(admin_mutex);
    const LiveState live = live_state(*admin, reply, error, now());
    // The states last recorded: asking the daemon records its receipts and
    // audits that (as `updates status` does), which the Updates tab does.
    send_json(res, 200, host_json(*admin, id, live, admin->delivery_status(std::nullopt)));
  });
}

void ConsoleServer::Impl::get_session(const httplib::Request& req, httplib::Response& res) {
  const auto s = sessions.find(cookie_value(req.get_header_value("Cookie"), kSessionCookie), now());
  send_json(res, 200,
            {{"user", s ? json(s->user) : json(nullptr)},
             {"csrf", s ? json(s->csrf) : json(nullptr)},
             {"idle_timeout", kIdleTimeout}});
}

// Login needs no CSRF token (there is no session yet); a cross-site page
// cannot send it anyway: only application/json is taken, which a form
// cannot send and a cross-origin fetch may send only after a CORS preflight
// that this server never grants.
void ConsoleServer::Impl::post_login(const httplib::Request& req, httplib::Response& res) {
  if (!is_json(req)) return send_error(res, 415, "send the login as application/json");
  json body = json::parse(req.body, nullptr, false);
  // The password's copies are wiped once it is in a SecretBytes; the
  // request object is httplib's, not const underneath.
  crypto::wipe(std::as_writable_bytes(std::span(const_cast<std::string&>(req.body))));
  const std::string user = body.is_object() && body.contains("user") && body["user"].is_string()
                               ? body["user"].get<std::string>().substr(0, 64)
                               : std::string();
  if (user.empty() || !body.contains("password") || !body["password"].is_string()) {
    return send_error(res, 400, "the login needs \"user\" and \"password\" (strings)");
  }
  std::string& given = body["password"].get_ref<std::string&>();
  crypto::SecretBytes password(std::as_bytes(std::span(given)));
  crypto::wipe(std::as_writable_bytes(std::span(given)));
  const std::string from = req.remote_addr;
  const int64_t t = now();
  if (const int64_t wait = limiter.wait(from, user, t); wait > 0) {
    res.set_header("Retry-After", std::to_string(wait));
    return send_error(res, 429, fmt::format("too many wrong passwords; try again in {} s", wait));
  }
  const std::string_view text = keys::as_text(password);
  std::optional<std::string> hash;
  {
    daemon::MutexLock lock(admin_mutex);
    hash = account_hash(*admin, user);
  }
  // Argon2id runs without the database held: other requests go on.
  const bool ok = verify_password(hash, text);
  const std::string args = fmt::format("user={} from={}", user, from);
  daemon::MutexLock lock(admin_mutex);
  if (!ok) {
    limiter.failed(from, user, t);
    record_console_audit(*admin, "console login", args, "refused: wrong user name or password");
    return send_error(res, 403, "wrong user name or password");
  }
  limiter.succeeded(from, user);
  const Session s = sessions.create(user, t);
  record_console_audit(*admin, "console login", args, "ok");
  res.set_header("Set-Cookie", session_cookie(s.id));
  send_json(res, 200, {{"user", s.user}, {"csrf", s.csrf}, {"idle_timeout", kIdleTimeout}});
}

void ConsoleServer::Impl::post_logout(const httplib::Request& req, httplib::Response& res) {
  post_write(req, res, "logout");
}

void ConsoleServer::Impl::post_write(const httplib::Request& req, httplib::Response& res, const std::string& action) {
  if (!is_json(req)) return send_error(res, 415, "send the request as application/json");
  const std::string id = cookie_value(req.get_header_value("Cookie"), kSessionCookie);
  if (id.empty()) return send_error(res, 403, "not logged in: log in as a console administrator to change anything");
  const auto s = sessions.find_for_write(id, req.get_header_value(kCsrfHeader), now());
  if (!s) {
    return send_error(res, 403,
                      fmt::format("the session has expired, or the {} header is missing or wrong: log in again",
                                  kCsrfHeader));
  }
  const json body = json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
  if (!body.is_object()) return send_error(res, 400, "the request body is not a JSON object");
  daemon::MutexLock lock(admin_mutex);
  if (!account_hash(*admin, s->user)) {
    sessions.remove(id);
    return send_error(res, 403, fmt::format("the console account '{}' was removed: log in with another", s->user));
  }
  Admin& a = *admin;
  std::string operation = "console " + action, args = "user=" + s->user;
  try {
    json result = json::object();
    if (action == "logout") {
      sessions.remove(id);
      res.set_header("Set-Cookie", session_cookie("") + "; Max-Age=0");
    } else if (action == "link add") {
      const std::string ha = field(body, "a"), hb = field(body, "b");
      args += fmt::format(" a={} b={}", ha, hb);
      const LinkChange c = a.add_link(ha, hb);
      result = {{"added", c.added.size()}, {"already_linked", c.already_linked.value_or("")}};
    } else if (action == "group move") {
      const std::string host = field(body, "host"), to = field(body, "to"), from = field(body, "from", false);
      args += fmt::format(" host={} to={}{}", host, to, from.empty() ? "" : " from=" + from);
      const LinkChange added = a.add_member(to, host);
      size_t removed = 0;
      if (!from.empty()) removed = a.remove_member(from, host).removed.size();
      result = {{"links_added", added.added.size()}, {"links_removed", removed}};
    } else if (action == "updates send") {
      result = build_and_send(a, options.socket);
    }
    record_console_audit(a, operation, args, "ok");
    send_json(res, 200, result);
  } catch (const DatabaseLocked& e) {
    send_error(res, 503, std::string(e.what()) + "; try again");
  } catch (const AdminError& e) {
    record_console_audit(a, operation, args, std::string("refused: ") + e.what());
    send_error(res, 400, e.what());
  }
}

void ConsoleServer::Impl::add_api_routes() {
  http.Get("/api/state", [this](const httplib::Request&, httplib::Response& res) { get_state(res); });
  http.Get("/api/lists", [this](const httplib::Request&, httplib::Response& res) { get_lists(res); });
  http.Get("/api/host", [this](const httplib::Request& req, httplib::Response& res) { get_host(req, res); });
  http.Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) { get_session(req, res); });
  http.Post("/api/login", [this](const httplib::Request& req, httplib::Response& res) { post_login(req, res); });
  http.Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) { post_logout(req, res); });
  for (const auto& [path, action] : {std::pair{"/api/link/add", "link add"}, std::pair{"/api/group/move", "group move"},
                                     std::pair{"/api/updates/send", "updates send"}}) {
    http.Post(path, [this, action = std::string(action)](const httplib::Request& req, httplib::Response& res) {
      post_write(req, res, action);
    });
  }
}

}  // namespace cordon::admin::console
