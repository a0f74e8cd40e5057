#include "daemon/status_format.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>

namespace cordon::daemon {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key, const char* fallback = "?") {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

std::string number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return "?";
  return it->dump();
}

uint64_t unsigned_number(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return 0;
  return it->get<uint64_t>();
}

std::string age(const json& j, const char* key, int64_t now_unix) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return "never";
  return human_age(it->get<int64_t>(), now_unix);
}

// "auth_failure=3 replay=1", or "-" when nothing was dropped.
std::string drops(const json& j) {
  auto it = j.find("drops");
  if (it == j.end() || !it->is_object() || it->empty()) return "-";
  std::string out;
  for (const auto& [reason, count] : it->items()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", reason, count.is_number() ? count.dump() : "?");
  }
  return out;
}

std::string transfer(const json& peer, const char* bytes_key, const char* packets_key) {
  const uint64_t packets = unsigned_number(peer, packets_key);
  return fmt::format("{} ({} pkt{})", human_bytes(unsigned_number(peer, bytes_key)), packets, packets == 1 ? "" : "s");
}

// Columns padded to their widest cell; the last column is left ragged.
std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out += line + '\n';
  }
  return out;
}

}  // namespace

std::string human_bytes(uint64_t bytes) {
  constexpr std::array<const char*, 6> kUnits = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string human_age(int64_t then_unix, int64_t now_unix) {
  // Both times come from the status document; a nonsense pair must not overflow.
  int64_t seconds = 0;
  if (__builtin_sub_overflow(now_unix, then_unix, &seconds)) return "?";
  if (seconds <= 0) return "just now";  // clocks of daemon and reader may differ slightly
  if (seconds < 120) return fmt::format("{} s ago", seconds);
  if (seconds < 120 * 60) return fmt::format("{} min ago", seconds / 60);
  if (seconds < 48 * 3600) return fmt::format("{} h ago", seconds / 3600);
  return fmt::format("{} d ago", seconds / 86400);
}

std::string format_status(const json& status, int64_t now_unix) {
  std::string out = fmt::format("interface {}  host {}  listen port {}  counter floor {}\n",
                                text(status, "interface"), text(status, "host"), number(status, "listen_port"),
                                number(status, "counter_floor"));
  out += fmt::format("drops not tied to a peer: {}\n", drops(status));

  auto peers = status.find("peers");
  if (peers == status.end() || !peers->is_array() || peers->empty()) {
    out += "\nno peers\n";
    return out;
  }
  std::vector<std::vector<std::string>> rows = {
      {"PEER", "NAME", "ENDPOINT", "LAST RX", "LAST TX", "RX", "TX", "DROPS"}};
  for (const json& peer : *peers) {
    if (!peer.is_object()) continue;
    rows.push_back({text(peer, "id"), text(peer, "name", "-").empty() ? "-" : text(peer, "name", "-"),
                    text(peer, "endpoint", "(unknown)"), age(peer, "last_rx", now_unix),
                    age(peer, "last_tx", now_unix), transfer(peer, "rx_bytes", "rx_packets"),
                    transfer(peer, "tx_bytes", "tx_packets"), drops(peer)});
  }
  out += '\n' + render_table(rows);
  return out;
}

}  // namespace cordon::daemon
