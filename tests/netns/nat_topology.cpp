#include "tests/netns/nat_topology.hpp"

#include <signal.h>

#include <iostream>
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
  // Forwarded both ways: out before masquerade (the client's own source),
  // in after it is undone (the peer's source), so the peer's address is
  // what both directions share.
  for (const std::string& peer : udp_blocked_with_) {
    rules += "    ip daddr " + peer + " meta l4proto udp drop\n";
    rules += "    ip saddr " + peer + " meta l4proto udp drop\n";
  }
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

void NatRouter::block_udp_with(const std::string& address, bool blocked) {
  std::erase(udp_blocked_with_, address);
  if (blocked) udp_blocked_with_.push_back(address);
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

void ManagedHost::write_config(const MeshTimers& t, const std::string& extra) const {
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
  write_file(config_, text + extra);
}

void ManagedHost::reload() {
  if (!daemon_) throw failure("reload: the daemon of " + name_ + " is not running");
  daemon_->signal(SIGHUP);
}

void ManagedHost::apply_update(const AdminDb& admin, const fs::path& dir) const {
  admin.checked({"updates", "build", "--out", dir.string()});
  std::optional<fs::path> package;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(id_ + "-", 0) == 0) package = entry.path();
  }
  if (!package) throw failure("updates build made no package for " + name_ + " in " + dir.string());
  RunResult applied = cordon({"update", "apply", package->string(), "--password-file", password_.string(),
                              "--state-dir", state_.string(), "-s", socket_.string()});
  if (!applied.ok()) throw failure("update apply on " + name_ + ": " + applied.describe());
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

std::optional<int> ManagedHost::stop() {
  if (!daemon_) return std::nullopt;
  daemon_->signal(SIGTERM);
  const auto code = daemon_->wait_exit(deadline_in(20s));
  if (!code) kill();
  return code;
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

// ---------------------------------------------------------------------------

CoordinatorNetwork::CoordinatorNetwork(CoordinatorOptions options)
    : dir_("netns-coord"), admin_(dir_ / "admin.db") {
  for (const char* name : {"c1", "c2", "a", "b", "d"})
    hosts_.push_back(std::make_unique<ManagedHost>(name, dir_.path()));
  internet_ = std::make_unique<Switch>("mesh-inet");
  internet_->attach(c1().ns(), "ul0", std::string(kC1) + "/24");
  internet_->attach(c2().ns(), "ul0", std::string(kC2) + "/24");
  internet_->attach(d().ns(), "ul0", std::string(kD) + "/24");
  if (options.a_fixed) {
    internet_->attach(a().ns(), "ul0", std::string(kA) + "/24");
  } else {
    ra_ = std::make_unique<NatRouter>("mesh-ra", *internet_, kRa, a().ns(), "10.201.1", options.nat, dir_.path());
  }
  rb_ = std::make_unique<NatRouter>("mesh-rb", *internet_, kRb, b().ns(), "10.201.2", options.nat, dir_.path());

  admin_.checked({"network", "init", "--number", "1", "--name", "nat", "--ipv4", "10.77.0.0/16"});
  std::vector<std::string> c1_args = {"--role", "coordinator", "--endpoint", endpoint_text(kC1, ManagedHost::kPort)};
  if (options.c1_admin_host) c1_args.push_back("--admin-host");
  c1().add_to(admin_, c1_args);
  c2().add_to(admin_, {"--role", "coordinator", "--endpoint", endpoint_text(kC2, ManagedHost::kPort)});
  // Clients get no endpoint (their coordinators learn where they are),
  // except a fixed a.
  std::vector<std::string> a_args = {"--role", "client", "--coordinator", "c1"};
  if (options.a_fixed) a_args.insert(a_args.end(), {"--endpoint", endpoint_text(kA, ManagedHost::kPort)});
  a().add_to(admin_, a_args);
  b().add_to(admin_, {"--role", "client", "--coordinator", "c1"});
  d().add_to(admin_, {"--role", "client", "--coordinator", "c2"});
  admin_.checked({"link", "add", "a", "b"});
  admin_.checked({"link", "add", "a", "d"});
  admin_.checked({"link", "add", "c1", "c2"});  // coordinators exchange routes over their link
  for (auto& h : hosts_) {
    h->install_keyset(admin_);
    h->write_config(options.timers);
  }
  for (auto& h : hosts_) h->start();  // coordinators first
}

CoordinatorNetwork::~CoordinatorNetwork() {
  // Daemons first, while every namespace still exists.
  for (auto& h : hosts_) h->kill();
  if (::testing::Test::HasFailure()) {
    for (const NatRouter* r : {ra_.get(), rb_.get()})
      if (r) std::cerr << "----- nftables of " << r->ns().name() << " -----\n" << r->ruleset();
  }
}

NatRouter& CoordinatorNetwork::ra() {
  if (!ra_) throw failure("a has a fixed endpoint and no router in this network");
  return *ra_;
}

void CoordinatorNetwork::wait_until_registered() {
  auto registered = [](const nlohmann::json& coordinator, const ManagedHost& client) {
    const nlohmann::json* c = find_client(coordinator, client.id());
    return c && c->value("state", "") == "reachable";
  };
  auto knows = [](const nlohmann::json& client, const ManagedHost& peer) {
    const nlohmann::json* p = find_peer(client, peer.id());
    return p && p->value("reachability", "") == "reachable";
  };
  nlohmann::json s1, s2, sa;
  const bool ready = poll_until(deadline_in(30s), [&] {
    s1 = c1().status();
    s2 = c2().status();
    sa = a().status();
    return registered(s1, a()) && registered(s1, b()) && registered(s2, d()) && find_route(s1, d().id()) &&
           find_route(s2, a().id()) && knows(sa, b()) && knows(sa, d());
  }, 200ms);
  if (!ready) {
    throw failure("the network did not settle in 30 s (clients registered, routes exchanged, "
                  "records delivered)\n--- c1 ---\n" + s1.dump(2) + "\n--- c2 ---\n" + s2.dump(2) +
                  "\n--- a ---\n" + sa.dump(2));
  }
}

std::unique_ptr<Process> CoordinatorNetwork::ping(const ManagedHost& from, const ManagedHost& to) {
  return std::make_unique<Process>(&from.ns(), std::vector<std::string>{"ping", "-n", "-i", "0.2", to.tun4()},
                                   file("ping-" + from.name() + "-" + to.name() + ".log"),
                                   "ping " + from.name() + " -> " + to.name());
}

bool wait_status(const ManagedHost& host, Clock::duration within, nlohmann::json& last,
                 const std::function<bool(const nlohmann::json&)>& done) {
  return poll_until(deadline_in(within), [&] {
    last = host.status();
    return done(last);
  }, 200ms);
}

int ping_replies(const ManagedHost& from, const std::string& to, int count, std::optional<int> payload) {
  std::vector<std::string> args = {"ping", "-n", "-q", "-c", std::to_string(count), "-i", "0.2", "-W", "1"};
  if (payload) args.insert(args.end(), {"-M", "do", "-s", std::to_string(*payload)});
  args.push_back(to);
  RunResult r = run(&from.ns(), args, 60s);
  auto stats = parse_ping_stats(r.out);
  return stats ? stats->received : -1;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace cordon::netns
