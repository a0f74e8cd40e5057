// cordon keyset install|show, cordon passwd, cordon update apply: the
// installed key set (daemon/keyset_store.hpp) and the running daemon's
// reload (daemon/control.hpp).
#include "cli/keyset_commands.hpp"

#include <sys/prctl.h>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "core/keys/password.hpp"
#include "daemon/config.hpp"
#include "daemon/control.hpp"
#include "daemon/keyset_store.hpp"
#include "daemon/password_input.hpp"
#include "os/linux/random.hpp"

namespace cordon::cli {
namespace {

// Passwords and keys pass through this process: keep them out of core
// dumps and away from ptrace by other users, as the daemon does.
void protect_process() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  (void)os::init_crypto();
}

int refuse(std::string_view command, const std::string& message) {
  fmt::print(stderr, "cordon {}: {}\n", command, message);
  return kExitError;
}

std::optional<crypto::SecretBytes> password_for(std::string_view command, const std::optional<std::string>& file,
                                                std::string prompt, std::string what = "password",
                                                bool confirm = false) {
  daemon::PasswordRequest request;
  request.file = file;
  request.use_credential = false;  // a systemd credential is for the daemon's unit
  request.prompt = std::move(prompt);
  request.what = std::move(what);
  request.confirm = confirm;
  daemon::PasswordResult result = daemon::read_password(request);
  if (!result) {
    refuse(command, result.error() + "; nothing was changed");
    return std::nullopt;
  }
  return std::move(*result);
}

std::string kdf_text(const keys::KdfParams& kdf) {
  return fmt::format("argon2id, {} pass{}, {} KiB", kdf.opslimit, kdf.opslimit == 1 ? "" : "es", kdf.memlimit / 1024);
}

}  // namespace

int run_keyset_install(const std::string& file, const KeysetOptions& options) {
  protect_process();
  const daemon::KeysetStore store(daemon::keyset_path(options.state_dir));
  auto bytes = daemon::read_input_file(file, "key set");
  if (!bytes) return refuse("keyset install", bytes.error().message);
  // Refuse another host's or an older key set before asking for a password.
  auto header = store.check_install(bytes.value(), file);
  if (!header) return refuse("keyset install", header.error().message);

  auto password = password_for("keyset install", options.password_file,
                               fmt::format("Password for key set {} (host {}, user {}): ", file,
                                           header.value().host.to_string(), header.value().user));
  if (!password) return kExitError;
  auto installed = store.install(bytes.value(), keys::as_text(*password), file);
  if (!installed) return refuse("keyset install", installed.error().message);

  const daemon::InstallReport& report = installed.value();
  fmt::print("installed key set for host {} (network 0x{:04x}), version {}, user {} at {}{}\n",
             report.header.host.to_string(), report.header.network(), report.header.version, report.header.user,
             store.path(),
             report.replaced_version ? fmt::format(" (replaced version {})", *report.replaced_version) : "");
  fmt::print("start the daemon with host.keyset = \"{}\" in its config (docs/configuration.md, managed mode); a "
             "running one picks the new version up on restart\n",
             store.path());
  return kExitOk;
}

int run_keyset_show(const KeysetOptions& options) {
  const daemon::KeysetStore store(daemon::keyset_path(options.state_dir));
  auto header = store.header();
  if (!header) return refuse("keyset show", header.error().message);
  const keys::KeySetHeader& h = header.value();
  // The header only: showing the address book needs the password.
  fmt::print("key set  {}\nnetwork  0x{:04x}\nhost     {}\nversion  {}\nuser     {}\nkdf      {}\n", store.path(),
             h.network(), h.host.to_string(), h.version, h.user, kdf_text(h.kdf));
  return kExitOk;
}

int run_passwd(const KeysetOptions& options, const std::optional<std::string>& new_password_file) {
  protect_process();
  const daemon::KeysetStore store(daemon::keyset_path(options.state_dir));
  auto header = store.header();
  if (!header) return refuse("passwd", header.error().message);

  auto old_password = password_for("passwd", options.password_file,
                                   fmt::format("Current password of user {} on host {}: ", header.value().user,
                                               header.value().host.to_string()));
  if (!old_password) return kExitError;
  auto new_password =
      password_for("passwd", new_password_file, "New password (9 to 32 characters): ", "new password", true);
  if (!new_password) return kExitError;

  auto changed = store.passwd(keys::as_text(*old_password), keys::as_text(*new_password));
  if (!changed) return refuse("passwd", changed.error().message);
  fmt::print("password changed for user {} of key set {}; a running daemon keeps running (its keys did not "
             "change)\n",
             header.value().user, store.path());
  return kExitOk;
}

int run_update_apply(const std::string& file, const KeysetOptions& options, const std::string& control_socket) {
  protect_process();
  const daemon::KeysetStore store(daemon::keyset_path(options.state_dir));
  auto bytes = daemon::read_input_file(file, "update");
  if (!bytes) return refuse("update apply", bytes.error().message);
  // Refuse a replayed or misdirected package before asking for a password.
  auto checked = store.check_update(bytes.value(), file);
  if (!checked) return refuse("update apply", checked.error().message);

  // After `cordon admin user passwd` rotated the user key, the password
  // is the new one (KeysetStore::apply_update tries both).
  auto password = password_for("update apply", options.password_file,
                               fmt::format("Password for key set {} (the new one, if the administrator reset it): ",
                                           store.path()));
  if (!password) return kExitError;
  auto applied = store.apply_update(bytes.value(), keys::as_text(*password), file);
  if (!applied) return refuse("update apply", applied.error().message);

  const daemon::UpdateReport& report = applied.value();
  fmt::print("applied update {}: key set {} version {} -> {} ({}{}{}), {} peer{}\n", file, store.path(),
             report.replaced_version, report.update.version, keys::update_kind_name(report.update.kind),
             report.update.new_host_key ? ", new host key" : "", report.new_user_key ? ", new user key" : "",
             report.peers, report.peers == 1 ? "" : "s");
  if (report.new_user_key) {
    // A running daemon holds the old user key, which no longer opens the
    // key set (docs/administration.md, "Resetting a password").
    fmt::print("the key set now opens with the new password only; restart the daemon with it (update its password "
               "file or credential)\n");
    return kExitOk;
  }

  // Ask a running daemon to adopt it now; links whose keys did not change
  // keep flowing (Node::reconfigure).
  daemon::ControlReply reply = daemon::control_request(control_socket, {{"command", "reload"}});
  if (!reply) {
    if (reply.error().no_daemon) {
      fmt::print("no daemon answers on {}; the update takes effect at the next `cordon up`\n", control_socket);
      return kExitOk;
    }
    return refuse("update apply", fmt::format("the update is stored, but the running daemon did not adopt it: {}; "
                                              "fix that and send it SIGHUP (or restart it)",
                                              reply.error().message));
  }
  const nlohmann::json& doc = *reply;
  const auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_unsigned()) {
    return refuse("update apply", fmt::format("the update is stored, but the daemon on {} runs in manual mode (no "
                                              "host.keyset); it reloaded its config file only",
                                              control_socket));
  }
  if (version->get<uint64_t>() != report.update.version) {
    return refuse("update apply",
                  fmt::format("the update is stored, but the daemon on {} now runs key set version {}, not {}: its "
                              "host.keyset names another file than {}; point it there (or use --state-dir)",
                              control_socket, version->get<uint64_t>(), report.update.version, store.path()));
  }
  const auto peers = doc.find("peers");
  fmt::print("the daemon on {} reloaded: version {}, {} peers\n", control_socket, report.update.version,
             peers != doc.end() && peers->is_number() ? peers->dump() : "?");
  return kExitOk;
}

// ---------------------------------------------------------------------------
// Command-line registration (main.cpp calls these two).

namespace {

struct Parsed {
  CLI::App* install = nullptr;
  CLI::App* show = nullptr;
  CLI::App* passwd = nullptr;
  CLI::App* apply = nullptr;
  CLI::Option* update_socket = nullptr;

  std::string install_file;
  KeysetOptions install_options;
  KeysetOptions show_options;
  KeysetOptions passwd_options;
  std::string passwd_new_file;
  CLI::Option* passwd_new_opt = nullptr;
  std::string apply_file;
  KeysetOptions apply_options;
  std::string apply_interface = daemon::kDefaultInterface;
  std::string apply_socket;

  // Options whose presence matters (optional password files).
  CLI::Option* install_pw = nullptr;
  CLI::Option* passwd_pw = nullptr;
  CLI::Option* apply_pw = nullptr;
  std::string install_pw_value, passwd_pw_value, apply_pw_value;
};

Parsed& parsed() {
  static Parsed p;
  return p;
}

void add_state_dir(CLI::App* command, KeysetOptions& options) {
  options.state_dir = daemon::kDefaultStateDir;
  command->add_option("--state-dir", options.state_dir,
                      "Directory of the installed key set (default /var/lib/cordon; the key set is STATE_DIR/keyset)");
}

std::optional<std::string> given(const CLI::Option* option, const std::string& value) {
  return option != nullptr && option->count() > 0 ? std::optional(value) : std::nullopt;
}

}  // namespace

void add_keyset_commands(CLI::App& app) {
  Parsed& p = parsed();

  auto* keyset = app.add_subcommand("keyset", "The key set installed on this host (managed mode)");
  keyset->require_subcommand(1);
  p.install = keyset->add_subcommand(
      "install", "Verify a key set exported by the administrator and install it (mode 0600, atomically)");
  p.install->add_option("FILE", p.install_file, "Key set file from `cordon admin keyset export`")->required();
  p.install_pw = p.install->add_option("--password-file", p.install_pw_value,
                                       "Read the password from FILE (mode 0600) instead of the terminal");
  add_state_dir(p.install, p.install_options);

  p.show = keyset->add_subcommand("show", "Show the installed key set's network, host, version and user");
  add_state_dir(p.show, p.show_options);

  p.passwd = app.add_subcommand("passwd", "Change the password of the installed key set");
  p.passwd_pw = p.passwd->add_option("--password-file", p.passwd_pw_value,
                                     "Read the current password from FILE (mode 0600)");
  p.passwd_new_opt = p.passwd->add_option("--new-password-file", p.passwd_new_file,
                                          "Read the new password from FILE (mode 0600)");
  add_state_dir(p.passwd, p.passwd_options);

  auto* update = app.add_subcommand("update", "Update packages from the administrator");
  update->require_subcommand(1);
  p.apply = update->add_subcommand(
      "apply", "Apply an update package to the installed key set and make a running daemon reload it");
  p.apply->add_option("FILE", p.apply_file, "Update package from `cordon admin updates build`")->required();
  p.apply_pw = p.apply->add_option("--password-file", p.apply_pw_value,
                                   "Read the password from FILE (mode 0600) instead of the terminal");
  add_state_dir(p.apply, p.apply_options);
  auto* iface = p.apply->add_option("-i,--interface", p.apply_interface,
                                    "Interface of the daemon to reload (default cordon0)");
  p.update_socket = p.apply->add_option("-s,--socket", p.apply_socket, "Control socket of the daemon to reload");
  iface->excludes(p.update_socket);
}

std::optional<int> dispatch_keyset_commands() {
  Parsed& p = parsed();
  if (p.install && p.install->parsed()) {
    p.install_options.password_file = given(p.install_pw, p.install_pw_value);
    return run_keyset_install(p.install_file, p.install_options);
  }
  if (p.show && p.show->parsed()) return run_keyset_show(p.show_options);
  if (p.passwd && p.passwd->parsed()) {
    p.passwd_options.password_file = given(p.passwd_pw, p.passwd_pw_value);
    return run_passwd(p.passwd_options, given(p.passwd_new_opt, p.passwd_new_file));
  }
  if (p.apply && p.apply->parsed()) {
    p.apply_options.password_file = given(p.apply_pw, p.apply_pw_value);
    const std::string socket = p.update_socket->count() > 0
                                   ? p.apply_socket
                                   : std::string(daemon::kDefaultControlDir) + "/" + p.apply_interface + ".sock";
    return run_update_apply(p.apply_file, p.apply_options, socket);
  }
  return std::nullopt;
}

}  // namespace cordon::cli
