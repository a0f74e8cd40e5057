#include "core/filter/rule.hpp"

#include <algorithm>
#include <charconv>

#include "core/filter/flow.hpp"

namespace cordon::filter {
namespace {

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

std::optional<unsigned> parse_number(std::string_view s, unsigned max) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

struct Protocol {
  std::string_view name;
  uint8_t number;
};
constexpr Protocol kProtocols[] = {{"tcp", kTcp}, {"udp", kUdp}, {"icmp", kIcmp}, {"icmpv6", kIcmpv6}};

std::string protocol_name(uint8_t p) {
  for (const auto& k : kProtocols) {
    if (k.number == p) return std::string(k.name);
  }
  return std::to_string(p);
}

bool has_host_bits(const Prefix& p) {
  for (size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
    if (p.address.bytes[bit / 8] & (0x80 >> (bit % 8))) return true;
  }
  return false;
}

std::string port_text(const PortRange& r) {
  return r.low == r.high ? std::to_string(r.low) : std::to_string(r.low) + "-" + std::to_string(r.high);
}

// Reads a rule word by word; the first error stops it.
class Parser {
 public:
  Parser(std::string_view text, const PeerResolver& resolve) : words_(split_words(text)), resolve_(resolve) {}

  Result<Rule, std::string> run() {
    if (words_.empty()) return fail(std::string("empty rule: it starts with allow or drop"));
    if (words_[0] == "allow") {
      rule_.action = Action::kAllow;
    } else if (words_[0] == "drop") {
      rule_.action = Action::kDrop;
    } else {
      return error(0, "a rule starts with allow or drop");
    }
    size_t i = 1;
    if (i < words_.size() && (words_[i] == "in" || words_[i] == "out")) {
      rule_.directions = static_cast<uint8_t>(words_[i] == "in" ? Direction::kIn : Direction::kOut);
      ++i;
    }
    for (; i < words_.size(); i += 2) {
      if (auto e = keyword(i)) return fail(std::move(*e));
    }
    if (auto e = check_consistency()) return fail(std::move(*e));
    return std::move(rule_);
  }

 private:
  std::string error(size_t i, std::string_view what) const {
    return "word " + std::to_string(i + 1) + " (\"" + std::string(words_[i]) + "\"): " + std::string(what);
  }

  std::optional<std::string> keyword(size_t i) {
    const std::string_view key = words_[i];
    static constexpr std::string_view kKeys[] = {"peer", "from", "to", "proto", "sport", "dport", "icmp-type"};
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return error(i, "unknown keyword; expected peer, from, to, proto, sport, dport or icmp-type");
    }
    if (std::find(seen_.begin(), seen_.end(), key) != seen_.end()) return error(i, "appears twice");
    seen_.push_back(key);
    if (i + 1 >= words_.size()) return error(i, "needs a value after it");
    const std::string_view value = words_[i + 1];
    if (key == "peer") return peer(i, value);
    if (key == "from" || key == "to") return prefix(i, value, key == "from" ? rule_.source : rule_.destination);
    if (key == "proto") return protocol(i, value);
    if (key == "icmp-type") {
      const auto n = parse_number(value, 255);
      if (!n) return error(i + 1, "an ICMP type is a number from 0 to 255");
      rule_.icmp_type = static_cast<uint8_t>(*n);
      return std::nullopt;
    }
    return ports(i, value, key == "sport" ? rule_.source_ports : rule_.destination_ports);
  }

  std::optional<std::string> peer(size_t i, std::string_view value) {
    size_t at = 0;
    while (at <= value.size()) {
      const size_t comma = std::min(value.find(',', at), value.size());
      const std::string_view name = value.substr(at, comma - at);
      if (name.empty()) return error(i + 1, "an empty name in the peer list");
      const auto ids = resolve_ ? resolve_(name) : std::nullopt;
      if (!ids) return error(i + 1, "no host or group is named '" + std::string(name) + "'");
      rule_.peer_names.emplace_back(name);
      rule_.peers.insert(rule_.peers.end(), ids->begin(), ids->end());
      at = comma + 1;
    }
    std::sort(rule_.peers.begin(), rule_.peers.end());
    rule_.peers.erase(std::unique(rule_.peers.begin(), rule_.peers.end()), rule_.peers.end());
    if (rule_.peers.empty()) return error(i + 1, "names no host (an empty group?)");
    return std::nullopt;
  }

  std::optional<std::string> prefix(size_t i, std::string_view value, std::optional<Prefix>& out) {
    auto p = Prefix::parse(value);
    if (!p) {
      const auto a = IpAddress::parse(value);
      if (!a) return error(i + 1, "not an IPv4 or IPv6 prefix such as 192.168.10.0/24 or an address");
      p = Prefix{*a, static_cast<uint8_t>(a->size() * 8)};
    }
    if (has_host_bits(*p)) return error(i + 1, "has bits set after the prefix length");
    out = *p;
    return std::nullopt;
  }

  std::optional<std::string> protocol(size_t i, std::string_view value) {
    for (const auto& k : kProtocols) {
      if (k.name == value) {
        rule_.protocol = k.number;
        return std::nullopt;
      }
    }
    const auto n = parse_number(value, 255);
    if (!n) return error(i + 1, "expected tcp, udp, icmp, icmpv6 or a protocol number from 0 to 255");
    rule_.protocol = static_cast<uint8_t>(*n);
    return std::nullopt;
  }

  std::optional<std::string> ports(size_t i, std::string_view value, std::optional<PortRange>& out) {
    const size_t dash = value.find('-');
    const auto low = parse_number(value.substr(0, dash), 65535);
    const auto high = dash == std::string_view::npos ? low : parse_number(value.substr(dash + 1), 65535);
    if (!low || !high) return error(i + 1, "a port is a number from 0 to 65535, a range is LOW-HIGH");
    if (*low > *high) return error(i + 1, "the port range runs backwards");
    out = PortRange{static_cast<uint16_t>(*low), static_cast<uint16_t>(*high)};
    return std::nullopt;
  }

  std::optional<std::string> check_consistency() const {
    const auto p = rule_.protocol;
    if ((rule_.source_ports || rule_.destination_ports) && p != kTcp && p != kUdp) {
      return std::string("sport and dport need proto tcp or proto udp");
    }
    if (rule_.icmp_type && p != kIcmp && p != kIcmpv6) return std::string("icmp-type needs proto icmp or proto icmpv6");
    if (rule_.source && rule_.destination && rule_.source->address.family != rule_.destination->address.family) {
      return std::string("from and to are of different address families");
    }
    const auto* any = rule_.source ? &*rule_.source : rule_.destination ? &*rule_.destination : nullptr;
    if (any && p == kIcmp && !any->address.is_v4()) return std::string("proto icmp is IPv4; use icmpv6 with IPv6 prefixes");
    if (any && p == kIcmpv6 && any->address.is_v4()) return std::string("proto icmpv6 is IPv6; use icmp with IPv4 prefixes");
    return std::nullopt;
  }

  std::vector<std::string_view> words_;
  const PeerResolver& resolve_;
  std::vector<std::string_view> seen_;
  Rule rule_;
};

}  // namespace

std::string Rule::to_string() const {
  std::string s = action == Action::kAllow ? "allow" : "drop";
  if (directions == static_cast<uint8_t>(Direction::kIn)) s += " in";
  if (directions == static_cast<uint8_t>(Direction::kOut)) s += " out";
  if (!peer_names.empty()) {
    s += " peer ";
    for (size_t i = 0; i < peer_names.size(); ++i) s += (i ? "," : "") + peer_names[i];
  }
  if (source) s += " from " + source->to_string();
  if (destination) s += " to " + destination->to_string();
  if (protocol) s += " proto " + protocol_name(*protocol);
  if (source_ports) s += " sport " + port_text(*source_ports);
  if (destination_ports) s += " dport " + port_text(*destination_ports);
  if (icmp_type) s += " icmp-type " + std::to_string(*icmp_type);
  return s;
}

Result<Rule, std::string> parse_rule(std::string_view text, const PeerResolver& resolve) {
  return Parser(text, resolve).run();
}

}  // namespace cordon::filter
