// The daemon's configuration file (TOML, `cordon up -c FILE`):
//
//   [host]
//   id = "0x0001000a"                 # required: 0xNNNNHHHH, network and host number
//   interface = "cordon0"             # TUN device name
//   addresses = ["10.77.0.1/24"]      # tunnel addresses
//   mtu = 1420
//   listen_port = 51820               # 0 = any free port
//   listen_address = "::"             # IPv4 and IPv6
//   state_dir = "/var/lib/cordon"     # the counter file
//   time_window = 128                 # seconds, 1..3600
//   workers = 0                       # 0 = one per CPU
//   offloads = true                   # TUN TSO/GRO and UDP GSO/GRO where the kernel has them
//   control_socket = "/run/cordon/cordon0.sock"
//   log_level = "info"
//   rekey_period = 3600               # seconds between rekeys, 0 = off (docs/protocol.md)
//   keyset = "/var/lib/cordon/keyset" # managed mode (below)
//   password_file = "/etc/cordon/pw"  # managed mode: unlocks the key set
//
//   [[peer]]                          # one per link
//   id = "0x0001000b"                 # required
//   name = "site-b"
//   endpoint = "192.0.2.2:51820"      # optional on one side; "[2001:db8::2]:51820"
//   key_file = "/etc/cordon/a-b.key"  # required; relative to the config file
//   allowed_prefixes = ["10.77.0.2/32"]   # required (may be empty)
//   suite = "aes-256-gcm"             # | chacha20-poly1305 | aes-256-siv
//   keepalive = 25                    # seconds, 0 = off
//   rekey_period = 3600               # seconds, 0 = off; default host.rekey_period
//
//   [filter]                          # protected-traffic rules (docs/gateways.md)
//   rules = ["drop in peer site-b proto tcp dport 22"]   # after the central ones; first match wins
//   max_connections = 65536           # the connection table; read at start
//
//   [open]                            # the open-traffic firewall (docs/firewall.md)
//   rules = ["allow input iif eth0 proto tcp dport 22"]   # first match wins; the rest is dropped
//   lans = ["lan0 192.168.71.0/24"]   # a gateway: where its tunneled subnets are
//   snat = ["oif eth0 from 192.168.71.0/24"]             # masquerade, or `to ADDRESS`
//   forward_ports = ["proto tcp dport 8080 to 192.168.71.10:80 iif eth0"]
//
//   [metrics]                         # Prometheus metrics (docs/metrics.md); off without it
//   listen = "127.0.0.1:9462"         # ADDR:PORT, IPv6 as "[::1]:9462"; read at start
//   optional = false                  # true: a port that cannot be bound is logged, not fatal
//
//   [ipsec]                           # the IPsec gateway (docs/ipsec.md); off without it
//   interface = "cordon-ipsec0"       # TUN device for traffic to and from IPsec peers
//   listen_address = "0.0.0.0"        # IKE on UDP 500 and 4500
//   [ipsec.connections.NAME]          # as strongSwan's swanctl.conf: local, remote, children
//   [ipsec.pools.NAME]                # virtual addresses for remote-access clients
//   [[ipsec.sa]]                      # manually keyed SAs
//
// Relative paths (key_file, state_dir, control_socket, keyset,
// password_file) are relative to the config file's directory. Unknown keys
// are errors, so typos are caught.
//
// Two modes:
//  - manual: host.id, host.addresses and one [[peer]] table per link, each
//    with its own key file (docs/configuration.md, "[[peer]]");
//  - managed: host.keyset names the key set that `cordon keyset install`
//    stored. This host's ID, its tunnel addresses and its peers come from the
//    key set's address book once it is unlocked (daemon/managed.hpp), so
//    host.id, host.addresses and [[peer]] tables are refused here.
//
// Parsing never stops at the first problem: every error is collected and
// reported as `FILE:LINE:COL: field: what is wrong; what to do`, so an
// operator fixes a file in one pass (docs/design.md, "What every capability
// meets": bad input gets a message that names the file, line, field or
// peer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ipsec/connection.hpp"
#include "core/node_config.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "daemon/open_rules.hpp"

namespace cordon::daemon {

// Defaults, documented next to the format.
constexpr const char* kDefaultInterface = "cordon0";
constexpr unsigned kDefaultMtu = 1420;         // 1500 minus IPv6 + UDP + Cordon overhead, rounded down
// Managed mode: 1500 minus IPv6 + UDP (48) and a relayed datagram's 60 bytes
// (docs/protocol.md, "Relayed datagrams"), rounded down: 1380.
constexpr unsigned kDefaultManagedMtu = 1380;
constexpr uint16_t kDefaultListenPort = 51820;
constexpr const char* kDefaultStateDir = "/var/lib/cordon";
constexpr const char* kDefaultControlDir = "/run/cordon";
constexpr const char* kKeysetFileName = "keyset";  // <state_dir>/keyset, where `cordon keyset install` stores it
constexpr unsigned kMaxWorkers = 256;

struct ConfigError {
  std::string file;
  uint32_t line = 0;    // 0: the error is about the file as a whole
  uint32_t column = 0;
  std::string field;    // e.g. "host.mtu", "peer[0x0001000b].key_file"; may be empty
  std::string message;  // "what is wrong; what to do"

  // "FILE:LINE:COL: field: message" (line and column left out when unknown).
  std::string to_string() const;
};

// A site link's role (docs/site-links.md): the primary serves secondaries;
// a secondary connects to its primary.
enum class SiteRole { kPrimary, kSecondary };

// What the daemon keeps about a site link besides its node configuration
// (site_link.hpp): groups for administration commands, a secondary's
// primary and backup.
struct SiteSettings {
  SiteRole role = SiteRole::kPrimary;
  std::vector<std::pair<std::string, std::vector<HostId>>> groups;  // primary: N/group, in order of first use
  std::vector<std::pair<HostId, uint32_t>> numbers;  // each remote's host ID and its N in the file
  std::optional<HostId> primary;  // secondary: its primary
  std::optional<HostId> backup;   // secondary: its backup primary, if any
  bool on_backup = false;         // secondary: the backup primary is in use
};

// [ipsec]: the IPsec gateway (docs/ipsec.md). IKE listens on 500 and 4500
// of `listen_address`; traffic to and from IPsec peers passes the TUN
// device `interface`, to which the daemon routes each CHILD_SA's remote
// selectors.
constexpr const char* kDefaultIpsecInterface = "cordon-ipsec0";
struct IpsecSettings {
  std::string interface = kDefaultIpsecInterface;
  IpAddress listen_address = IpAddress::v4(0);
  // 1500 minus the largest ESP overhead: outer IPv6 (40), UDP (8), ESP
  // header (8), a CBC IV (16), padding (15), trailer (2) and a SHA-512 ICV
  // (32) = 121, rounded down. The kernel answers a larger DF packet routed
  // into the device with ICMP "fragmentation needed" or "packet too big".
  unsigned mtu = 1376;
  // The daemon's `offloads` setting: TUN TSO/GRO and UDP GSO/GRO for the
  // IPsec device and port 4500 too (docs/design.md, "Offloads").
  bool offloads = true;
  ipsec::GatewayConfig gateway;
};

// [metrics]: where the daemon serves GET /metrics (docs/metrics.md).
struct MetricsConfig {
  Endpoint listen;        // a TCP address and port; port 0 is refused
  bool optional = false;  // a failed bind is logged and the daemon runs on
  bool operator==(const MetricsConfig&) const = default;
};

struct DaemonConfig {
  std::string path;  // the config file, as given; reloads read it again

  std::string interface = kDefaultInterface;
  std::vector<Prefix> addresses;  // interface addresses, host bits kept (10.77.0.1/24)
  // Managed mode: the LAN prefixes this host tunnels as a gateway (its own
  // address book entry); the daemon forwards IP while there are any
  // (forwarding.hpp).
  std::vector<Prefix> tunneled_subnets;
  int64_t keepalive_ns = kDefaultKeepaliveNs;  // managed mode: every peer's keepalive (host.keepalive)
  // host.rekey_period: every peer's, unless a [[peer]] sets its own
  // (docs/protocol.md, "Rekey exchange").
  int64_t rekey_period_ns = kDefaultRekeyPeriodNs;
  unsigned mtu = kDefaultMtu;
  uint16_t listen_port = kDefaultListenPort;
  IpAddress listen_address = IpAddress::v6({});  // "::": IPv4 and IPv6
  std::string state_dir = kDefaultStateDir;
  unsigned workers = 0;  // 0: one per CPU
  bool offloads = true;  // TUN and UDP offloads (docs/design.md, "Offloads"); false forces them off
  std::string control_socket;  // default /run/cordon/<interface>.sock
  std::string log_level = "info";

  // Managed mode: the installed key set and, optionally, where its password
  // is (else a systemd credential or the terminal; daemon/password_input.hpp).
  std::optional<std::string> keyset;
  std::optional<std::string> password_file;
  bool managed() const { return keyset.has_value(); }
  // Managed mode: the courier's view of the key set (docs/couriers.md,
  // "Who is who"); filled by apply_managed_node.
  struct CourierRoute {
    std::optional<HostId> own_courier;    // a client's courier
    std::optional<HostId> admin_host;     // network settings 2 and 3
    std::optional<HostId> admin_courier;
    std::vector<HostId> served;           // clients whose courier this host is
    std::vector<HostId> coordinators;     // peers that are coordinators
    uint64_t installed = 0;               // the key-set version
  };
  CourierRoute courier;
  // host.courier_spool_limit, in MiB: what a courier holds for one host.
  uint64_t courier_spool_limit = 64;

  // Manual mode: the host ID and the peers from the file. Managed mode: only
  // the time window; the rest is filled in from the key set (managed.hpp).
  NodeConfig node;  // host ID, peers with their link keys, time window

  // [filter] rules, as written; resolve_filter() turns them into
  // node.filter once the peers are known (manual mode: from the file;
  // managed mode: from the key set).
  struct LocalRule {
    std::string text;
    uint32_t line = 0, column = 0;
  };
  std::vector<LocalRule> local_rules;
  // Managed mode: the administrator's rules from the key set, applied
  // before the local ones (docs/gateways.md, "Precedence"; docs/firewall.md,
  // "Central open rules").
  struct CentralRule {
    uint32_t number = 0;
    std::string text;  // a protected rule's peers by host ID
  };
  std::vector<CentralRule> central_rules;       // protected traffic
  std::vector<CentralRule> central_open_rules;  // open traffic

  // [open]: the open-traffic firewall. It is on when the table is present
  // or the key set carries open rules (open_policy.hpp builds the policy
  // from both).
  std::optional<OpenConfig> open;
  bool open_firewall() const { return open.has_value() || !central_open_rules.empty(); }

  // [ipsec]: none without the table (off by default).
  std::optional<IpsecSettings> ipsec;

  // [metrics]: none without the table or its `listen` key (off by default).
  std::optional<MetricsConfig> metrics;

  // A site link (`cordon sitelink`): the file is a site-link file, and
  // reloads read it as one.
  std::optional<SiteSettings> site;
};

// Fills config.node.filter from config.central_rules, then
// config.local_rules, naming peers in local rules by their [[peer]] name or
// host ID. The error names the rule: the file, line and field of a local
// one, the key set and number of a central one.
cordon::Result<Ok, ConfigError> resolve_filter(DaemonConfig& config);

// The configuration, or every error found (at least one), sorted by line
// and column.
using ConfigResult = cordon::Result<DaemonConfig, std::vector<ConfigError>>;

// Reads, parses and validates the file, and loads every peer's key file.
// Never throws.
ConfigResult load_config(const std::string& path);

// The same, from text already in memory; `path` names the file in errors and
// anchors relative paths (key_file, state_dir, control_socket).
ConfigResult parse_config(const std::string& text, const std::string& path);

// A config file's text, or why it cannot be had (not a regular file,
// unreadable, missing, a read error), each message ending in the hint given.
struct ReadHints {
  const char* not_regular;  // "give -c a TOML file"
  const char* unreadable;   // "check its permissions"
  const char* missing;      // "check the path given to -c"
};
cordon::Result<std::string, ConfigError> read_config_text(const std::string& path, const ReadHints& hints);

// Levenshtein distance between two names, for the "did you mean" hints of
// this file's parser and of the site-link file's (site_config.hpp).
size_t edit_distance(std::string_view a, std::string_view b);

// The counter file: <state_dir>/<host id>.counter (after the host ID, so
// that renaming the interface keeps it; counter_store.hpp). In managed mode
// the host ID is known once the key set is unlocked.
std::string counter_file_path(const DaemonConfig& config);
// Its name before version 2, <state_dir>/<interface>.counter: read when the
// new name is missing, and removed once the new one is written.
std::string legacy_counter_file_path(const DaemonConfig& config);

}  // namespace cordon::daemon
