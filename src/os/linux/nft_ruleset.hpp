// The policy for open (unencrypted) traffic, and the nftables script that
// enforces it. Pure: no system calls; NftTables (nftables.hpp) loads the
// script into the kernel.
//
// Cordon owns one table, `inet cordon`, alone and never touches another
// one. Its chains, in the order a packet meets them (nft(8), "CHAINS"; the
// hook diagram of the nftables wiki, "Netfilter hooks"):
//
//   antispoof        filter, prerouting, priority raw (-300): before
//                    connection tracking, drops a packet whose source is
//                    protected (a tunnel address, another gateway's subnet)
//                    unless it came out of the tunnel, and a packet whose
//                    source is in one of this host's LANs unless it came in
//                    on that LAN's interface (or the tunnel).
//   nat_prerouting   nat, prerouting, priority dstnat (-100): port
//                    forwards; never for packets out of the tunnel.
//   input            filter, input, priority filter (0): replies,
//                    loopback and the tunnel pass (Cordon judges protected
//                    traffic itself), then what Cordon needs to run (ICMP
//                    for path MTU and neighbour discovery, DHCPv6 replies,
//                    the daemon's UDP and TCP ports), then the open rules,
//                    then a counted drop.
//   forward          filter, forward, priority filter (0): replies, the
//                    tunnel both ways, port-forwarded connections, ICMP
//                    errors, then the open rules, then a counted drop.
//   nat_postrouting  nat, postrouting, priority srcnat (100): source NAT
//                    and masquerade; never for packets into the tunnel.
//
// Both filter chains keep policy accept and end in an explicit drop: a
// base chain's policy cannot count, and the drop counters say how much
// open traffic was refused. A drop here is final; an accept only ends this
// table's say (other tables on the host still see the packet).
//
// Named counters (nft(8), "STATEFUL OBJECTS"), read back by
// NftTables::counters():
//   spoofed_protected  antispoof: a protected source off the tunnel
//   spoofed_lan        antispoof: a LAN source off its LAN
//   input_dropped      input: open traffic no rule allowed, or invalid
//   forward_dropped    forward: the same for forwarded traffic
//   open_rule_N        packets open rule N (1-based, as in the errors of
//                      check_open_policy) matched, in either chain
// Replacing the table resets them to zero; connection tracking survives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

// The table Cordon owns.
inline constexpr std::string_view kNftFamily = "inet";
inline constexpr std::string_view kNftTable = "cordon";

// The named counters (see above); open_rule_N comes from open_rule_counter.
inline constexpr std::string_view kCounterSpoofedProtected = "spoofed_protected";
inline constexpr std::string_view kCounterSpoofedLan = "spoofed_lan";
inline constexpr std::string_view kCounterInputDropped = "input_dropped";
inline constexpr std::string_view kCounterForwardDropped = "forward_dropped";
// "open_rule_1" for the first rule of OpenPolicy::rules (index 0).
std::string open_rule_counter(size_t index);

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpv6 = 58;

// Destination ports first..last, both included; first == last for one.
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
};

// One rule for open traffic. Rules are tried in order after replies have
// passed (stateful: only the first packet of a connection meets them), and
// the first that matches decides. Every field left empty matches anything.
struct OpenRule {
  // Which traffic the rule judges: packets to this host (input), packets it
  // forwards (forward; needs OpenPolicy::forwards), or both.
  enum class Path : uint8_t { kInput, kForward, kBoth };

  bool allow = false;  // accept, or drop
  Path path = Path::kInput;
  std::string interface;  // the interface the packet came in on; empty: any
  std::optional<Prefix> from, to;
  std::optional<uint8_t> protocol;  // an IP protocol number; empty: any
  std::optional<PortRange> ports;   // destination ports; tcp or udp only
};

// Destination NAT (a port forward): `protocol` to `port` arriving on
// `in_interface` goes to target:target_port.
struct PortForward {
  std::string in_interface;  // empty: any interface but the tunnel
  uint8_t protocol = kProtoTcp;  // kProtoTcp or kProtoUdp
  uint16_t port = 0;
  IpAddress target;
  uint16_t target_port = 0;
  std::optional<Prefix> from;  // only these sources; the target's family
};

// Source NAT for packets from `from` leaving through `out_interface`: to
// `to_address`, or masquerade (the interface's own address) when empty.
struct SourceNat {
  std::string out_interface;
  std::optional<IpAddress> to_address;
  std::vector<Prefix> from;  // at least one; of to_address's family if set
};

// One of this host's own LANs: the tunneled subnets a gateway serves, and
// the interface they are on.
struct Lan {
  std::string interface;
  std::vector<Prefix> subnets;
};

struct OpenPolicy {
  std::string tun_interface;  // Cordon's tunnel device
  // The IPsec gateway's device (docs/ipsec.md), empty without [ipsec]:
  // what it carries is protected traffic too, accepted and never source
  // NATed like the tunnel's, and the host accepts IKE (UDP 500 and 4500)
  // and raw ESP and AH (IP protocols 50 and 51) from anywhere.
  std::string ipsec_interface;
  // True when this host routes between its interfaces (a gateway: a
  // coordinator with LANs). Only then may the policy hold LANs, forward
  // rules, port forwards and source NAT.
  bool forwards = false;
  // Sources that may only come out of the tunnel: the tunnel address
  // ranges and the other gateways' tunneled subnets (anti-spoofing).
  std::vector<Prefix> protected_sources;
  std::vector<Lan> lans;
  std::vector<OpenRule> rules;
  std::vector<PortForward> forwards_in;
  std::vector<SourceNat> snat;
  // What the daemon listens on (its UDP ports, its TCP tunnel port):
  // accepted from anywhere before the open rules, which cannot refuse them.
  std::vector<uint16_t> udp_ports, tcp_ports;
};

// Why `name` cannot be an interface name in the script (1 to 15
// characters of A-Z a-z 0-9 _ . : -, so none can close the quotes it is
// written in), or empty when it can.
std::string interface_name_problem(std::string_view name);

// Refuses a policy that would render a wrong or unsafe script; the error
// names the item ("open rule 3: ...", "port forward 1: ...") and says what
// to change. Every string that reaches the script is checked here:
// interface names are 1 to 15 characters of [A-Za-z0-9_.:-], so none can
// close the quotes they are written in.
Status check_open_policy(const OpenPolicy& policy);

// The script that defines table inet cordon (no command before it), or the
// error of check_open_policy: it renders only a policy that passes it.
Result<std::string> render_open_policy(const OpenPolicy& policy);

}  // namespace cordon::os
