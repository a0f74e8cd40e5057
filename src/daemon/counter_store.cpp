#include "daemon/counter_store.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "os/linux/machine_id.hpp"

namespace cordon::daemon {
namespace {

constexpr std::string_view kMagicV1 = "cordon-counter-floor v1 ";
constexpr std::string_view kMagicV2 = "cordon-counter-floor v2";
// A coordinator with 100,000 peers writes about 100 bytes per peer.
constexpr size_t kMaxFileSize = 64 * 1024 * 1024;

std::optional<uint64_t> parse_u64(std::string_view digits) {
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

// Splits "word rest" at the first space.
std::pair<std::string_view, std::string_view> split_word(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos) return {line, {}};
  return {line.substr(0, space), line.substr(space + 1)};
}

std::optional<ReceiveFloor> parse_recv(std::string_view rest) {
  const auto [peer_text, tail] = split_word(rest);
  const auto [key_text, counter_text] = split_word(tail);
  const auto peer = HostId::parse(peer_text);
  const auto key = parse_fingerprint(key_text);
  const auto counter = parse_u64(counter_text);
  if (!peer || !key || !counter) return std::nullopt;
  return ReceiveFloor{*peer, *key, *counter};
}

// One record after the header into `file`; false if it is not one.
bool parse_record(std::string_view line, CounterFile& file) {
  const auto [word, rest] = split_word(line);
  if (word == "key") {
    const auto key = parse_fingerprint(rest);
    if (key) file.keys.push_back(*key);
    return key.has_value();
  }
  if (word == "recv") {
    const auto floor = parse_recv(rest);
    if (floor) file.receive.push_back(*floor);
    return floor.has_value();
  }
  return false;
}

CounterParse parse_v2(std::string_view text) {
  CounterFile file;
  size_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return {std::nullopt, fmt::format("line {}: no newline at the end", number + 1)};
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    ++number;
    const auto [word, rest] = split_word(line);
    bool ok = false;
    if (number == 1) {
      ok = line == kMagicV2;
    } else if (number == 2) {
      auto machine = parse_machine(rest);
      ok = word == "machine" && machine.has_value();
      if (ok) file.machine = *machine;
    } else if (number == 3) {
      auto floor = parse_u64(rest);
      ok = word == "floor" && floor.has_value();
      if (ok) file.floor = *floor;
    } else {
      ok = parse_record(line, file);
    }
    if (!ok) return {std::nullopt, fmt::format("line {}: \"{:.60}\" is not a valid record", number, line)};
  }
  if (number < 3) return {std::nullopt, fmt::format("line {}: the file ends before its floor line", number + 1)};
  return {std::move(file), {}};
}

}  // namespace

std::string fingerprint_text(const keys::KeyFingerprint& fingerprint) {
  std::string out;
  out.reserve(2 * fingerprint.size());
  for (std::byte b : fingerprint) out += fmt::format("{:02x}", static_cast<unsigned>(b));
  return out;
}

std::optional<keys::KeyFingerprint> parse_fingerprint(std::string_view text) {
  keys::KeyFingerprint out{};
  if (text.size() != 2 * out.size()) return std::nullopt;
  for (size_t i = 0; i < out.size(); ++i) {
    const std::string_view pair = text.substr(2 * i, 2);
    if (!std::all_of(pair.begin(), pair.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
      return std::nullopt;
    unsigned value = 0;
    std::from_chars(pair.data(), pair.data() + 2, value, 16);
    out[i] = static_cast<std::byte>(value);
  }
  return out;
}

std::string machine_text(const std::optional<std::string>& machine) { return machine.value_or("-"); }

std::optional<std::optional<std::string>> parse_machine(std::string_view text) {
  if (text == "-") return std::optional<std::string>{};
  if (!os::is_machine_id(text)) return std::nullopt;
  return std::optional<std::string>{std::string(text)};
}

std::string format_counter_file(const CounterFile& file) {
  std::string out = fmt::format("{}\nmachine {}\nfloor {}\n", kMagicV2, machine_text(file.machine), file.floor);
  for (const keys::KeyFingerprint& key : file.keys) out += fmt::format("key {}\n", fingerprint_text(key));
  for (const ReceiveFloor& r : file.receive) {
    out += fmt::format("recv {} {} {}\n", r.peer.to_string(), fingerprint_text(r.key), r.counter);
  }
  return out;
}

CounterParse parse_counter_file(std::string_view text) {
  if (text.starts_with(kMagicV1)) {
    if (!text.ends_with('\n')) return {std::nullopt, "line 1: no newline at the end"};
    auto floor = parse_u64(text.substr(kMagicV1.size(), text.size() - kMagicV1.size() - 1));
    if (!floor) return {std::nullopt, "line 1: not \"cordon-counter-floor v1 N\""};
    CounterFile file;
    file.version = 1;
    file.floor = *floor;
    return {std::move(file), {}};
  }
  return parse_v2(text);
}

CounterLoad CounterStore::load() const {
  CounterLoad loaded = load_from(path_);
  if (!loaded.missing || legacy_path_.empty()) return loaded;
  CounterLoad legacy = load_from(legacy_path_);
  if (legacy.missing) return loaded;
  return legacy;
}

CounterLoad CounterStore::load_from(const std::string& path) const {
  auto text = files_->read(path, kMaxFileSize);
  if (!text) {
    if (text.error().err == ENOENT) return CounterLoad{CounterFile{}, {}, true, path};  // first start
    return CounterLoad{std::nullopt,
                       fmt::format("cannot read the counter file: {}; check that {} is readable by root",
                                   text.error().message(), path),
                       false, path};
  }
  CounterParse parsed = parse_counter_file(text.value());
  if (parsed.file) return CounterLoad{std::move(parsed.file), {}, false, path};
  return CounterLoad{
      std::nullopt,
      fmt::format("{} is corrupt ({}; the format is in docs/configuration.md, \"The counter file\"). Without it "
                  "Cordon cannot prove that no nonce repeats (docs/protocol.md, \"Nonce uniqueness\"). Ask the "
                  "administrator for new keys for this host (`cordon admin keyset export` gives every link a new "
                  "key; in manual mode `cordon genkey` on both ends), then remove the file; an older copy is not "
                  "safe either",
                  path, parsed.error),
      false, path};
}

Status<std::string> CounterStore::store(const CounterFile& file) const {
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  if (!dir.empty()) {
    if (auto made = files_->ensure_dir(dir, 0700); !made) {
      return fail(fmt::format("cannot create the state directory: {}", made.error().message()));
    }
  }
  if (auto written = files_->write_atomic(path_, format_counter_file(file), 0600); !written) {
    return fail(fmt::format("cannot store the counter floor: {}", written.error().message()));
  }
  // The old name would otherwise be read again if this file went missing,
  // and it covers every key (version 1): it must not outlive the migration.
  if (!legacy_path_.empty() && !legacy_removed_) {
    if (files_->remove(legacy_path_)) legacy_removed_ = true;
  }
  return Ok{};
}

}  // namespace cordon::daemon
