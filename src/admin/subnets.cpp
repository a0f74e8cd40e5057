// A coordinator's routed subnets (internal.hpp): its tunneled subnets (the
// LANs it forwards to) and its IPsec peers' subnets (what its IPsec gateway
// reaches; docs/ipsec.md, "Routing IPsec subnets from Cordon hosts"). They
// are stored apart, in `subnets` and `ipsec_subnets`, and checked and sent
// together: a host's key set lists both in the one subnet list of the
// coordinator's address book entry (core/keys/address_book.hpp), so every
// host routes them alike and the coordinator forwards and enforces reach
// limits on both (docs/design.md, decision 23).
#include <algorithm>

#include "admin/addressing.hpp"
#include "admin/internal.hpp"

namespace cordon::admin {
namespace {

constexpr size_t kMaxPeerNameSize = 64;

bool overlap(const Prefix& a, const Prefix& b) { return a.contains(b.address) || b.contains(a.address); }

// One prefix of the host being changed, with the option that gave it.
struct Claim {
  Prefix prefix;
  const char* option;  // "--subnet" or "--ipsec-subnet"
  bool ipsec;
};

std::vector<Claim> claims(const std::vector<Prefix>& lan, const std::vector<IpsecSubnet>& ipsec) {
  std::vector<Claim> out;
  for (const Prefix& p : lan) out.push_back({p, "--subnet", false});
  for (const IpsecSubnet& s : ipsec) out.push_back({s.prefix, "--ipsec-subnet", true});
  return out;
}

bool peer_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

void check_peer_name(const IpsecSubnet& s) {
  if (s.peer.empty()) return;
  if (s.peer.size() > kMaxPeerNameSize || !std::all_of(s.peer.begin(), s.peer.end(), peer_char)) {
    throw AdminError(fmt::format("--ipsec-subnet {}: the peer name '{}' must be 1 to {} letters, digits, '.', '_' "
                                 "or '-'; name the IPsec connection as the coordinator's [ipsec] config does",
                                 s.to_string(), s.peer, kMaxPeerNameSize));
  }
}

void check_host_bits(const Prefix& p, const char* option) {
  if (!host_bits_zero(p)) {
    throw AdminError(
        fmt::format("{} {}: host bits are set; did you mean {}?", option, p.to_string(), masked(p).to_string()));
  }
}

// Another gateway's row in the way of `mine`.
struct OtherRow {
  Prefix prefix;
  std::string name;
  HostId gateway;
  bool ipsec = false;
  std::string peer;
};

[[noreturn]] void refuse_other(const Claim& mine, const OtherRow& o) {
  const std::string head =
      fmt::format("{} {}: overlaps {}", mine.option, mine.prefix.to_string(), o.prefix.to_string());
  if (!mine.ipsec && !o.ipsec) {
    throw AdminError(fmt::format("{}, tunneled by gateway '{}' ({}); LAN prefixes behind two gateways must not "
                                 "overlap (Cordon does not translate addresses between them)",
                                 head, o.name, o.gateway.to_string()));
  }
  const std::string whose =
      o.ipsec ? fmt::format("an IPsec subnet of gateway '{}' ({}){}", o.name, o.gateway.to_string(),
                            o.peer.empty() ? "" : fmt::format(" for peer '{}'", o.peer))
              : fmt::format("tunneled by gateway '{}' ({})", o.name, o.gateway.to_string());
  throw AdminError(fmt::format("{}, {}; subnets reached through two gateways must not overlap (Cordon does not "
                               "translate addresses between them): narrow or remove one of the two",
                               head, whose));
}

// Replaces `id`'s rows of a (host, position, ...) table with `items`, in
// order; `bind_item` binds the columns after the position.
template <typename T, typename Bind>
void replace_rows(Database& db, HostId id, const char* delete_sql, const char* insert_sql,
                  const std::vector<T>& items, Bind bind_item) {
  db.cached(delete_sql).bind(1, sql_id(id)).run();
  int64_t position = 0;
  for (const T& item : items) {
    Statement& st = db.cached(insert_sql);
    st.bind(1, sql_id(id)).bind(2, position++);
    bind_item(st, item);
    st.run();
  }
}

}  // namespace

std::string IpsecSubnet::to_string() const {
  return peer.empty() ? prefix.to_string() : prefix.to_string() + "=" + peer;
}

std::optional<IpsecSubnet> IpsecSubnet::parse(std::string_view text) {
  const size_t eq = text.find('=');
  const auto prefix = Prefix::parse(text.substr(0, eq));
  if (!prefix || eq + 1 == text.size()) return std::nullopt;  // "PREFIX=" names no peer
  IpsecSubnet out{*prefix, {}};
  if (eq != std::string_view::npos) out.peer = std::string(text.substr(eq + 1));
  return out;
}

void check_routed_subnets(const std::vector<Prefix>& lan, const std::vector<IpsecSubnet>& ipsec, Role role) {
  if (!lan.empty() && role != Role::kCoordinator) {
    throw AdminError("--subnet: only a coordinator (a gateway) tunnels subnets; give the host --role coordinator");
  }
  if (!ipsec.empty() && role != Role::kCoordinator) {
    throw AdminError(
        "--ipsec-subnet: only a coordinator runs an IPsec gateway, so only a coordinator has IPsec subnets; give the "
        "host --role coordinator, or drop its IPsec subnets with --clear-ipsec-subnets");
  }
  if (lan.size() + ipsec.size() > keys::kMaxSubnets) {
    if (ipsec.empty()) {
      throw AdminError(fmt::format("--subnet: {} subnets; a host tunnels at most {}", lan.size(), keys::kMaxSubnets));
    }
    throw AdminError(fmt::format("--ipsec-subnet: {} tunneled and {} IPsec subnets; a host has at most {} in all "
                                 "(its key set lists them together)",
                                 lan.size(), ipsec.size(), keys::kMaxSubnets));
  }
  for (const Prefix& p : lan) check_host_bits(p, "--subnet");
  for (const IpsecSubnet& s : ipsec) {
    check_host_bits(s.prefix, "--ipsec-subnet");
    check_peer_name(s);
  }
}

// A packet for an address inside two routed subnets, or inside one and the
// tunnel addresses, would have two places to go, so no two of them overlap
// (docs/administration.md, `host`). `self`'s own rows are left out: they
// are being replaced.
void check_routed_subnets_free(Database& db, const NetworkSpec& network, HostId self, const std::vector<Prefix>& lan,
                               const std::vector<IpsecSubnet>& ipsec) {
  const std::vector<Claim> mine = claims(lan, ipsec);
  for (size_t i = 0; i < mine.size(); ++i) {
    const Claim& c = mine[i];
    for (const std::optional<Prefix>& tunnel : {std::optional(network.ipv4), network.ipv6}) {
      if (tunnel && overlap(c.prefix, *tunnel)) {
        throw AdminError(fmt::format("{} {}: overlaps the network's tunnel addresses {}; {} must lie outside them",
                                     c.option, c.prefix.to_string(), tunnel->to_string(),
                                     c.ipsec ? "an IPsec subnet" : "a tunneled subnet"));
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (overlap(c.prefix, mine[j].prefix)) {
        throw AdminError(fmt::format("{} {} and {} {} overlap; give each address range once", mine[j].option,
                                     mine[j].prefix.to_string(), c.option, c.prefix.to_string()));
      }
    }
  }
  if (mine.empty()) return;
  Statement& st = db.cached(
      "SELECT s.prefix, h.name, h.id, 0, s.position, NULL FROM subnets s JOIN hosts h ON h.id = s.host "
      "WHERE s.host != ?1 UNION ALL "
      "SELECT i.prefix, h.name, h.id, 1, i.position, i.peer FROM ipsec_subnets i JOIN hosts h ON h.id = i.host "
      "WHERE i.host != ?1 ORDER BY 3, 4, 5");
  st.bind(1, sql_id(self));
  while (st.step()) {
    const auto other = Prefix::parse(st.text(0));
    if (!other) continue;
    for (const Claim& c : mine) {
      if (!overlap(c.prefix, *other)) continue;
      const OtherRow row{*other, st.text(1), host_from_sql(st.int64(2)), st.int64(3) != 0,
                         st.is_null(5) ? std::string() : st.text(5)};
      st.reset();
      refuse_other(c, row);
    }
  }
  st.reset();
}

void write_subnets(Database& db, HostId id, const std::vector<Prefix>& subnets) {
  replace_rows(db, id, "DELETE FROM subnets WHERE host = ?1",
               "INSERT INTO subnets (host, position, prefix) VALUES (?1, ?2, ?3)", subnets,
               [](Statement& st, const Prefix& p) { st.bind(3, p.to_string()); });
}

void write_ipsec_subnets(Database& db, HostId id, const std::vector<IpsecSubnet>& subnets) {
  replace_rows(db, id, "DELETE FROM ipsec_subnets WHERE host = ?1",
               "INSERT INTO ipsec_subnets (host, position, prefix, peer) VALUES (?1, ?2, ?3, ?4)", subnets,
               [](Statement& st, const IpsecSubnet& s) {
                 st.bind(3, s.prefix.to_string());
                 st.bind(4, s.peer.empty() ? std::nullopt : std::optional<std::string>(s.peer));
               });
}

std::vector<Prefix> load_subnets(Database& db, HostId id) {
  return load_parsed<Prefix>(db, "SELECT prefix FROM subnets WHERE host = ?1 ORDER BY position", id);
}

std::vector<IpsecSubnet> load_ipsec_subnets(Database& db, HostId id) {
  return load_parsed<IpsecSubnet>(
      db, "SELECT prefix || COALESCE('=' || peer, '') FROM ipsec_subnets WHERE host = ?1 ORDER BY position", id);
}

std::vector<Prefix> routed_prefixes(const std::vector<Prefix>& lan, const std::vector<IpsecSubnet>& ipsec) {
  std::vector<Prefix> out = lan;
  for (const IpsecSubnet& s : ipsec) out.push_back(s.prefix);
  return out;
}

std::vector<Prefix> load_routed_subnets(Database& db, HostId id) {
  return routed_prefixes(load_subnets(db, id), load_ipsec_subnets(db, id));
}

}  // namespace cordon::admin
