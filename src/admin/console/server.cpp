// The console's HTTPS server (server.hpp): set-up, headers and the page.
#include "admin/console/server.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "admin/console/server_impl.hpp"

namespace cordon::admin::console {

namespace assets {
extern const std::string_view index_html, console_css, console_js, d3_js;
}

namespace {

// Four threads: a page polls two endpoints, and a login's Argon2id run
// (64 MiB) must not hold up the map.
constexpr size_t kThreads = 4;

// SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, with
// which a second console would share the port instead of being refused.
void reuse_address_only(int fd) {
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// The page loads nothing from elsewhere and runs no inline script
// (docs/console.md, "Security").
const httplib::Headers kHeaders = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Strict-Transport-Security", "max-age=31536000"},
    {"Cache-Control", "no-store"},
};

void serve_asset(httplib::Server& http, const std::string& path, std::string_view body, const char* type) {
  http.Get(path, [body, type](const httplib::Request&, httplib::Response& res) {
    res.set_content(body.data(), body.size(), type);
  });
}

}  // namespace

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

std::string cookie_value(const std::string& header, const std::string& name) {
  size_t at = 0;
  while (at < header.size()) {
    size_t end = header.find(';', at);
    if (end == std::string::npos) end = header.size();
    std::string_view part(header.data() + at, end - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    at = end + 1;
  }
  return {};
}

ConsoleServer::Impl::Impl(const ConsoleOptions& o)
    : options(o), http(o.certificate.cert.c_str(), o.certificate.key.c_str()) {}

void ConsoleServer::Impl::add_routes() {
  http.set_default_headers(kHeaders);
  http.set_payload_max_length(64 * 1024);
  serve_asset(http, "/", assets::index_html, "text/html; charset=utf-8");
  serve_asset(http, "/console.css", assets::console_css, "text/css; charset=utf-8");
  serve_asset(http, "/console.js", assets::console_js, "text/javascript; charset=utf-8");
  serve_asset(http, "/d3.min.js", assets::d3_js, "text/javascript; charset=utf-8");
  http.Get("/api/about", [](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"d3", {{"package", CORDON_D3_PACKAGE}, {"sha256", CORDON_D3_SHA256}}}});
  });
  add_api_routes();
}

std::unique_ptr<ConsoleServer> ConsoleServer::open(const ConsoleOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  if (!impl->http.is_valid()) {
    throw AdminError(fmt::format("cannot use the certificate {} with the key {}; check both files",
                                 options.certificate.cert, options.certificate.key));
  }
  {
    daemon::MutexLock lock(impl->admin_mutex);
    impl->admin.emplace(Admin::open(options.db_path));
  }
  impl->http.set_socket_options(reuse_address_only);
  impl->http.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  impl->add_routes();
  const std::string address = options.listen_host.find(':') != std::string::npos
                                  ? fmt::format("[{}]:{}", options.listen_host, options.listen_port)
                                  : fmt::format("{}:{}", options.listen_host, options.listen_port);
  errno = 0;
  if (options.listen_port == 0) {
    impl->port = impl->http.bind_to_any_port(options.listen_host);
  } else if (impl->http.bind_to_port(options.listen_host, options.listen_port)) {
    impl->port = options.listen_port;
  }
  if (impl->port <= 0) {
    const int err = errno;
    throw AdminError(fmt::format("cannot listen on {} ({}); stop what uses it or choose another --listen",
                                 address, err != 0 ? std::strerror(err) : "the address is in use or not this host's"));
  }
  return std::unique_ptr<ConsoleServer>(new ConsoleServer(std::move(impl)));
}

ConsoleServer::ConsoleServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsoleServer::~ConsoleServer() = default;
uint16_t ConsoleServer::port() const { return static_cast<uint16_t>(impl_->port); }
void ConsoleServer::run() { impl_->http.listen_after_bind(); }
void ConsoleServer::stop() { impl_->http.stop(); }

}  // namespace cordon::admin::console
