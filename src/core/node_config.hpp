// What the core needs to know to run: who this host is and its links. The
// daemon builds it from the TOML file (manual mode) or, later, a key set.
// It is immutable once handed to Node (docs/design.md, practice 8).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/filter/rule.hpp"
#include "core/keys/address_book.hpp"
#include "core/link/key_array.hpp"
#include "core/link/session.hpp"
#include "core/types.hpp"

namespace cordon {

// Tunables with their defaults and where the numbers come from.
// 25 s keepalive through NAT: the ViPNet technology description
// ("Principles of Establishing Connections"); +-128 s time window: VPNCrypt
// and docs/design.md, decision 6.
constexpr int64_t kDefaultKeepaliveNs = 25 * kNsPerSecond;
constexpr int64_t kDefaultTimeWindowNs = 128 * kNsPerSecond;
constexpr int64_t kMaxTimeWindowNs = 3600 * kNsPerSecond;  // the wire counter rebuilds within +-9.1 h
constexpr size_t kLinkKeySize = 32;                        // 256-bit link key

// Coordinator timers (docs/protocol.md, "Coordinators" -> "Timers", which
// gives the source of each number).
constexpr int64_t kDefaultStatusIntervalNs = 300 * kNsPerSecond;    // ViPNet: 5 min
constexpr int64_t kDefaultPollPeriodNs = 330 * kNsPerSecond;        // status interval + 30 s of retries
constexpr int64_t kDefaultExchangeIntervalNs = 900 * kNsPerSecond;  // ViPNet: 15 min
constexpr int64_t kDefaultTcpFallbackNs = 30 * kNsPerSecond;
constexpr uint16_t kDefaultTcpPort = 443;
// The P³ functional specification (Velocite Systems, 2011), Appendix A:
// rekey_wait defaults to 3600 s.
constexpr int64_t kDefaultRekeyPeriodNs = 3600 * kNsPerSecond;

struct PeerConfig {
  HostId id;
  std::string name;                  // for status and logs; may be empty
  // Optional on one side: learnt from the first authentic packet. A peer
  // configured with an endpoint (a coordinator, a host with a fixed
  // address, a manual-mode peer) is reached directly there at first; a
  // client peer in a managed network falls back to the relay when that
  // path stops answering (coord/rendezvous.hpp).
  std::optional<Endpoint> endpoint;
  crypto::SecretBytes link_key;      // kLinkKeySize bytes
  std::vector<Prefix> allowed_prefixes;
  crypto::Suite suite = crypto::Suite::kAes256Gcm;
  int64_t keepalive_ns = kDefaultKeepaliveNs;  // 0 disables keepalives
  keys::Role role = keys::Role::kClient;
  HostId rendezvous;  // the peer's rendezvous coordinator; 0 = none (manual mode)
  // Which of this host's tunneled subnets the peer may reach, when the
  // administrator limits it (docs/gateways.md, "Reach"); nullopt: all.
  std::optional<std::vector<Prefix>> reach;
  // Rekeying (docs/protocol.md, "Rekey exchange"): the period between
  // rounds, which only the key master uses (0: off), and which side is the
  // key master: nullopt, the lower host ID; true, this host; false, the peer.
  int64_t rekey_period_ns = kDefaultRekeyPeriodNs;
  std::optional<bool> key_master;
  // A site link (docs/site-links.md, "Sessions"): heartbeats, loss and
  // recovery (link/session.hpp). A standby peer (a backup primary not in
  // use) gets no route: its allowed prefixes are routed only once it is not.
  std::optional<link::SessionTimers> session;
  // Key arrays (docs/protocol.md, "Key arrays"): a site link's array_size,
  // data_array_time and control_array_time; size 0 (every other link):
  // none.
  link::KeyArrayParams key_arrays = {};
};

// A client a coordinator serves as registry, and the hosts it is linked
// with (docs/protocol.md, "Served links").
struct ServedClientConfig {
  HostId client;
  std::vector<HostId> peers;
};

// The mesh: who serves this host, and whom it serves. Empty in manual mode,
// where every peer is direct and nothing is reported.
struct MeshConfig {
  HostId registry;    // a client's registry coordinator; 0 = none
  HostId rendezvous;  // a client's rendezvous coordinator: relay and TCP tunnel; 0 = none
  std::vector<ServedClientConfig> served;  // a coordinator's clients
  int64_t status_interval_ns = kDefaultStatusIntervalNs;
  int64_t poll_period_ns = kDefaultPollPeriodNs;
  int64_t exchange_interval_ns = kDefaultExchangeIntervalNs;
  int64_t tcp_fallback_ns = kDefaultTcpFallbackNs;
  uint16_t tcp_port = kDefaultTcpPort;  // the coordinators' TCP tunnel port, the same network-wide
};

// The protected-traffic filter (docs/gateways.md): rules in order, first
// match wins, central rules before local ones. `max_connections` sizes the
// connection table when rules first appear; a later change needs a restart.
constexpr size_t kDefaultMaxConnections = 65536;
struct FilterConfig {
  std::vector<filter::Rule> rules;
  std::vector<std::string> origins;  // per rule: "central" or "local"
  size_t max_connections = kDefaultMaxConnections;
};

struct NodeConfig {
  HostId self;
  keys::Role role = keys::Role::kClient;
  std::vector<PeerConfig> peers;
  int64_t time_window_ns = kDefaultTimeWindowNs;
  MeshConfig mesh;
  FilterConfig filter;
  // The LAN prefixes this host tunnels (a gateway): a peer with a `reach`
  // list sends to, and receives from, addresses inside them only within it.
  std::vector<Prefix> tunneled_subnets;
  // Hosts removed as compromised (key-set section 4, a coordinator's):
  // their datagrams, and relayed datagrams from or to them, are refused as
  // `revoked_host` (docs/couriers.md, "Revocation").
  std::vector<HostId> revoked;
  // Size classes (wire/size_classes.hpp): datagram sizes on a direct path,
  // ascending, each at least wire::kMinSizeClass; empty: off. Every datagram
  // this host seals is padded up to the smallest class that holds it.
  std::vector<uint16_t> size_classes;
  // This host's own addresses on the tunnel interface (the daemon's
  // host.addresses or tunnel_address): an ICMP error the node writes back
  // into the tunnel comes from the one of the packet's family (a site
  // link's lost session: wire/unreachable.hpp). Empty: from the packet's
  // destination.
  std::vector<IpAddress> tunnel_addresses;
  // A random value drawn anew at every start (the daemon takes it from
  // os::random, simulations from their seeded RNG; the core may not draw
  // one). Probe IDs and status-report sequence numbers start from it, so an
  // ack captured before a restart matches nothing sent after it
  // (docs/protocol.md, "Control messages"). Read once, when the Node is
  // built; a reload's value is ignored.
  uint64_t boot_random = 0;
  // Fills a span with random bytes from the operating system (the daemon:
  // getrandom; simulations: their seeded generator), for the rekey
  // exchange's ephemeral keys and material. Empty: this host never rekeys
  // and refuses offers. Read once, when the Node is built.
  std::function<bool(std::span<std::byte>)> random;
};

}  // namespace cordon
