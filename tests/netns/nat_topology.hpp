// Building blocks for netns tests of a managed network whose clients sit
// behind NAT routers (coordinator_test.cpp):
//
//  - Switch: a bridge in a namespace of its own; members plug in with a
//    veth pair each (the "internet" segment).
//  - NatRouter: a namespace with `wan` on a Switch and `lan` to one client's
//    namespace, IPv4 forwarding on, and an nftables ruleset that makes it a
//    NAT: `masquerade` (Linux keeps the source port when it can, so a
//    client's mapping does not depend on the destination: RFC 4787
//    endpoint-independent mapping, "cone-like") or `masquerade fully-random`
//    (a new random port per connection: "symmetric"). Like a home router it
//    drops new connections from the WAN side, so only datagrams that match
//    a mapping the client opened get in (address- and port-dependent
//    filtering).
//  - AdminDb / ManagedHost: `cordon admin` on the test's own namespace (the
//    administrator's machine), and one host of the managed network: its
//    namespace, key set, config and daemon.
//  - CoordinatorNetwork: the whole network of coordinator_test.cpp and
//    failover_test.cpp (its diagram is at the class).
//
// The netns harness rules hold (netns_harness.hpp): everything lives in
// namespaces made here (cordon- prefix), addresses are test ranges assigned
// only inside them, nothing waits with a fixed sleep, and the destructors
// clean up also when a test fails.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {

// ---------------------------------------------------------------------------

class Switch {
 public:
  explicit Switch(std::string_view tag);
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;

  // Adds a veth pair: `iface` inside `member`, with address `cidr`
  // ("203.0.113.1/24"), and a port on the bridge. Brings both ends up.
  void attach(const Namespace& member, const std::string& iface, const std::string& cidr);
  const Namespace& ns() const { return *ns_; }

 private:
  std::unique_ptr<Namespace> ns_;
  int ports_ = 0;
};

// ---------------------------------------------------------------------------

enum class NatKind { kCone, kSymmetric };
std::string_view nat_kind_name(NatKind kind);  // "cone", "symmetric"

class NatRouter {
 public:
  static constexpr const char* kWan = "wan";
  static constexpr const char* kLan = "lan";

  // The router's `wan` gets `wan_address`/24 on `internet`; its `lan` gets
  // LAN.1/24 and the client's `lan` LAN.2/24 with a default route through
  // the router, where LAN is `lan_prefix` ("10.201.1"). `dir` holds the
  // ruleset file.
  NatRouter(std::string_view tag, Switch& internet, std::string wan_address, const Namespace& client,
            std::string lan_prefix, NatKind kind, fs::path dir);
  NatRouter(const NatRouter&) = delete;
  NatRouter& operator=(const NatRouter&) = delete;

  const Namespace& ns() const { return *ns_; }
  const std::string& wan_address() const { return wan_address_; }
  std::string client_address() const { return lan_prefix_ + ".2"; }
  NatKind kind() const { return kind_; }

  // Drops every forwarded UDP datagram, both directions (a network that
  // lets only TCP out); false lifts it.
  void block_udp(bool blocked);
  // Drops forwarded UDP to and from `address` only (a firewall that breaks
  // one direct path while the coordinators stay reachable); false lifts it.
  void block_udp_with(const std::string& address, bool blocked);
  // The ISP gives the router a new public address: the old one goes, the
  // new one comes, and masquerade forgets the mappings of the old one.
  void move_wan(const std::string& new_address);
  // The ruleset as `nft list ruleset` prints it (for failure messages).
  std::string ruleset() const;

 private:
  void apply();

  std::unique_ptr<Namespace> ns_;
  std::string wan_address_, lan_prefix_;
  NatKind kind_;
  bool udp_blocked_ = false;
  std::vector<std::string> udp_blocked_with_;
  fs::path rules_file_;
};

// ---------------------------------------------------------------------------

// `cordon admin --db DB ARGS...` in the test's own namespace (the
// administrator's machine needs no network).
class AdminDb {
 public:
  explicit AdminDb(fs::path db) : db_(std::move(db)) {}
  RunResult checked(std::vector<std::string> args) const;
  // The same with --json; throws when the output is not JSON.
  nlohmann::json json(std::vector<std::string> args) const;

 private:
  fs::path db_;
};

// The daemon's mesh timers ([host] keys, docs/configuration.md); 0 leaves
// a key out (its default applies).
struct MeshTimers {
  int keepalive = 0;
  int status_interval = 0;
  int poll_period = 0;
  int exchange_interval = 0;
  int tcp_fallback = 0;
  int tcp_port = 0;
};

// Timers short enough for a netns test to take well under a minute: reports
// every 10 s, a coordinator exchange every 10 s, a client unheard of after
// 30 s, TCP after 3 s without UDP replies.
inline MeshTimers short_mesh_timers() {
  MeshTimers t;
  t.status_interval = 10;
  t.poll_period = 30;
  t.exchange_interval = 10;
  t.tcp_fallback = 3;
  return t;
}

// One host of a managed network. Its daemon is stopped before its namespace
// goes.
class ManagedHost {
 public:
  static constexpr uint16_t kPort = 51820;

  ManagedHost(std::string name, const fs::path& dir);
  ~ManagedHost();
  ManagedHost(const ManagedHost&) = delete;
  ManagedHost& operator=(const ManagedHost&) = delete;

  const std::string& name() const { return name_; }
  const Namespace& ns() const { return *ns_; }
  const std::string& id() const { return id_; }      // "0x00010003"
  const std::string& tun4() const { return tun4_; }  // tunnel address, no prefix length
  const fs::path& log() const { return log_; }

  // `cordon admin host add --name NAME ARGS...` and a user with a generated
  // password (the cheapest Argon2id: keeps the test fast).
  void add_to(const AdminDb& admin, const std::vector<std::string>& host_args);
  // Exports this host's key set and installs it on the host.
  void install_keyset(const AdminDb& admin);
  // Managed-mode config: the key set, the timers, and `extra` TOML
  // appended (a [filter] table).
  void write_config(const MeshTimers& timers, const std::string& extra = "") const;
  // SIGHUP: the daemon reads its config and key set again.
  void reload();
  // `cordon admin updates build` into `dir`, then `cordon update apply` of
  // this host's package, which reloads the running daemon.
  void apply_update(const AdminDb& admin, const fs::path& dir) const;

  // Starts the daemon and waits until its status answers.
  void start();
  // SIGKILL: the daemon gets no chance to say goodbye.
  void kill();
  // SIGTERM, and waits for the daemon to exit; its exit code (none if it
  // did not exit in time, and it is then killed).
  std::optional<int> stop();
  const fs::path& state_dir() const { return state_; }
  const fs::path& socket() const { return socket_; }
  bool running() const { return daemon_ && daemon_->running(); }

  nlohmann::json status() const { return status_json(*ns_, socket_); }
  // `cordon ARGS...` inside the host's namespace.
  RunResult cordon(std::vector<std::string> args) const;

 private:
  std::string name_;
  std::unique_ptr<Namespace> ns_;
  std::string id_, tun4_;
  fs::path state_, password_, config_, socket_, log_;
  std::unique_ptr<Process> daemon_;
  int starts_ = 0;
};

// ---------------------------------------------------------------------------
// `cordon status --json` of the mesh (docs/configuration.md, "cordon status")

// A peer's "path" ("direct", "relayed", "tcp", "none"); "" when absent.
std::string peer_path(const nlohmann::json& status, std::string_view id);
// A peer's "via" (the coordinator carrying relayed traffic); "" when none.
std::string peer_via(const nlohmann::json& status, std::string_view id);
// A coordinator's relayed datagrams ("relay": {"packets": N}).
uint64_t relayed_packets(const nlohmann::json& status);
// A coordinator's registered client with host ID `id`, or nullptr.
const nlohmann::json* find_client(const nlohmann::json& status, std::string_view id);
// A coordinator's route to `host` ("routes"), or nullptr.
const nlohmann::json* find_route(const nlohmann::json& status, std::string_view host);

// ---------------------------------------------------------------------------
// The coordinator topology (docs/protocol.md, "Coordinators"):
//
//        c1 203.0.113.1        c2 203.0.113.2        d 203.0.113.4
//              |                      |                     |
//   ===================== "internet" 203.0.113.0/24 (a bridge) =========
//              |                      |
//     ra wan 203.0.113.11     rb wan 203.0.113.12      (NAT routers)
//     ra lan 10.201.1.1       rb lan 10.201.2.1
//              |                      |
//     a  10.201.1.2           b  10.201.2.2
//
// c1 and c2 are coordinators with fixed endpoints and are linked with each
// other; a and b are clients of c1, d a client of c2; the links are a-b and
// a-d (client-coordinator links come by themselves). With `a_fixed`, a has
// no router: it sits on the internet at 203.0.113.3 with that endpoint in
// the database (`host add --endpoint`), like d but known in advance. Short
// mesh timers (by default) keep each scenario well under a minute.

struct CoordinatorOptions {
  NatKind nat = NatKind::kCone;
  bool a_fixed = false;
  MeshTimers timers = short_mesh_timers();
  // c1 is the administration host (docs/couriers.md): `cordon admin
  // updates send` goes through its daemon.
  bool c1_admin_host = false;
};

class CoordinatorNetwork {
 public:
  static constexpr const char* kC1 = "203.0.113.1";
  static constexpr const char* kC2 = "203.0.113.2";
  static constexpr const char* kA = "203.0.113.3";  // a_fixed only
  static constexpr const char* kD = "203.0.113.4";
  static constexpr const char* kRa = "203.0.113.11";
  static constexpr const char* kRb = "203.0.113.12";

  explicit CoordinatorNetwork(CoordinatorOptions options);
  ~CoordinatorNetwork();
  CoordinatorNetwork(const CoordinatorNetwork&) = delete;
  CoordinatorNetwork& operator=(const CoordinatorNetwork&) = delete;

  ManagedHost& c1() { return *hosts_[0]; }
  ManagedHost& c2() { return *hosts_[1]; }
  ManagedHost& a() { return *hosts_[2]; }
  ManagedHost& b() { return *hosts_[3]; }
  ManagedHost& d() { return *hosts_[4]; }
  NatRouter& ra();  // throws with a_fixed (a has no router)
  NatRouter& rb() { return *rb_; }
  // Where b's datagrams to a go: a's router, or a itself when fixed.
  std::string a_public_address() const { return ra_ ? ra_->wan_address() : kA; }
  fs::path file(std::string_view name) const { return dir_ / name; }
  const AdminDb& admin() const { return admin_; }

  // Every client has registered, the coordinators have exchanged routes,
  // and a knows where b and d are (it got their host records).
  void wait_until_registered();

  // Background traffic: one ping every 200 ms from `from` to `to` until the
  // Process goes.
  std::unique_ptr<Process> ping(const ManagedHost& from, const ManagedHost& to);

 private:
  TempDir dir_;  // first: removed last
  AdminDb admin_;
  std::unique_ptr<Switch> internet_;
  std::vector<std::unique_ptr<ManagedHost>> hosts_;
  std::unique_ptr<NatRouter> ra_, rb_;
};

// Polls `host`'s status until `done` holds; `last` keeps the latest status
// for the failure message.
bool wait_status(const ManagedHost& host, Clock::duration within, nlohmann::json& last,
                 const std::function<bool(const nlohmann::json&)>& done);

// A finite ping (COUNT echoes, 200 ms apart); the replies that came back.
// With `payload` set: echoes of that many bytes, never fragmented (-M do).
int ping_replies(const ManagedHost& from, const std::string& to, int count,
                 std::optional<int> payload = std::nullopt);

// Seconds since `t`, for the progress lines the scenarios print.
double seconds_since(Clock::time_point t);

}  // namespace cordon::netns
