// Ready-made configurations for the simplest simulation: two hosts, A and
// B, and the link between them, as an administrator would write them in the
// two TOML files of a point-to-point tunnel (one key, each side naming the
// other's host ID, tunnel addresses and, optionally, endpoint).
//
// Addresses come from the documentation ranges (RFC 5737, RFC 3849 style
// ULA for the tunnel): A is 10.77.0.1 / fd77::1 on the tunnel and
// 192.0.2.1:51820 on the underlay; B is 10.77.0.2 / fd77::2 and
// 198.51.100.2:51820.
#pragma once

#include <cstdint>
#include <optional>

#include "core/crypto/aead.hpp"
#include "core/node_config.hpp"
#include "core/types.hpp"

namespace cordon::testing {

struct SimLinkHost {
  HostId id;
  IpAddress tunnel_v4;
  IpAddress tunnel_v6;
  Endpoint underlay;  // where its transport is bound
};

struct SimLinkOptions {
  crypto::Suite suite = crypto::Suite::kAes256Gcm;
  int64_t keepalive_ns = kDefaultKeepaliveNs;
  int64_t time_window_ns = kDefaultTimeWindowNs;
  // Whether each side's configuration names the other's endpoint. One side
  // may leave it out: it learns it from the first authentic packet.
  bool a_knows_b = true;
  bool b_knows_a = true;
  // The endpoint B is told for A when A sits behind a NAT; A's underlay
  // endpoint otherwise.
  std::optional<Endpoint> a_public;
  uint8_t key_seed = 1;  // different seeds, different link keys
};

struct SimLink {
  SimLinkHost a;
  SimLinkHost b;
  NodeConfig a_config;
  NodeConfig b_config;
};

SimLink make_sim_link(const SimLinkOptions& options = {});

}  // namespace cordon::testing
