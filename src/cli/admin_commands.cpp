// `cordon admin …` (admin_commands.hpp): CLI11 wiring and output. The work
// is in src/admin (admin::Admin); this file parses, opens the database,
// calls one facade method and prints the result.
#include "cli/admin_commands.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <functional>
#include <memory>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "admin/admin.hpp"
#include "admin/delivery.hpp"
#include "admin/live_status.hpp"
#include "cli/admin_format.hpp"
#include "cli/admin_migrate.hpp"
#include "cli/commands.hpp"
#include "cli/console_command.hpp"
#include "daemon/config.hpp"
#include "daemon/control.hpp"
#include "daemon/password_input.hpp"
#include "os/linux/clock.hpp"

namespace cordon::cli {
namespace {

using admin::Admin;
using admin::AdminError;

struct Leaf {
  CLI::App* command = nullptr;
  std::string name;  // "host add", for messages
  std::function<int()> run;
};

struct State {
  std::string db = admin::kDefaultDatabasePath;
  bool json = false;
  CLI::App* admin = nullptr;
  std::vector<Leaf> leaves;
};

State& state() {
  static State s;
  return s;
}

// ---- Option value checks (usage errors, exit 2) ------------------------------

const CLI::Validator kPrefix(
    [](std::string& v) -> std::string {
      return Prefix::parse(v) ? std::string() : "'" + v + "' is not a prefix such as 10.77.0.0/16 or fd77::/64";
    },
    "PREFIX");
const CLI::Validator kIpsecSubnet(
    [](std::string& v) -> std::string {
      return admin::IpsecSubnet::parse(v) ? std::string()
                                          : "'" + v + "' is not PREFIX or PREFIX=PEER such as 10.50.0.0/24=branch";
    },
    "PREFIX[=PEER]");
const CLI::Validator kEndpoint(
    [](std::string& v) -> std::string {
      return Endpoint::parse(v) ? std::string()
                                : "'" + v + "' is not an endpoint such as 192.0.2.1:51820 or [2001:db8::1]:51820";
    },
    "ADDR:PORT");
const CLI::Validator kHostId(
    [](std::string& v) -> std::string {
      return HostId::parse(v) ? std::string() : "'" + v + "' is not a host ID such as 0x0001000a";
    },
    "0xNNNNHHHH");

template <typename T>
std::vector<T> parse_all(const std::vector<std::string>& texts) {
  std::vector<T> out;
  for (const std::string& t : texts) out.push_back(*T::parse(t));
  return out;
}

std::optional<std::string> given(const CLI::Option* option, const std::string& value) {
  return option != nullptr && option->count() > 0 ? std::optional(value) : std::nullopt;
}

// ---- Running ---------------------------------------------------------------

void print_json(const nlohmann::json& j) { fmt::print("{}\n", j.dump(2)); }

template <typename F>
int guarded(const std::string& name, F&& body) {
  try {
    return body();
  } catch (const AdminError& e) {
    fmt::print(stderr, "cordon admin {}: {}\n", name, e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "cordon admin {}: unexpected error: {}; nothing was changed\n", name, e.what());
  }
  return kExitError;
}

Admin open_db() { return Admin::open(state().db); }

// Prints a list as a JSON array (--json) or as the table `format` renders.
template <typename Items, typename Format>
void print_list(const Items& items, Format format) {
  if (!state().json) return fmt::print("{}", format(items));
  nlohmann::json j = nlohmann::json::array();
  for (const auto& x : items) j.push_back(to_json(x));
  print_json(j);
}

// The run function of a command that lists what `fetch` reads from the
// database, as a table or (--json) a JSON array.
template <typename Fetch, typename Format>
std::function<int()> list_command(const std::string& name, Fetch fetch, Format format) {
  return [name, fetch, format] {
    return guarded(name, [&] {
      print_list(fetch(open_db()), format);
      return kExitOk;
    });
  };
}

// Prints one result as JSON (--json) or as the text `format` renders.
template <typename Item, typename Format>
void print_one(const Item& item, Format format) {
  if (state().json) return print_json(to_json(item));
  fmt::print("{}", format(item));
}

// A password file for `user add/passwd` (chosen password), else nullopt.
std::optional<crypto::SecretBytes> read_password_file(const std::optional<std::string>& file) {
  if (!file) return std::nullopt;
  daemon::PasswordResult r = daemon::read_password_file(*file);
  if (!r) throw AdminError("--password-file: " + r.error());
  return std::move(*r);
}

// The backup password: a file or the terminal (asked twice for a new backup).
crypto::SecretBytes backup_password(const std::optional<std::string>& file, bool confirm) {
  daemon::PasswordRequest request;
  request.file = file;
  request.use_credential = false;
  request.prompt = confirm ? "Backup password (9 to 32 characters): " : "Backup password: ";
  request.confirm = confirm;
  request.what = "backup password";
  daemon::PasswordResult r = daemon::read_password(request);
  if (!r) throw AdminError(r.error());
  return std::move(*r);
}

// After a user left or a user key was rotated (docs/administration.md,
// "Revocation"): what the administrator must now deliver.
void print_revocation(const admin::RotateResult& r) {
  if (r.host_keys == 0) return;
  fmt::print("new host key and {} link key(s): run `cordon admin updates build` and deliver every package; the "
             "host's package opens only with a remaining user's key\n",
             r.link_keys);
}

void print_new_password(const admin::NewPassword& p, bool json) {
  if (json) {
    nlohmann::json j = to_json(p.user);
    if (!p.generated.empty()) j["generated_password"] = std::string(keys::as_text(p.generated));
    j["user_key_rotated"] = p.user_key_rotated;
    j["rotated"] = {{"host_keys", p.rotated.host_keys}, {"link_keys", p.rotated.link_keys}};
    print_json(j);
    return;
  }
  fmt::print("user '{}' of host {} '{}': {} password, {}\n", p.user.name, p.user.host.to_string(), p.user.host_name,
             p.user.generated_password ? "generated" : "chosen",
             fmt::format("argon2id {} pass(es) {} KiB", p.user.kdf.opslimit, p.user.kdf.memlimit / 1024));
  if (!p.generated.empty()) {
    fmt::print("password (shown only now; give it to the user): {}\n", keys::as_text(p.generated));
  }
  if (p.user_key_rotated) fmt::print("new user key: the old password no longer opens anything built from now on\n");
  print_revocation(p.rotated);
}

Leaf& leaf(CLI::App* parent, const std::string& group, const std::string& name, const std::string& description) {
  State& s = state();
  CLI::App* command = parent->add_subcommand(name, description);
  command->fallthrough();  // --db may come after the command words too
  s.leaves.push_back(Leaf{command, group.empty() ? name : group + " " + name, {}});
  return s.leaves.back();
}

void add_json(Leaf& l) { l.command->add_flag("--json", state().json, "Print JSON"); }

// ---- network -------------------------------------------------------------------

void print_rekey_period_change(const admin::RekeyPeriodChange& c) {
  if (state().json) {
    return print_json({{"rekey_period", c.current}, {"previous", c.previous}, {"dirty_hosts", c.dirty_hosts}});
  }
  if (c.previous == c.current) {
    return fmt::print("rekey period: already {}; nothing was changed\n", format_rekey_period(c.current));
  }
  fmt::print("rekey period: {} (was {}); {} host(s) need an update: run `cordon admin updates build` and deliver "
             "the packages\n",
             format_rekey_period(c.current), format_rekey_period(c.previous), c.dirty_hosts);
}

void add_network(CLI::App* admin_app) {
  CLI::App* network = admin_app->add_subcommand("network", "The network: create, show, set, back up, restore");
  network->require_subcommand(1);
  network->fallthrough();

  {
    struct Opts {
      int number = 0;
      std::string name, ipv4, ipv6;
      CLI::Option* ipv6_opt = nullptr;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(network, "network", "init", "Create the network database and the network");
    l.command->add_option("--number", o->number, "Network number, 1 to 65535")->required()->check(CLI::Range(1, 65535));
    l.command->add_option("--name", o->name, "Network name")->required();
    l.command->add_option("--ipv4", o->ipv4, "IPv4 prefix for tunnel addresses, e.g. 10.77.0.0/16")
        ->required()
        ->check(kPrefix);
    o->ipv6_opt =
        l.command->add_option("--ipv6", o->ipv6, "IPv6 prefix for tunnel addresses, e.g. fd77::/64")->check(kPrefix);
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        admin::NetworkSpec spec;
        spec.number = static_cast<uint16_t>(o->number);
        spec.name = o->name;
        spec.ipv4 = *Prefix::parse(o->ipv4);
        if (o->ipv6_opt->count() > 0) spec.ipv6 = *Prefix::parse(o->ipv6);
        Admin a = Admin::init(state().db, spec);
        const admin::NetworkInfo info = a.network_info();
        if (state().json) {
          print_json(to_json(info));
        } else {
          fmt::print("network {} '{}' created in {} (tunnel addresses from {}{})\n", spec.number, spec.name,
                     a.database().path(),
                     spec.ipv4.to_string(), spec.ipv6 ? " and " + spec.ipv6->to_string() : "");
        }
        return kExitOk;
      });
    };
  }
  {
    Leaf& l = leaf(network, "network", "show", "Show the network and its counts");
    add_json(l);
    l.run = [name = l.name] {
      return guarded(name, [&] {
        const admin::NetworkInfo info = open_db().network_info();
        print_one(info, format_network);
        return kExitOk;
      });
    };
  }
  {
    struct Opts {
      int64_t seconds = 0;
      std::string admin_host;
      CLI::Option *seconds_opt = nullptr, *admin_host_opt = nullptr;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(network, "network", "set", "Change a setting of the whole network");
    // The range is checked by the facade, whose refusal names it and is audited.
    o->seconds_opt = l.command->add_option("--rekey-period", o->seconds,
                                           "Seconds between rekeys of every link: 0 (off) or 60 to 86400");
    o->admin_host_opt = l.command->add_option(
        "--admin-host", o->admin_host,
        "The administration host (ID or name), whose daemon sends the packages; `none` clears it");
    add_json(l);
    l.run = [o, name = l.name] {
      if (o->seconds_opt->count() == 0 && o->admin_host_opt->count() == 0) {
        fmt::print(stderr, "cordon admin {}: say what to set: --rekey-period SECONDS or --admin-host HOST\n", name);
        return kExitUsage;
      }
      return guarded(name, [&] {
        Admin a = open_db();
        if (o->seconds_opt->count() > 0) print_rekey_period_change(a.set_rekey_period(o->seconds));
        if (o->admin_host_opt->count() > 0) {
          const std::optional<std::string> ref =
              o->admin_host == "none" ? std::nullopt : std::optional<std::string>(o->admin_host);
          print_one(a.set_admin_host(ref), format_admin_host_change);
        }
        return kExitOk;
      });
    };
  }
  {
    struct Opts {
      std::string out, password_file;
      CLI::Option* pw = nullptr;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(network, "network", "export", "Write an encrypted backup of the whole network database");
    l.command->add_option("--out", o->out, "Backup file to write (mode 0600)")->required();
    o->pw = l.command->add_option("--password-file", o->password_file,
                                  "Read the backup password from FILE (mode 0600) instead of the terminal");
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        const crypto::SecretBytes password = backup_password(given(o->pw, o->password_file), true);
        a.export_backup(o->out, keys::as_text(password));
        fmt::print("wrote the encrypted backup {} (mode 0600); keep it and its password apart\n", o->out);
        return kExitOk;
      });
    };
  }
  {
    struct Opts {
      std::string file, password_file;
      CLI::Option* pw = nullptr;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(network, "network", "import", "Restore a backup into a new database (never overwrites one)");
    l.command->add_option("FILE", o->file, "Backup from `cordon admin network export`")->required();
    o->pw = l.command->add_option("--password-file", o->password_file,
                                  "Read the backup password from FILE (mode 0600) instead of the terminal");
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        const crypto::SecretBytes password = backup_password(given(o->pw, o->password_file), false);
        const admin::NetworkInfo info = Admin::import_backup(o->file, state().db, keys::as_text(password));
        if (state().json) {
          print_json(to_json(info));
        } else {
          fmt::print("restored network {} '{}' ({} hosts, {} links) into {}\n", info.spec.number, info.spec.name,
                     info.hosts, info.links, admin::database_name(state().db));
        }
        return kExitOk;
      });
    };
  }
}

// ---- network migrate (admin_migrate.cpp) ------------------------------------------

void add_network_migrate_leaf(CLI::App* network) {
  Leaf& l = leaf(network, "network", "migrate", "Copy this SQLite network database into an empty PostgreSQL database");
  add_json(l);
  l.run = add_network_migrate(l.command, state().db, state().json);
}

// ---- host -------------------------------------------------------------------------

struct CoordinatorOpts {
  std::string coordinator, registry, rendezvous, courier;
  CLI::Option *coordinator_opt = nullptr, *registry_opt = nullptr, *rendezvous_opt = nullptr, *courier_opt = nullptr;

  void add(CLI::App* c) {
    coordinator_opt =
        c->add_option("--coordinator", coordinator,
                      "Client only: the coordinator (ID or name) serving as registry, rendezvous and courier");
    registry_opt =
        c->add_option("--registry", registry, "Client only: its registry coordinator (overrides --coordinator)");
    rendezvous_opt =
        c->add_option("--rendezvous", rendezvous, "Client only: its rendezvous coordinator (overrides --coordinator)");
    courier_opt = c->add_option("--courier", courier, "Client only: its courier coordinator (overrides --coordinator)");
  }
  admin::CoordinatorChoice choice() const {
    return admin::CoordinatorChoice{given(coordinator_opt, coordinator), given(registry_opt, registry),
                                    given(rendezvous_opt, rendezvous), given(courier_opt, courier)};
  }
};

void print_host(const admin::HostInfo& h, bool detailed) {
  if (state().json) {
    print_json(to_json(h, detailed));
  } else {
    fmt::print("{}", format_host(h, detailed));
  }
}

void add_host_commands(CLI::App* admin_app) {
  CLI::App* host = admin_app->add_subcommand("host", "Hosts of the network");
  host->require_subcommand(1);
  host->fallthrough();
  const std::vector<std::string> roles = {"client", "coordinator"};

  {
    struct Opts {
      std::string name, role, id;
      CLI::Option* id_opt = nullptr;
      std::vector<std::string> endpoints, subnets, ipsec_subnets;
      CoordinatorOpts coords;
      bool admin_host = false;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(host, "host", "add", "Add a host (its host key, tunnel addresses and coordinator links)");
    l.command->add_option("--name", o->name, "Host name (unique)")->required();
    l.command->add_option("--role", o->role, "client or coordinator")->required()->check(CLI::IsMember(roles));
    o->id_opt = l.command->add_option("--id", o->id, "Host ID 0xNNNNHHHH (default: the lowest free host number)")
                    ->check(kHostId);
    l.command->add_option("--endpoint", o->endpoints, "Underlay address ADDR:PORT (repeatable)")
        ->check(kEndpoint)
        ->allow_extra_args(false);
    l.command->add_option("--subnet", o->subnets, "Coordinator only: a tunneled subnet (repeatable)")
        ->check(kPrefix)
        ->allow_extra_args(false);
    l.command
        ->add_option("--ipsec-subnet", o->ipsec_subnets,
                     "Coordinator only: a subnet its IPsec gateway reaches, PREFIX or PREFIX=PEER (repeatable)")
        ->check(kIpsecSubnet)
        ->allow_extra_args(false);
    o->coords.add(l.command);
    l.command->add_flag("--admin-host", o->admin_host,
                        "Designate it the administration host (as `network set --admin-host` does)");
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        admin::HostSpec spec;
        spec.admin_host = o->admin_host;
        spec.name = o->name;
        spec.role = *keys::parse_role(o->role);
        if (o->id_opt->count() > 0) spec.id = HostId::parse(o->id);
        spec.endpoints = parse_all<Endpoint>(o->endpoints);
        spec.subnets = parse_all<Prefix>(o->subnets);
        spec.ipsec_subnets = parse_all<admin::IpsecSubnet>(o->ipsec_subnets);
        spec.coordinators = o->coords.choice();
        Admin a = open_db();
        const admin::HostInfo h = a.add_host(spec);
        if (state().json) {
          print_json(to_json(h));
        } else {
          fmt::print("added {} {} '{}', tunnel {}{}\n", keys::role_name(h.role), h.id.to_string(), h.name,
                     h.tunnel_v4 ? h.tunnel_v4->to_string() : "-", h.tunnel_v6 ? " " + h.tunnel_v6->to_string() : "");
          if (spec.admin_host) {
            fmt::print("it is the administration host: every host needs an update (`cordon admin updates build`)\n");
          }
        }
        return kExitOk;
      });
    };
  }
  {
    struct Opts {
      std::string host, name, role;
      CLI::Option *name_opt = nullptr, *role_opt = nullptr, *endpoint_opt = nullptr, *subnet_opt = nullptr,
                  *ipsec_opt = nullptr;
      std::vector<std::string> endpoints, subnets, ipsec_subnets;
      bool clear_endpoints = false, clear_subnets = false, clear_ipsec = false, clear_coordinators = false;
      CoordinatorOpts coords;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l =
        leaf(host, "host", "set", "Change a host's name, role, endpoints, coordinators, subnets or IPsec subnets");
    l.command->add_option("HOST", o->host, "Host ID or name")->required();
    o->name_opt = l.command->add_option("--name", o->name, "New name");
    o->role_opt = l.command->add_option("--role", o->role, "client or coordinator")->check(CLI::IsMember(roles));
    o->endpoint_opt = l.command->add_option("--endpoint", o->endpoints, "Replace the endpoints (repeatable)")
                          ->check(kEndpoint)
                          ->allow_extra_args(false);
    auto* clear_ep = l.command->add_flag("--clear-endpoints", o->clear_endpoints, "Remove every endpoint");
    clear_ep->excludes(o->endpoint_opt);
    o->subnet_opt = l.command->add_option("--subnet", o->subnets, "Replace the tunneled subnets (repeatable)")
                        ->check(kPrefix)
                        ->allow_extra_args(false);
    l.command->add_flag("--clear-subnets", o->clear_subnets, "Remove every tunneled subnet")->excludes(o->subnet_opt);
    o->ipsec_opt = l.command
                       ->add_option("--ipsec-subnet", o->ipsec_subnets,
                                    "Replace the IPsec subnets, PREFIX or PREFIX=PEER (repeatable)")
                       ->check(kIpsecSubnet)
                       ->allow_extra_args(false);
    l.command->add_flag("--clear-ipsec-subnets", o->clear_ipsec, "Remove every IPsec subnet")->excludes(o->ipsec_opt);
    l.command->add_flag("--clear-coordinators", o->clear_coordinators, "Client only: remove its coordinators");
    o->coords.add(l.command);
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        admin::HostChange change;
        change.name = given(o->name_opt, o->name);
        if (o->role_opt->count() > 0) change.role = keys::parse_role(o->role);
        if (o->endpoint_opt->count() > 0) change.endpoints = parse_all<Endpoint>(o->endpoints);
        if (o->clear_endpoints) change.endpoints = std::vector<Endpoint>{};
        if (o->subnet_opt->count() > 0) change.subnets = parse_all<Prefix>(o->subnets);
        if (o->clear_subnets) change.subnets = std::vector<Prefix>{};
        if (o->ipsec_opt->count() > 0) change.ipsec_subnets = parse_all<admin::IpsecSubnet>(o->ipsec_subnets);
        if (o->clear_ipsec) change.ipsec_subnets = std::vector<admin::IpsecSubnet>{};
        change.clear_coordinators = o->clear_coordinators;
        change.coordinators = o->coords.choice();
        Admin a = open_db();
        print_host(a.set_host(o->host, change), false);
        return kExitOk;
      });
    };
  }
  {
    auto ref = std::make_shared<std::string>();
    Leaf& l = leaf(host, "host", "remove", "Remove a host (its peers lose the link at their next update)");
    l.command->add_option("HOST", *ref, "Host ID or name")->required();
    l.run = [ref, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        a.remove_host(*ref);
        fmt::print("removed host {}; run `cordon admin updates build` to tell its peers\n", *ref);
        return kExitOk;
      });
    };
  }
  {
    auto ref = std::make_shared<std::string>();
    Leaf& l = leaf(host, "host", "compromise",
                   "Treat a host as compromised: drop its links on every peer, remove it, retire its ID");
    l.command->add_option("HOST", *ref, "Host ID or name")->required();
    add_json(l);
    l.run = [ref, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        const std::vector<HostId> peers = a.compromise_host(*ref);
        if (state().json) {
          nlohmann::json j = nlohmann::json::array();
          for (HostId p : peers) j.push_back(p.to_string());
          print_json(nlohmann::json{{"host", *ref}, {"peers", j}});
        } else {
          fmt::print(
              "host {} removed as compromised; {} peer(s) lose its link keys at their next update: run "
              "`cordon admin updates build` now and deliver the packages\n",
              *ref, peers.size());
        }
        return kExitOk;
      });
    };
  }
  {
    Leaf& l = leaf(host, "host", "list", "List the hosts");
    add_json(l);
    l.run = list_command(l.name, [](Admin a) { return a.list_hosts(); }, format_hosts);
  }
  {
    auto ref = std::make_shared<std::string>();
    Leaf& l = leaf(host, "host", "show", "Show one host, its users, groups and peers");
    l.command->add_option("HOST", *ref, "Host ID or name")->required();
    add_json(l);
    l.run = [ref, name = l.name] {
      return guarded(name, [&] {
        print_host(open_db().show_host(*ref), true);
        return kExitOk;
      });
    };
  }
}

// ---- user ----------------------------------------------------------------------------

void add_user_commands(CLI::App* admin_app) {
  CLI::App* user = admin_app->add_subcommand("user", "Users of hosts (each has a user key and a password)");
  user->require_subcommand(1);
  user->fallthrough();

  struct Opts {
    std::string host, name, password_file;
    CLI::Option* pw = nullptr;
    bool rotate_user_key = false, keep_user_key = false;
  };
  auto with_password = [](Leaf& l, const std::shared_ptr<Opts>& o) {
    l.command->add_option("--host", o->host, "Host ID or name")->required();
    l.command->add_option("--name", o->name, "User name")->required();
    o->pw = l.command->add_option("--password-file", o->password_file,
                                  "The user's chosen password, from FILE (mode 0600); without it a password is "
                                  "generated and shown once");
    add_json(l);
  };
  // `user add` and `user passwd` differ only in what they ask the database.
  using SetPassword =
      std::function<admin::NewPassword(Admin&, const Opts&, std::optional<std::string_view>)>;
  const auto password_leaf = [&](const char* verb, const char* what, SetPassword set) -> Leaf& {
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(user, "user", verb, what);
    with_password(l, o);
    l.run = [o, name = l.name, set] {
      return guarded(name, [&] {
        const auto chosen = read_password_file(given(o->pw, o->password_file));
        Admin a = open_db();
        const auto text = chosen ? std::optional<std::string_view>(keys::as_text(*chosen)) : std::nullopt;
        print_new_password(set(a, *o, text), state().json);
        return kExitOk;
      });
    };
    return l;
  };
  password_leaf("add", "Add a user to a host",
                [](Admin& a, const Opts& o, auto text) { return a.add_user(o.host, o.name, text); });
  {
    // Which resets rotate the user key: docs/administration.md, "Resetting
    // a password at the administrator".
    auto o = std::make_shared<Opts>();
    Leaf& l = password_leaf(
        "passwd",
        "Give a user a new password (used by key sets exported from now on); a generated one also rotates the "
        "user key",
        [o](Admin& a, const Opts& given_opts, auto text) {
          const auto choice = o->rotate_user_key ? admin::UserKeyChoice::kRotate
                              : o->keep_user_key ? admin::UserKeyChoice::kKeep
                                                 : admin::UserKeyChoice::kDefault;
          return a.reset_password(given_opts.host, given_opts.name, text, choice);
        });
    // --host, --name and --password-file live in the leaf's own options;
    // the two flags only here.
    auto* rotate = l.command->add_flag("--rotate-user-key", o->rotate_user_key,
                                       "New user key, host key and link keys: lock out whoever has the old password "
                                       "(default without --password-file)");
    auto* keep = l.command->add_flag("--keep-user-key", o->keep_user_key,
                                     "Keep the user key (default with --password-file)");
    rotate->excludes(keep);
  }
  {
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(user, "user", "remove", "Remove a user from a host");
    l.command->add_option("--host", o->host, "Host ID or name")->required();
    l.command->add_option("--name", o->name, "User name")->required();
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        const admin::RotateResult r = a.remove_user(o->host, o->name);
        fmt::print("removed user '{}' of host {}\n", o->name, o->host);
        print_revocation(r);
        return kExitOk;
      });
    };
  }
  {
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(user, "user", "list", "List users (of one host with --host)");
    o->pw = l.command->add_option("--host", o->host, "Host ID or name");
    add_json(l);
    l.run = list_command(l.name, [o](Admin a) { return a.list_users(given(o->pw, o->host)); }, format_users);
  }
}

// ---- group, link ----------------------------------------------------------------

void print_change(const admin::LinkChange& c) {
  print_one(c, format_link_change);
}

void add_group_commands(CLI::App* admin_app) {
  CLI::App* group = admin_app->add_subcommand("group", "Groups of hosts; `link add --groups` links two groups");
  group->require_subcommand(1);
  group->fallthrough();
  {
    auto g = std::make_shared<std::string>();
    Leaf& l = leaf(group, "group", "add", "Create a group");
    l.command->add_option("NAME", *g, "Group name")->required();
    l.run = [g, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        a.add_group(*g);
        fmt::print("created group '{}'\n", *g);
        return kExitOk;
      });
    };
  }
  {
    auto g = std::make_shared<std::string>();
    Leaf& l = leaf(group, "group", "remove", "Remove a group (and the links only it asked for)");
    l.command->add_option("NAME", *g, "Group name")->required();
    add_json(l);
    l.run = [g, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        print_change(a.remove_group(*g));
        return kExitOk;
      });
    };
  }
  {
    Leaf& l = leaf(group, "group", "list", "List groups, members and linked groups");
    add_json(l);
    l.run = list_command(l.name, [](Admin a) { return a.list_groups(); }, format_groups);
  }
  CLI::App* member = group->add_subcommand("member", "Group membership");
  member->require_subcommand(1);
  member->fallthrough();
  for (const bool add : {true, false}) {
    auto args = std::make_shared<std::pair<std::string, std::string>>();
    Leaf& l = leaf(member, "group member", add ? "add" : "remove",
                   add ? "Add a host to a group" : "Remove a host from a group");
    l.command->add_option("GROUP", args->first, "Group name")->required();
    l.command->add_option("HOST", args->second, "Host ID or name")->required();
    add_json(l);
    l.run = [args, add, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        print_change(add ? a.add_member(args->first, args->second) : a.remove_member(args->first, args->second));
        return kExitOk;
      });
    };
  }
}

// ---- filter ----------------------------------------------------------------------

void add_filter_commands(CLI::App* admin_app) {
  CLI::App* filter = admin_app->add_subcommand(
      "filter",
      "Rules for protected and open traffic of hosts and groups, sent in key sets and updates (docs/gateways.md, "
      "docs/firewall.md)");
  filter->require_subcommand(1);
  filter->fallthrough();
  {
    struct Opts {
      std::string host, group;
      CLI::Option *host_opt = nullptr, *group_opt = nullptr, *before_opt = nullptr;
      int64_t before = 0;
      bool open = false;
      std::vector<std::string> words;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(filter, "filter", "add", "Add a rule for a host or a group (last, or before another rule)");
    o->host_opt = l.command->add_option("--host", o->host, "The host the rule is for (ID or name)");
    o->group_opt = l.command->add_option("--group", o->group, "The group the rule is for");
    o->host_opt->excludes(o->group_opt);
    o->before_opt = l.command->add_option("--before", o->before, "Put the rule just before rule NUMBER");
    l.command->add_flag("--open", o->open,
                        "A rule for open traffic, applied by the host's firewall (docs/firewall.md): "
                        "allow|drop [input|forward|both] [iif NAME] [from P] [to P] [proto X] [dport P[-Q]]");
    l.command->add_option("RULE", o->words,
                          "allow|drop [in|out] [peer NAME,...] [from P] [to P] [proto X] ... (with --open, see above)")
        ->required()
        ->expected(-1);
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        if (!o->host_opt->count() && !o->group_opt->count()) {
          throw admin::AdminError("say whom the rule is for: --host HOST or --group GROUP");
        }
        const admin::FilterTarget target =
            o->host_opt->count() ? admin::FilterTarget{admin::FilterTarget::Kind::kHost, o->host}
                                 : admin::FilterTarget{admin::FilterTarget::Kind::kGroup, o->group};
        std::string text;
        for (const auto& w : o->words) text += (text.empty() ? "" : " ") + w;
        const auto before = o->before_opt->count() ? std::optional(o->before) : std::nullopt;
        const auto traffic = o->open ? admin::FilterTraffic::kOpen : admin::FilterTraffic::kProtected;
        print_one(open_db().add_filter_rule(target, text, before, traffic), [](const admin::FilterRuleInfo& r) {
          return fmt::format("added {}rule {}: {}\n", r.traffic == admin::FilterTraffic::kOpen ? "open " : "",
                             r.number, r.text);
        });
        return kExitOk;
      });
    };
  }
  {
    auto number = std::make_shared<int64_t>(0);
    Leaf& l = leaf(filter, "filter", "remove", "Remove a rule by its number");
    l.command->add_option("NUMBER", *number, "The rule's number (filter list)")->required();
    add_json(l);
    l.run = [number, name = l.name] {
      return guarded(name, [&] {
        print_one(open_db().remove_filter_rule(*number), [](const admin::FilterRuleInfo& r) {
          return fmt::format("removed rule {}: {}\n", r.number, r.text);
        });
        return kExitOk;
      });
    };
  }
  {
    struct Opts {
      std::string host;
      CLI::Option* host_opt = nullptr;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(filter, "filter", "list", "List rules in the order hosts apply them (those of one host with --host)");
    o->host_opt = l.command->add_option("--host", o->host, "Host ID or name");
    add_json(l);
    l.run = list_command(l.name, [o](Admin a) { return a.list_filter_rules(given(o->host_opt, o->host)); },
                         format_filter_rules);
  }
}

// ---- reach -------------------------------------------------------------------------

void add_reach_commands(CLI::App* admin_app) {
  CLI::App* reach = admin_app->add_subcommand(
      "reach", "Which of a gateway's tunneled subnets a host or group may reach (docs/gateways.md, \"Reach\")");
  reach->require_subcommand(1);
  reach->fallthrough();
  struct Opts {
    std::string gateway, host, group;
    std::vector<std::string> subnets;
    CLI::Option *host_opt = nullptr, *group_opt = nullptr;
  };
  const auto who_options = [](Leaf& l, const std::shared_ptr<Opts>& o) {
    l.command->add_option("--gateway", o->gateway, "The gateway (ID or name)")->required();
    o->host_opt = l.command->add_option("--host", o->host, "The host limited (ID or name)");
    o->group_opt = l.command->add_option("--group", o->group, "The group whose members are limited");
    o->host_opt->excludes(o->group_opt);
  };
  const auto who = [](const Opts& o) {
    if (!o.host_opt->count() && !o.group_opt->count()) {
      throw admin::AdminError("say whom the limit is for: --host HOST or --group GROUP");
    }
    return o.host_opt->count() ? admin::FilterTarget{admin::FilterTarget::Kind::kHost, o.host}
                               : admin::FilterTarget{admin::FilterTarget::Kind::kGroup, o.group};
  };
  {
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(reach, "reach", "set", "Limit a host or group to some prefixes of a gateway's subnets");
    who_options(l, o);
    l.command->add_option("--subnet", o->subnets, "A prefix inside one of the gateway's subnets (repeat, or commas)")
        ->required()
        ->delimiter(',');
    add_json(l);
    l.run = [o, who, name = l.name] {
      return guarded(name, [&] {
        std::vector<Prefix> prefixes;
        for (const std::string& text : o->subnets) {
          const auto p = Prefix::parse(text);
          if (!p) throw admin::AdminError(fmt::format("--subnet: '{}' is not a prefix such as 192.168.71.0/25", text));
          prefixes.push_back(*p);
        }
        print_one(open_db().set_reach(o->gateway, who(*o), prefixes), format_reach_one);
        return kExitOk;
      });
    };
  }
  {
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(reach, "reach", "clear", "Let a host or group reach all of a gateway's subnets again");
    who_options(l, o);
    l.run = [o, who, name = l.name] {
      return guarded(name, [&] {
        const admin::FilterTarget target = who(*o);
        open_db().clear_reach(o->gateway, target);
        fmt::print("{} {} reaches every tunneled subnet of {} again\n",
                   target.kind == admin::FilterTarget::Kind::kHost ? "host" : "group", target.name, o->gateway);
        return kExitOk;
      });
    };
  }
  {
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(reach, "reach", "list", "List reach limits (of one gateway with --gateway)");
    auto* gateway = l.command->add_option("--gateway", o->gateway, "The gateway (ID or name)");
    add_json(l);
    l.run = list_command(l.name, [o, gateway](Admin a) { return a.list_reach(given(gateway, o->gateway)); },
                         format_reach);
  }
}

void add_link_commands(CLI::App* admin_app) {
  CLI::App* link = admin_app->add_subcommand("link", "Links: permission to talk, and one key per host pair");
  link->require_subcommand(1);
  link->fallthrough();
  for (const bool add : {true, false}) {
    struct Opts {
      std::string a, b;
      bool groups = false;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(link, "link", add ? "add" : "remove",
                   add ? "Link two hosts (a new link key), or two groups with --groups"
                       : "Remove a link; its key leaves both hosts at their next update");
    l.command->add_option("A", o->a, "The first host: its ID (0xNNNNHHHH) or name; a group name with --groups")
        ->required();
    l.command->add_option("B", o->b, "The second host: its ID (0xNNNNHHHH) or name; a group name with --groups")
        ->required();
    l.command->add_flag("--groups", o->groups, "A and B are groups: every member of A with every member of B");
    add_json(l);
    l.run = [o, add, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        if (o->groups) {
          print_change(add ? a.add_group_link(o->a, o->b) : a.remove_group_link(o->a, o->b));
        } else {
          print_change(add ? a.add_link(o->a, o->b) : a.remove_link(o->a, o->b));
        }
        return kExitOk;
      });
    };
  }
  {
    Leaf& l = leaf(link, "link", "list", "List linked host pairs and why they are linked");
    add_json(l);
    l.run = list_command(l.name, [](Admin a) { return a.list_links(); }, format_links);
  }
}

// ---- keys, keyset, updates, audit ---------------------------------------------

void add_key_commands(CLI::App* admin_app) {
  CLI::App* keys_app = admin_app->add_subcommand("keys", "Key rotation");
  keys_app->require_subcommand(1);
  keys_app->fallthrough();
  {
    struct Opts {
      std::vector<std::string> link;
      std::string host;
      bool all = false;
      CLI::Option *link_opt = nullptr, *host_opt = nullptr, *all_opt = nullptr;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(keys_app, "keys", "rotate", "New keys for one link, one host (its host key and links), or all");
    o->link_opt = l.command->add_option("--link", o->link, "The two hosts of the link")->expected(2);
    o->host_opt = l.command->add_option("--host", o->host, "A host: its host key and all its link keys");
    o->all_opt = l.command->add_flag("--all", o->all, "Every link key and host key of the network");
    o->link_opt->excludes(o->host_opt)->excludes(o->all_opt);
    o->host_opt->excludes(o->all_opt);
    add_json(l);
    l.run = [o, name = l.name] {
      if (o->link_opt->count() == 0 && o->host_opt->count() == 0 && !o->all) {
        fmt::print(stderr, "cordon admin {}: say what to rotate: --link A B, --host H or --all\n", name);
        return kExitUsage;
      }
      return guarded(name, [&] {
        Admin a = open_db();
        admin::RotateResult r;
        if (o->link_opt->count() > 0) {
          r = a.rotate_link(o->link.at(0), o->link.at(1));
        } else if (o->host_opt->count() > 0) {
          r = a.rotate_host(o->host);
        } else {
          r = a.rotate_all();
        }
        if (state().json) {
          print_json(nlohmann::json{{"link_keys", r.link_keys}, {"host_keys", r.host_keys}});
        } else {
          fmt::print(
              "new keys: {} link key(s), {} host key(s); run `cordon admin updates build` and deliver the "
              "packages\n",
              r.link_keys, r.host_keys);
        }
        return kExitOk;
      });
    };
  }
}

void print_renewed_links(const std::vector<admin::ExportedKeySet>& out) {
  size_t renewed = 0;
  for (const auto& k : out) renewed += k.rotated_links;
  if (renewed == 0) return;
  fmt::print("renewed {} link key(s) of host(s) exported before (--keep-keys keeps them); run `cordon admin "
             "updates build` and deliver the peers' packages\n",
             renewed);
}

void add_keyset_export(CLI::App* admin_app) {
  CLI::App* keyset = admin_app->add_subcommand("keyset", "Key sets: a host's address book and keys, for installing");
  keyset->require_subcommand(1);
  keyset->fallthrough();
  struct Opts {
    std::string host, user, out;
    bool all = false, keep_keys = false;
    CLI::Option *host_opt = nullptr, *user_opt = nullptr, *all_opt = nullptr;
  };
  auto o = std::make_shared<Opts>();
  Leaf& l = leaf(keyset, "keyset", "export", "Write a host's key set (mode 0600) for `cordon keyset install`");
  o->host_opt = l.command->add_option("--host", o->host, "Host ID or name");
  o->user_opt = l.command->add_option("--user", o->user, "User (default: the host's only user)");
  o->all_opt = l.command->add_flag("--all", o->all, "Every host and user: --out is a directory");
  l.command->add_option("--out", o->out, "File to write (directory with --all)")->required();
  o->all_opt->excludes(o->host_opt)->excludes(o->user_opt);
  l.command->add_flag("--keep-keys", o->keep_keys,
                      "Do not renew the link keys of a host exported before (safe only if that export was never "
                      "installed, or is installed here with its counter floor intact)");
  add_json(l);
  l.run = [o, name = l.name] {
    if (!o->all && o->host_opt->count() == 0) {
      fmt::print(stderr, "cordon admin {}: say which host with --host H (or --all for every host)\n", name);
      return kExitUsage;
    }
    return guarded(name, [&] {
      Admin a = open_db();
      std::vector<admin::ExportedKeySet> out;
      if (o->all) {
        out = a.export_all_keysets(o->out, o->keep_keys);
      } else {
        out.push_back(a.export_keyset(o->host, given(o->user_opt, o->user), o->out, o->keep_keys));
      }
      if (state().json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& k : out) j.push_back(to_json(k));
        print_json(o->all ? j : j.at(0));
      } else {
        for (const auto& k : out) {
          fmt::print("wrote key set version {} of {} '{}' for user '{}' ({} peers) to {}\n", k.version,
                     k.host.to_string(), k.host_name, k.user, k.peers, k.path);
        }
        print_renewed_links(out);
      }
      return kExitOk;
    });
  };
}

// ---- network recover (docs/administration.md, "Recovering from a leak") ------

void print_recovery(const admin::RecoveryResult& r, const std::string& out_dir) {
  fmt::print("new keys: {} link key(s), {} host key(s), {} user key(s); {} key set(s) in {}\n", r.rotated.link_keys,
             r.rotated.host_keys, r.user_keys, r.keysets.size(), out_dir);
  for (const auto& k : r.keysets) {
    fmt::print("  {} '{}' user '{}': {} (version {})\n", k.host.to_string(), k.host_name, k.user, k.path, k.version);
  }
  for (const auto& p : r.passwords) {
    fmt::print("password of user '{}' on {} '{}' (shown only now; give it to the user apart from the key set): {}\n",
               p.user.name, p.user.host.to_string(), p.user.host_name, keys::as_text(p.generated));
  }
  for (const auto& [host, name] : r.without_users) {
    fmt::print("host {} '{}' has no user and got no key set: `user add` one, then `keyset export` it\n",
               host.to_string(), name);
  }
  fmt::print("update packages built before are void; install each key set by hand with `cordon keyset install`\n");
}

void add_network_recover(CLI::App* admin_app) {
  auto out = std::make_shared<std::string>();
  Leaf& l = leaf(admin_app->get_subcommand("network"), "network", "recover",
                 "After a leak of admin.db or a backup: replace every key and password, write new key sets to DIR");
  l.command->add_option("--out", *out, "Directory for the new key sets (DIR/0xNNNNHHHH-USER.keyset)")->required();
  l.run = [out, name = l.name] {
    return guarded(name, [&] {
      Admin a = open_db();
      print_recovery(a.recover_network(*out), *out);
      return kExitOk;
    });
  };
}

// -i IFACE / -s SOCKET: the control socket of the administration host's
// daemon, as `cordon update apply` names it.
struct SocketOpts {
  std::string interface = daemon::kDefaultInterface;
  std::string socket;
  CLI::Option* socket_opt = nullptr;

  void add(CLI::App* c) {
    auto* iface = c->add_option("-i,--interface", interface,
                                "Interface of the administration host's daemon (default cordon0)");
    socket_opt = c->add_option("-s,--socket", socket, "Control socket of the administration host's daemon");
    iface->excludes(socket_opt);
  }
  std::string path() const {
    return socket_opt->count() > 0 ? socket : std::string(daemon::kDefaultControlDir) + "/" + interface + ".sock";
  }
};

// `updates send` and `updates build --send` (docs/administration.md,
// "Delivery by couriers"): hands every built, unsent package to the
// daemon's courier through its control socket. Returns what became of
// each, and whether all were sent.
std::pair<std::vector<SentPackage>, bool> send_packages(Admin& a, const std::string& socket) {
  const admin::SendBatch batch = a.unsent_packages();
  for (const admin::OutgoingPackage& p : batch.unroutable) {
    fmt::print(stderr,
               "note: {} '{}' version {} is for a client without a courier: give it one (`cordon admin host set {} "
               "--courier COORDINATOR`, then `updates build`), or carry it by hand\n",
               p.host.to_string(), p.host_name, p.version, p.host.to_string());
  }
  if (batch.packages.empty()) return {{}, true};
  const admin::SendDirectory dir(batch.packages, admin::default_send_parent());
  const daemon::ControlReply reply = daemon::control_request(socket, admin::send_request(dir.path()));
  const size_t count = batch.packages.size();
  if (!reply && reply.error().no_daemon) {
    throw AdminError(fmt::format(
        "{}; the {} package(s) stay unsent. Start the daemon of the administration host {} here (`cordon up`), or "
        "name its socket with -i IFACE or -s SOCKET, then run `cordon admin updates send`",
        reply.error().message, count, batch.admin_host.to_string()));
  }
  if (!reply) {
    // The daemon answered and refused, or the exchange failed.
    throw AdminError(fmt::format("{} (on {}); the {} package(s) stay unsent: fix what the daemon says (it takes "
                                 "packages only when its key set names it the administration host {}), then run "
                                 "`cordon admin updates send`",
                                 reply.error().message, socket, count, batch.admin_host.to_string()));
  }
  admin::SendReply answer;
  try {
    answer = admin::parse_send_reply(*reply);
  } catch (const AdminError& e) {
    throw AdminError(fmt::format("{} (on {}); the {} package(s) stay unsent", e.what(), socket, count));
  }
  a.mark_sent(answer.accepted, socket);
  std::vector<SentPackage> rows;
  bool all_sent = true;
  for (const admin::OutgoingPackage& p : batch.packages) {
    SentPackage row{p, "not taken: the daemon did not answer for it; run `cordon admin updates send` again"};
    if (std::find(answer.accepted.begin(), answer.accepted.end(), std::pair{p.host, p.version}) !=
        answer.accepted.end()) {
      row.state = "sent";
    } else {
      for (const auto& [file, error] : answer.refused) {
        if (file == p.file_name()) row.state = "refused: " + error;
      }
    }
    all_sent = all_sent && row.state == "sent";
    rows.push_back(std::move(row));
  }
  return {std::move(rows), all_sent};
}

void print_sent(const std::vector<SentPackage>& rows) {
  if (rows.empty()) return fmt::print("no packages to send\n");
  fmt::print("{}", format_sent(rows));
}

nlohmann::json sent_json(const std::vector<SentPackage>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const SentPackage& row : rows) j.push_back(to_json(row));
  return j;
}

void add_update_commands(CLI::App* admin_app) {
  CLI::App* updates = admin_app->add_subcommand("updates", "Update packages for hosts whose state changed");
  updates->require_subcommand(1);
  updates->fallthrough();
  {
    struct Opts {
      std::string out;
      bool send = false;
      SocketOpts socket;
    };
    auto o = std::make_shared<Opts>();
    Leaf& l = leaf(updates, "updates", "build",
                   "Build one package per host that needs one: DIR/0xNNNNHHHH-vN.update with --out, sent with --send");
    l.command->add_option("--out", o->out, "Directory for the packages, to carry by hand");
    l.command->add_flag("--send", o->send, "Then hand them to the administration host's daemon (`updates send`)");
    o->socket.add(l.command);
    add_json(l);
    l.run = [o, name = l.name] {
      if (o->out.empty() && !o->send) {
        fmt::print(stderr, "cordon admin {}: say where the packages go: --out DIR, --send, or both\n", name);
        return kExitUsage;
      }
      return guarded(name, [&] {
        Admin a = open_db();
        // With --send and no way to send, refuse before building anything.
        if (o->send) (void)a.unsent_packages();
        const admin::BuildResult r = a.build_updates(o->out);
        if (!o->send) {
          print_one(r, format_build);
          return kExitOk;
        }
        if (!state().json) fmt::print("{}", format_build(r));
        const auto [rows, all_sent] = send_packages(a, o->socket.path());
        if (state().json) {
          print_json(nlohmann::json{{"build", to_json(r)}, {"sent", sent_json(rows)}});
        } else {
          print_sent(rows);
        }
        return all_sent ? kExitOk : kExitError;
      });
    };
  }
  {
    auto o = std::make_shared<SocketOpts>();
    Leaf& l = leaf(updates, "updates", "send",
                   "Hand every built, unsent package to the administration host's daemon for its couriers");
    o->add(l.command);
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        const auto [rows, all_sent] = send_packages(a, o->path());
        if (state().json) {
          print_json(sent_json(rows));
        } else {
          print_sent(rows);
        }
        return all_sent ? kExitOk : kExitError;
      });
    };
  }
  {
    auto o = std::make_shared<SocketOpts>();
    Leaf& l = leaf(updates, "updates", "status",
                   "Where each package is: receipts and notices from the administration host's daemon");
    o->add(l.command);
    add_json(l);
    l.run = [o, name = l.name] {
      return guarded(name, [&] {
        Admin a = open_db();
        const std::string socket = o->path();
        std::optional<admin::CourierReports> reports;
        std::string warning;
        const daemon::ControlReply reply = daemon::control_request(socket, admin::reports_request());
        if (!reply) {
          warning = reply.error().message;
        } else {
          try {
            reports = admin::parse_courier_reports(*reply);
          } catch (const AdminError& e) {
            warning = fmt::format("{} (on {})", e.what(), socket);
          }
        }
        if (!warning.empty()) {
          fmt::print(stderr,
                     "warning: the administration host's daemon is not answering: {}; showing the last known states "
                     "from the database\n",
                     warning);
        } else {
          const std::optional<HostId> admin_host = a.network_info().admin_host;
          if (admin_host && reports->self != *admin_host) {
            fmt::print(stderr,
                       "warning: the daemon on {} is host {}, not the administration host {}; only the receipts "
                       "whose tags verify are believed\n",
                       socket, reports->self.to_string(), admin_host->to_string());
          }
        }
        const admin::DeliveryReport report = a.delivery_status(reports);
        if (state().json) {
          nlohmann::json rows = nlohmann::json::array();
          for (const admin::DeliveryStatus& s : report.packages) rows.push_back(to_json(s));
          print_json(rows);
        } else {
          fmt::print("{}", format_delivery_report(report));
        }
        return kExitOk;
      });
    };
  }
  {
    Leaf& l = leaf(updates, "updates", "pending", "List hosts whose next update is due, and its kind");
    add_json(l);
    l.run = list_command(l.name, [](Admin a) { return a.pending_updates(); }, format_pending);
  }
}

void add_audit(CLI::App* admin_app) {
  auto limit = std::make_shared<int64_t>(50);
  Leaf& l = leaf(admin_app, "", "audit", "Show the audit log of admin operations (newest last)");
  l.command->add_option("--limit", *limit, "How many entries (default 50; 0 = all)")->check(CLI::NonNegativeNumber);
  add_json(l);
  l.run = list_command(l.name, [limit](Admin a) { return a.audit_log(*limit); }, format_audit);
}

// `cordon admin status` (docs/administration.md, "Live status"): the
// coordinators' reports the administration host's daemon keeps, checked
// and joined with the database.
void add_live_status(CLI::App* admin_app) {
  auto o = std::make_shared<SocketOpts>();
  Leaf& l = leaf(admin_app, "", "status", "Show the live state of the network, as the coordinators report it");
  o->add(l.command);
  add_json(l);
  l.run = [o, name = l.name] {
    return guarded(name, [&] {
      Admin a = open_db();
      const std::string socket = o->path();
      const daemon::ControlReply reply = daemon::control_request(socket, admin::network_request());
      const std::string error = reply ? "" : reply.error().message;
      const admin::LiveStatus live = admin::live_status(
          a, reply ? std::optional<nlohmann::json>(*reply) : std::nullopt, error, os::now().real_ns / kNsPerSecond);
      if (state().json) {
        print_json(admin::live_status_json(live));
      } else {
        fmt::print("{}", admin::format_live_status(live));
      }
      return kExitOk;
    });
  };
}

}  // namespace

void add_admin_commands(CLI::App& app) {
  State& s = state();
  s.admin = app.add_subcommand("admin", "Administer a network: hosts, users, groups, links, keys, key sets, updates");
  s.admin->require_subcommand(1);
  s.admin->add_option("--db", s.db,
                      "Network database: a file (default /var/lib/cordon/admin.db) or a postgresql:// URI");
  add_network(s.admin);
  add_network_migrate_leaf(s.admin->get_subcommand("network"));
  add_network_recover(s.admin);
  add_host_commands(s.admin);
  add_user_commands(s.admin);
  add_group_commands(s.admin);
  add_link_commands(s.admin);
  add_filter_commands(s.admin);
  add_reach_commands(s.admin);
  add_key_commands(s.admin);
  add_keyset_export(s.admin);
  add_update_commands(s.admin);
  add_audit(s.admin);
  add_live_status(s.admin);
  add_console_commands(s.admin, s.db);
}

std::optional<int> dispatch_admin_commands() {
  State& s = state();
  if (s.admin == nullptr || !s.admin->parsed()) return std::nullopt;
  // Passwords and keys pass through this process: keep them out of core
  // dumps and away from other users' ptrace.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  for (const Leaf& l : s.leaves) {
    if (l.command->parsed()) return l.run();
  }
  if (auto console = dispatch_console_commands()) return *console;
  return kExitUsage;
}

}  // namespace cordon::cli
