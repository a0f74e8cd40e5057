// The address book a key set and an update package carry: the hosts this
// host is linked with: ID, name, role, tunnel addresses, endpoints,
// coordinators and tunneled subnets (docs/administration.md, "Key sets").
// Entry 0 is the host itself.
//
// Encoding (big-endian; all inside the encrypted body, keyset.hpp):
//
//   address book = entry count u16 | entry * count
//
//   entry:
//   +-----------+-------+--------------+------+
//   | host id 4 | len 1 | name (len)   | role |   role 1 = client, 2 = coordinator
//   +-----------+-------+--------------+------+
//   | v4: present 1 | address 4  | prefix len 1 |   address/len of the tunnel
//   | v6: present 1 | address 16 | prefix len 1 |   (absent: present 0, rest zero)
//   +---------------+------------+--------------+
//   | endpoint count 1 | (family 1 (4|6) | address 4|16 | port 2) * count
//   +------------------+
//   | registry 4 | rendezvous 4 | courier 4 |   host IDs, 0 = none
//   +------------+------------+-----------+
//   | subnet count 1 | (family 1 (4|6) | address 4|16 | prefix len 1) * count
//   +----------------+
//
// Decoding refuses (names the entry and field): a host ID with network or
// host number 0, a duplicate host ID, an empty or too long name, an unknown
// role, a present flag other than 0/1, an absent tunnel address with
// non-zero bytes, an unknown family, a prefix length too long for its
// family, a subnet with bits set past its length, port 0, a coordinator ID
// with network or host number 0 (other than 0 itself, "none"), an empty
// book (entry 0 must be this host).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::keys {

enum class Role : uint8_t { kClient = 1, kCoordinator = 2 };
std::string_view role_name(Role role);  // "client", "coordinator"
std::optional<Role> parse_role(std::string_view name);

constexpr size_t kMaxHostNameSize = 64;  // bytes of UTF-8, at least 1
constexpr size_t kMaxEndpoints = 255;
constexpr size_t kMaxSubnets = 255;
constexpr size_t kMaxEntries = 65535;

struct AddressBookEntry {
  HostId id;
  std::string name;
  Role role = Role::kClient;
  // The host's tunnel address with the network prefix's length, e.g.
  // 10.77.0.5/16 (host bits are kept: it is an address, not a network).
  std::optional<Prefix> tunnel_v4;
  std::optional<Prefix> tunnel_v6;
  std::vector<Endpoint> endpoints;  // underlay addresses (coordinators, fixed hosts)
  HostId registry;                  // coordinators serving this host; 0 = none
  HostId rendezvous;
  HostId courier;
  std::vector<Prefix> subnets;  // tunneled subnets (gateways); host bits zero
  friend bool operator==(const AddressBookEntry&, const AddressBookEntry&) = default;
};

struct AddressBook {
  std::vector<AddressBookEntry> entries;  // entries[0] is this host
  const AddressBookEntry* self() const { return entries.empty() ? nullptr : &entries.front(); }
  const AddressBookEntry* find(HostId id) const;
  friend bool operator==(const AddressBook&, const AddressBook&) = default;
};

// Success if `book` can be encoded and would decode to itself (the rules
// above); otherwise a message naming the entry and field, e.g.
// "address book entry 3 (0x0001000c): name is 70 bytes; at most 64".
// An empty book is refused: entry 0 must be this host.
Status<std::string> check_address_book(const AddressBook& book);

// A network prefix as the book encodes a tunneled subnet:
// `family 1 (4|6) | address 4|16 | prefix len 1`. is_network_prefix: a
// canonical address, a length within its family, no bit set past it.
bool is_network_prefix(const Prefix& p);
void write_network_prefix(wire::ByteWriter& out, const Prefix& p);
// nullopt when short, of an unknown family, or not a network prefix
// (in.failed() tells truncation apart).
std::optional<Prefix> read_network_prefix(wire::ByteReader& in);

// Appends the encoding. Precondition: check_address_book(book) succeeds.
void write_address_book(wire::ByteWriter& out, const AddressBook& book);

// Reads one address book at the reader's position: success, or where the
// encoding is short or bad.
wire::ParseStatus read_address_book(wire::ByteReader& in, AddressBook& out);

}  // namespace cordon::keys
