#include "daemon/managed.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/keys/password.hpp"
#include "daemon/keyset_store.hpp"
#include "daemon/password_input.hpp"

namespace cordon::daemon {
namespace {

// Every managed link uses the default suite, and host.keepalive (by default
// the 25 s that holds NAT mappings open, node_config.hpp) as its keepalive
// (docs/configuration.md, "What the daemon builds from the key set").
constexpr crypto::Suite kManagedSuite = crypto::Suite::kAes256Gcm;

Prefix host_prefix(const IpAddress& address) {
  return Prefix{address, static_cast<uint8_t>(address.is_v4() ? 32 : 128)};
}

std::string entry_name(const keys::AddressBookEntry& entry) {
  return entry.name.empty() ? entry.id.to_string() : fmt::format("{} ({})", entry.id.to_string(), entry.name);
}

}  // namespace

// The key set's default is PeerConfig's (node_config.hpp): both are the P³
// functional specification's rekey_wait.
static_assert(int64_t{keys::kDefaultRekeyPeriod} * kNsPerSecond == kDefaultRekeyPeriodNs);

ManagedNode managed_node(const keys::OpenedKeySet& keyset) {
  ManagedNode out;
  out.self = keyset.header.host;
  out.rekey_period_ns = int64_t{keyset.body.rekey_period_or_default()} * kNsPerSecond;
  const auto& entries = keyset.body.book.entries;
  if (!entries.empty()) {
    const keys::AddressBookEntry& self = entries.front();
    if (self.tunnel_v4) out.addresses.push_back(*self.tunnel_v4);
    if (self.tunnel_v6) out.addresses.push_back(*self.tunnel_v6);
    out.subnets = self.subnets;
    out.role = self.role;
    out.registry = self.registry;
    out.rendezvous = self.rendezvous;
    if (self.role == keys::Role::kClient && self.courier.value != 0) out.courier.own_courier = self.courier;
  }
  out.courier.admin_host = keyset.body.admin_host;
  out.courier.admin_courier = keyset.body.admin_courier;
  out.courier.installed = keyset.header.version;
  out.revoked = keyset.body.revoked;
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].courier == out.self) out.courier.served.push_back(entries[i].id);
    if (entries[i].role == keys::Role::kCoordinator && keyset.body.link_to(entries[i].id) != nullptr) {
      out.courier.coordinators.push_back(entries[i].id);
    }
  }

  // A prefix routes to one peer, and a datagram names its sender by host
  // number only (docs/protocol.md): the first entry to claim either keeps it.
  std::map<std::string, HostId> prefix_owner;
  std::map<uint16_t, HostId> host_numbers;
  for (size_t i = 1; i < entries.size(); ++i) {
    const keys::AddressBookEntry& entry = entries[i];
    const keys::LinkKeyEntry* link = keyset.body.link_to(entry.id);
    if (link == nullptr) {
      out.warnings.push_back(fmt::format("key set: address book entry {} has no link key; it is not a peer",
                                         entry_name(entry)));
      continue;
    }
    if (auto [it, inserted] = host_numbers.emplace(entry.id.host(), entry.id); !inserted) {
      out.warnings.push_back(fmt::format("key set: peer {} has the same host number as {}; datagrams name the "
                                         "sender by host number, so it is left out",
                                         entry_name(entry), it->second.to_string()));
      continue;
    }

    PeerConfig peer;
    peer.id = entry.id;
    peer.name = entry.name;
    if (!entry.endpoints.empty()) peer.endpoint = entry.endpoints.front();
    peer.link_key = link->key;
    peer.suite = kManagedSuite;
    peer.keepalive_ns = kDefaultKeepaliveNs;
    peer.role = entry.role;
    peer.rendezvous = entry.rendezvous;

    std::vector<Prefix> prefixes;
    if (entry.tunnel_v4) prefixes.push_back(host_prefix(entry.tunnel_v4->address));
    if (entry.tunnel_v6) prefixes.push_back(host_prefix(entry.tunnel_v6->address));
    prefixes.insert(prefixes.end(), entry.subnets.begin(), entry.subnets.end());
    for (const Prefix& prefix : prefixes) {
      auto [it, inserted] = prefix_owner.emplace(prefix.to_string(), entry.id);
      if (!inserted) {
        if (!(it->second == entry.id)) {
          out.warnings.push_back(fmt::format("key set: {} is listed for peers {} and {}; it stays with {}",
                                             prefix.to_string(), it->second.to_string(), entry.id.to_string(),
                                             it->second.to_string()));
        }
        continue;
      }
      peer.allowed_prefixes.push_back(prefix);
    }
    for (const keys::ReachLimit& limit : keyset.body.reach) {
      if (limit.peer == entry.id) peer.reach = limit.prefixes;
    }
    out.peers.push_back(std::move(peer));
  }

  for (const keys::ServedClient& served : keyset.body.served) {
    out.served.push_back(ServedClientConfig{served.client, served.peers});
  }

  for (const keys::FilterRuleEntry& rule : keyset.body.rules) {
    (rule.kind == keys::FilterRuleKind::kOpen ? out.open_rules : out.rules).push_back({rule.id, rule.text});
  }
  for (const keys::LinkKeyEntry& link : keyset.body.links) {
    if (keyset.body.book.find(link.peer) == nullptr) {
      out.warnings.push_back(fmt::format("key set: link key for {} has no address book entry; it is not used",
                                         link.peer.to_string()));
    }
  }
  return out;
}

void apply_managed_node(DaemonConfig& config, ManagedNode node) {
  config.node.self = node.self;
  config.node.role = node.role;
  config.addresses = std::move(node.addresses);
  config.tunneled_subnets = std::move(node.subnets);
  config.node.tunneled_subnets = config.tunneled_subnets;
  config.node.peers = std::move(node.peers);
  config.rekey_period_ns = node.rekey_period_ns;
  for (PeerConfig& peer : config.node.peers) {
    peer.keepalive_ns = config.keepalive_ns;
    peer.rekey_period_ns = node.rekey_period_ns;
  }
  // The timers stay as the config file set them.
  config.node.mesh.registry = node.registry;
  config.node.mesh.rendezvous = node.rendezvous;
  config.node.mesh.served = std::move(node.served);
  config.central_rules = std::move(node.rules);
  config.central_open_rules = std::move(node.open_rules);
  config.courier = std::move(node.courier);
  config.node.revoked = std::move(node.revoked);
}

ManagedUnlock unlock_managed(DaemonConfig& config) {
  const KeysetStore store(*config.keyset);
  // Refuse a missing or unreadable key set before asking for a password.
  if (auto header = store.header(); !header) return header.error().message;
  PasswordRequest request;
  request.file = config.password_file;
  request.prompt = fmt::format("Password for key set {}: ", *config.keyset);
  PasswordResult password = read_password(request);
  if (!password) return fmt::format("cannot unlock key set {}: {}", *config.keyset, password.error());
  auto opened = store.unlock(keys::as_text(*password));
  if (!opened) return opened.error().message;
  ManagedNode node = managed_node(opened.value());
  std::vector<std::string> warnings = std::move(node.warnings);
  apply_managed_node(config, std::move(node));
  if (auto resolved = resolve_filter(config); !resolved) return resolved.error().to_string();
  return ManagedUnlocked{ManagedKeySet{std::move(opened.value().user_key), opened.value().header.version,
                                       opened.value().header.user},
                         std::move(warnings)};
}

ManagedReload reload_managed(DaemonConfig& next, const std::string& keyset_path, ManagedKeySet& keys) {
  const KeysetStore store(keyset_path);
  auto opened = store.open_with_user_key(keys.user_key);
  if (!opened) return opened.error().message;
  if (opened.value().header.version < keys.version) {
    // The store never goes back; a file copied in by hand could.
    return fmt::format("key set {} is version {}, older than the running version {}; restore the newer file "
                       "or apply an update",
                       keyset_path, opened.value().header.version, keys.version);
  }
  ManagedNode node = managed_node(opened.value());
  std::vector<std::string> warnings = std::move(node.warnings);
  apply_managed_node(next, std::move(node));
  if (auto resolved = resolve_filter(next); !resolved) return resolved.error().to_string();
  keys.version = opened.value().header.version;
  return warnings;
}

}  // namespace cordon::daemon
