#include "core/route/prefix_table.hpp"

#include <algorithm>

namespace cordon::route {

PrefixTable::Key PrefixTable::masked_key(const IpAddress& a, uint8_t length) {
  uint64_t hi = 0, lo = 0;
  for (size_t i = 0; i < 8; ++i) hi = (hi << 8) | a.bytes[i];
  for (size_t i = 8; i < 16; ++i) lo = (lo << 8) | a.bytes[i];
  // IPv4 lives in the first four bytes, so IPv4 lengths count from the top of hi.
  const unsigned bits = length;
  if (bits == 0) return {};
  if (bits < 64) return {hi & (~uint64_t{0} << (64 - bits)), 0};
  if (bits == 64) return {hi, 0};
  if (bits < 128) return {hi, lo & (~uint64_t{0} << (128 - bits))};
  return {hi, lo};
}

void PrefixTable::insert(const Prefix& prefix, uint32_t value) {
  auto& lv = prefix.address.is_v4() ? v4_ : v6_;
  auto it = std::find_if(lv.begin(), lv.end(), [&](const Level& l) { return l.length == prefix.length; });
  if (it == lv.end()) {
    lv.push_back(Level{prefix.length, {}});
    std::sort(lv.begin(), lv.end(), [](const Level& a, const Level& b) { return a.length > b.length; });
    it = std::find_if(lv.begin(), lv.end(), [&](const Level& l) { return l.length == prefix.length; });
  }
  IpAddress a = prefix.address;
  if (a.is_v4()) std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
  if (it->entries.insert_or_assign(masked_key(a, prefix.length), value).second) ++size_;
}

std::optional<uint32_t> PrefixTable::lookup(const IpAddress& address) const {
  IpAddress a = address;
  if (a.is_v4()) std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
  for (const Level& l : levels(address.family)) {
    auto it = l.entries.find(masked_key(a, l.length));
    if (it != l.entries.end()) return it->second;
  }
  return std::nullopt;
}

}  // namespace cordon::route
