// The security policy database (RFC 4301 section 4.4.1): an ordered list of
// entries, each with a local and a remote traffic selector, a direction and
// an action; a packet takes the action of the first entry that matches it.
// No entry matching means discard (RFC 4301 section 5.1, step 3), which
// lookup() returns as nullptr for the caller to count.
//
// The lookup is a linear scan, kept because it is obviously the RFC's
// "first match in order": a gateway holds tens of entries; 100 entries
// scan in under a microsecond (docs/ipsec-data-path.md, "Policy").
//
// Selectors (RFC 4301 section 4.4.1.1): addresses as ranges, the IP
// protocol (0 = any), and port ranges. A packet without ports (a protocol
// that has none, or a non-first IPv4 fragment) matches only a full port
// range (0-65535), the RFC's OPAQUE against ANY. ICMP and ICMPv6 use type
// and code as one 16-bit "port", type in the high byte, for both ports
// (RFC 7296 section 3.13.1).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/ipsec/traffic_selector.hpp"

namespace cordon::ipsec {

enum class Direction : uint8_t { kIn, kOut };
enum class PolicyAction : uint8_t { kProtect, kBypass, kDiscard };
std::string_view policy_action_name(PolicyAction a);  // "protect", "bypass", "discard"

struct Policy {
  TrafficSelector local;
  TrafficSelector remote;
  Direction direction = Direction::kOut;
  PolicyAction action = PolicyAction::kDiscard;
  uint64_t child_id = 0;  // protect: the child SA, as the SAD knows it (sad.hpp)
  friend bool operator==(const Policy&, const Policy&) = default;
};

// The selector fields of one packet, seen from this gateway: for an
// outbound packet local is its source, for an inbound one its destination.
struct PacketSelector {
  uint8_t version = 4;
  std::array<uint8_t, 16> local{};
  std::array<uint8_t, 16> remote{};
  uint8_t protocol = 0;
  std::optional<uint16_t> local_port;  // nullopt: the packet has none
  std::optional<uint16_t> remote_port;
};

// Reads the selector of an IPv4 or IPv6 packet (walking IPv6's hop-by-hop,
// routing, fragment and destination-options headers to the transport
// header). nullopt if the packet is not well-formed IP.
std::optional<PacketSelector> packet_selector(std::span<const std::byte> packet, Direction direction);

// Whether one traffic selector admits an address, protocol and port.
bool selector_matches(const TrafficSelector& ts, uint8_t version, const std::array<uint8_t, 16>& address,
                      uint8_t protocol, std::optional<uint16_t> port);

class Spd {
 public:
  // Appends an entry (lowest priority so far); returns its position.
  size_t add(const Policy& policy);
  // Puts an entry at `position` (at most size()), moving the rest down.
  bool insert(size_t position, const Policy& policy);
  bool remove(size_t position);
  void clear() { policies_.clear(); }

  // The first entry of that direction that matches, or nullptr (discard).
  const Policy* lookup(Direction direction, const PacketSelector& packet) const;

  const std::vector<Policy>& policies() const { return policies_; }
  size_t size() const { return policies_.size(); }

 private:
  std::vector<Policy> policies_;
};

}  // namespace cordon::ipsec
