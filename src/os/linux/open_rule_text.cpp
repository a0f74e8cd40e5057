#include "os/linux/open_rule_text.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <optional>

namespace cordon::os {
namespace {

// An error, or nothing when the word was fine.
using Problem = std::optional<std::string>;

// The words of one entry, split at spaces and tabs, and errors that name
// one of them by its 1-based position.
class Words {
 public:
  explicit Words(std::string_view text) {
    size_t at = 0;
    while (at < text.size()) {
      const size_t start = text.find_first_not_of(" \t", at);
      if (start == std::string_view::npos) break;
      const size_t end = std::min(text.find_first_of(" \t", start), text.size());
      words_.push_back(text.substr(start, end - start));
      at = end;
    }
  }
  size_t size() const { return words_.size(); }
  std::string_view operator[](size_t i) const { return words_[i]; }
  std::string error(size_t i, std::string_view what) const {
    return "word " + std::to_string(i + 1) + " (\"" + std::string(words_[i]) + "\"): " + std::string(what);
  }

 private:
  std::vector<std::string_view> words_;
};

// What a keyword does with the word after it (at `i`).
using Handler = std::function<Problem(std::string_view key, size_t i)>;

// Reads KEY VALUE pairs from word `from` on; each key once, only the known
// ones.
Problem keywords(const Words& w, size_t from, std::initializer_list<std::string_view> known, const Handler& take) {
  std::vector<std::string_view> seen;
  for (size_t i = from; i < w.size(); i += 2) {
    if (std::find(known.begin(), known.end(), w[i]) == known.end()) {
      std::string list;
      for (auto k = known.begin(); k != known.end(); ++k) {
        list += (k == known.begin() ? "" : std::next(k) == known.end() ? " or " : ", ") + std::string(*k);
      }
      return w.error(i, "unknown keyword; expected " + list);
    }
    if (std::find(seen.begin(), seen.end(), w[i]) != seen.end()) return w.error(i, "appears twice");
    seen.push_back(w[i]);
    if (i + 1 >= w.size()) return w.error(i, "needs a value after it");
    if (auto p = take(w[i], i + 1)) return p;
  }
  return std::nullopt;
}

std::optional<unsigned> number(std::string_view s, unsigned max) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

Problem interface(const Words& w, size_t i, std::string& out) {
  if (auto why = interface_name_problem(w[i]); !why.empty()) return w.error(i, why);
  out = std::string(w[i]);
  return std::nullopt;
}

bool host_bits_set(const Prefix& p) {
  for (size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
    if ((p.address.bytes[bit / 8] & (0x80u >> (bit % 8))) != 0) return true;
  }
  return false;
}

// A prefix, or an address for the single host.
std::optional<std::string> prefix_problem(std::string_view text, Prefix& out) {
  if (auto a = IpAddress::parse(text)) {
    out = Prefix{*a, static_cast<uint8_t>(a->size() * 8)};
    return std::nullopt;
  }
  auto p = Prefix::parse(text);
  if (!p) return "not an IPv4 or IPv6 prefix such as 192.168.71.0/24, or an address";
  if (host_bits_set(*p)) return "has bits set after the prefix length";
  out = *p;
  return std::nullopt;
}

Problem prefix(const Words& w, size_t i, std::optional<Prefix>& out) {
  Prefix p;
  if (auto why = prefix_problem(w[i], p)) return w.error(i, *why);
  out = p;
  return std::nullopt;
}

// PREFIX[,PREFIX...]
Problem prefix_list(const Words& w, size_t i, std::vector<Prefix>& out) {
  std::string_view rest = w[i];
  for (;;) {
    const size_t comma = rest.find(',');
    Prefix p;
    if (auto why = prefix_problem(rest.substr(0, comma), p)) return w.error(i, *why);
    out.push_back(p);
    if (comma == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(comma + 1);
  }
}

Problem protocol(const Words& w, size_t i, std::optional<uint8_t>& out) {
  constexpr std::pair<std::string_view, uint8_t> kNames[] = {
      {"tcp", kProtoTcp}, {"udp", kProtoUdp}, {"icmp", kProtoIcmp}, {"icmpv6", kProtoIcmpv6}};
  for (const auto& [name, value] : kNames) {
    if (w[i] == name) out = value;
  }
  if (!out) {
    const auto n = number(w[i], 255);
    if (!n) return w.error(i, "expected tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255");
    out = static_cast<uint8_t>(*n);
  }
  return std::nullopt;
}

Problem ports(const Words& w, size_t i, std::optional<PortRange>& out, bool range_allowed) {
  const std::string_view text = w[i];
  const size_t dash = range_allowed ? text.find('-') : std::string_view::npos;
  const auto first = number(text.substr(0, dash), 65535);
  const auto last = dash == std::string_view::npos ? first : number(text.substr(dash + 1), 65535);
  if (!first || !last || *first == 0 || *last == 0) {
    return w.error(i, range_allowed ? "a port is a number from 1 to 65535, a range is LOW-HIGH"
                                    : "a port is a number from 1 to 65535");
  }
  if (*first > *last) return w.error(i, "the port range runs backwards");
  out = PortRange{static_cast<uint16_t>(*first), static_cast<uint16_t>(*last)};
  return std::nullopt;
}

// What the words cannot show on their own: ports and ICMP versus the
// protocol and the prefixes' family.
Problem rule_consistency(const OpenRule& r) {
  if (r.ports && r.protocol != kProtoTcp && r.protocol != kProtoUdp) {
    return std::string("dport needs proto tcp or proto udp");
  }
  if (r.from && r.to && r.from->address.family != r.to->address.family) {
    return std::string("from and to are of different address families; write one rule per family");
  }
  const auto& any = r.from ? r.from : r.to;
  if (any && r.protocol == kProtoIcmp && !any->address.is_v4()) {
    return std::string("proto icmp is IPv4; use icmpv6 with IPv6 prefixes");
  }
  if (any && r.protocol == kProtoIcmpv6 && any->address.is_v4()) {
    return std::string("proto icmpv6 is IPv6; use icmp with IPv4 prefixes");
  }
  return std::nullopt;
}

std::optional<OpenRule::Path> path_word(std::string_view word) {
  if (word == "input") return OpenRule::Path::kInput;
  if (word == "forward") return OpenRule::Path::kForward;
  if (word == "both") return OpenRule::Path::kBoth;
  return std::nullopt;
}

}  // namespace

Parsed<OpenRule> parse_open_rule(std::string_view text) {
  const Words w(text);
  if (w.size() == 0) return cordon::fail("empty rule: a rule starts with allow or drop");
  if (w[0] != "allow" && w[0] != "drop") return cordon::fail(w.error(0, "a rule starts with allow or drop"));
  OpenRule r{.allow = w[0] == "allow", .path = OpenRule::Path::kBoth};
  size_t next = 1;
  if (w.size() > 1) {
    if (auto path = path_word(w[1])) {
      r.path = *path;
      next = 2;
    }
  }
  auto problem = keywords(w, next, {"iif", "from", "to", "proto", "dport"}, [&](std::string_view key, size_t i) {
    if (key == "iif") return interface(w, i, r.interface);
    if (key == "from" || key == "to") return prefix(w, i, key == "from" ? r.from : r.to);
    if (key == "proto") return protocol(w, i, r.protocol);
    return ports(w, i, r.ports, true);
  });
  if (!problem) problem = rule_consistency(r);
  if (problem) return cordon::fail(std::move(*problem));
  return r;
}

Parsed<Lan> parse_lan(std::string_view text) {
  const Words w(text);
  if (w.size() < 2) return cordon::fail("write the LAN's interface, then its subnets: \"lan0 192.168.71.0/24\"");
  Lan lan;
  if (auto p = interface(w, 0, lan.interface)) return cordon::fail(std::move(*p));
  for (size_t i = 1; i < w.size(); ++i) {
    std::optional<Prefix> subnet;
    if (auto p = prefix(w, i, subnet)) return cordon::fail(std::move(*p));
    lan.subnets.push_back(*subnet);
  }
  return lan;
}

Parsed<SourceNat> parse_source_nat(std::string_view text) {
  const Words w(text);
  SourceNat s;
  auto problem = keywords(w, 0, {"oif", "from", "to"}, [&](std::string_view key, size_t i) -> Problem {
    if (key == "oif") return interface(w, i, s.out_interface);
    if (key == "from") return prefix_list(w, i, s.from);
    s.to_address = IpAddress::parse(w[i]);
    if (!s.to_address) return w.error(i, "not an IPv4 or IPv6 address");
    return std::nullopt;
  });
  if (!problem && s.out_interface.empty()) problem = "needs oif NAME: the interface the packets leave through";
  if (!problem && s.from.empty()) problem = "needs from PREFIX[,PREFIX...]: the sources it translates";
  if (problem) return cordon::fail(std::move(*problem));
  return s;
}

Parsed<PortForward> parse_port_forward(std::string_view text) {
  const Words w(text);
  PortForward f;
  std::optional<uint8_t> proto;
  std::optional<PortRange> port;
  std::optional<Endpoint> target;
  auto problem = keywords(w, 0, {"iif", "proto", "dport", "to", "from"}, [&](std::string_view key, size_t i) -> Problem {
    if (key == "iif") return interface(w, i, f.in_interface);
    if (key == "from") return prefix(w, i, f.from);
    if (key == "dport") return ports(w, i, port, false);
    if (key == "proto") {
      if (w[i] != "tcp" && w[i] != "udp") return w.error(i, "a port forward is for tcp or udp");
      proto = w[i] == "tcp" ? kProtoTcp : kProtoUdp;
      return std::nullopt;
    }
    target = Endpoint::parse(w[i]);
    if (!target || target->port == 0) return w.error(i, "expected ADDRESS:PORT, e.g. 192.168.71.10:8000 or [fd71::10]:8000");
    return std::nullopt;
  });
  if (!problem && !proto) problem = "needs proto tcp or proto udp";
  if (!problem && !port) problem = "needs dport PORT: the port that is forwarded";
  if (!problem && !target) problem = "needs to ADDRESS:PORT: the server it goes to";
  if (!problem && f.from && f.from->address.family != target->address.family) {
    problem = "from and the target are of different address families; NAT does not translate between them";
  }
  if (problem) return cordon::fail(std::move(*problem));
  f.protocol = *proto;
  f.port = port->first;
  f.target = target->address;
  f.target_port = target->port;
  return f;
}

}  // namespace cordon::os
