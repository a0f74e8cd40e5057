#include "tests/netns/nat_topology.hpp"

#include <signal.h>

#include <stdexcept>

namespace cordon::netns {

namespace {

std::runtime_error failure(const std::string& what) { return std::runtime_error(what); }

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const nlohmann::json* find_by(const nlohmann::json& status, const char* list, const char* key,
                              std::string_view value) {
  auto it = status.find(list);
  if (it == status.end() || !it->is_array()) return nullptr;
  const std::string want = lower(std::string(value));
  for (const auto& item : *it) {
    if (item.is_object() && item.contains(key) && item[key].is_string() &&
        lower(item[key].get<std::string>()) == want)
      return &item;
  }
  return nullptr;
}

std::string peer_string(const nlohmann::json& status, std::string_view id, const char* field) {
  const nlohmann::json* p = find_peer(status, id);
  if (!p) return "";
  auto it = p->find(field);
  return it != p->end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

// ---------------------------------------------------------------------------

Switch::Switch(std::string_view tag) : ns_(std::make_unique<Namespace>(std::string(tag) + "-sw")) {
  // No STP: a port forwards as soon as it is up (as in Lan).
  run_checked(ns_.get(), {"ip", "link", "add", "br0", "type", "bridge", "stp_state", "0"});
  run_checked(ns_.get(), {"ip", "link", "set", "br0", "up"});
}

void Switch::attach(const Namespace& member, const std::string& iface, const std::string& cidr) {
  const std::string port = "p" + std::to_string(ports_++);
  run_checked(&member, {"ip", "link", "add", iface, "type", "veth", "peer", "name", port, "netns", ns_->name()});
  run_checked(ns_.get(), {"ip", "link", "set", port, "master", "br0"});
  run_checked(ns_.get(), {"ip", "link", "set", port, "up"});
  run_checked(&member, {"ip", "addr", "add", cidr, "dev", iface});
  run_checked(&member, {"ip", "link", "set", iface, "up"});
}

// ---------------------------------------------------------------------------

std::string_view nat_kind_name(NatKind kind) { return kind == NatKind::kCone ? "cone" : "symmetric"; }

NatRouter::NatRouter(std::string_view tag, Switch& internet, std::string wan_address, const Namespace& client,
                     std::string lan_prefix, NatKind kind, fs::path dir)
    : ns_(std::make_unique<Namespace>(tag)),
      wan_address_(std::move(wan_address)),
      lan_prefix_(std::move(lan_prefix)),
      kind_(kind),
      rules_file_(dir / (std::string(tag) + ".nft")) {
  internet.attach(*ns_, kWan, wan_address_ + "/24");
  run_checked(ns_.get(), {"ip", "link", "add", kLan, "type", "veth", "peer", "name", kLan, "netns", client.name()});
  run_checked(ns_.get(), {"ip", "addr", "add", lan_prefix_ + ".1/24", "dev", kLan});
  run_checked(ns_.get(), {"ip", "link", "set", kLan, "up"});
  run_checked(&client, {"ip", "addr", "add", client_address() + "/24", "dev", kLan});
  run_checked(&client, {"ip", "link", "set", kLan, "up"});
  run_checked(&client, {"ip", "route", "add", "default", "via", lan_prefix_ + ".1"});
  // /proc/sys/net is per network namespace: this is the router's own.
  run_checked(ns_.get(), {"sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward"});
  apply();
}

// The whole ruleset is rewritten each time ("flush ruleset" first), so the
// router's state is always exactly what its fields say.
void NatRouter::apply() {
  const std::string masquerade = kind_ == NatKind::kCone ? "masquerade" : "masquerade fully-random";
  std::string rules =
      "flush ruleset\n"
      "table ip nat {\n"
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    oifname \"" + std::string(kWan) + "\" " + masquerade + "\n"
      "  }\n"
      "}\n"
      // A home router's firewall: nothing new comes in from the WAN. The drop
      // also keeps an unsolicited datagram from leaving a conntrack entry
      // behind (it is never confirmed), which would make the next outgoing
      // mapping to its sender pick another port.
      "table inet filter {\n"
      "  chain input {\n"
      "    type filter hook input priority filter; policy accept;\n"
      "    iifname \"" + std::string(kWan) + "\" ct state new drop\n"
      "  }\n"
      "  chain forward {\n"
      "    type filter hook forward priority filter; policy accept;\n"
      "    iifname \"" + std::string(kWan) + "\" ct state new drop\n";
  if (udp_blocked_) rules += "    meta l4proto udp drop\n";
  rules +=
      "  }\n"
      "}\n";
  write_file(rules_file_, rules);
  run_checked(ns_.get(), {"nft", "-f", rules_file_.string()});
}

void NatRouter::block_udp(bool blocked) {
  udp_blocked_ = blocked;
  apply();
}

void NatRouter::move_wan(const std::string& new_address) {
  run_checked(ns_.get(), {"ip", "addr", "del", wan_address_ + "/24", "dev", kWan});
  run_checked(ns_.get(), {"ip", "addr", "add", new_address + "/24", "dev", kWan});
  wan_address_ = new_address;
}

std::string NatRouter::ruleset() const { return run(ns_.get(), {"nft", "list", "ruleset"}).out; }

// ---------------------------------------------------------------------------

RunResult AdminDb::checked(std::vector<std::string> args) const {
  args.insert(args.begin(), {cordon_bin().string(), "admin", "--db", db_.string()});
  return run_checked(nullptr, args, 60s);
}

nlohmann::json AdminDb::json(std::vector<std::string> args) const {
  args.push_back("--json");
  RunResult r = checked(args);
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) throw failure("cordon admin printed no JSON: " + r.describe());
  return j;
}

ManagedHost::ManagedHost(std::string name, const fs::path& dir)
    : name_(std::move(name)),
      ns_(std::make_unique<Namespace>("mesh-" + name_)),
      state_(dir / ("state-" + name_)),
      password_(dir / ("password-" + name_)),
      config_(dir / (name_ + ".toml")),
      socket_(dir / (name_ + ".sock")),
      log_(dir / ("daemon-" + name_ + ".log")) {}

ManagedHost::~ManagedHost() { daemon_.reset(); }

void ManagedHost::add_to(const AdminDb& admin, const std::vector<std::string>& host_args) {
  std::vector<std::string> args = {"host", "add", "--name", name_};
  args.insert(args.end(), host_args.begin(), host_args.end());
  nlohmann::json added = admin.json(args);
  id_ = added.at("id").get<std::string>();
  const std::string tunnel = added.at("tunnel_v4").get<std::string>();
  tun4_ = tunnel.substr(0, tunnel.find('/'));
  nlohmann::json user = admin.json({"user", "add", "--host", name_, "--name", "ops-" + name_});
  if (!user.contains("generated_password")) throw failure("user add printed no password: " + user.dump());
  write_file(password_, user["generated_password"].get<std::string>() + "\n", 0600);
}

void ManagedHost::install_keyset(const AdminDb& admin) {
  const fs::path exported = state_.parent_path() / (name_ + ".keyset");
  admin.checked({"keyset", "export", "--host", name_, "--out", exported.string()});
  fs::create_directories(state_);
  fs::permissions(state_, fs::perms::owner_all);
  RunResult installed = cordon({"keyset", "install", exported.string(), "--password-file", password_.string(),
                                "--state-dir", state_.string()});
  if (!installed.ok()) throw failure("keyset install on " + name_ + ": " + installed.describe());
}

void ManagedHost::write_config(const MeshTimers& t) const {
  std::string text =
      "# managed mode: written by the netns NAT topology\n"
      "[host]\n"
      "keyset = " + toml_string((state_ / "keyset").string()) + "\n"
      "password_file = " + toml_string(password_.string()) + "\n"
      "interface = \"cordon0\"\n"
      "listen_port = " + std::to_string(kPort) + "\n"
      "state_dir = " + toml_string(state_.string()) + "\n"
      "control_socket = " + toml_string(socket_.string()) + "\n"
      "log_level = \"debug\"\n";
  const std::pair<const char*, int> timers[] = {
      {"keepalive", t.keepalive},       {"status_interval", t.status_interval},
      {"poll_period", t.poll_period},   {"exchange_interval", t.exchange_interval},
      {"tcp_fallback", t.tcp_fallback}, {"tcp_port", t.tcp_port},
  };
  for (const auto& [key, value] : timers)
    if (value != 0) text += std::string(key) + " = " + std::to_string(value) + "\n";
  write_file(config_, text);
}

void ManagedHost::start() {
  daemon_.reset();
  daemon_ = std::make_unique<Process>(
      ns_.get(), std::vector<std::string>{cordon_bin().string(), "up", "-c", config_.string()}, log_,
      "daemon " + name_ + " (start " + std::to_string(++starts_) + ")");
  std::string why;
  if (!wait_for_daemon(*ns_, socket_, "cordon0", *daemon_, deadline_in(30s), &why))
    throw failure(why + "\n" + daemon_->log_text());
}

void ManagedHost::kill() {
  if (!daemon_) return;
  daemon_->signal(SIGKILL);
  daemon_->stop();  // reaps it
}

RunResult ManagedHost::cordon(std::vector<std::string> args) const {
  args.insert(args.begin(), cordon_bin().string());
  return run(ns_.get(), args, 60s);
}

// ---------------------------------------------------------------------------

std::string peer_path(const nlohmann::json& status, std::string_view id) { return peer_string(status, id, "path"); }

std::string peer_via(const nlohmann::json& status, std::string_view id) { return peer_string(status, id, "via"); }

uint64_t relayed_packets(const nlohmann::json& status) {
  auto relay = status.find("relay");
  if (relay == status.end() || !relay->is_object()) return 0;
  return relay->value("packets", uint64_t{0});
}

const nlohmann::json* find_client(const nlohmann::json& status, std::string_view id) {
  return find_by(status, "clients", "id", id);
}

const nlohmann::json* find_route(const nlohmann::json& status, std::string_view host) {
  return find_by(status, "routes", "host", host);
}

}  // namespace cordon::netns
