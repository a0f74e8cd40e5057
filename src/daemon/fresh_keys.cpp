#include "daemon/fresh_keys.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "daemon/counter_store.hpp"
#include "os/linux/files.hpp"
#include "os/linux/machine_id.hpp"

namespace cordon::daemon {
namespace {

constexpr std::string_view kMagic = "cordon-fresh-keys v1";
constexpr size_t kMaxFileSize = 16 * 1024 * 1024;

std::optional<FreshKeys> read_fresh(const std::string& path) {
  auto text = os::read_file(path, kMaxFileSize);
  if (!text) return std::nullopt;
  return parse_fresh_keys(text.value());
}

Status<std::string> write_fresh(const std::string& path, const FreshKeys& fresh) {
  if (auto written = os::write_file_atomic(path, format_fresh_keys(fresh), 0600); !written) {
    return fmt::format("cannot write the fresh-keys record: {}", written.error().message());
  }
  return Ok{};
}

}  // namespace

std::string fresh_keys_path(const std::string& keyset_path) { return keyset_path + ".fresh"; }

std::string format_fresh_keys(const FreshKeys& fresh) {
  std::string out = fmt::format("{}\nmachine {}\n", kMagic, machine_text(fresh.machine));
  for (const keys::KeyFingerprint& key : fresh.keys) out += fmt::format("key {}\n", fingerprint_text(key));
  return out;
}

std::optional<FreshKeys> parse_fresh_keys(std::string_view text) {
  FreshKeys out;
  size_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    ++number;
    if (number == 1) {
      if (line != kMagic) return std::nullopt;
    } else if (number == 2) {
      auto machine = line.starts_with("machine ") ? parse_machine(line.substr(8)) : std::nullopt;
      if (!machine) return std::nullopt;
      out.machine = *machine;
    } else {
      auto key = line.starts_with("key ") ? parse_fingerprint(line.substr(4)) : std::nullopt;
      if (!key) return std::nullopt;
      out.keys.push_back(*key);
    }
  }
  if (number < 2) return std::nullopt;
  return out;
}

Status<std::string> record_fresh_keys(const std::string& keyset_path, std::span<const keys::LinkKeyEntry> links,
                                      const std::optional<std::string>& machine) {
  FreshKeys fresh{machine, load_fresh_keys(keyset_path, machine)};
  for (const keys::LinkKeyEntry& link : links) {
    auto fingerprint = keys::link_key_fingerprint(link.key);
    if (!fingerprint) return fmt::format("cannot fingerprint the link key for {}", link.peer.to_string());
    if (std::find(fresh.keys.begin(), fresh.keys.end(), *fingerprint) == fresh.keys.end()) {
      fresh.keys.push_back(*fingerprint);
    }
  }
  return write_fresh(fresh_keys_path(keyset_path), fresh);
}

void note_fresh_keys(const std::string& keyset_path, std::span<const keys::LinkKeyEntry> links) {
  (void)record_fresh_keys(keyset_path, links, os::read_machine_id());
}

std::vector<keys::KeyFingerprint> load_fresh_keys(const std::string& keyset_path,
                                                  const std::optional<std::string>& machine) {
  auto fresh = read_fresh(fresh_keys_path(keyset_path));
  if (!fresh || fresh->machine != machine) return {};
  return std::move(fresh->keys);
}

std::optional<std::string> consume_fresh_keys(const std::string& keyset_path,
                                              std::span<const keys::KeyFingerprint> used) {
  if (used.empty()) return std::nullopt;
  const std::string path = fresh_keys_path(keyset_path);
  auto fresh = read_fresh(path);
  if (!fresh) return std::nullopt;
  std::erase_if(fresh->keys, [&](const keys::KeyFingerprint& key) {
    return std::find(used.begin(), used.end(), key) != used.end();
  });
  if (!fresh->keys.empty()) {
    if (auto written = write_fresh(path, *fresh); !written) return written.error();
    return std::nullopt;
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fmt::format("cannot remove {}: {}", path, std::strerror(errno));
  }
  return std::nullopt;
}

}  // namespace cordon::daemon
