#include "os/linux/nft_ruleset.hpp"

#include <algorithm>

namespace cordon::os {

namespace {

// IFNAMSIZ (16, linux/if.h) less the terminating NUL.
constexpr size_t kMaxInterfaceName = 15;

// ---------------------------------------------------------------------------
// Checks. Each returns an empty string when the item is fine, or why not.

SysError refuse(const std::string& where, const std::string& why) { return sys_error(where + ": " + why, 0); }

std::string item(const char* kind, size_t index) { return std::string(kind) + " " + std::to_string(index + 1); }

// A name for an error message: printable ASCII only and at most 32 bytes,
// so that a hostile name cannot break the log line it lands in.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 32)) out += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
  if (name.size() > 32) out += "...";
  return "\"" + out + "\"";
}

bool interface_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}

// The script writes names between double quotes; this character set holds
// no quote, backslash, white space or nft(8) syntax ($ @ { } ; #), so no
// name can end the string or start a statement.
std::string interface_problem(std::string_view name) {
  const std::string shown = "interface " + printable(name);
  if (name.empty()) return "the interface name is empty";
  if (name.size() > kMaxInterfaceName) return shown + " is longer than 15 characters, which Linux refuses";
  if (!std::all_of(name.begin(), name.end(), interface_char)) {
    return shown + " has a character outside A-Z a-z 0-9 _ . : -; write the name `ip link` shows";
  }
  return {};
}

bool valid_family(const IpAddress& a) {
  return a.family == IpAddress::Family::kV4 || a.family == IpAddress::Family::kV6;
}

std::string prefix_problem(const Prefix& p) {
  if (!valid_family(p.address)) return "a prefix has no address family";
  if (p.length > p.address.size() * 8) {
    return "prefix length " + std::to_string(p.length) + " is too long for its family (at most " +
           std::to_string(p.address.size() * 8) + ")";
  }
  return {};
}

bool same_family(const IpAddress& a, const IpAddress& b) { return a.family == b.family; }

std::string family_name(const IpAddress& a) { return a.is_v4() ? "IPv4" : "IPv6"; }

// Prefixes overlap when the shorter one holds the longer one's address.
bool overlaps(const Prefix& a, const Prefix& b) {
  if (!same_family(a.address, b.address)) return false;
  return a.length <= b.length ? a.contains(b.address) : b.contains(a.address);
}

// An interface an item names: `optional` allows the empty name (any).
std::string named_interface_problem(std::string_view name, bool optional, const OpenPolicy& policy) {
  if (name.empty() && optional) return {};
  std::string why = interface_problem(name);
  if (!why.empty()) return why;
  if (name == policy.tun_interface) {
    return "interface " + printable(name) +
           " is the tunnel, whose traffic Cordon judges itself; name the underlay or LAN interface";
  }
  if (!policy.ipsec_interface.empty() && name == policy.ipsec_interface) {
    return "interface " + printable(name) +
           " is the IPsec gateway's, whose traffic is protected like the tunnel's; name the underlay or LAN "
           "interface";
  }
  return {};
}

std::string needs_forwarding(const OpenPolicy& policy) {
  if (policy.forwards) return {};
  return "only a gateway forwards traffic, and this policy has forwards off; remove the item or turn "
         "forwarding on";
}

std::string ports_problem(const OpenRule& rule) {
  if (!rule.ports) return {};
  if (rule.protocol != kProtoTcp && rule.protocol != kProtoUdp) {
    return "ports need protocol tcp (6) or udp (17)";
  }
  if (rule.ports->first == 0) return "port 0 is not a port; ports start at 1";
  if (rule.ports->first > rule.ports->last) {
    return "port range " + std::to_string(rule.ports->first) + "-" + std::to_string(rule.ports->last) +
           " runs backwards; write the lower port first";
  }
  return {};
}

// The address family the rule's prefixes and protocol imply must be one.
std::string rule_family_problem(const OpenRule& rule) {
  for (const auto* p : {&rule.from, &rule.to}) {
    if (!p->has_value()) continue;
    if (auto why = prefix_problem(**p); !why.empty()) return why;
  }
  if (rule.from && rule.to && !same_family(rule.from->address, rule.to->address)) {
    return "from is " + family_name(rule.from->address) + " but to is " + family_name(rule.to->address) +
           "; split the rule in two, one per family";
  }
  const auto& any = rule.from ? rule.from : rule.to;
  if (!any) return {};
  if (rule.protocol == kProtoIcmp && !any->address.is_v4()) return "icmp (1) is IPv4's; use icmpv6 (58)";
  if (rule.protocol == kProtoIcmpv6 && any->address.is_v4()) return "icmpv6 (58) is IPv6's; use icmp (1)";
  return {};
}

std::string rule_problem(const OpenRule& rule, const OpenPolicy& policy) {
  if (auto why = named_interface_problem(rule.interface, true, policy); !why.empty()) return why;
  if (rule.path != OpenRule::Path::kInput) {
    if (auto why = needs_forwarding(policy); !why.empty()) return "the rule judges forwarded traffic, but " + why;
  }
  if (auto why = rule_family_problem(rule); !why.empty()) return why;
  return ports_problem(rule);
}

std::string port_forward_problem(const PortForward& f, const OpenPolicy& policy) {
  if (auto why = needs_forwarding(policy); !why.empty()) return why;
  if (auto why = named_interface_problem(f.in_interface, true, policy); !why.empty()) return why;
  if (f.protocol != kProtoTcp && f.protocol != kProtoUdp) return "the protocol must be tcp (6) or udp (17)";
  if (f.port == 0 || f.target_port == 0) return "port 0 is not a port; ports start at 1";
  if (!valid_family(f.target)) return "the target address has no address family";
  if (f.target == IpAddress{.family = f.target.family}) return "the target address is unspecified; name the server";
  if (f.from) {
    if (auto why = prefix_problem(*f.from); !why.empty()) return why;
    if (!same_family(f.from->address, f.target)) {
      return "from is " + family_name(f.from->address) + " but the target is " + family_name(f.target) +
             "; NAT does not translate between families";
    }
  }
  return {};
}

std::string source_nat_problem(const SourceNat& s, const OpenPolicy& policy) {
  if (auto why = needs_forwarding(policy); !why.empty()) return why;
  if (auto why = named_interface_problem(s.out_interface, false, policy); !why.empty()) return why;
  if (s.from.empty()) return "it lists no source prefixes; list the LAN or tunnel prefixes it translates";
  if (s.to_address && !valid_family(*s.to_address)) return "the address to translate to has no address family";
  for (const Prefix& p : s.from) {
    if (auto why = prefix_problem(p); !why.empty()) return why;
    if (s.to_address && !same_family(p.address, *s.to_address)) {
      return "source " + p.to_string() + " is " + family_name(p.address) + " but the address to translate to is " +
             family_name(*s.to_address) + "; NAT does not translate between families";
    }
  }
  return {};
}

std::string lan_problem(const Lan& lan, const OpenPolicy& policy) {
  if (auto why = needs_forwarding(policy); !why.empty()) return why;
  if (auto why = named_interface_problem(lan.interface, false, policy); !why.empty()) return why;
  if (lan.subnets.empty()) return "it lists no subnets; list the subnets on " + printable(lan.interface);
  for (const Prefix& p : lan.subnets) {
    if (auto why = prefix_problem(p); !why.empty()) return why;
    for (const Prefix& q : policy.protected_sources) {
      if (prefix_problem(q).empty() && overlaps(p, q)) {
        return "subnet " + p.to_string() + " overlaps protected source " + q.to_string() +
               ", so its own packets would be dropped as spoofed; take it out of the protected sources";
      }
    }
  }
  return {};
}

Status check_basics(const OpenPolicy& policy) {
  if (auto why = interface_problem(policy.tun_interface); !why.empty()) return refuse("tunnel interface", why);
  if (!policy.ipsec_interface.empty()) {
    if (auto why = interface_problem(policy.ipsec_interface); !why.empty()) return refuse("ipsec.interface", why);
  }
  for (size_t i = 0; i < policy.protected_sources.size(); ++i) {
    if (auto why = prefix_problem(policy.protected_sources[i]); !why.empty()) {
      return refuse(item("protected source", i), why);
    }
  }
  for (const auto* ports : {&policy.udp_ports, &policy.tcp_ports}) {
    if (std::find(ports->begin(), ports->end(), 0) != ports->end()) {
      return refuse(ports == &policy.udp_ports ? "daemon UDP ports" : "daemon TCP ports",
                    "port 0 is not a port; list the ports the daemon listens on");
    }
  }
  return Ok{};
}

// Runs `problem` over every element of `items`; the first problem found is
// refused under the element's name ("open rule 3").
template <typename T, typename F>
Status check_each(const char* kind, const std::vector<T>& items, const OpenPolicy& policy, F problem) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (auto why = problem(items[i], policy); !why.empty()) return refuse(item(kind, i), why);
  }
  return Ok{};
}

// ---------------------------------------------------------------------------
// Rendering. Only checked values reach these functions.

std::string quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

const char* ip_keyword(const IpAddress& a) { return a.is_v4() ? "ip" : "ip6"; }

// The prefix with its host bits cleared, as `nft list` prints it back.
std::string network(const Prefix& p) {
  Prefix n = p;
  for (size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
    n.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return n.to_string();
}

// One element as is, several as an anonymous set (nft(8), "SETS").
std::string elements(const std::vector<std::string>& items) {
  if (items.size() == 1) return items.front();
  std::string out = "{ ";
  for (size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + items[i];
  return out + " }";
}

std::vector<std::string> networks_of(const std::vector<Prefix>& prefixes, bool v4) {
  std::vector<std::string> out;
  for (const Prefix& p : prefixes) {
    if (p.address.is_v4() == v4) out.push_back(network(p));
  }
  return out;
}

std::string port_list(std::vector<uint16_t> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  std::vector<std::string> items;
  for (uint16_t p : ports) items.push_back(std::to_string(p));
  return elements(items);
}

std::string port_range(const PortRange& r) {
  if (r.first == r.last) return std::to_string(r.first);
  return std::to_string(r.first) + "-" + std::to_string(r.last);
}

std::string transport(uint8_t protocol) { return protocol == kProtoTcp ? "tcp" : "udp"; }

std::string counted(std::string_view counter) { return "counter name " + quoted(counter); }

// A base chain of the table being written: its header when made, its
// closing brace when it goes out of scope. Every base chain keeps policy
// accept and ends in its own rules (see the header).
class Chain {
 public:
  Chain(std::string& out, std::string_view name, std::string_view type, std::string_view hook,
        std::string_view priority)
      : out_(out) {
    out_ += "  chain " + std::string(name) + " {\n";
    rule("type " + std::string(type) + " hook " + std::string(hook) + " priority " + std::string(priority) +
         "; policy accept;");
  }
  ~Chain() { out_ += "  }\n"; }
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  void rule(const std::string& text) { out_ += "    " + text + "\n"; }

 private:
  std::string& out_;
};

void render_counters(std::string& out, const OpenPolicy& policy) {
  std::vector<std::string> names = {std::string(kCounterSpoofedProtected), std::string(kCounterSpoofedLan),
                                    std::string(kCounterInputDropped), std::string(kCounterForwardDropped)};
  for (size_t i = 0; i < policy.rules.size(); ++i) names.push_back(open_rule_counter(i));
  for (const auto& name : names) out += "  counter " + name + " {\n  }\n";
}

void render_antispoof(std::string& out, const OpenPolicy& policy) {
  Chain chain(out, "antispoof", "filter", "prerouting", "raw");
  // The host talking to itself carries its own tunnel and LAN addresses.
  // Interfaces go by name (iifname), never by index (iif): a name needs no
  // lookup when the script loads, and matches a device created later.
  chain.rule("iifname \"lo\" accept");
  const std::string tun = quoted(policy.tun_interface);
  for (bool v4 : {true, false}) {
    const auto sources = networks_of(policy.protected_sources, v4);
    if (sources.empty()) continue;
    chain.rule("iifname != " + tun + (v4 ? " ip" : " ip6") + " saddr " + elements(sources) + " " +
               counted(kCounterSpoofedProtected) + " drop");
  }
  for (const Lan& lan : policy.lans) {
    for (bool v4 : {true, false}) {
      const auto subnets = networks_of(lan.subnets, v4);
      if (subnets.empty()) continue;
      chain.rule("iifname != { " + tun + ", " + quoted(lan.interface) + " }" + (v4 ? " ip" : " ip6") + " saddr " +
                 elements(subnets) + " " + counted(kCounterSpoofedLan) + " drop");
    }
  }
}

std::string port_forward_rule(const PortForward& f) {
  const bool v4 = f.target.is_v4();
  std::string text = std::string("meta nfproto ") + (v4 ? "ipv4" : "ipv6");
  if (!f.in_interface.empty()) text += " iifname " + quoted(f.in_interface);
  if (f.from) text += std::string(" ") + ip_keyword(f.from->address) + " saddr " + network(*f.from);
  text += " " + transport(f.protocol) + " dport " + std::to_string(f.port);
  const std::string target = v4 ? f.target.to_string() : "[" + f.target.to_string() + "]";
  return text + " dnat " + ip_keyword(f.target) + " to " + target + ":" + std::to_string(f.target_port);
}

void render_nat_prerouting(std::string& out, const OpenPolicy& policy) {
  Chain chain(out, "nat_prerouting", "nat", "prerouting", "dstnat");
  chain.rule("iifname " + quoted(policy.tun_interface) + " accept");
  if (!policy.ipsec_interface.empty()) chain.rule("iifname " + quoted(policy.ipsec_interface) + " accept");
  for (const PortForward& f : policy.forwards_in) chain.rule(port_forward_rule(f));
}

std::string open_rule_text(const OpenRule& rule, size_t index) {
  std::string text;
  if (!rule.interface.empty()) text += "iifname " + quoted(rule.interface) + " ";
  if (rule.from) text += std::string(ip_keyword(rule.from->address)) + " saddr " + network(*rule.from) + " ";
  if (rule.to) text += std::string(ip_keyword(rule.to->address)) + " daddr " + network(*rule.to) + " ";
  if (rule.ports) {
    text += transport(*rule.protocol) + " dport " + port_range(*rule.ports) + " ";
  } else if (rule.protocol) {
    text += "meta l4proto " + std::to_string(*rule.protocol) + " ";
  }
  return text + counted(open_rule_counter(index)) + (rule.allow ? " accept" : " drop");
}

void render_open_rules(Chain& chain, const OpenPolicy& policy, OpenRule::Path path) {
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const OpenRule& rule = policy.rules[i];
    if (rule.path == path || rule.path == OpenRule::Path::kBoth) chain.rule(open_rule_text(rule, i));
  }
}

// ICMP errors that path MTU discovery (RFC 1191 for IPv4, RFC 8201 for
// IPv6) and error reporting rely on; RFC 4890 lists the ICMPv6 ones as
// must-not-drop in transit (section 4.3.1) and to the host (4.4.1).
void accept_icmp_errors(Chain& chain) {
  chain.rule("icmp type { destination-unreachable, time-exceeded, parameter-problem } accept");
  chain.rule("icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept");
}

// What the host itself needs from the link. Connection tracking leaves
// neighbour discovery and MLD messages untracked (ct state untracked), so
// no reply rule lets them in: they are accepted by type.
void accept_host_needs(Chain& chain) {
  accept_icmp_errors(chain);
  // Neighbour discovery; a genuine message has hop limit 255 (RFC 4861
  // sections 6.1, 7.1 and 8.1), which an off-link sender cannot forge.
  chain.rule(
      "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } "
      "ip6 hoplimit 255 accept");
  // Multicast listener discovery, hop limit 1 (RFC 3810 section 5; RFC 4890
  // section 4.4.1).
  chain.rule(
      "icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } "
      "ip6 hoplimit 1 accept");
  // DHCPv6 replies come from a server's link-local address to port 546
  // (RFC 8415 section 7.2) and match no connection of ours: the request
  // went to a multicast address.
  chain.rule("ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept");
}

void render_input(std::string& out, const OpenPolicy& policy) {
  Chain chain(out, "input", "filter", "input", "filter");
  chain.rule("ct state established,related accept");
  chain.rule("iifname \"lo\" accept");
  chain.rule("iifname " + quoted(policy.tun_interface) + " accept");
  if (!policy.ipsec_interface.empty()) {
    chain.rule("iifname " + quoted(policy.ipsec_interface) + " accept");
    // IKE and ESP in UDP (RFC 7296 section 2; RFC 3948), raw ESP and AH.
    chain.rule("udp dport { 500, 4500 } accept");
    chain.rule("meta l4proto { esp, ah } accept");
  }
  accept_host_needs(chain);
  chain.rule("ct state invalid " + counted(kCounterInputDropped) + " drop");
  // A port forward to one of this host's own addresses.
  chain.rule("ct status dnat accept");
  if (!policy.udp_ports.empty()) chain.rule("udp dport " + port_list(policy.udp_ports) + " accept");
  if (!policy.tcp_ports.empty()) chain.rule("tcp dport " + port_list(policy.tcp_ports) + " accept");
  render_open_rules(chain, policy, OpenRule::Path::kInput);
  chain.rule(counted(kCounterInputDropped) + " drop");
}

void render_forward(std::string& out, const OpenPolicy& policy) {
  Chain chain(out, "forward", "filter", "forward", "filter");
  chain.rule("ct state established,related accept");
  const std::string tun = quoted(policy.tun_interface);
  chain.rule("iifname " + tun + " accept");
  chain.rule("oifname " + tun + " accept");
  if (!policy.ipsec_interface.empty()) {
    chain.rule("iifname " + quoted(policy.ipsec_interface) + " accept");
    chain.rule("oifname " + quoted(policy.ipsec_interface) + " accept");
  }
  accept_icmp_errors(chain);
  chain.rule("ct state invalid " + counted(kCounterForwardDropped) + " drop");
  chain.rule("ct status dnat accept");
  render_open_rules(chain, policy, OpenRule::Path::kForward);
  chain.rule(counted(kCounterForwardDropped) + " drop");
}

void render_nat_postrouting(std::string& out, const OpenPolicy& policy) {
  Chain chain(out, "nat_postrouting", "nat", "postrouting", "srcnat");
  chain.rule("oifname " + quoted(policy.tun_interface) + " accept");
  if (!policy.ipsec_interface.empty()) chain.rule("oifname " + quoted(policy.ipsec_interface) + " accept");
  for (const SourceNat& s : policy.snat) {
    for (bool v4 : {true, false}) {
      const auto sources = networks_of(s.from, v4);
      if (sources.empty()) continue;
      const std::string action = s.to_address ? std::string("snat ") + ip_keyword(*s.to_address) + " to " +
                                                    s.to_address->to_string()
                                              : "masquerade";
      chain.rule("oifname " + quoted(s.out_interface) + (v4 ? " ip" : " ip6") + " saddr " + elements(sources) +
                 " " + action);
    }
  }
}

}  // namespace

std::string interface_name_problem(std::string_view name) { return interface_problem(name); }

std::string open_rule_counter(size_t index) { return "open_rule_" + std::to_string(index + 1); }

Status check_open_policy(const OpenPolicy& policy) {
  if (auto st = check_basics(policy); !st) return st;
  if (auto st = check_each("LAN", policy.lans, policy, lan_problem); !st) return st;
  if (auto st = check_each("open rule", policy.rules, policy, rule_problem); !st) return st;
  if (auto st = check_each("port forward", policy.forwards_in, policy, port_forward_problem); !st) return st;
  return check_each("source NAT", policy.snat, policy, source_nat_problem);
}

Result<std::string> render_open_policy(const OpenPolicy& policy) {
  if (auto st = check_open_policy(policy); !st) return st.error();
  std::string out = "table " + std::string(kNftFamily) + " " + std::string(kNftTable) + " {\n";
  render_counters(out, policy);
  render_antispoof(out, policy);
  render_nat_prerouting(out, policy);
  render_input(out, policy);
  render_forward(out, policy);
  render_nat_postrouting(out, policy);
  return out + "}\n";
}

}  // namespace cordon::os
