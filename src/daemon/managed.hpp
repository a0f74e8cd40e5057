// Managed mode: the daemon's peers come from the installed key set instead
// of [[peer]] tables (config.hpp, host.keyset; docs/configuration.md,
// "Managed mode: key sets").
//
// From the unlocked key set (core/keys/keyset.hpp):
//   this host   ID = the key set's host; tunnel addresses = address book
//               entry 0's tunnel_v4 and tunnel_v6, with the network prefix's
//               length (10.77.0.5/16 gives the kernel's connected route);
//   each peer   one per other address book entry that has a link key:
//               id, name, the first endpoint (none: learnt from the peer's
//               first authentic datagram), the link key, allowed prefixes =
//               its tunnel address as /32 and /128 plus the subnets it
//               tunnels, suite aes-256-gcm, keepalive 25 s, the key set's
//               rekey period (keyset.hpp, tag 3; 3600 s when it has none),
//               its role and rendezvous coordinator;
//   the mesh    this host's role, registry and rendezvous (entry 0), and a
//               coordinator's served clients (docs/protocol.md, "Served links").
//
// The daemon keeps the user key (ManagedKeySet) in its locked memory, so
// that SIGHUP or the control command "reload" can open an updated key set
// without the password.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/keys/keyset.hpp"
#include "core/result.hpp"
#include "daemon/config.hpp"

namespace cordon::daemon {

// What the daemon keeps between reloads.
struct ManagedKeySet {
  crypto::SecretBytes user_key;
  uint64_t version = 0;
  std::string user;
};

// The node's view of an opened key set.
struct ManagedNode {
  HostId self;
  keys::Role role = keys::Role::kClient;
  HostId registry, rendezvous;                 // a client's coordinators
  std::vector<ServedClientConfig> served;      // a coordinator's clients and their links
  std::vector<Prefix> addresses;  // this host's tunnel addresses
  std::vector<Prefix> subnets;    // the LAN prefixes this host tunnels (a gateway)
  std::vector<PeerConfig> peers;
  int64_t rekey_period_ns = kDefaultRekeyPeriodNs;  // every peer's: the network's, from the key set
  std::vector<DaemonConfig::CentralRule> rules;       // the administrator's protected-traffic rules
  std::vector<DaemonConfig::CentralRule> open_rules;  // and open-traffic rules
  DaemonConfig::CourierRoute courier;                  // docs/couriers.md
  std::vector<HostId> revoked;                         // key-set section 4
  // Entries skipped, e.g. a peer without a link key; each one logged.
  std::vector<std::string> warnings;
};

// Builds the node's view: address book entry 0 is this host, every other
// entry with a link key is a peer. Pure; the key set is already verified.
ManagedNode managed_node(const keys::OpenedKeySet& keyset);

// Fills config.node.self, config.addresses, config.tunneled_subnets,
// config.rekey_period_ns and config.node.peers (each with the key set's
// rekey period: a reload with a new period changes it on the running
// links).
void apply_managed_node(DaemonConfig& config, ManagedNode node);

struct ManagedUnlocked {
  ManagedKeySet keys;
  std::vector<std::string> warnings;
};
// Or an error that names the key set or the password source.
using ManagedUnlock = cordon::Result<ManagedUnlocked, std::string>;

// Daemon start: reads the password (config.password_file, else the systemd
// credential, else the terminal), opens config.keyset with it and fills the
// config from it.
ManagedUnlock unlock_managed(DaemonConfig& config);

// The warnings to log, or the error (and nothing changed).
using ManagedReload = cordon::Result<std::vector<std::string>, std::string>;

// Reload: opens the key set at `keyset_path` with the kept user key, fills
// `next` from it and records the new version in `keys` (only on success).
ManagedReload reload_managed(DaemonConfig& next, const std::string& keyset_path, ManagedKeySet& keys);

}  // namespace cordon::daemon
