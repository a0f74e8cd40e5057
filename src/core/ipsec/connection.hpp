// What the administrator configures for the IPsec gateway (docs/ipsec.md,
// "Configuration"): connections with their children, address pools for
// remote-access clients, and secrets. Shaped like strongSwan's swanctl.conf,
// so that both ends of a connection read alike. The daemon fills these from
// the host config; the core only reads them. Immutable once built: a reload
// builds a new GatewayConfig and swaps it in (docs/design.md, practice 8).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/proposal.hpp"
#include "core/ipsec/traffic_selector.hpp"
#include "core/types.hpp"

namespace cordon::ipsec {

// An IKE identity (RFC 7296 section 3.5) as configured: "192.0.2.1",
// "gw.example.org", "user@example.org", "CN=gw, O=Example" (a DN when it
// holds '='), or "%any" on the remote side (any identity the credentials
// prove).
struct Identity {
  IdType type = IdType::kFqdn;
  std::vector<std::byte> data;  // the ID payload's data: address bytes, name, or DER DN
  bool any = false;
  std::string text;             // as written, for logs
  friend bool operator==(const Identity& a, const Identity& b) { return a.type == b.type && a.data == b.data && a.any == b.any; }
};

// "%any", an address, a DN ("CN=gw, O=Example", encoded by OpenSSL), an
// email address ("user@example.org") or a name ("gw.example.org", or
// "@gw" to force a name). nullopt for an empty text or a DN OpenSSL
// refuses.
std::optional<Identity> parse_identity(std::string_view text);

enum class AuthKind : uint8_t { kPsk, kPubkey };

// One side's authentication (swanctl.conf's local/remote sections).
struct AuthConfig {
  AuthKind kind = AuthKind::kPsk;
  Identity id;
  crypto::SecretBytes psk;               // kPsk: the shared secret (both sides use the same)
  std::vector<std::byte> certificate;    // local kPubkey: our certificate (DER)
  std::vector<std::vector<std::byte>> intermediates;  // local: sent after it (DER)
  crypto::SecretBytes private_key;       // local kPubkey: PEM or DER (PKCS#8 or traditional)
  std::vector<std::vector<std::byte>> ca_certificates;  // remote kPubkey: trust anchors (DER)
  std::vector<std::vector<std::byte>> crls;             // remote: revocation lists (DER)
};

enum class ChildMode : uint8_t { kTunnel, kTransport };

// What to do with a connection at start and when its peer is found dead
// (swanctl.conf start_action / dpd_action).
enum class StartAction : uint8_t { kNone, kStart };
enum class DpdAction : uint8_t { kClear, kRestart };

// Timers and limits, with their defaults (docs/ipsec.md, "Timers"); the
// numbers are strongSwan's defaults, so that two gateways configured alike
// rekey alike.
constexpr int64_t kDefaultIkeRekeyNs = int64_t{4} * 3600 * 1'000'000'000;    // rekey_time = 4h
constexpr int64_t kDefaultChildRekeyNs = int64_t{3600} * 1'000'000'000;      // rekey_time = 1h
constexpr int64_t kDefaultDpdDelayNs = int64_t{30} * 1'000'000'000;          // dpd_delay = 30s
constexpr int64_t kDefaultRetransmitTimeoutNs = int64_t{4} * 1'000'000'000;  // retransmit_timeout = 4s
constexpr int kDefaultRetransmitTries = 5;                                   // retransmit_tries = 5

struct ChildConfig {
  std::string name;
  std::vector<TrafficSelector> local_ts;   // default: the local address
  std::vector<TrafficSelector> remote_ts;  // default: the remote address (or the virtual IP given out)
  ProtocolId protocol = ProtocolId::kEsp;  // kEsp or kAh
  std::vector<ProposalSpec> proposals;     // esp_proposals / ah_proposals
  ChildMode mode = ChildMode::kTunnel;
  int64_t rekey_time_ns = kDefaultChildRekeyNs;  // 0: never
  uint64_t rekey_bytes = 0;                       // 0: no byte limit
  uint64_t rekey_packets = 0;                     // 0: no packet limit
  StartAction start_action = StartAction::kNone;
};

struct ConnectionConfig {
  std::string name;
  std::vector<IpAddress> local_addrs;     // empty: any address of this host
  std::vector<IpAddress> remote_addrs;    // empty: responder only ("%any")
  uint16_t remote_port = kIkePort;
  std::vector<ProposalSpec> proposals;    // IKE proposals
  AuthConfig local;
  AuthConfig remote;
  int64_t rekey_time_ns = kDefaultIkeRekeyNs;  // IKE_SA rekey; 0: never
  int64_t dpd_delay_ns = kDefaultDpdDelayNs;   // liveness check when idle; 0: off
  DpdAction dpd_action = DpdAction::kClear;
  // Section 2.1/2.4: a request is sent retransmit_tries times in all, the
  // first wait retransmit_timeout, each next one 1.8 times the last; then
  // the peer is dead. The defaults give up after about 90 s.
  int64_t retransmit_timeout_ns = kDefaultRetransmitTimeoutNs;
  int retransmit_tries = kDefaultRetransmitTries;
  bool fragmentation = true;              // RFC 7383: offered and used when the peer supports it
  // Always ESP in UDP on 4500, NAT or not (RFC 3948), as strongSwan's
  // `encap = yes`: for peers whose ESP can only run encapsulated.
  bool force_encapsulation = false;
  // Remote-access client side: ask the peer for a virtual address in
  // IKE_AUTH (section 3.15), as swanctl.conf's `vips = 0.0.0.0`.
  bool request_virtual_ip = false;
  std::vector<std::string> pools;         // remote-access: virtual addresses handed out (section 3.15)
  std::vector<ChildConfig> children;
};

// An address pool for remote-access clients (swanctl.conf pools).
struct PoolConfig {
  std::string name;
  Prefix addresses;               // the range handed out (network and broadcast of IPv4 skipped)
  std::vector<IpAddress> dns;     // INTERNAL_IP4_DNS / INTERNAL_IP6_DNS
};

// A manually keyed SA (RFC 4301 section 4.5: "manual techniques"), one
// direction: the SPI, the keys and the addresses are fixed in the config.
struct ManualSaConfig {
  std::string name;
  uint32_t spi = 0;
  bool inbound = true;
  ProtocolId protocol = ProtocolId::kEsp;
  ChildMode mode = ChildMode::kTunnel;
  CipherSpec cipher;
  crypto::SecretBytes encryption_key;  // with the salt of a combined-mode cipher
  crypto::SecretBytes integrity_key;
  IpAddress local;
  IpAddress remote;
  std::vector<TrafficSelector> local_ts;
  std::vector<TrafficSelector> remote_ts;
};

struct GatewayConfig {
  std::vector<ConnectionConfig> connections;
  std::vector<PoolConfig> pools;
  std::vector<ManualSaConfig> manual_sas;
  // Half-open IKE_SAs before the responder asks for cookies (RFC 7296
  // section 2.6); strongSwan's default is 10.
  uint32_t cookie_threshold = 10;
};

}  // namespace cordon::ipsec
