// The TOML reader behind config.hpp, shared by the files that read its
// tables: config.cpp ([host], [[peer]], [filter], [open], [metrics]) and
// ipsec_config.cpp ([ipsec]). Not for use outside the config parser.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "daemon/config.hpp"

namespace cordon::daemon::config_detail {

// "a table", "a string", ...: what a wrong value is, for messages.
const char* type_name(const toml::node& node);
// "10.77.0.1/24": an address and a prefix length, host bits kept.
std::optional<Prefix> parse_cidr(std::string_view text);
// The prefix with its host bits cleared.
Prefix masked(const Prefix& p);
std::string prefix_text(const Prefix& p);

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {
    dir_ = std::filesystem::path(path_).parent_path();
  }

  ConfigResult read(const toml::table& root);

 private:
  // Records an error at `region` (the offending value, or the table that
  // lacks a key).
  void error(const toml::source_region& region, std::string field, std::string message) {
    errors_.push_back(ConfigError{path_, region.begin.line, region.begin.column, std::move(field), std::move(message)});
  }

  void check_keys(const toml::table& table, std::string_view prefix, std::span<const std::string_view> known);

  // Typed getters. Each returns nullptr/nullopt when the key is absent (no
  // error unless `required`) or has the wrong type (error recorded).
  const toml::node* find(const toml::table& table, std::string_view key, const std::string& field, bool required,
                         std::string_view missing_hint);
  std::optional<std::string> get_string(const toml::table& table, std::string_view key, const std::string& field,
                                        bool required = false, std::string_view missing_hint = {});
  std::optional<int64_t> get_integer(const toml::table& table, std::string_view key, const std::string& field,
                                     int64_t min, int64_t max, std::string_view unit);
  std::optional<bool> get_boolean(const toml::table& table, std::string_view key, const std::string& field);
  // An array of strings; each string is handed to `each` with its region.
  template <typename F>
  bool get_string_array(const toml::table& table, std::string_view key, const std::string& field, bool required,
                        std::string_view missing_hint, F each);

  std::string resolve(const std::string& path) const {
    if (path.empty() || path.front() == '/') return path;
    return (dir_ / path).lexically_normal().string();
  }

  void read_host(const toml::table& host, DaemonConfig& config);
  void read_filter(const toml::node& filter, DaemonConfig& config);
  void read_open(const toml::node& open, DaemonConfig& config);
  void read_metrics(const toml::node& metrics, DaemonConfig& config);
  // [ipsec] (ipsec_config.cpp; docs/ipsec.md, "Configuration").
  void read_ipsec(const toml::node& ipsec, DaemonConfig& config);
  void read_ipsec_pools(const toml::node& pools, ipsec::GatewayConfig& gateway);
  void read_ipsec_connection(const std::string& name, const toml::node& node, ipsec::GatewayConfig& gateway);
  void read_ipsec_auth(const toml::table& conn, std::string_view side, const std::string& field,
                       ipsec::AuthConfig& out, bool local);
  void read_ipsec_child(const std::string& name, const toml::node& node, const std::string& field,
                        ipsec::ConnectionConfig& conn);
  void read_ipsec_manual(const toml::node& sas, ipsec::GatewayConfig& gateway);
  std::vector<ipsec::TrafficSelector> read_selectors(const toml::table& table, std::string_view key,
                                                     const std::string& field);
  std::vector<ipsec::ProposalSpec> read_proposals(const toml::table& table, std::string_view key,
                                                  const std::string& field, ipsec::ProtocolId protocol);
  std::vector<IpAddress> read_addresses(const toml::table& table, std::string_view key, const std::string& field);
  std::optional<crypto::SecretBytes> read_psk(const std::string& path, const toml::source_region& where,
                                              const std::string& field);
  // The node as the table [name], or nullptr with the error recorded.
  const toml::table* section(const toml::node& node, std::string_view name);
  template <typename T, typename Parse>
  void read_open_list(const toml::table& open, std::string_view key, Parse parse, std::vector<OpenEntry<T>>& out);
  void parse_mesh_timers(const toml::table& host, DaemonConfig& config);
  void read_managed(const toml::table& host, DaemonConfig& config);
  void refuse_peers_in_managed_mode(const toml::node& peers);
  void read_peers(const toml::node& peers, DaemonConfig& config);
  std::optional<PeerConfig> read_peer(const toml::table& peer, size_t index, HostId self);

  std::string path_;
  std::filesystem::path dir_;
  std::vector<ConfigError> errors_;
  // [host] has a `keyset` key: managed mode, even if its value is bad (so
  // that a typo there does not also bring manual mode's "id missing").
  bool managed_ = false;

  struct SeenPeer {
    uint32_t line;
  };
  std::map<uint32_t, SeenPeer> peer_ids_;                  // host ID -> where first defined
  std::map<std::string, std::pair<std::string, uint32_t>> prefix_owner_;  // prefix -> (peer field, line)
};

template <typename F>
inline bool Reader::get_string_array(const toml::table& table, std::string_view key, const std::string& field,
                              bool required, std::string_view missing_hint, F each) {
  const toml::node* node = find(table, key, field, required, missing_hint);
  if (!node) return false;
  const toml::array* array = node->as_array();
  if (!array) {
    error(node->source(), field,
          fmt::format("expected an array of strings, found {}; write [\"...\", \"...\"]", type_name(*node)));
    return false;
  }
  for (const toml::node& item : *array) {
    if (!item.is_string()) {
      error(item.source(), field, fmt::format("expected a string, found {}; put each entry in double quotes",
                                              type_name(item)));
      continue;
    }
    each(std::string(item.as_string()->get()), item.source());
  }
  return true;
}

}  // namespace cordon::daemon::config_detail
