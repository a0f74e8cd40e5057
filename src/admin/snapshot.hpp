// What key sets and update packages are made of, read from the database in
// a few queries: every needed host's address-book entry, the link table
// of the hosts being exported and, for a coordinator among them, the peers
// of each client it serves as registry (docs/protocol.md, "Served links").
// `load_all` reads the whole network with one query per table (export of
// every key set); `load_for` reads only what a handful of hosts need (an
// incremental `updates build`).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "admin/admin.hpp"
#include "admin/filter_rules.hpp"
#include "admin/reach.hpp"
#include "core/crypto/secret.hpp"
#include "core/keys/keyset.hpp"

namespace cordon::admin {

class Database;

class Snapshot {
 public:
  static Snapshot load_all(Database& db, const NetworkSpec& net);
  static Snapshot load_for(Database& db, const NetworkSpec& net, const std::vector<HostId>& hosts);

  // The key-set body of `host` (which must be one of the loaded subjects):
  // its address book (entry 0 = the host itself, then its peers by ID; issue
  // 3: "The address book lists only the hosts this one is linked with") and
  // one link key per peer. A coordinator's body also lists every client
  // whose registry it is, by host ID, each with its linked hosts by host ID.
  // The filter rules for the host and its groups come last. Reach limits
  // narrow the host's copy of each gateway's subnets and, in a gateway's
  // body, list its limited peers. The network's rekey period is in every
  // body unless it is the default (core/keys/keyset.hpp, tag 3), and so
  // are the administration host and courier when designated (network
  // settings 2 and 3). A coordinator's body lists the revoked hosts
  // (compromised_hosts, section 4).
  keys::KeySetBody body_for(HostId host) const;
  size_t peer_count(HostId host) const;
  size_t link_count() const { return keys_.size(); }

 private:
  struct Link {
    HostId peer;
    uint32_t key;  // index into keys_
  };
  void add_link(HostId a, HostId b, std::span<const std::byte> key, bool a_subject, bool b_subject);
  void apply_reach(keys::KeySetBody& body, HostId subject, const std::vector<Prefix>& own_subnets) const;
  // served_ for one subject, from the database (load_for).
  void load_served(Database& db, HostId coordinator);

  std::unordered_map<uint32_t, keys::AddressBookEntry> entries_;
  std::unordered_map<uint32_t, std::vector<Link>> links_;  // subject host -> its links
  // Subject coordinator -> the clients it serves as registry, with their
  // peers; both sorted by host ID so that every export is the same bytes.
  std::unordered_map<uint32_t, std::vector<keys::ServedClient>> served_;
  std::vector<crypto::SecretBytes> keys_;
  std::vector<StoredFilterRule> rules_;  // every rule, resolved (docs/gateways.md, "Central rules")
  std::vector<StoredReach> reach_;       // every reach limit (docs/gateways.md, "Reach")
  int64_t rekey_period_ = keys::kDefaultRekeyPeriod;  // network.rekey_period
  std::optional<HostId> admin_host_, admin_courier_;  // load_admin_route
  std::vector<HostId> revoked_;                       // compromised_hosts, increasing
  // The network settings every loader reads.
  void load_settings(Database& db);
};

}  // namespace cordon::admin
