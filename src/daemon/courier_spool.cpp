#include "daemon/courier_spool.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "core/courier/item.hpp"
#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

constexpr std::string_view kSuffix = ".item";
// The largest spool file: the largest item and the magic.
constexpr size_t kMaxSpoolFile = kSpoolMagic.size() + courier::kItemHeaderSize + courier::kMaxItemPayload;

std::optional<uint64_t> id_of(const std::string& name) {
  if (name.size() != 16 + kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  uint64_t id = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    const int digit = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
    if (digit < 0) return std::nullopt;
    id = id << 4 | static_cast<uint64_t>(digit);
  }
  return id;
}

}  // namespace

std::vector<std::byte> spool_file_bytes(std::span<const std::byte> encoded_item) {
  std::vector<std::byte> out;
  out.reserve(kSpoolMagic.size() + encoded_item.size());
  for (char c : kSpoolMagic) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), encoded_item.begin(), encoded_item.end());
  return out;
}

cordon::Result<std::vector<std::byte>, std::string> parse_spool_file(std::span<const std::byte> file) {
  if (file.size() < kSpoolMagic.size() ||
      !std::equal(kSpoolMagic.begin(), kSpoolMagic.end(), file.begin(),
                  [](char c, std::byte b) { return static_cast<std::byte>(c) == b; })) {
    return cordon::fail(std::string("not a spool file (no CRDNSPL1 magic)"));
  }
  const auto encoded = file.subspan(kSpoolMagic.size());
  auto item = courier::parse_item(encoded);
  if (!item) return cordon::fail("the item does not parse: " + std::string(courier::item_error_name(item.error())));
  return std::vector<std::byte>(encoded.begin(), encoded.end());
}

cordon::Result<CourierSpool, std::string> CourierSpool::open(std::string dir) {
  if (auto made = os::ensure_dir(dir, 0700); !made) {
    return cordon::fail(fmt::format("courier spool {}: {}", dir, made.error().message()));
  }
  return CourierSpool(std::move(dir));
}

std::string CourierSpool::path_of(uint64_t id) const { return fmt::format("{}/{:016x}{}", dir_, id, kSuffix); }

CourierSpool::Loaded CourierSpool::load() const {
  Loaded out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const auto id = id_of(name);
    if (!id) continue;  // temporary files of an interrupted write, *.bad, anything else
    const std::string path = entry.path().string();
    auto text = os::read_file(path, kMaxSpoolFile);
    std::string problem;
    if (!text) {
      problem = text.error().message();
    } else {
      auto parsed = parse_spool_file(std::as_bytes(std::span(text.value())));
      if (parsed) {
        out.items.emplace_back(*id, std::move(parsed.value()));
        continue;
      }
      problem = parsed.error();
    }
    const std::string bad = path + ".bad";
    std::filesystem::rename(path, bad, ec);
    out.problems.push_back(fmt::format("courier spool: {} set aside as {}: {}", path, bad, problem));
  }
  if (ec) out.problems.push_back(fmt::format("courier spool {}: {}", dir_, ec.message()));
  std::sort(out.items.begin(), out.items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

bool CourierSpool::store(uint64_t id, std::span<const std::byte> encoded, std::string& error) const {
  auto written = os::write_file_atomic(path_of(id), spool_file_bytes(encoded), 0600);
  if (written) return true;
  error = written.error().message();
  return false;
}

void CourierSpool::erase(uint64_t id) const {
  // Unlinked now; the directory's flush comes with the next write. A crash
  // before it brings the item back, and the hops drop it again as a
  // duplicate or a version already confirmed.
  ::unlink(path_of(id).c_str());
}

}  // namespace cordon::daemon
