#include "testing/sim_link.hpp"

#include <array>

namespace cordon::testing {
namespace {

crypto::SecretBytes link_key(uint8_t seed) {
  std::array<std::byte, kLinkKeySize> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = std::byte(static_cast<uint8_t>(seed * 29 + i * 11 + 3));
  return crypto::SecretBytes(k);
}

PeerConfig peer_of(const SimLinkHost& other, std::optional<Endpoint> endpoint, const SimLinkOptions& o,
                   const char* name) {
  PeerConfig p;
  p.id = other.id;
  p.name = name;
  p.endpoint = endpoint;
  p.link_key = link_key(o.key_seed);
  p.allowed_prefixes = {Prefix{other.tunnel_v4, 32}, Prefix{other.tunnel_v6, 128}};
  p.suite = o.suite;
  p.keepalive_ns = o.keepalive_ns;
  return p;
}

}  // namespace

SimLink make_sim_link(const SimLinkOptions& o) {
  SimLink l;
  l.a = SimLinkHost{HostId{0x0001000a}, IpAddress::v4({10, 77, 0, 1}),
                    IpAddress::v6({0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                    Endpoint{IpAddress::v4({192, 0, 2, 1}), 51820}};
  l.b = SimLinkHost{HostId{0x0001000b}, IpAddress::v4({10, 77, 0, 2}),
                    IpAddress::v6({0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}),
                    Endpoint{IpAddress::v4({198, 51, 100, 2}), 51820}};
  l.a_config.self = l.a.id;
  l.a_config.time_window_ns = o.time_window_ns;
  l.a_config.peers.push_back(peer_of(l.b, o.a_knows_b ? std::optional(l.b.underlay) : std::nullopt, o, "b"));
  l.b_config.self = l.b.id;
  l.b_config.time_window_ns = o.time_window_ns;
  const Endpoint a_seen = o.a_public.value_or(l.a.underlay);
  l.b_config.peers.push_back(peer_of(l.a, o.b_knows_a ? std::optional(a_seen) : std::nullopt, o, "a"));
  return l;
}

}  // namespace cordon::testing
