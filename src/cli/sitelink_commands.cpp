// cordon sitelink: run a site-link gateway from its file, or administer a
// running one (sitelink_commands.hpp).
#include "cli/sitelink_commands.hpp"

#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "daemon/control.hpp"
#include "daemon/daemon.hpp"
#include "daemon/logging.hpp"
#include "daemon/site_link.hpp"
#include "daemon/status_format.hpp"
#include "daemon/start_checks.hpp"

namespace cordon::cli {
namespace {

struct RunArgs {
  CLI::App* command = nullptr;
  daemon::SiteRole role = daemon::SiteRole::kPrimary;
  std::string config;
  std::string log_level;
  CLI::Option* log_level_opt = nullptr;
  bool check = false;
  bool accept_new_keys = false;
};

struct AdminArgs {
  CLI::App* command = nullptr;
  std::string action;
  std::string peer, group;
  CLI::Option* peer_opt = nullptr;
  CLI::Option* group_opt = nullptr;
  bool all = false;
  std::string interface = daemon::kDefaultInterface;
  std::string socket;
  CLI::Option* socket_opt = nullptr;
  bool json = false;
  std::string arrays = "both";  // new-array, flush-array
  bool renew = false;           // flush-array --new
};

struct Parsed {
  RunArgs primary, secondary;
  std::vector<AdminArgs> admin{7};
};
Parsed& parsed() {
  static Parsed p;
  return p;
}

void print_errors(const std::string& path, const std::vector<daemon::ConfigError>& errors) {
  for (const daemon::ConfigError& e : errors) fmt::print(stderr, "{}\n", e.to_string());
  fmt::print(stderr, "{}: {} error{}\n", path, errors.size(), errors.size() == 1 ? "" : "s");
}

int run_gateway(const RunArgs& a) {
  const std::string role(daemon::site_role_name(a.role));
  if (!a.check && ::geteuid() != 0) {
    fmt::print(stderr, "cordon sitelink {} must run as root (it creates a TUN device)\n", role);
    return kExitError;
  }
  daemon::ConfigResult config = daemon::load_site_daemon_config(a.config, a.role, false);
  if (!config) {
    print_errors(a.config, config.error());
    return kExitError;
  }
  if (a.check) {
    daemon::init_logging("error");
    auto ready = daemon::check_start(*config, a.accept_new_keys);
    if (!ready) {
      fmt::print(stderr, "{}: {}\n", a.config, ready.error());
      return kExitError;
    }
    fmt::print("{}: ok ({} with {} remote{})\n", a.config, role, config->node.peers.size(),
               config->node.peers.size() == 1 ? "" : "s");
    return kExitOk;
  }
  const std::optional<std::string> level =
      a.log_level_opt->count() > 0 ? std::optional(a.log_level) : std::nullopt;
  daemon::init_logging(level.value_or(config->log_level));
  return daemon::run_daemon(std::move(*config), daemon::RunOptions{level, a.accept_new_keys});
}

// One line per session: what the action did and the session's state now.
void print_sessions(const nlohmann::json& reply) {
  const auto sessions = reply.find("sessions");
  if (sessions == reply.end() || !sessions->is_array()) return;
  for (const nlohmann::json& s : *sessions) {
    const nlohmann::json& st = s.contains("status") ? s["status"] : nlohmann::json::object();
    const nlohmann::json session = st.is_object() && st.contains("session") ? st["session"] : nlohmann::json();
    const nlohmann::json rekey = st.is_object() && st.contains("rekey") ? st["rekey"] : nlohmann::json();
    fmt::print("{} {:<10} session {:<10} reason {:<18} generation {:<4} {}\n", s.value("peer", "?"),
               st.is_object() ? st.value("name", "-") : "-",
               session.is_object() ? session.value("state", "?") : "-",
               session.is_object() ? session.value("reason", "?") : "-",
               rekey.is_object() ? std::to_string(rekey.value("generation", 0u)) : "-",
               s.value("ok", false) ? "arrays " + daemon::key_arrays_text(rekey)
                                    : "(refused: " + s.value("error", "not a site-link session here, or rate-limited") + ")");
  }
}

int run_admin(const AdminArgs& a) {
  nlohmann::json request = {{"command", "sitelink"}, {"action", a.action}};
  if (a.peer_opt && a.peer_opt->count() > 0) request["peer"] = a.peer;
  if (a.group_opt && a.group_opt->count() > 0) request["group"] = a.group;
  if (a.action == "new-array" || a.action == "flush-array") request["arrays"] = a.arrays;
  if (a.action == "flush-array") request["renew"] = a.renew;
  // status on nothing named: every session.
  if (a.all || (a.action == "status" && !request.contains("peer") && !request.contains("group"))) request["all"] = true;
  const std::string socket = a.socket_opt && a.socket_opt->count() > 0
                                 ? a.socket
                                 : std::string(daemon::kDefaultControlDir) + "/" + a.interface + ".sock";
  daemon::ControlReply reply = daemon::control_request(socket, request);
  if (!reply) {
    fmt::print(stderr, "cordon sitelink {}: {}\n", a.action, reply.error().message);
    return kExitError;
  }
  if (a.json) {
    fmt::print("{}\n", reply->dump(2));
  } else if (a.action == "return") {
    fmt::print("{}\n", reply->value("returned", false) ? "back on the primary " + reply->value("primary", "")
                                                       : "already on the primary " + reply->value("primary", ""));
  } else {
    print_sessions(*reply);
  }
  return kExitOk;
}

void add_run(CLI::App& sitelink, RunArgs& a, daemon::SiteRole role, const char* help) {
  a.role = role;
  a.command = sitelink.add_subcommand(std::string(daemon::site_role_name(role)), help);
  a.command->add_option("FILE,-c,--config", a.config, "Site-link file (docs/site-links.md)")->required();
  a.command->add_flag("--check", a.check, "Check the file and its key files, start nothing");
  a.log_level_opt = a.command->add_option("--log-level", a.log_level, "Log level (default info)")
                        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  a.command->add_flag("--accept-new-keys", a.accept_new_keys,
                      "Start link keys that have no counter floor record on this machine (as `cordon up`)");
}

void add_admin(CLI::App& sitelink, AdminArgs& a, const char* action, const char* help, bool targets) {
  a.action = action;
  a.command = sitelink.add_subcommand(action, help);
  if (targets) {
    a.peer_opt = a.command->add_option("--peer", a.peer, "One session: the remote's number in the file, or its host ID");
    a.group_opt = a.command->add_option("--group", a.group, "Every secondary in this group (N/group)");
    auto* all = a.command->add_flag("--all", a.all, "Every session");
    a.peer_opt->excludes(a.group_opt)->excludes(all);
    a.group_opt->excludes(all);
  }
  auto* iface = a.command->add_option("-i,--interface", a.interface, "Interface of the gateway to ask (default cordon0)");
  a.socket_opt = a.command->add_option("-s,--socket", a.socket, "Control socket of the gateway to ask");
  iface->excludes(a.socket_opt);
  a.command->add_flag("--json", a.json, "Print the reply as JSON");
}

}  // namespace

void add_sitelink_commands(CLI::App& app) {
  Parsed& p = parsed();
  auto* sitelink = app.add_subcommand("sitelink", "Site links: run a primary or a secondary, or administer one");
  sitelink->require_subcommand(1);
  add_run(*sitelink, p.primary, daemon::SiteRole::kPrimary,
          "Run a primary from its site-link file (as root) until SIGTERM; SIGHUP reloads the file");
  add_run(*sitelink, p.secondary, daemon::SiteRole::kSecondary,
          "Run a secondary from its site-link file (as root) until SIGTERM; SIGHUP reloads the file");
  add_admin(*sitelink, p.admin[0], "status", "Show sessions (all unless --peer or --group)", true);
  add_admin(*sitelink, p.admin[1], "rekey", "Force a rekey of the named sessions now", true);
  add_admin(*sitelink, p.admin[2], "shutdown", "Shut the named sessions down; they stay down until `start`", true);
  add_admin(*sitelink, p.admin[3], "start", "Start sessions shut down by `shutdown` again", true);
  add_admin(*sitelink, p.admin[4], "return", "A secondary on its backup primary: go back to the primary", false);
  add_admin(*sitelink, p.admin[5], "new-array",
            "On the primary: generate new key arrays for the named sessions and deliver them", true);
  add_admin(*sitelink, p.admin[6], "flush-array",
            "On the primary: wipe the named sessions' key arrays on both sides (--new: and deliver new ones)", true);
  for (AdminArgs* a : {&p.admin[5], &p.admin[6]}) {
    a->command->add_option("--arrays", a->arrays, "Which key arrays: data, control or both (default both)")
        ->check(CLI::IsMember({"data", "control", "both"}));
  }
  p.admin[6].command->add_flag("--new", p.admin[6].renew, "Generate and deliver new arrays at once");
}

std::optional<int> dispatch_sitelink_commands() {
  Parsed& p = parsed();
  for (const RunArgs* a : {&p.primary, &p.secondary}) {
    if (a->command && a->command->parsed()) return run_gateway(*a);
  }
  for (const AdminArgs& a : p.admin) {
    if (!a.command || !a.command->parsed()) continue;
    const bool named = (a.peer_opt && a.peer_opt->count() > 0) || (a.group_opt && a.group_opt->count() > 0) || a.all;
    if (a.action != "status" && a.action != "return" && !named) {
      fmt::print(stderr, "cordon sitelink {}: name the sessions with --peer, --group or --all\n", a.action);
      return kExitUsage;
    }
    return run_admin(a);
  }
  return std::nullopt;
}

}  // namespace cordon::cli
