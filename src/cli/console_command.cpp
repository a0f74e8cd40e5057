// `cordon admin console` and `console-user` (console_command.hpp).
#include "cli/console_command.hpp"

#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <functional>
#include <tuple>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "admin/admin.hpp"
#include "admin/console/accounts.hpp"
#include "admin/console/server.hpp"
#include "cli/commands.hpp"
#include "core/keys/password.hpp"
#include "daemon/config.hpp"
#include "daemon/password_input.hpp"

namespace cordon::cli {
namespace {

namespace console = admin::console;

struct Command {
  CLI::App* app;
  std::string name;
  std::function<int()> run;
};
std::vector<Command>& commands() {
  static std::vector<Command> c;
  return c;
}

template <typename F>
int guarded(const std::string& name, F&& body) {
  try {
    return body();
  } catch (const admin::AdminError& e) {
    fmt::print(stderr, "cordon admin {}: {}\n", name, e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "cordon admin {}: unexpected error: {}; nothing was changed\n", name, e.what());
  }
  return kExitError;
}

// Serves until SIGINT or SIGTERM: the signals are blocked before the
// server's threads start (they inherit the mask) and taken here.
int serve(console::ConsoleServer& server) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::thread http([&server] { server.run(); });
  int signal = 0;
  sigwait(&stop, &signal);
  server.stop();
  http.join();
  fmt::print("console: stopped ({})\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  return kExitOk;
}

// ADDR:PORT or [ADDR6]:PORT; port 0 takes any free port (tests).
std::pair<std::string, uint16_t> parse_listen(const std::string& text) {
  const size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const std::string digits = colon == std::string::npos ? "" : text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (!IpAddress::parse(host) || digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
      port > 65535) {
    throw admin::AdminError(fmt::format("--listen: '{}' is not ADDR:PORT such as 127.0.0.1:8443", text));
  }
  return {IpAddress::parse(host)->to_string(), static_cast<uint16_t>(port)};
}

void add_console(CLI::App* admin_app, const std::string& db) {
  struct Opts {
    std::string listen, cert, key, interface = daemon::kDefaultInterface, socket;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* c = admin_app->add_subcommand("console", "Serve the web console (HTTPS): the network map, lists, changes");
  c->fallthrough();
  c->add_option("--listen", o->listen, "ADDR:PORT to serve HTTPS on (port 0: any free port)")->required();
  auto* cert = c->add_option("--cert", o->cert, "PEM certificate (default: a self-signed one kept beside --db, or in /var/lib/cordon for PostgreSQL)");
  auto* key = c->add_option("--key", o->key, "PEM private key of --cert, private to its owner");
  cert->needs(key);
  key->needs(cert);
  auto* iface = c->add_option("-i,--interface", o->interface,
                              "Interface of the administration host's daemon (default cordon0)");
  auto* socket = c->add_option("-s,--socket", o->socket, "Control socket of the administration host's daemon");
  iface->excludes(socket);
  commands().push_back({c, "console", [o, &db, cert] {
    return guarded("console", [&] {
      console::ConsoleOptions opts;
      opts.db_path = db;
      std::tie(opts.listen_host, opts.listen_port) = parse_listen(o->listen);
      opts.socket = !o->socket.empty() ? o->socket
                                       : std::string(daemon::kDefaultControlDir) + "/" + o->interface + ".sock";
      const bool own = cert->count() > 0;
      opts.certificate = console::console_certificate(own ? std::optional(o->cert) : std::nullopt,
                                                      own ? std::optional(o->key) : std::nullopt, db,
                                                      opts.listen_host);
      auto server = console::ConsoleServer::open(opts);
      const std::string host = opts.listen_host.find(':') != std::string::npos ? "[" + opts.listen_host + "]"
                                                                                : opts.listen_host;
      fmt::print("console: https://{}:{}/\n", host, server->port());
      fmt::print("console: certificate {} ({}), SHA-256 fingerprint {}\n", opts.certificate.cert,
                 own ? "given" : (opts.certificate.generated ? "self-signed, made now" : "self-signed, kept"),
                 opts.certificate.fingerprint);
      fmt::print("console: live state from {}; console administrators: `cordon admin console-user list`\n",
                 opts.socket);
      std::fflush(stdout);
      return serve(*server);
    });
  }});
}

void add_console_user(CLI::App* admin_app, const std::string& db) {
  CLI::App* group = admin_app->add_subcommand("console-user", "Console administrators: who may change things in "
                                                              "the web console");
  group->require_subcommand(1);
  group->fallthrough();
  {
    struct Opts {
      std::string name, password_file;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* c = group->add_subcommand("add", "Add a console administrator (asks for the password)");
    c->fallthrough();
    c->add_option("NAME", o->name, "1 to 32 of A-Z a-z 0-9 . _ -")->required();
    auto* file = c->add_option("--password-file", o->password_file, "Read the password from this file (mode 0600)");
    commands().push_back({c, "console-user add", [o, &db, file] {
      return guarded("console-user add", [&] {
        daemon::PasswordRequest request;
        if (file->count() > 0) request.file = o->password_file;
        request.use_credential = false;
        request.prompt = "Console password (9 to 32 characters): ";
        request.confirm = true;
        request.what = "console password";
        daemon::PasswordResult password = daemon::read_password(request);
        if (!password) throw admin::AdminError(password.error());
        admin::Admin a = admin::Admin::open(db);
        console::add_account(a, o->name, keys::as_text(*password));
        fmt::print("console administrator '{}' added (argon2id); log in at the console to change things\n", o->name);
        return kExitOk;
      });
    }});
  }
  {
    auto name = std::make_shared<std::string>();
    CLI::App* c = group->add_subcommand("remove", "Remove a console administrator");
    c->fallthrough();
    c->add_option("NAME", *name, "The account")->required();
    commands().push_back({c, "console-user remove", [name, &db] {
      return guarded("console-user remove", [&] {
        admin::Admin a = admin::Admin::open(db);
        console::remove_account(a, *name);
        fmt::print("console administrator '{}' removed; their console sessions can no longer change anything\n", *name);
        return kExitOk;
      });
    }});
  }
  {
    CLI::App* c = group->add_subcommand("list", "List console administrators");
    c->fallthrough();
    commands().push_back({c, "console-user list", [&db] {
      return guarded("console-user list", [&] {
        admin::Admin a = admin::Admin::open(db);
        for (const std::string& n : console::list_accounts(a)) fmt::print("{}\n", n);
        return kExitOk;
      });
    }});
  }
}

}  // namespace

void add_console_commands(CLI::App* admin_app, const std::string& db) {
  add_console(admin_app, db);
  add_console_user(admin_app, db);
}

std::optional<int> dispatch_console_commands() {
  for (const Command& c : commands()) {
    if (c.app->parsed()) return c.run();
  }
  return std::nullopt;
}

}  // namespace cordon::cli
