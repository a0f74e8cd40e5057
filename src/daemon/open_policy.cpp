#include "daemon/open_policy.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace cordon::daemon {
namespace {

Prefix network(Prefix p) {
  for (size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
    p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return p;
}

// `outer` holds all of `inner`.
bool holds(const Prefix& outer, const Prefix& inner) {
  return outer.address.family == inner.address.family && outer.length <= inner.length &&
         outer.contains(inner.address);
}

bool overlap(const Prefix& a, const Prefix& b) { return holds(a, b) || holds(b, a); }

bool overlaps_any(const Prefix& p, const std::vector<Prefix>& list) {
  return std::any_of(list.begin(), list.end(), [&](const Prefix& q) { return overlap(p, q); });
}

// Keeps each prefix that no other one holds (the first of equal ones).
std::vector<Prefix> outermost(const std::vector<Prefix>& in) {
  std::vector<Prefix> out;
  for (size_t i = 0; i < in.size(); ++i) {
    bool inside = false;
    for (size_t j = 0; j < in.size() && !inside; ++j) {
      if (i == j || !holds(in[j], in[i])) continue;
      inside = !(in[i] == in[j]) || j < i;
    }
    if (!inside) out.push_back(in[i]);
  }
  return out;
}

std::string list_text(const std::vector<Prefix>& list) {
  std::string out;
  for (const Prefix& p : list) out += (out.empty() ? "" : ", ") + p.to_string();
  return out.empty() ? "none" : out;
}

std::string entry_error(const DaemonConfig& config, const char* key, size_t index, uint32_t line, uint32_t column,
                        std::string why) {
  return ConfigError{config.path, line, column, fmt::format("open.{}[{}]", key, index), std::move(why)}.to_string();
}

// check_open_policy names an item "open rule 1: why"; the entry's own
// error names it by file and line instead.
std::string without_item_name(const std::string& message) {
  const size_t colon = message.find(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

constexpr const char* kNoForwarding =
    "this host forwards no traffic: it has no tunneled subnets (a gateway's come with its key set, managed mode); "
    "remove this entry";

bool needs_forwarding(const os::OpenRule& r) { return r.path == os::OpenRule::Path::kForward; }
template <typename T>
bool needs_forwarding(const T&) {
  return true;
}

// Checks each item (of `all`) alone on the policy `bare`, which holds no
// items, so that the error names the entry.
template <typename T>
std::optional<std::string> check_entries(const DaemonConfig& config, const char* key,
                                         const std::vector<OpenEntry<T>>& entries, const os::OpenPolicy& bare,
                                         const os::OpenPolicy& all, std::vector<T> os::OpenPolicy::*member) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const OpenEntry<T>& e = entries[i];
    const auto fail = [&](std::string why) { return entry_error(config, key, i, e.line, e.column, std::move(why)); };
    if (!bare.forwards && needs_forwarding((all.*member)[i])) return fail(kNoForwarding);
    os::OpenPolicy one = bare;
    one.*member = {(all.*member)[i]};
    if (auto st = os::check_open_policy(one); !st) return fail(without_item_name(st.error().message()));
  }
  return std::nullopt;
}

// Every subnet of a LAN is one this host tunnels, and on one LAN only.
// `open` is the [open] table, or an empty one when only central rules turn
// the firewall on (config.open is then empty and must not be read).
std::optional<std::string> check_lans(const DaemonConfig& config, const OpenConfig& open) {
  std::vector<Prefix> seen;
  for (size_t i = 0; i < open.lans.size(); ++i) {
    const auto& e = open.lans[i];
    for (const Prefix& p : e.item.subnets) {
      const bool tunneled = std::any_of(config.tunneled_subnets.begin(), config.tunneled_subnets.end(),
                                        [&](const Prefix& t) { return holds(t, p); });
      if (!tunneled) {
        return entry_error(config, "lans", i, e.line, e.column,
                           fmt::format("subnet {} is not one this host tunnels (its tunneled subnets: {}); list "
                                       "only those its address book entry gives it",
                                       p.to_string(), list_text(config.tunneled_subnets)));
      }
      if (overlaps_any(p, seen)) {
        return entry_error(config, "lans", i, e.line, e.column,
                           fmt::format("subnet {} is on another LAN already; a subnet is on one interface",
                                       p.to_string()));
      }
      seen.push_back(p);
    }
  }
  return std::nullopt;
}

template <typename T>
std::vector<T> items(const std::vector<OpenEntry<T>>& entries) {
  std::vector<T> out;
  for (const auto& e : entries) out.push_back(e.item);
  return out;
}

// A host that forwards nothing judges a rule for both paths on input.
void fit_path(os::OpenRule& r, bool forwards) {
  if (!forwards && r.path == os::OpenRule::Path::kBoth) r.path = os::OpenRule::Path::kInput;
}

// The administrator's open rules, each checked alone on `bare`. A rule
// that does not parse or that the check refuses refuses the key set, as a
// protected one does (config.cpp, resolve_filter); a forward rule on a host
// that forwards nothing could never match, and is left out with a note, since
// a group's rules reach gateways and other hosts alike.
struct CentralRules {
  std::vector<os::OpenRule> rules;
  std::vector<OpenRuleLabel> labels;
  std::vector<std::string> notes;
};
cordon::Result<CentralRules, std::string> central_rules(const DaemonConfig& config, const os::OpenPolicy& bare) {
  CentralRules out;
  for (const DaemonConfig::CentralRule& central : config.central_open_rules) {
    const auto fail = [&](const std::string& why) {
      return cordon::fail(fmt::format("{}: open filter rule {}: {}; the administrator's rule cannot be applied: "
                                      "ask for a corrected update",
                                      config.keyset.value_or(config.path), central.number, why));
    };
    auto parsed = os::parse_open_rule(central.text);
    if (!parsed) return fail(parsed.error());
    os::OpenRule rule = std::move(parsed.value());
    if (!bare.forwards && rule.path == os::OpenRule::Path::kForward) {
      out.notes.push_back(fmt::format("open filter rule {} (\"{}\") is left out: it is for forwarded traffic, "
                                      "and this host has no tunneled subnets",
                                      central.number, central.text));
      continue;
    }
    fit_path(rule, bare.forwards);
    os::OpenPolicy one = bare;
    one.rules = {rule};
    if (auto st = os::check_open_policy(one); !st) return fail(without_item_name(st.error().message()));
    out.rules.push_back(std::move(rule));
    out.labels.push_back({fmt::format("central {}", central.number), central.text});
  }
  return out;
}

}  // namespace

ProtectedSources protected_sources(const DaemonConfig& config) {
  ProtectedSources out;
  std::vector<Prefix> candidates;
  for (const Prefix& a : config.addresses) candidates.push_back(network(a));
  for (const PeerConfig& peer : config.node.peers) {
    for (const Prefix& p : peer.allowed_prefixes) {
      const bool holds_endpoint = peer.endpoint && p.contains(peer.endpoint->address);
      if (p.length == 0 || holds_endpoint) {
        out.left_out.push_back(fmt::format("peer {} prefix {} is not protected from spoofing: {}",
                                           peer.id.to_string(), p.to_string(),
                                           p.length == 0 ? "it is a default route"
                                                         : "it holds the peer's endpoint"));
        continue;
      }
      candidates.push_back(network(p));
    }
  }
  std::erase_if(candidates, [&](const Prefix& p) { return overlaps_any(p, config.tunneled_subnets); });
  out.prefixes = outermost(candidates);
  return out;
}

cordon::Result<BuiltPolicy, std::string> build_open_policy(const DaemonConfig& config, const OpenRuntime& runtime) {
  static const OpenConfig kNoTable;
  const OpenConfig& open = config.open ? *config.open : kNoTable;
  BuiltPolicy built;
  os::OpenPolicy& base = built.policy;
  base.tun_interface = runtime.tun_interface;
  if (config.ipsec) base.ipsec_interface = config.ipsec->interface;
  base.forwards = !config.tunneled_subnets.empty();
  ProtectedSources sources = protected_sources(config);
  base.protected_sources = std::move(sources.prefixes);
  built.notes = std::move(sources.left_out);
  base.udp_ports = runtime.udp_ports;
  base.tcp_ports = runtime.tcp_ports;

  // Each kind alone first, on the base, so that an error names its entry.
  os::OpenPolicy all = base;
  all.rules = items(open.rules);
  for (auto& r : all.rules) fit_path(r, base.forwards);
  all.lans = items(open.lans);
  all.snat = items(open.snat);
  all.forwards_in = items(open.forward_ports);
  if (auto e = check_entries(config, "rules", open.rules, base, all, &os::OpenPolicy::rules)) return cordon::fail(*e);
  if (auto e = check_entries(config, "lans", open.lans, base, all, &os::OpenPolicy::lans)) return cordon::fail(*e);
  if (auto e = check_lans(config, open)) return cordon::fail(*e);
  if (auto e = check_entries(config, "snat", open.snat, base, all, &os::OpenPolicy::snat)) return cordon::fail(*e);
  if (auto e = check_entries(config, "forward_ports", open.forward_ports, base, all, &os::OpenPolicy::forwards_in)) {
    return cordon::fail(*e);
  }
  // The central rules go first (docs/firewall.md, "Central open rules").
  auto central = central_rules(config, base);
  if (!central) return cordon::fail(central.error());
  const size_t central_count = central->rules.size();
  all.rules.insert(all.rules.begin(), central->rules.begin(), central->rules.end());
  built.labels = std::move(central->labels);
  for (const auto& e : open.rules) built.labels.push_back({"local", e.text});
  built.notes.insert(built.notes.end(), central->notes.begin(), central->notes.end());
  if (auto st = os::check_open_policy(all); !st) {
    return cordon::fail(fmt::format("{}: [open]: {}{}", config.path, st.error().message(),
                                    central_count > 0 ? " (open rules 1 to " + std::to_string(central_count) +
                                                            " are the administrator's)"
                                                      : ""));
  }
  built.policy = std::move(all);
  return built;
}

}  // namespace cordon::daemon
