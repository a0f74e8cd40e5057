// Address book encoding (address_book.hpp).
#include "core/keys/address_book.hpp"

#include <set>
#include <string>

namespace cordon::keys {
namespace {

bool valid_host(HostId id) { return id.network() != 0 && id.host() != 0; }
bool valid_coordinator(HostId id) { return id.value == 0 || valid_host(id); }

uint8_t max_length(const IpAddress& a) { return a.is_v4() ? 32 : 128; }

// True if no bit past `length` is set (a network prefix, not an address).
bool host_bits_zero(const Prefix& p) {
  for (size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
    if ((p.address.bytes[bit / 8] >> (7 - bit % 8)) & 1) return false;
  }
  return true;
}

// IPv4 addresses keep bytes 4..15 zero (types.hpp: equality compares all 16).
bool canonical(const IpAddress& a) {
  if (a.family != IpAddress::Family::kV4 && a.family != IpAddress::Family::kV6) return false;
  if (a.is_v4()) {
    for (size_t i = 4; i < 16; ++i) {
      if (a.bytes[i] != 0) return false;
    }
  }
  return true;
}

std::string entry_label(size_t index, HostId id) {
  return "address book entry " + std::to_string(index) + " (" + id.to_string() + ")";
}

Status<std::string> check_entry(const AddressBookEntry& e, size_t index) {
  const std::string where = entry_label(index, e.id);
  if (!valid_host(e.id)) return where + ": host ID has network or host number 0";
  if (e.name.empty() || e.name.size() > kMaxHostNameSize) {
    return where + ": name is " + std::to_string(e.name.size()) + " bytes; it must be 1 to " +
           std::to_string(kMaxHostNameSize);
  }
  if (e.role != Role::kClient && e.role != Role::kCoordinator) return where + ": unknown role";
  if (e.tunnel_v4 && (!e.tunnel_v4->address.is_v4() || !canonical(e.tunnel_v4->address) || e.tunnel_v4->length > 32)) {
    return where + ": tunnel IPv4 address is not an IPv4 address/length";
  }
  if (e.tunnel_v6 && (e.tunnel_v6->address.family != IpAddress::Family::kV6 || e.tunnel_v6->length > 128)) {
    return where + ": tunnel IPv6 address is not an IPv6 address/length";
  }
  if (e.endpoints.size() > kMaxEndpoints) return where + ": more than 255 endpoints";
  for (const Endpoint& ep : e.endpoints) {
    if (!canonical(ep.address) || ep.port == 0) return where + ": endpoint " + ep.to_string() + " is not valid";
  }
  if (!valid_coordinator(e.registry) || !valid_coordinator(e.rendezvous) || !valid_coordinator(e.courier)) {
    return where + ": a coordinator ID has network or host number 0";
  }
  if (e.subnets.size() > kMaxSubnets) return where + ": more than 255 tunneled subnets";
  for (const Prefix& p : e.subnets) {
    if (!is_network_prefix(p)) {
      return where + ": tunneled subnet " + p.to_string() + " is not a network prefix";
    }
  }
  return Ok{};
}

void write_address(wire::ByteWriter& out, const IpAddress& a) {
  out.u8(static_cast<uint8_t>(a.family));
  out.bytes(std::as_bytes(std::span(a.bytes).first(a.size())));
}

void write_tunnel(wire::ByteWriter& out, const std::optional<Prefix>& p, size_t size) {
  out.u8(p ? 1 : 0);
  for (size_t i = 0; i < size; ++i) out.u8(p ? p->address.bytes[i] : 0);
  out.u8(p ? p->length : 0);
}

// ---- decoding -----------------------------------------------------------

// Reads `family u8 | address 4|16`.
std::optional<IpAddress> read_address(wire::ByteReader& in) {
  const auto family = in.u8();
  if (!family) return std::nullopt;
  IpAddress a;
  if (*family == 4) {
    a.family = IpAddress::Family::kV4;
  } else if (*family == 6) {
    a.family = IpAddress::Family::kV6;
  } else {
    return std::nullopt;
  }
  const auto b = in.bytes(a.size());
  if (!b) return std::nullopt;
  for (size_t i = 0; i < b->size(); ++i) a.bytes[i] = static_cast<uint8_t>((*b)[i]);
  return a;
}

// Reads `present u8 | address size | length u8`: the prefix, nullopt when
// absent, or the error of a bad or short field.
Result<std::optional<Prefix>, wire::ParseError> read_tunnel(wire::ByteReader& in, IpAddress::Family family,
                                                            const std::string& field) {
  const size_t size = family == IpAddress::Family::kV4 ? 4 : 16;
  const auto present = in.u8();
  const auto b = in.bytes(size);
  const auto length = in.u8();
  if (!present || !b || !length) return in.truncated(field);
  IpAddress a;
  a.family = family;
  bool zero = true;
  for (size_t i = 0; i < size; ++i) {
    a.bytes[i] = static_cast<uint8_t>((*b)[i]);
    zero = zero && a.bytes[i] == 0;
  }
  if (*present == 0 && zero && *length == 0) return std::optional<Prefix>{};
  if (*present != 1 || *length > size * 8) return in.bad_field(field);
  return std::optional<Prefix>{Prefix{a, *length}};
}

class EntryReader {
 public:
  EntryReader(wire::ByteReader& in, size_t index) : in_(in), index_(index) {}

  wire::ParseStatus read(AddressBookEntry& e) {
    where_ = "address book entry " + std::to_string(index_);
    const auto id = in_.u32();
    if (!id) return in_.truncated(where_ + ": host ID");
    e.id = HostId{*id};
    if (!valid_host(e.id)) return in_.bad_field(where_ + ": host ID " + e.id.to_string());
    where_ = entry_label(index_, e.id);
    if (auto name = read_name(e); !name) return name;
    const auto role = in_.u8();
    if (!role) return in_.truncated(where_ + ": role");
    if (*role != 1 && *role != 2) return in_.bad_field(where_ + ": role " + std::to_string(*role));
    e.role = static_cast<Role>(*role);
    auto v4 = read_tunnel(in_, IpAddress::Family::kV4, where_ + ": tunnel IPv4 address");
    if (!v4) return v4.error();
    e.tunnel_v4 = *v4;
    auto v6 = read_tunnel(in_, IpAddress::Family::kV6, where_ + ": tunnel IPv6 address");
    if (!v6) return v6.error();
    e.tunnel_v6 = *v6;
    if (auto endpoints = read_endpoints(e); !endpoints) return endpoints;
    if (auto coordinators = read_coordinators(e); !coordinators) return coordinators;
    return read_subnets(e);
  }

 private:
  wire::ParseStatus read_name(AddressBookEntry& e) {
    const auto len = in_.u8();
    if (!len) return in_.truncated(where_ + ": name length");
    if (*len == 0 || *len > kMaxHostNameSize) return in_.bad_field(where_ + ": name length " + std::to_string(*len));
    const auto name = in_.bytes(*len);
    if (!name) return in_.truncated(where_ + ": name");
    e.name.assign(reinterpret_cast<const char*>(name->data()), name->size());
    return Ok{};
  }

  // A family byte other than 4 or 6 is a bad field; a short read truncation.
  wire::ParseError address_error(const std::string& field) {
    return in_.failed() ? in_.truncated(field) : in_.bad_field(field);
  }

  wire::ParseStatus read_endpoints(AddressBookEntry& e) {
    const auto count = in_.u8();
    if (!count) return in_.truncated(where_ + ": endpoint count");
    for (size_t i = 0; i < *count; ++i) {
      const std::string field = where_ + ": endpoint " + std::to_string(i);
      const auto a = read_address(in_);
      if (!a) return address_error(field);
      const auto port = in_.u16();
      if (!port) return in_.truncated(field);
      if (*port == 0) return in_.bad_field(field + ": port 0");
      e.endpoints.push_back(Endpoint{*a, *port});
    }
    return Ok{};
  }

  wire::ParseStatus read_coordinators(AddressBookEntry& e) {
    const auto registry = in_.u32();
    const auto rendezvous = in_.u32();
    const auto courier = in_.u32();
    if (!registry || !rendezvous || !courier) return in_.truncated(where_ + ": coordinators");
    e.registry = HostId{*registry};
    e.rendezvous = HostId{*rendezvous};
    e.courier = HostId{*courier};
    if (!valid_coordinator(e.registry) || !valid_coordinator(e.rendezvous) || !valid_coordinator(e.courier)) {
      return in_.bad_field(where_ + ": coordinator ID");
    }
    return Ok{};
  }

  wire::ParseStatus read_subnets(AddressBookEntry& e) {
    const auto count = in_.u8();
    if (!count) return in_.truncated(where_ + ": subnet count");
    for (size_t i = 0; i < *count; ++i) {
      const auto p = read_network_prefix(in_);
      if (!p) return address_error(where_ + ": tunneled subnet " + std::to_string(i));
      e.subnets.push_back(*p);
    }
    return Ok{};
  }

  wire::ByteReader& in_;
  size_t index_;
  std::string where_;
};

}  // namespace

bool is_network_prefix(const Prefix& p) {
  return canonical(p.address) && p.length <= max_length(p.address) && host_bits_zero(p);
}

void write_network_prefix(wire::ByteWriter& out, const Prefix& p) {
  write_address(out, p.address);
  out.u8(p.length);
}

std::optional<Prefix> read_network_prefix(wire::ByteReader& in) {
  const auto a = read_address(in);
  if (!a) return std::nullopt;
  const auto length = in.u8();
  if (!length) return std::nullopt;
  const Prefix p{*a, *length};
  if (!is_network_prefix(p)) return std::nullopt;
  return p;
}

std::string_view role_name(Role role) { return role == Role::kCoordinator ? "coordinator" : "client"; }

std::optional<Role> parse_role(std::string_view name) {
  if (name == "client") return Role::kClient;
  if (name == "coordinator") return Role::kCoordinator;
  return std::nullopt;
}

const AddressBookEntry* AddressBook::find(HostId id) const {
  for (const auto& e : entries) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

Status<std::string> check_address_book(const AddressBook& book) {
  if (book.entries.empty()) return cordon::fail("the address book is empty; entry 0 must be this host");
  if (book.entries.size() > kMaxEntries) return cordon::fail("the address book has more than 65535 entries");
  std::set<uint32_t> seen;
  for (size_t i = 0; i < book.entries.size(); ++i) {
    if (auto entry = check_entry(book.entries[i], i); !entry) return entry;
    if (!seen.insert(book.entries[i].id.value).second) {
      return entry_label(i, book.entries[i].id) + ": host ID appears twice";
    }
  }
  return Ok{};
}

void write_address_book(wire::ByteWriter& out, const AddressBook& book) {
  out.u16(static_cast<uint16_t>(book.entries.size()));
  for (const auto& e : book.entries) {
    out.u32(e.id.value);
    out.u8(static_cast<uint8_t>(e.name.size()));
    out.text(e.name);
    out.u8(static_cast<uint8_t>(e.role));
    write_tunnel(out, e.tunnel_v4, 4);
    write_tunnel(out, e.tunnel_v6, 16);
    out.u8(static_cast<uint8_t>(e.endpoints.size()));
    for (const auto& ep : e.endpoints) {
      write_address(out, ep.address);
      out.u16(ep.port);
    }
    out.u32(e.registry.value);
    out.u32(e.rendezvous.value);
    out.u32(e.courier.value);
    out.u8(static_cast<uint8_t>(e.subnets.size()));
    for (const auto& p : e.subnets) write_network_prefix(out, p);
  }
}

wire::ParseStatus read_address_book(wire::ByteReader& in, AddressBook& out) {
  out.entries.clear();
  const auto count = in.u16();
  if (!count) return in.truncated("address book entry count");
  if (*count == 0) return in.bad_field("address book entry count 0 (entry 0 must be this host)");
  std::set<uint32_t> seen;
  for (size_t i = 0; i < *count; ++i) {
    AddressBookEntry e;
    if (auto entry = EntryReader(in, i).read(e); !entry) return entry;
    if (!seen.insert(e.id.value).second) {
      return in.bad_field(entry_label(i, e.id) + ": host ID appears twice");
    }
    out.entries.push_back(std::move(e));
  }
  return Ok{};
}

}  // namespace cordon::keys
