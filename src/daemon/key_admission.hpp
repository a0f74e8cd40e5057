// Which link keys a daemon may start (or a reload adopt): a key whose
// counters may already have been used, on another machine or by an earlier
// install, must not start from the clock, or a nonce could repeat
// (docs/protocol.md, "Nonce uniqueness"). The counter file (counter_store.hpp)
// lists the keys its floor covers on this machine. Any other key needs a
// reason to be trusted:
//   - it is fresh: it arrived with `cordon keyset install` or `cordon update
//     apply` on this machine and was never started (fresh_keys.hpp);
//   - the operator said so: `cordon up --accept-new-keys`;
//   - manual mode: keys come from the operator's own key files
//     (`cordon genkey`); the daemon warns, naming the peer and the file, and
//     starts (docs/configuration.md, "The counter file").
// In managed mode anything else is refused, naming the peers and the file.
//
// Pure: the daemon reads the files and the machine ID, this decides.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/keys/traffic_keys.hpp"
#include "core/node.hpp"
#include "core/node_config.hpp"
#include "daemon/counter_store.hpp"

namespace cordon::daemon {

struct PeerKey {
  HostId peer;
  std::string name;
  keys::KeyFingerprint fingerprint{};
};

// The fingerprints of the configured link keys; call it before the keys are
// wiped. nullopt only if the key derivation fails (OpenSSL).
std::optional<std::vector<PeerKey>> peer_keys(const NodeConfig& config);

// What the counter file means on this machine at start.
struct FloorStart {
  uint64_t floor = 0;
  std::vector<keys::KeyFingerprint> covered;  // keys with a floor record here
  std::vector<ReceiveFloor> receive;          // for the Node's constructor
  std::vector<std::string> notes;             // to log (migration, another machine)
};
FloorStart floor_start(const CounterLoad& loaded, const std::optional<std::string>& machine,
                       const std::vector<PeerKey>& configured);

struct AdmissionPolicy {
  bool managed = false;
  bool accept_new_keys = false;  // `cordon up --accept-new-keys`
  std::string counter_path;      // named in messages
};

struct Admission {
  std::optional<std::string> error;              // refused: names the peers and the file, says what to do
  std::vector<std::string> warnings;             // manual mode, or keys accepted by the operator
  std::vector<keys::KeyFingerprint> fresh_used;  // to consume once the counter file lists them
};

Admission admit_keys(const std::vector<PeerKey>& configured, const std::vector<keys::KeyFingerprint>& covered,
                     const std::vector<keys::KeyFingerprint>& fresh, const AdmissionPolicy& policy);

// The fingerprints of `configured`, sorted and without repeats: what the
// counter file records once they are admitted.
std::vector<keys::KeyFingerprint> fingerprints(const std::vector<PeerKey>& configured);

}  // namespace cordon::daemon
