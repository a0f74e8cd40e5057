// cordon ipsec (ipsec_commands.hpp).
#include "cli/ipsec_commands.hpp"

#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "core/crypto/secret.hpp"
#include "daemon/config.hpp"
#include "daemon/control.hpp"
#include "os/linux/files.hpp"

namespace cordon::cli {
namespace {

struct Args {
  CLI::App* command = nullptr;
  std::string object, action;
  std::string interface = daemon::kDefaultInterface;
  std::string socket;
  CLI::Option* socket_opt = nullptr;
  bool json = false;
  std::string name;  // connection up/down
  // sa add
  std::string spi, direction, protocol = "esp", mode = "tunnel", encryption, key_file, local, remote;
  std::vector<std::string> local_ts, remote_ts;
  // policy add/remove
  std::string policy_local, policy_remote, policy_action;
  size_t position = 0;
};

std::vector<Args>& all() {
  static std::vector<Args> a(9);
  return a;
}

void add_target(CLI::App* c, Args& a) {
  auto* iface = c->add_option("-i,--interface", a.interface, "Interface of the daemon to ask (default cordon0)");
  a.socket_opt = c->add_option("-s,--socket", a.socket, "Control socket of the daemon to ask");
  iface->excludes(a.socket_opt);
  c->add_flag("--json", a.json, "Print the daemon's answer as JSON");
}

std::string socket_of(const Args& a) {
  return a.socket_opt->count() > 0 ? a.socket : std::string(daemon::kDefaultControlDir) + "/" + a.interface + ".sock";
}


void print_sa(const nlohmann::json& sa, const char* direction) {
  fmt::print("    {} {} {} {} {}: {} packets, {} bytes", direction, sa.value("protocol", "esp"), sa.value("spi", ""),
             sa.value("mode", ""), sa.value("cipher", ""), sa.value("packets", 0), sa.value("bytes", 0));
  if (sa.contains("drops") && !sa["drops"].empty()) fmt::print(", drops {}", sa["drops"].dump());
  fmt::print("\n");
}

void print_status(const nlohmann::json& s) {
  const auto& ikes = s.value("ike_sas", nlohmann::json::array());
  fmt::print("IKE SAs: {}{}\n", ikes.size(), s.value("half_open", 0) ? fmt::format(" ({} half-open)", s["half_open"].get<size_t>()) : "");
  for (const auto& i : ikes) {
    fmt::print("  {} {} {} ({}) {}, {}, rekeys {}, child rekeys {}, retransmits {}\n", i.value("connection", ""),
               i.value("state", ""), i.value("remote", ""), i.value("remote_id", ""),
               i.value("initiator", false) ? "initiator" : "responder", i.value("proposal", ""), i.value("rekeys", 0),
               i.value("child_rekeys", 0), i.value("retransmits", 0));
  }
  const auto& children = s.value("child_sas", nlohmann::json::array());
  fmt::print("CHILD SAs: {}\n", children.size());
  for (const auto& c : children) {
    fmt::print("  {}/{} {}{}{}\n", c.value("connection", ""), c.value("child", ""), c.value("remote", ""),
               c.value("udp_encapsulation", false) ? " (UDP-encapsulated)" : "", c.value("manual", false) ? " (manual)" : "");
    if (c.contains("inbound")) print_sa(c["inbound"], "in ");
    if (c.contains("outbound")) print_sa(c["outbound"], "out");
  }
  if (s.contains("drops") && !s["drops"].empty()) fmt::print("drops: {}\n", s["drops"].dump());
}

int run(const Args& a) {
  nlohmann::json request = {{"command", "ipsec"}, {"object", a.object}, {"action", a.action}};
  if (a.object == "connection" && a.action != "list") request["name"] = a.name;
  if (a.object == "sa" && a.action == "remove") request["spi"] = a.spi;
  crypto::SecretBytes key_text;
  if (a.object == "sa" && a.action == "add") {
    auto text = os::read_private_file(a.key_file, 4096);
    if (!text) {
      fmt::print(stderr, "cordon ipsec sa add: --key-file {}; the key file must be private to its owner (chmod 600)\n",
                 text.error().message());
      return kExitError;
    }
    std::string hex = *text;
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ' || hex.back() == '\r')) hex.pop_back();
    crypto::wipe(std::as_writable_bytes(std::span(text->data(), text->size())));
    request.update({{"spi", a.spi}, {"direction", a.direction}, {"protocol", a.protocol}, {"mode", a.mode},
                    {"encryption", a.encryption}, {"key", hex}, {"local", a.local}, {"remote", a.remote},
                    {"local_ts", a.local_ts}, {"remote_ts", a.remote_ts}, {"name", a.name.empty() ? a.spi : a.name}});
    crypto::wipe(std::as_writable_bytes(std::span(hex.data(), hex.size())));
  }
  if (a.object == "policy" && a.action == "add") {
    request.update({{"local", a.policy_local}, {"remote", a.policy_remote}, {"policy_action", a.policy_action}});
  }
  if (a.object == "policy" && a.action == "remove") request["position"] = a.position;
  const std::string socket = socket_of(a);
  const daemon::ControlReply reply = daemon::control_request(socket, request);
  if (request.contains("key")) {
    std::string& k = request["key"].get_ref<std::string&>();
    crypto::wipe(std::as_writable_bytes(std::span(k.data(), k.size())));
  }
  if (!reply) {
    fmt::print(stderr, "cordon ipsec {} {}: {}\n", a.object, a.action, reply.error().message);
    return kExitError;
  }
  if (a.json) {
    fmt::print("{}\n", reply->dump(2));
    return kExitOk;
  }
  if (a.action == "list" && a.object == "policy") {
    for (const auto& p : reply->value("policies", nlohmann::json::array())) {
      fmt::print("{:3} {} {} {} -> {}\n", p.value("position", 0), p.value("action", ""), p.value("direction", ""),
                 p.value("local", ""), p.value("remote", ""));
    }
    return kExitOk;
  }
  if (a.action == "list") {
    print_status(*reply);
    if (reply->contains("connections")) {
      fmt::print("configured connections:");
      for (const auto& c : (*reply)["connections"]) fmt::print(" {}", c.value("name", ""));
      fmt::print("\n");
    }
    return kExitOk;
  }
  fmt::print("ok\n");
  return kExitOk;
}

}  // namespace

void add_ipsec_commands(CLI::App& app) {
  auto* ipsec = app.add_subcommand("ipsec", "The IPsec gateway of a running daemon (as root; docs/ipsec.md)");
  ipsec->require_subcommand(1);
  auto& a = all();
  auto* connection = ipsec->add_subcommand("connection", "IKE connections");
  connection->require_subcommand(1);
  auto* sa = ipsec->add_subcommand("sa", "Security associations");
  sa->require_subcommand(1);
  auto* policy = ipsec->add_subcommand("policy", "Security policies");
  policy->require_subcommand(1);
  struct Spec {
    CLI::App* parent;
    const char* object;
    const char* action;
    const char* help;
  };
  const Spec specs[] = {
      {connection, "connection", "list", "List IKE SAs and the configured connections"},
      {connection, "connection", "up", "Initiate a connection now"},
      {connection, "connection", "down", "Delete a connection's IKE SAs and their CHILD_SAs"},
      {sa, "sa", "list", "List CHILD_SAs and manual SAs with their counters"},
      {sa, "sa", "add", "Add a manually keyed SA (RFC 4301 section 4.5)"},
      {sa, "sa", "remove", "Remove a manually keyed SA"},
      {policy, "policy", "list", "List the security policy database in lookup order"},
      {policy, "policy", "add", "Put a bypass or discard policy ahead of the SAs' ones"},
      {policy, "policy", "remove", "Remove an operator policy by its position"},
  };
  for (size_t i = 0; i < std::size(specs); ++i) {
    Args& x = a[i];
    x.object = specs[i].object;
    x.action = specs[i].action;
    x.command = specs[i].parent->add_subcommand(specs[i].action, specs[i].help);
    add_target(x.command, x);
    if (x.object == "connection" && x.action != "list") x.command->add_option("name", x.name, "Connection name")->required();
    if (x.object == "sa" && x.action == "remove") x.command->add_option("spi", x.spi, "SPI, 0x...")->required();
    if (x.object == "sa" && x.action == "add") {
      auto* c = x.command;
      c->add_option("--spi", x.spi, "SPI, 0x and up to 8 hex digits (0x100 or more)")->required();
      c->add_option("--direction", x.direction, "in or out")->required()->check(CLI::IsMember({"in", "out"}));
      c->add_option("--protocol", x.protocol, "esp (default) or ah")->check(CLI::IsMember({"esp", "ah"}));
      c->add_option("--mode", x.mode, "tunnel (default) or transport")->check(CLI::IsMember({"tunnel", "transport"}));
      c->add_option("--encryption", x.encryption, "e.g. aes256gcm16, aes128-sha256, sha256 for AH")->required();
      c->add_option("--key-file", x.key_file, "Hex key file (0600): encryption key with salt, then integrity key")
          ->required();
      c->add_option("--local", x.local, "This end's address")->required();
      c->add_option("--remote", x.remote, "The peer's address")->required();
      c->add_option("--local-ts", x.local_ts, "Local selectors (default: --local)");
      c->add_option("--remote-ts", x.remote_ts, "Remote selectors (default: --remote)");
      c->add_option("--name", x.name, "A name for listings");
    }
    if (x.object == "policy" && x.action == "add") {
      x.command->add_option("local", x.policy_local, "Local selector (address or CIDR)")->required();
      x.command->add_option("remote", x.policy_remote, "Remote selector (address or CIDR)")->required();
      x.command->add_option("action", x.policy_action, "bypass or discard")
          ->required()
          ->check(CLI::IsMember({"bypass", "discard"}));
    }
    if (x.object == "policy" && x.action == "remove") {
      x.command->add_option("position", x.position, "Position (see `cordon ipsec policy list`)")->required();
    }
  }
}

std::optional<int> dispatch_ipsec_commands() {
  for (const Args& a : all()) {
    if (a.command && a.command->parsed()) return run(a);
  }
  return std::nullopt;
}

}  // namespace cordon::cli
