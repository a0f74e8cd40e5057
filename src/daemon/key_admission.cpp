#include "daemon/key_admission.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cordon::daemon {
namespace {

bool contains(const std::vector<keys::KeyFingerprint>& list, const keys::KeyFingerprint& key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

std::string peer_text(const PeerKey& key) {
  return key.name.empty() ? key.peer.to_string() : fmt::format("{} ({})", key.peer.to_string(), key.name);
}

std::string refusal(const std::vector<std::string>& peers, const std::string& path) {
  return fmt::format("the link key{} of peer{} {} ha{} no counter floor record in {} (a reinstall, or a state "
                     "directory copied, restored or from another machine): {} counters may already have been "
                     "used, and starting from this clock could repeat a nonce (docs/protocol.md, \"Nonce "
                     "uniqueness\"). Ask the administrator for new keys (`cordon admin keyset export` gives every "
                     "link a new key) and install them with `cordon keyset install`; only if you are sure these "
                     "keys were never used anywhere else, start with `cordon up --accept-new-keys`",
                     peers.size() == 1 ? "" : "s", peers.size() == 1 ? "" : "s", fmt::join(peers, ", "),
                     peers.size() == 1 ? "s" : "ve", path, peers.size() == 1 ? "its" : "their");
}

}  // namespace

std::optional<std::vector<PeerKey>> peer_keys(const NodeConfig& config) {
  std::vector<PeerKey> out;
  out.reserve(config.peers.size());
  for (const PeerConfig& peer : config.peers) {
    auto fingerprint = keys::link_key_fingerprint(peer.link_key);
    if (!fingerprint) return std::nullopt;
    out.push_back(PeerKey{peer.id, peer.name, *fingerprint});
  }
  return out;
}

std::vector<keys::KeyFingerprint> fingerprints(const std::vector<PeerKey>& configured) {
  std::vector<keys::KeyFingerprint> out;
  for (const PeerKey& key : configured) out.push_back(key.fingerprint);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

FloorStart floor_start(const CounterLoad& loaded, const std::optional<std::string>& machine,
                       const std::vector<PeerKey>& configured) {
  FloorStart out;
  if (!loaded.file || loaded.missing) return out;
  const CounterFile& file = *loaded.file;
  out.floor = file.floor;
  if (file.version == 1) {
    // A version 1 file predates key records; it was kept by this host for
    // the keys it runs now (docs/configuration.md, "The counter file").
    out.covered = fingerprints(configured);
    out.notes.push_back(fmt::format("{} is a version 1 counter file: it is taken to cover the {} link key{} "
                                    "configured now, and is rewritten as version 2",
                                    loaded.read_from, configured.size(), configured.size() == 1 ? "" : "s"));
    return out;
  }
  if (file.machine != machine) {
    // The floor value still only raises counters, so it is kept; what it
    // cannot say is that these keys were used on this machine only.
    out.notes.push_back(fmt::format("{} was written on another machine (machine ID {}, this one is {}): it covers "
                                    "no link key here (a copied or restored state directory)",
                                    loaded.read_from, machine_text(file.machine), machine_text(machine)));
    return out;
  }
  out.covered = file.keys;
  out.receive = file.receive;
  return out;
}

Admission admit_keys(const std::vector<PeerKey>& configured, const std::vector<keys::KeyFingerprint>& covered,
                     const std::vector<keys::KeyFingerprint>& fresh, const AdmissionPolicy& policy) {
  Admission out;
  std::vector<std::string> refused;
  for (const PeerKey& key : configured) {
    if (contains(covered, key.fingerprint)) continue;
    if (contains(fresh, key.fingerprint)) {
      if (!contains(out.fresh_used, key.fingerprint)) out.fresh_used.push_back(key.fingerprint);
    } else if (policy.accept_new_keys) {
      out.warnings.push_back(fmt::format("peer {}: its link key has no counter floor record in {}; started because "
                                         "of --accept-new-keys (the operator vouches that it was never used "
                                         "elsewhere)",
                                         peer_text(key), policy.counter_path));
    } else if (policy.managed) {
      refused.push_back(peer_text(key));
    } else {
      out.warnings.push_back(fmt::format("peer {}: its link key has no counter floor record in {}: a new key, or "
                                         "the counter file was lost; if this key was used before with this host's "
                                         "clock ahead of now, give the link a new key (`cordon genkey` on both "
                                         "ends; docs/configuration.md, \"The counter file\")",
                                         peer_text(key), policy.counter_path));
    }
  }
  if (!refused.empty()) out.error = refusal(refused, policy.counter_path);
  return out;
}

}  // namespace cordon::daemon
