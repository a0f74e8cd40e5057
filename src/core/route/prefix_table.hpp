// Longest-prefix match from overlay addresses to peers: which peer gets a
// packet read from the tunnel, and whether a decrypted packet's source is one
// the sending peer may use (WireGuard's "cryptokey routing" idea).
//
// One hash map per prefix length present, probed from the longest length
// down: O(number of distinct lengths) per lookup, which is small in practice
// (typically /32, /128 and a few site prefixes). Checked against a naive
// linear twin in tests/unit/prefix_table_test.cpp (docs/design.md, practice 11).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/types.hpp"

namespace cordon::route {

class PrefixTable {
 public:
  // Adds or replaces the value for a prefix (host bits are ignored).
  void insert(const Prefix& prefix, uint32_t value);
  // The value of the longest prefix containing `address`.
  std::optional<uint32_t> lookup(const IpAddress& address) const;
  size_t size() const { return size_; }

 private:
  struct Key {
    uint64_t hi = 0, lo = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<uint64_t>{}(k.hi * 0x9e3779b97f4a7c15ULL ^ k.lo); }
  };
  struct Level {
    uint8_t length = 0;
    std::unordered_map<Key, uint32_t, KeyHash> entries;
  };

  static Key masked_key(const IpAddress& a, uint8_t length);
  const std::vector<Level>& levels(IpAddress::Family f) const { return f == IpAddress::Family::kV4 ? v4_ : v6_; }

  std::vector<Level> v4_, v6_;  // sorted by length, longest first
  size_t size_ = 0;
};

}  // namespace cordon::route
