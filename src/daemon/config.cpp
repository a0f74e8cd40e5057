#include "daemon/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/crypto/aead.hpp"
#include "daemon/config_reader.hpp"
#include "daemon/keyfile.hpp"
#include "daemon/size_classes.hpp"

namespace cordon::daemon {
namespace config_detail {

using namespace std::string_view_literals;

// The keys each table may hold. A key not listed here is an error, so a typo
// such as `lisen_port` is caught instead of silently using the default.
constexpr std::array<std::string_view, 6> kTopKeys = {"host", "peer", "filter", "open", "metrics", "ipsec"};
constexpr std::array<std::string_view, 2> kMetricsKeys = {"listen", "optional"};
constexpr std::array<std::string_view, 4> kOpenKeys = {"rules", "lans", "snat", "forward_ports"};
constexpr std::array<std::string_view, 2> kFilterKeys = {"rules", "max_connections"};
constexpr int64_t kMaxConnectionsLimit = 16 * 1024 * 1024;
constexpr std::array<std::string_view, 23> kHostKeys = {
    "id",          "interface", "addresses", "mtu",            "listen_port", "listen_address", "state_dir",
    "time_window", "workers",   "offloads",  "log_level", "control_socket", "keyset",      "password_file",
    "rekey_period", "size_classes", "courier_spool_limit",
    // managed mode: the mesh's timers (docs/protocol.md, "Coordinators" -> "Timers")
    "keepalive", "status_interval", "poll_period", "exchange_interval", "tcp_fallback", "tcp_port"};
constexpr std::array<std::string_view, 8> kPeerKeys = {"id",    "name",      "endpoint",    "key_file",
                                                       "allowed_prefixes", "suite", "keepalive", "rekey_period"};
// Rekey period bounds (docs/protocol.md, "Rekey exchange"): 0 turns rekeying
// off; at most a week.
constexpr int64_t kMaxRekeyPeriodSeconds = 7 * 86400;
constexpr int64_t kUnsetRekeyPeriod = -1;
constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug", "info", "warn",
                                                        "error", "critical", "off"};

constexpr unsigned kMinMtu = 576;       // RFC 791: every IPv4 host accepts 576-byte datagrams
constexpr unsigned kMinMtuIpv6 = 1280;  // RFC 8200, section 5
constexpr unsigned kMaxMtu = 65535;
constexpr int64_t kMaxKeepaliveSeconds = 3600;
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxSocketPath = 107;    // sizeof(sockaddr_un::sun_path) - 1

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// "10.77.0.1/24": an address and a prefix length. Host bits are kept; the
// caller decides whether they are allowed.
std::optional<Prefix> parse_cidr(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const std::string_view length_text = text.substr(slash + 1);
  unsigned length = 0;
  const auto [end, ec] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (ec != std::errc() || end != length_text.data() + length_text.size() || length_text.empty()) return std::nullopt;
  if (length > (address->is_v4() ? 32u : 128u)) return std::nullopt;
  return Prefix{*address, static_cast<uint8_t>(length)};
}

Prefix masked(const Prefix& p) {
  Prefix out = p;
  for (size_t i = 0; i < out.address.bytes.size(); ++i) {
    const int bits_here = std::clamp(static_cast<int>(p.length) - static_cast<int>(i * 8), 0, 8);
    out.address.bytes[i] &= static_cast<uint8_t>(bits_here == 0 ? 0 : 0xff << (8 - bits_here));
  }
  return out;
}

std::string prefix_text(const Prefix& p) { return p.address.to_string() + "/" + std::to_string(p.length); }

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}


void Reader::check_keys(const toml::table& table, std::string_view prefix, std::span<const std::string_view> known) {
  for (auto&& [key, value] : table) {
    const std::string_view name = key.str();
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string hint;
    for (auto candidate : known) {
      if (edit_distance(name, candidate) <= 2) {
        hint = fmt::format("did you mean `{}`? ", candidate);
        break;
      }
    }
    error(key.source(), fmt::format("{}{}", prefix, name),
          fmt::format("unknown key; {}the known keys are {}", hint, join(known)));
  }
}

const toml::node* Reader::find(const toml::table& table, std::string_view key, const std::string& field,
                               bool required, std::string_view missing_hint) {
  const toml::node* node = table.get(key);
  if (!node && required) error(table.source(), field, fmt::format("missing; {}", missing_hint));
  return node;
}

std::optional<std::string> Reader::get_string(const toml::table& table, std::string_view key,
                                              const std::string& field, bool required,
                                              std::string_view missing_hint) {
  const toml::node* node = find(table, key, field, required, missing_hint);
  if (!node) return std::nullopt;
  if (!node->is_string()) {
    error(node->source(), field, fmt::format("expected a string, found {}; put the value in double quotes",
                                             type_name(*node)));
    return std::nullopt;
  }
  return std::string(node->as_string()->get());
}

std::optional<int64_t> Reader::get_integer(const toml::table& table, std::string_view key, const std::string& field,
                                           int64_t min, int64_t max, std::string_view unit) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (!node->is_integer()) {
    error(node->source(), field,
          fmt::format("expected an integer, found {}; write a whole number from {} to {}{} without quotes",
                      type_name(*node), min, max, unit));
    return std::nullopt;
  }
  const int64_t value = node->as_integer()->get();
  if (value < min || value > max) {
    error(node->source(), field, fmt::format("{} is out of range; use {} to {}{}", value, min, max, unit));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Reader::get_boolean(const toml::table& table, std::string_view key, const std::string& field) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) {
    error(node->source(), field,
          fmt::format("expected true or false, found {}; write true or false without quotes", type_name(*node)));
    return std::nullopt;
  }
  return node->as_boolean()->get();
}


// The mesh's timers (docs/protocol.md, "Coordinators" -> "Timers"). In
// seconds; the bounds keep a typo from making a host silent for a year.
void Reader::parse_mesh_timers(const toml::table& host, DaemonConfig& config) {
  MeshConfig& m = config.node.mesh;
  constexpr int64_t kDay = 86400;
  if (auto v = get_integer(host, "keepalive", "host.keepalive", 0, 3600, " seconds (0: no keepalives)")) {
    config.keepalive_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(host, "rekey_period", "host.rekey_period", 0, kMaxRekeyPeriodSeconds,
                           " seconds (0 turns rekeying off)")) {
    config.rekey_period_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(host, "status_interval", "host.status_interval", 5, kDay, " seconds")) {
    m.status_interval_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(host, "poll_period", "host.poll_period", 5, kDay, " seconds")) {
    m.poll_period_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(host, "exchange_interval", "host.exchange_interval", 5, kDay, " seconds")) {
    m.exchange_interval_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(host, "tcp_fallback", "host.tcp_fallback", 0, kDay, " seconds (0: never use TCP)")) {
    m.tcp_fallback_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(host, "tcp_port", "host.tcp_port", 0, 65535, " (0: a coordinator runs no TCP tunnel)")) {
    m.tcp_port = static_cast<uint16_t>(*v);
  }
}

void Reader::read_host(const toml::table& host, DaemonConfig& config) {
  check_keys(host, "host.", kHostKeys);
  managed_ = host.contains("keyset");
  read_managed(host, config);

  if (managed_) {
    // The key set is the one source of this host's identity and addresses:
    // a second copy here could only disagree with it.
    for (std::string_view key : {"id"sv, "addresses"sv}) {
      if (const toml::node* node = host.get(key)) {
        error(node->source(), fmt::format("host.{}", key),
              fmt::format("not allowed with host.keyset (managed mode): this host's {} comes from the key set; "
                          "remove this line, or remove `keyset` to configure the host by hand",
                          key == "id" ? "ID" : "tunnel addresses"));
      }
    }
    // The administrator's, for the whole network (managed.hpp).
    if (const toml::node* node = host.get("rekey_period")) {
      error(node->source(), "host.rekey_period",
            "not allowed with host.keyset (managed mode): the rekey period comes from the key set, where the "
            "administrator sets it for the whole network (`cordon admin network set --rekey-period`); remove this "
            "line");
    }
  } else if (auto id = get_string(host, "id", "host.id", true,
                                  "set this host's ID, e.g. id = \"0x0001000a\" (or keyset = PATH for managed "
                                  "mode)")) {
    if (auto parsed = HostId::parse(*id)) {
      config.node.self = *parsed;
    } else {
      error(host.get("id")->source(), "host.id",
            fmt::format("\"{}\" is not a host ID; write 0xNNNNHHHH (eight hex digits: network and host number, "
                        "neither zero), e.g. \"0x0001000a\"",
                        *id));
    }
  }

  if (auto name = get_string(host, "interface", "host.interface")) {
    if (valid_interface_name(*name)) {
      config.interface = *name;
    } else {
      error(host.get("interface")->source(), "host.interface",
            fmt::format("\"{}\" is not a usable interface name; use 1 to {} letters, digits, '-', '_' or '.'",
                        *name, kMaxInterfaceName));
    }
  }

  if (!managed_) {
    get_string_array(host, "addresses", "host.addresses", false, {},
                     [&](const std::string& text, const toml::source_region& where) {
                       if (auto p = parse_cidr(text)) {
                         config.addresses.push_back(*p);
                       } else {
                         error(where, "host.addresses",
                               fmt::format("\"{}\" is not an address with prefix length; write e.g. \"10.77.0.1/24\" "
                                           "or \"fd77::1/64\"",
                                           text));
                       }
                     });
  }

  if (auto mtu = get_integer(host, "mtu", "host.mtu", kMinMtu, kMaxMtu, " bytes")) {
    config.mtu = static_cast<unsigned>(*mtu);
  } else if (managed_) {
    // A managed host may be relayed: leave room for the relay's 36 bytes too.
    config.mtu = kDefaultManagedMtu;
  }
  if (auto text = get_string(host, "size_classes", "host.size_classes")) {
    auto classes = parse_size_classes(*text, config.mtu);
    if (classes) {
      config.node.size_classes = std::move(*classes);
    } else {
      error(host.get("size_classes")->source(), "host.size_classes", classes.error());
    }
  }
  const bool has_ipv6 = std::any_of(config.addresses.begin(), config.addresses.end(),
                                    [](const Prefix& p) { return !p.address.is_v4(); });
  if (has_ipv6 && config.mtu < kMinMtuIpv6 && host.get("mtu")) {
    error(host.get("mtu")->source(), "host.mtu",
          fmt::format("{} is below the IPv6 minimum of {} (RFC 8200) and the interface has an IPv6 address; "
                      "raise mtu to at least {}",
                      config.mtu, kMinMtuIpv6, kMinMtuIpv6));
  }

  if (auto port = get_integer(host, "listen_port", "host.listen_port", 0, 65535, " (0 picks any free port)")) {
    config.listen_port = static_cast<uint16_t>(*port);
  }

  if (auto text = get_string(host, "listen_address", "host.listen_address")) {
    if (auto address = IpAddress::parse(*text)) {
      config.listen_address = *address;
    } else {
      error(host.get("listen_address")->source(), "host.listen_address",
            fmt::format("\"{}\" is not an IP address; write e.g. \"::\" (every address) or \"192.0.2.1\"", *text));
    }
  }

  if (auto dir = get_string(host, "state_dir", "host.state_dir")) {
    if (dir->empty()) {
      error(host.get("state_dir")->source(), "host.state_dir", "is empty; name a directory such as /var/lib/cordon");
    } else {
      config.state_dir = resolve(*dir);
    }
  }

  if (auto window = get_integer(host, "time_window", "host.time_window", 1, kMaxTimeWindowNs / kNsPerSecond,
                                " seconds (the wire counter is rebuilt within +-9.1 h)")) {
    config.node.time_window_ns = *window * kNsPerSecond;
  }

  parse_mesh_timers(host, config);

  // docs/couriers.md, "The spool": per host, far above the largest package.
  if (auto limit = get_integer(host, "courier_spool_limit", "host.courier_spool_limit", 1, 4096,
                               " MiB (what a courier holds for one host)")) {
    config.courier_spool_limit = static_cast<uint64_t>(*limit);
  }

  if (auto workers = get_integer(host, "workers", "host.workers", 0, kMaxWorkers, " (0: one per CPU)")) {
    config.workers = static_cast<unsigned>(*workers);
  }
  if (auto offloads = get_boolean(host, "offloads", "host.offloads")) config.offloads = *offloads;

  if (auto level = get_string(host, "log_level", "host.log_level")) {
    if (std::find(kLogLevels.begin(), kLogLevels.end(), *level) != kLogLevels.end()) {
      config.log_level = *level;
    } else {
      error(host.get("log_level")->source(), "host.log_level",
            fmt::format("\"{}\" is not a log level; use one of {}", *level, join(kLogLevels)));
    }
  }

  config.control_socket = fmt::format("{}/{}.sock", kDefaultControlDir, config.interface);
  if (auto socket = get_string(host, "control_socket", "host.control_socket")) {
    const std::string resolved = resolve(*socket);
    if (resolved.empty() || resolved.size() > kMaxSocketPath) {
      error(host.get("control_socket")->source(), "host.control_socket",
            fmt::format("\"{}\" is {}; a Unix socket path has 1 to {} characters", *socket,
                        resolved.empty() ? "empty" : "too long", kMaxSocketPath));
    } else {
      config.control_socket = resolved;
    }
  }
}

void Reader::read_managed(const toml::table& host, DaemonConfig& config) {
  if (auto path = get_string(host, "keyset", "host.keyset")) {
    if (path->empty()) {
      error(host.get("keyset")->source(), "host.keyset",
            fmt::format("is empty; name the installed key set, e.g. keyset = \"{}/{}\" (where `cordon keyset "
                        "install` stores it)",
                        kDefaultStateDir, kKeysetFileName));
    } else {
      config.keyset = resolve(*path);
    }
  }
  if (auto path = get_string(host, "password_file", "host.password_file")) {
    const toml::node* node = host.get("password_file");
    if (!host.get("keyset")) {
      error(node->source(), "host.password_file",
            "only unlocks a key set, and there is no host.keyset; add keyset = PATH (managed mode) or remove "
            "this line");
    } else if (path->empty()) {
      error(node->source(), "host.password_file",
            "is empty; name a file holding the key set's password (mode 0600), or remove this line to use a "
            "systemd credential or the terminal");
    } else {
      config.password_file = resolve(*path);
    }
  }
}

void Reader::refuse_peers_in_managed_mode(const toml::node& peers) {
  const toml::array* array = peers.as_array();
  const std::string message =
      "[[peer]] tables are not allowed with host.keyset (managed mode): the peers and their link keys come from "
      "the key set's address book; remove this table, or remove `keyset` to configure peers by hand";
  if (!array || array->empty()) {
    error(peers.source(), "peer", message);
    return;
  }
  for (const toml::node& table : *array) error(table.source(), "peer", message);
}

std::optional<PeerConfig> Reader::read_peer(const toml::table& peer, size_t index, HostId self) {
  PeerConfig out;
  bool ok = true;
  // Name the peer by its ID when it has a valid one, else by its position.
  std::string name = fmt::format("peer[#{}]", index + 1);

  if (auto id_text = get_string(peer, "id", name + ".id", true,
                                "set the peer's host ID, e.g. id = \"0x0001000b\"")) {
    const toml::node* node = peer.get("id");
    if (auto id = HostId::parse(*id_text)) {
      out.id = *id;
      name = fmt::format("peer[{}]", id->to_string());
      if (*id == self) {
        error(node->source(), name + ".id", "is this host's own ID (host.id); a peer is another host");
        ok = false;
      }
      const auto [it, inserted] = peer_ids_.emplace(id->value, SeenPeer{node->source().begin.line});
      if (!inserted) {
        error(node->source(), name + ".id",
              fmt::format("duplicate peer {} (first defined on line {}); merge the two [[peer]] tables or fix "
                          "the ID",
                          id->to_string(), it->second.line));
        ok = false;
      }
    } else {
      error(node->source(), name + ".id",
            fmt::format("\"{}\" is not a host ID; write 0xNNNNHHHH (eight hex digits: network and host number, "
                        "neither zero), e.g. \"0x0001000b\"",
                        *id_text));
      ok = false;
    }
  } else {
    ok = false;
  }

  check_keys(peer, name + ".", kPeerKeys);

  if (auto text = get_string(peer, "name", name + ".name")) out.name = *text;

  if (auto text = get_string(peer, "endpoint", name + ".endpoint")) {
    const toml::node* node = peer.get("endpoint");
    auto endpoint = Endpoint::parse(*text);
    if (endpoint && endpoint->port != 0 && endpoint->address != IpAddress::v4(0u) &&
        endpoint->address != IpAddress::v6({})) {
      out.endpoint = *endpoint;
    } else {
      const bool looks_like_name =
          std::any_of(text->begin(), text->end(), [](char c) { return (c >= 'g' && c <= 'z') || c == '-'; });
      error(node->source(), name + ".endpoint",
            fmt::format("\"{}\" is not an address and port; write \"192.0.2.2:51820\" or \"[2001:db8::2]:51820\"{}",
                        *text, looks_like_name ? " (host names are not resolved)" : ""));
      ok = false;
    }
  }

  if (auto text = get_string(peer, "key_file", name + ".key_file", true,
                             "name the link key file, e.g. key_file = \"/etc/cordon/a-b.key\" (make it with "
                             "`cordon genkey --out FILE`)")) {
    auto loaded = load_key_file(resolve(*text));
    if (loaded) {
      out.link_key = std::move(*loaded);
    } else {
      error(peer.get("key_file")->source(), name + ".key_file", loaded.error());
      ok = false;
    }
  } else {
    ok = false;
  }

  const std::string prefixes_field = name + ".allowed_prefixes";
  const bool has_prefixes = get_string_array(
      peer, "allowed_prefixes", prefixes_field, true,
      "list the tunnel addresses this peer may use, e.g. allowed_prefixes = [\"10.77.0.2/32\"]",
      [&](const std::string& text, const toml::source_region& where) {
        auto prefix = parse_cidr(text);
        if (!prefix) {
          error(where, prefixes_field,
                fmt::format("\"{}\" is not a prefix; write e.g. \"10.77.0.2/32\" or \"fd77::/64\"", text));
          ok = false;
          return;
        }
        const Prefix network = masked(*prefix);
        if (!(network == *prefix)) {
          error(where, prefixes_field,
                fmt::format("\"{}\" has host bits set; did you mean \"{}\"?", text, prefix_text(network)));
          ok = false;
          return;
        }
        const auto [it, inserted] = prefix_owner_.emplace(prefix_text(network), std::pair{name, where.begin.line});
        if (!inserted) {
          error(where, prefixes_field,
                fmt::format("{} is also allowed for {} (line {}); a prefix belongs to one peer", text,
                            it->second.first, it->second.second));
          ok = false;
          return;
        }
        out.allowed_prefixes.push_back(network);
      });
  if (!has_prefixes) ok = false;

  if (auto text = get_string(peer, "suite", name + ".suite")) {
    if (auto suite = crypto::parse_suite(*text)) {
      out.suite = *suite;
    } else {
      error(peer.get("suite")->source(), name + ".suite",
            fmt::format("\"{}\" is not a suite; use aes-256-gcm (the default), chacha20-poly1305 or aes-256-siv, "
                        "the same on both ends",
                        *text));
      ok = false;
    }
  }

  if (auto seconds = get_integer(peer, "keepalive", name + ".keepalive", 0, kMaxKeepaliveSeconds,
                                 " seconds (0 turns keepalives off)")) {
    out.keepalive_ns = *seconds * kNsPerSecond;
  }
  out.rekey_period_ns = kUnsetRekeyPeriod;  // host.rekey_period, filled in after the file is read
  if (auto seconds = get_integer(peer, "rekey_period", name + ".rekey_period", 0, kMaxRekeyPeriodSeconds,
                                 " seconds (0 turns rekeying off; only the key master's value counts)")) {
    out.rekey_period_ns = *seconds * kNsPerSecond;
  }

  if (!ok) return std::nullopt;
  return out;
}

void Reader::read_peers(const toml::node& peers, DaemonConfig& config) {
  const toml::array* array = peers.as_array();
  if (!array || !array->is_array_of_tables()) {
    error(peers.source(), "peer",
          fmt::format("expected [[peer]] tables, found {}; start each peer with a [[peer]] line",
                      array ? "an array that is not all tables" : type_name(peers)));
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    if (auto peer = read_peer(*array->get(i)->as_table(), i, config.node.self)) {
      config.node.peers.push_back(std::move(*peer));
    }
  }
}

// [filter]: each rule's syntax is checked here, with its line; the peer
// names it uses are checked by resolve_filter once the peers are known.
const toml::table* Reader::section(const toml::node& node, std::string_view name) {
  const toml::table* table = node.as_table();
  if (!table) {
    error(node.source(), std::string(name), fmt::format("expected a table [{}], found {}", name, type_name(node)));
  }
  return table;
}

void Reader::read_filter(const toml::node& node, DaemonConfig& config) {
  const toml::table* filter = section(node, "filter");
  if (!filter) return;
  check_keys(*filter, "filter.", kFilterKeys);
  if (auto max = get_integer(*filter, "max_connections", "filter.max_connections", 64, kMaxConnectionsLimit,
                             " connections")) {
    config.node.filter.max_connections = static_cast<size_t>(*max);
  }
  const auto any_name = [](std::string_view) { return std::optional<std::vector<uint32_t>>(std::vector<uint32_t>{0}); };
  size_t index = 0;
  get_string_array(*filter, "rules", "filter.rules", false, {}, [&](std::string text, const toml::source_region& where) {
    const std::string field = fmt::format("filter.rules[{}]", index++);
    if (auto rule = filter::parse_rule(text, any_name); !rule) {
      error(where, field, rule.error() + "; see docs/gateways.md, \"Rules\"");
      return;
    }
    config.local_rules.push_back(DaemonConfig::LocalRule{std::move(text), where.begin.line, where.begin.column});
  });
}

// [open]: each entry's words are checked here, with its line; what needs
// the key set and the running daemon (LANs, protected sources) is checked
// when the policy is built (open_policy.hpp).
template <typename T, typename Parse>
void Reader::read_open_list(const toml::table& open, std::string_view key, Parse parse,
                            std::vector<OpenEntry<T>>& out) {
  size_t index = 0;
  const std::string field = fmt::format("open.{}", key);
  get_string_array(open, key, field, false, {}, [&](std::string text, const toml::source_region& where) {
    auto parsed = parse(text);
    if (!parsed) {
      error(where, fmt::format("{}[{}]", field, index++), parsed.error() + "; see docs/firewall.md");
      return;
    }
    ++index;
    out.push_back(OpenEntry<T>{std::move(parsed.value()), std::move(text), where.begin.line, where.begin.column});
  });
}

void Reader::read_open(const toml::node& node, DaemonConfig& config) {
  const toml::table* open = section(node, "open");
  if (!open) return;
  check_keys(*open, "open.", kOpenKeys);
  OpenConfig& out = config.open.emplace();
  read_open_list<os::OpenRule>(*open, "rules", parse_open_rule, out.rules);
  read_open_list<os::Lan>(*open, "lans", parse_lan, out.lans);
  read_open_list<os::SourceNat>(*open, "snat", parse_source_nat, out.snat);
  read_open_list<os::PortForward>(*open, "forward_ports", parse_port_forward, out.forward_ports);
}

// [metrics] (docs/configuration.md, "[metrics]"): an address and port, as a
// peer's endpoint is written, so that "[::1]:9462" is unambiguous. Host
// names are not resolved, and port 0 would bind a port nobody can scrape.
void Reader::read_metrics(const toml::node& node, DaemonConfig& config) {
  const toml::table* metrics = section(node, "metrics");
  if (!metrics) return;
  check_keys(*metrics, "metrics.", kMetricsKeys);
  const std::optional<bool> optional = get_boolean(*metrics, "optional", "metrics.optional");
  const std::optional<std::string> text = get_string(*metrics, "listen", "metrics.listen");
  if (!text) return;
  const auto endpoint = Endpoint::parse(*text);
  if (!endpoint || endpoint->port == 0) {
    error(metrics->get("listen")->source(), "metrics.listen",
          fmt::format("\"{}\" is not an address and port; write e.g. \"127.0.0.1:9462\" or \"[::1]:9462\" (host "
                      "names are not resolved; the port is 1 to 65535)",
                      *text));
    return;
  }
  config.metrics = MetricsConfig{*endpoint, optional.value_or(false)};
}

ConfigResult Reader::read(const toml::table& root) {
  DaemonConfig config;
  config.path = path_;
  check_keys(root, "", kTopKeys);

  const toml::node* host = root.get("host");
  if (!host) {
    errors_.push_back(ConfigError{path_, 0, 0, "host",
                                  "no [host] table; add one with at least id = \"0xNNNNHHHH\" (manual mode) or "
                                  "keyset = PATH (managed mode)"});
  } else if (!host->is_table()) {
    error(host->source(), "host", fmt::format("expected a [host] table, found {}", type_name(*host)));
  } else {
    read_host(*host->as_table(), config);
  }

  if (const toml::node* filter = root.get("filter")) read_filter(*filter, config);
  if (const toml::node* open = root.get("open")) read_open(*open, config);
  if (const toml::node* metrics = root.get("metrics")) read_metrics(*metrics, config);
  if (const toml::node* ipsec = root.get("ipsec")) read_ipsec(*ipsec, config);

  const toml::node* peers = root.get("peer");
  if (managed_) {
    if (peers) refuse_peers_in_managed_mode(*peers);
  } else if (!peers) {
    errors_.push_back(ConfigError{path_, 0, 0, "peer",
                                  "no [[peer]] tables; add one per link with id, key_file and allowed_prefixes"});
  } else {
    read_peers(*peers, config);
    for (PeerConfig& p : config.node.peers) {
      if (p.rekey_period_ns == kUnsetRekeyPeriod) p.rekey_period_ns = config.rekey_period_ns;
    }
    const toml::array* array = peers->as_array();
    if (array && array->empty()) {
      error(peers->source(), "peer", "no peers; add one [[peer]] table per link");
    }
  }

  // Manual mode knows its peers now; managed mode resolves after unlocking.
  if (errors_.empty() && !managed_) {
    if (auto resolved = resolve_filter(config); !resolved) errors_.push_back(resolved.error());
  }
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  if (!errors_.empty()) return std::move(errors_);
  return config;
}

}  // namespace config_detail

using config_detail::Reader;

cordon::Result<Ok, ConfigError> resolve_filter(DaemonConfig& config) {
  const auto resolve = [&](std::string_view name) -> std::optional<std::vector<uint32_t>> {
    for (const PeerConfig& peer : config.node.peers) {
      if (peer.name == name) return std::vector<uint32_t>{peer.id.value};
    }
    if (const auto id = HostId::parse(name)) {
      for (const PeerConfig& peer : config.node.peers) {
        if (peer.id == *id) return std::vector<uint32_t>{id->value};
      }
    }
    return std::nullopt;
  };
  FilterConfig& out = config.node.filter;
  out.rules.clear();
  out.origins.clear();
  // Central rules name peers by host ID; one naming a host this host is not
  // linked with simply never matches it.
  const auto by_id = [](std::string_view name) -> std::optional<std::vector<uint32_t>> {
    if (const auto id = HostId::parse(name)) return std::vector<uint32_t>{id->value};
    return std::nullopt;
  };
  for (const auto& central : config.central_rules) {
    auto rule = filter::parse_rule(central.text, by_id);
    if (!rule) {
      return cordon::fail(ConfigError{config.keyset.value_or(config.path), 0, 0,
                                      fmt::format("filter rule {}", central.number),
                                      rule.error() + "; the administrator's rule cannot be applied: ask for a "
                                                     "corrected update"});
    }
    out.rules.push_back(std::move(rule.value()));
    out.origins.push_back(fmt::format("central {}", central.number));
  }
  for (size_t i = 0; i < config.local_rules.size(); ++i) {
    const auto& local = config.local_rules[i];
    auto rule = filter::parse_rule(local.text, resolve);
    if (!rule) {
      return cordon::fail(ConfigError{config.path, local.line, local.column, fmt::format("filter.rules[{}]", i),
                                      rule.error() + "; name a peer of this host by its name or host ID"});
    }
    out.rules.push_back(std::move(rule.value()));
    out.origins.emplace_back("local");
  }
  return cordon::Ok{};
}

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

ConfigResult parse_config(const std::string& text, const std::string& path) {
  // toml++ reports syntax errors by exception. This is the configuration
  // path, not the data path; the exception is caught here and never leaves
  // the parser.
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return std::vector{
        ConfigError{path, where.line, where.column, "", fmt::format("{}; fix the TOML syntax", e.description())}};
  }
  return Reader(path).read(root);
}

cordon::Result<std::string, ConfigError> read_config_text(const std::string& path, const ReadHints& hints) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    return cordon::fail(ConfigError{path, 0, 0, "", std::string("is not a regular file; ") + hints.not_regular});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const bool exists = std::filesystem::exists(path, ec);
    return cordon::fail(ConfigError{path, 0, 0, "",
                                    exists ? std::string("cannot be read; ") + hints.unreadable
                                           : std::string("does not exist; ") + hints.missing});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return cordon::fail(ConfigError{path, 0, 0, "", "could not be read to the end; check the file"});
  return text.str();
}

ConfigResult load_config(const std::string& path) {
  auto text = read_config_text(path, ReadHints{"give -c a TOML file", "check its permissions (cordon up runs as root)",
                                               "check the path given to -c"});
  if (!text) return std::vector{text.error()};
  return parse_config(*text, path);
}

std::string counter_file_path(const DaemonConfig& config) {
  return (std::filesystem::path(config.state_dir) / (config.node.self.to_string() + ".counter")).string();
}

std::string legacy_counter_file_path(const DaemonConfig& config) {
  return (std::filesystem::path(config.state_dir) / (config.interface + ".counter")).string();
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace cordon::daemon
