// `cordon`: the command line. Parsing only; the work is in the run_*
// functions (commands.hpp) and in src/daemon.
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/admin_commands.hpp"
#include "cli/commands.hpp"
#include "cli/completion.hpp"
#include "cli/keyset_commands.hpp"
#include "cli/ipsec_commands.hpp"
#include "cli/sitelink_commands.hpp"
#include "daemon/config.hpp"

namespace {

constexpr std::string_view kRequired = " is required";

// CLI11's message, with the command it concerns, and for a missing option or
// argument what it is: "cordon admin link add: B is required (B: the second
// host, ...)" rather than "B is required".
std::string explain_usage_error(const CLI::App* app, const CLI::Error& e) {
  std::string command = "cordon";
  const CLI::App* leaf = app;
  for (auto chosen = leaf->get_subcommands(); !chosen.empty(); chosen = leaf->get_subcommands()) {
    leaf = chosen.front();
    command += " " + leaf->get_name();
  }
  std::string text = command + ": " + e.what();
  const std::string_view what = e.what();
  if (e.get_name() == "RequiredError" && what.ends_with(kRequired)) {
    const std::string name(what.substr(0, what.size() - kRequired.size()));
    if (const CLI::Option* option = leaf->get_option_no_throw(name); option && !option->get_description().empty()) {
      std::string description = option->get_description();
      description[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(description[0])));
      text += " (" + name + ": " + description + ")";
    }
  }
  return text + "\nRun with --help for more information.\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cordon;
  CLI::App app{"cordon: a managed VPN for Linux"};
  app.require_subcommand(1);
  app.fallthrough(false);
  app.failure_message(explain_usage_error);

  const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

  std::string up_config;
  std::string up_log_level;
  auto* up = app.add_subcommand("up", "Run the daemon in the foreground (as root) until SIGTERM or SIGINT; "
                                      "SIGHUP reloads the config file");
  up->add_option("FILE,-c,--config", up_config, "Config file (TOML), as `cordon up FILE` or `-c FILE`")->required();
  auto* up_level = up->add_option("--log-level", up_log_level, "Override host.log_level")->check(CLI::IsMember(levels));
  bool up_accept_new_keys = false;
  up->add_flag("--accept-new-keys", up_accept_new_keys,
               "Start link keys that have no counter floor record on this machine; only if you are sure they were "
               "never used elsewhere (docs/configuration.md, \"The counter file\")");

  std::string check_config;
  auto* check = app.add_subcommand("check", "Validate a config file, its key files, and in managed mode the key set and "
                                            "password; make every check `cordon up` makes before it starts");
  check->add_option("FILE,-c,--config", check_config, "Config file (TOML), as `cordon check FILE` or `-c FILE`")
      ->required();
  bool check_accept_new_keys = false;
  check->add_flag("--accept-new-keys", check_accept_new_keys,
                  "Check as `cordon up --accept-new-keys` would start: link keys without a counter floor record pass");

  std::string genkey_out;
  bool genkey_force = false;
  auto* genkey = app.add_subcommand(
      "genkey", "Print a new random link key (base64); give both ends of the link the same key file");
  auto* genkey_out_opt = genkey->add_option("--out", genkey_out, "Write the key to FILE (mode 0600, atomically)");
  genkey->add_flag("--force", genkey_force, "With --out: replace an existing file")->needs(genkey_out_opt);

  std::string status_interface = daemon::kDefaultInterface;
  std::string status_socket;
  bool status_json = false;
  auto* status = app.add_subcommand("status", "Show the peers and counters of a running daemon (as root)");
  auto* iface_opt = status->add_option("-i,--interface", status_interface,
                                       "Interface of the daemon to ask (default cordon0)");
  auto* socket_opt = status->add_option("-s,--socket", status_socket, "Control socket of the daemon to ask");
  iface_opt->excludes(socket_opt);
  status->add_flag("--json", status_json, "Print the status document as JSON");

  std::string rekey_interface = daemon::kDefaultInterface;
  std::string rekey_socket;
  std::string rekey_peer;
  auto* rekey = app.add_subcommand("rekey", "Force a rekey of one link of a running daemon now (as root)");
  rekey->add_option("peer", rekey_peer, "The peer's host ID, 0xNNNNHHHH")->required();
  auto* rekey_iface_opt = rekey->add_option("-i,--interface", rekey_interface,
                                            "Interface of the daemon to ask (default cordon0)");
  auto* rekey_socket_opt = rekey->add_option("-s,--socket", rekey_socket, "Control socket of the daemon to ask");
  rekey_iface_opt->excludes(rekey_socket_opt);

  cli::add_keyset_commands(app);
  cli::add_admin_commands(app);
  cli::add_sitelink_commands(app);
  cli::add_ipsec_commands(app);
  cli::add_completion_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? cli::kExitOk : cli::kExitUsage;
  }

  if (up->parsed()) {
    return cli::run_up(up_config, up_level->count() > 0 ? std::optional(up_log_level) : std::nullopt,
                       up_accept_new_keys);
  }
  if (check->parsed()) return cli::run_check(check_config, check_accept_new_keys);
  if (auto code = cli::dispatch_keyset_commands()) return *code;
  if (auto code = cli::dispatch_admin_commands()) return *code;
  if (auto code = cli::dispatch_sitelink_commands()) return *code;
  if (auto code = cli::dispatch_ipsec_commands()) return *code;
  if (auto code = cli::dispatch_completion_command()) return *code;
  if (genkey->parsed()) {
    return cli::run_genkey(genkey_out_opt->count() > 0 ? std::optional(genkey_out) : std::nullopt, genkey_force);
  }
  if (status->parsed()) {
    const std::string socket =
        socket_opt->count() > 0 ? status_socket
                                : std::string(daemon::kDefaultControlDir) + "/" + status_interface + ".sock";
    return cli::run_status(socket, status_json);
  }
  if (rekey->parsed()) {
    const std::string socket =
        rekey_socket_opt->count() > 0 ? rekey_socket
                                      : std::string(daemon::kDefaultControlDir) + "/" + rekey_interface + ".sock";
    return cli::run_rekey(socket, rekey_peer);
  }
  return cli::kExitUsage;
}
