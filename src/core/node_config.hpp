// What the core needs to know to run: who this host is and its links. The
// daemon builds it from the TOML file (manual mode) or, later, a key set.
// It is immutable once handed to Node (STYLE.md, habit 8).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/crypto/secret.hpp"
#include "core/types.hpp"

namespace cordon {

// Tunables with their defaults and where the numbers come from.
// 25 s keepalive through NAT: seeds/000 ("Principles of Establishing
// Connections"); +-128 s time window: seeds/002 and DESIGN.md decision 6.
constexpr int64_t kDefaultKeepaliveNs = 25 * kNsPerSecond;
constexpr int64_t kDefaultTimeWindowNs = 128 * kNsPerSecond;
constexpr int64_t kMaxTimeWindowNs = 3600 * kNsPerSecond;  // the wire counter rebuilds within +-9.1 h
constexpr size_t kLinkKeySize = 32;                        // 256-bit link key

struct PeerConfig {
  HostId id;
  std::string name;                  // for status and logs; may be empty
  std::optional<Endpoint> endpoint;  // optional on one side: learnt from the first authentic packet
  crypto::SecretBytes link_key;      // kLinkKeySize bytes
  std::vector<Prefix> allowed_prefixes;
  crypto::Suite suite = crypto::Suite::kAes256Gcm;
  int64_t keepalive_ns = kDefaultKeepaliveNs;  // 0 disables keepalives
};

struct NodeConfig {
  HostId self;
  std::vector<PeerConfig> peers;
  int64_t time_window_ns = kDefaultTimeWindowNs;
};

}  // namespace cordon
