// Host numbers and tunnel addresses (addressing.hpp).
#include "admin/addressing.hpp"

#include <fmt/format.h>

#include "admin/database.hpp"

namespace cordon::admin {
namespace {

constexpr uint64_t kMaxV6Offset = uint64_t{1} << 62;  // fits SQLite's signed 64-bit integers

size_t address_bits(const Prefix& p) { return p.address.is_v4() ? 32 : 128; }

int64_t lowest_free_number(Database& db);

}  // namespace

uint64_t max_offset(const Prefix& network) {
  const size_t host_bits = address_bits(network) - network.length;
  if (network.address.is_v4()) {
    if (host_bits < 2) return 0;  // /31 and /32 hold no host beside network and broadcast
    return (uint64_t{1} << host_bits) - 2;
  }
  if (host_bits < 1) return 0;
  if (host_bits >= 62) return kMaxV6Offset;
  return (uint64_t{1} << host_bits) - 1;
}

Prefix address_at(const Prefix& network, uint64_t offset) {
  Prefix out = network;
  const size_t n = network.address.size();
  // Add the offset to the address, big-endian, with carry.
  uint64_t carry = offset;
  for (size_t i = n; i-- > 0 && carry != 0;) {
    const uint64_t sum = uint64_t{out.address.bytes[i]} + (carry & 0xff);
    out.address.bytes[i] = static_cast<uint8_t>(sum & 0xff);
    carry = (carry >> 8) + (sum >> 8);
  }
  return out;
}

bool host_bits_zero(const Prefix& prefix) { return masked(prefix) == prefix; }

Prefix masked(const Prefix& prefix) {
  Prefix out = prefix;
  const size_t n = prefix.address.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t bit = i * 8;
    if (bit >= prefix.length) {
      out.address.bytes[i] = 0;
    } else if (bit + 8 > prefix.length) {
      const auto keep = static_cast<uint8_t>(0xff << (8 - (prefix.length - bit)));
      out.address.bytes[i] = static_cast<uint8_t>(out.address.bytes[i] & keep);
    }
  }
  return out;
}

uint16_t next_host_number(Database& db, uint16_t network) {
  // Slow path first, once per transaction: COUNT(*) reads every row, and
  // a batch that adds 50,000 hosts would do it 50,000 times. Within the
  // transaction, the number found is a floor (database.hpp).
  int64_t candidate = db.host_number_floor();
  if (candidate == 0) candidate = lowest_free_number(db);
  // Skip the numbers of compromised hosts (few; checked one by one), and
  // above the floor, the hosts added since.
  Statement& used =
      db.cached("SELECT 1 FROM compromised_hosts WHERE id = ?1 UNION ALL SELECT 1 FROM hosts WHERE number = ?2");
  for (; candidate <= 0xffff; ++candidate) {
    used.reset();
    used.bind(1, (int64_t{network} << 16) | candidate).bind(2, candidate);
    if (!used.step()) {
      db.set_host_number_floor(candidate);
      return static_cast<uint16_t>(candidate);
    }
  }
  throw AdminError("every host number of the network (1 to 65535) is in use or retired; remove unused hosts first");
}

namespace {

// The lowest number no host has (compromised hosts aside). Fast path: no
// gaps among the hosts (COUNT(*) == MAX(number)); it still reads every row.
int64_t lowest_free_number(Database& db) {
  Statement& st = db.cached("SELECT COUNT(*), COALESCE(MAX(number), 0) FROM hosts");
  st.step();
  const int64_t count = st.int64(0);
  const int64_t max = st.int64(1);
  st.reset();
  int64_t candidate = 1;
  if (count == max) {
    candidate = max + 1;
  } else {
    Statement scan = db.prepare("SELECT number FROM hosts ORDER BY number");
    while (scan.step()) {
      if (scan.int64(0) != candidate) break;
      ++candidate;
    }
  }
  return candidate;
}

}  // namespace

uint64_t allocate_offset(Database& db, const char* column, const Prefix& network, uint64_t preferred) {
  const uint64_t max = max_offset(network);
  const std::string probe_sql = fmt::format("SELECT 1 FROM hosts WHERE {} = ?1", column);
  Statement probe = db.prepare(probe_sql);
  if (preferred >= 1 && preferred <= max) {
    probe.bind(1, static_cast<int64_t>(preferred));
    if (!probe.step()) return preferred;
  }
  uint64_t candidate = 1;
  Statement scan = db.prepare(fmt::format("SELECT {0} FROM hosts WHERE {0} IS NOT NULL ORDER BY {0}", column));
  while (scan.step()) {
    const auto used = static_cast<uint64_t>(scan.int64(0));
    if (used < candidate) continue;
    if (used != candidate) break;
    ++candidate;
  }
  if (candidate > max) {
    throw AdminError(fmt::format("the network prefix {} has no free tunnel address left; it holds {} hosts",
                                 network.to_string(), max));
  }
  return candidate;
}

}  // namespace cordon::admin
