#include "daemon/counter_store.hpp"

#include <cerrno>
#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

constexpr std::string_view kMagic = "cordon-counter-floor v1 ";
constexpr size_t kMaxFileSize = 128;  // the line is at most 44 bytes

}  // namespace

std::string format_counter_floor(uint64_t floor) { return fmt::format("{}{}\n", kMagic, floor); }

std::optional<uint64_t> parse_counter_floor(std::string_view text) {
  if (!text.starts_with(kMagic) || !text.ends_with('\n')) return std::nullopt;
  const std::string_view digits = text.substr(kMagic.size(), text.size() - kMagic.size() - 1);
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

CounterLoad CounterStore::load() const {
  auto text = os::read_file(path_, kMaxFileSize);
  if (!text) {
    if (text.error().err == ENOENT) return CounterLoad{0, {}, true};  // first start
    return CounterLoad{std::nullopt, fmt::format("cannot read the counter floor: {}; check that {} is readable by "
                                                 "root",
                                                 text.error().message(), path_)};
  }
  if (auto floor = parse_counter_floor(text.value())) return CounterLoad{*floor, {}};
  return CounterLoad{
      std::nullopt,
      fmt::format("{} is corrupt: it must hold one line \"{}N\". Without it Cordon cannot prove that no nonce "
                  "repeats (docs/protocol.md, \"Nonce uniqueness\"). Give every link of this host new keys "
                  "(`cordon genkey` on both ends), then remove the file; an older copy is not safe either",
                  path_, kMagic)};
}

std::optional<std::string> CounterStore::store(uint64_t floor) const {
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  if (!dir.empty()) {
    if (auto made = os::ensure_dir(dir, 0700); !made) {
      return fmt::format("cannot create the state directory: {}", made.error().message());
    }
  }
  if (auto written = os::write_file_atomic(path_, format_counter_floor(floor), 0600); !written) {
    return fmt::format("cannot store the counter floor: {}", written.error().message());
  }
  return std::nullopt;
}

}  // namespace cordon::daemon
