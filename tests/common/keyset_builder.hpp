// Key sets and update packages for tests, built directly with the core API
// (core/keys/keyset.hpp, update_package.hpp) the way `cordon admin` builds
// them, so host-side tests do not depend on the admin database.
//
// Header-only: the unit tier and the netns tier (which links cordon_core
// and cordon_os, not cordon_testing) both include it. Keys are fixed
// patterns so that tests can check which key ended up where; salts and
// nonces come from os::random_bytes like in production.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/keys/keyset.hpp"
#include "core/keys/update_package.hpp"
#include "core/types.hpp"
#include "os/linux/random.hpp"

namespace cordon::testkit {

inline crypto::SecretBytes filled_key(uint8_t value) {
  crypto::SecretBytes key(keys::kKeySize);
  for (std::byte& b : key.mutable_view()) b = std::byte{value};
  return key;
}

inline HostId host_id(uint32_t value) { return HostId{value}; }

template <size_t N>
std::array<std::byte, N> random_array() {
  std::array<std::byte, N> out{};
  if (!os::random_bytes(out)) throw std::runtime_error("random_bytes failed");
  return out;
}

inline Prefix prefix(const std::string& text) {
  // Prefix::parse refuses host bits in some versions; build it by hand so
  // that tunnel addresses keep theirs (10.77.0.1/24).
  const size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address || slash == std::string::npos) throw std::runtime_error("bad prefix " + text);
  return Prefix{*address, static_cast<uint8_t>(std::stoi(text.substr(slash + 1)))};
}

// An address book entry: tunnel "10.77.0.N/24" and "fd77::N/64" style
// addresses, optional endpoints ("192.0.2.2:51820") and subnets.
inline keys::AddressBookEntry book_entry(uint32_t id, std::string name, const std::string& v4, const std::string& v6,
                                         const std::vector<std::string>& endpoints = {},
                                         const std::vector<std::string>& subnets = {},
                                         keys::Role role = keys::Role::kClient) {
  keys::AddressBookEntry e;
  e.id = HostId{id};
  e.name = std::move(name);
  e.role = role;
  if (!v4.empty()) e.tunnel_v4 = prefix(v4);
  if (!v6.empty()) e.tunnel_v6 = prefix(v6);
  for (const std::string& text : endpoints) {
    auto endpoint = Endpoint::parse(text);
    if (!endpoint) throw std::runtime_error("bad endpoint " + text);
    e.endpoints.push_back(*endpoint);
  }
  for (const std::string& text : subnets) e.subnets.push_back(prefix(text));
  return e;
}

// One host's key set, as the administrator would hold it: user and host key,
// password, address book and link keys.
struct KeySetMaker {
  HostId host{0x0001000a};
  std::string user = "alice";
  std::string password = "generated-pass-01";  // 17 characters
  keys::KdfParams kdf = keys::kGeneratedPasswordKdf;  // cheap: tests run many
  crypto::SecretBytes user_key = filled_key(0x11);
  crypto::SecretBytes host_key = filled_key(0x22);
  keys::KeySetBody body;

  // A three-host body: this host (entry 0) linked with B and C.
  static KeySetMaker three_hosts(uint32_t self = 0x0001000a) {
    KeySetMaker m;
    m.host = HostId{self};
    m.body.book.entries = {
        book_entry(self, "site-a", "10.77.0.1/24", "fd77::1/64"),
        book_entry(0x0001000b, "site-b", "10.77.0.2/24", "fd77::2/64", {"192.0.2.2:51820", "[2001:db8::2]:51820"},
                   {"192.168.2.0/24"}, keys::Role::kCoordinator),
        book_entry(0x0001000c, "site-c", "10.77.0.3/24", "", {}),
    };
    m.body.links.push_back(keys::LinkKeyEntry{HostId{0x0001000b}, filled_key(0xab)});
    m.body.links.push_back(keys::LinkKeyEntry{HostId{0x0001000c}, filled_key(0xac)});
    return m;
  }

  // The three hosts again, but this host (entry 0) is a coordinator and
  // C's registry, so its key set lists C as a served client, linked with
  // this host and B (docs/protocol.md, "Served links").
  static KeySetMaker coordinator(uint32_t self = 0x0001000a) {
    KeySetMaker m = three_hosts(self);
    m.body.book.entries[0].role = keys::Role::kCoordinator;
    m.body.book.entries[2].registry = HostId{self};
    m.serve(0x0001000c, {self, 0x0001000b});
    return m;
  }

  // Adds a served client with its linked hosts. Entry 0 must be a
  // coordinator when the body is sealed (keyset.hpp refuses it otherwise).
  KeySetMaker& serve(uint32_t client, const std::vector<uint32_t>& peers) {
    keys::ServedClient s{HostId{client}, {}};
    for (uint32_t p : peers) s.peers.push_back(HostId{p});
    body.served.push_back(std::move(s));
    return *this;
  }

  // Consistent three-host key sets for hosts other than the default A:
  // host D of network 1 (A takes C's place in its book), and host A of
  // network 2 (every ID moved to network 2).
  static KeySetMaker other_host() {
    KeySetMaker m = three_hosts(0x0001000d);
    m.body.book.entries[2].id = HostId{0x0001000a};
    m.body.links[1].peer = HostId{0x0001000a};
    return m;
  }
  static KeySetMaker other_network() {
    KeySetMaker m = three_hosts(0x0002000a);
    m.body.book.entries[1].id = HostId{0x0002000b};
    m.body.book.entries[2].id = HostId{0x0002000c};
    m.body.links[0].peer = HostId{0x0002000b};
    m.body.links[1].peer = HostId{0x0002000c};
    return m;
  }

  keys::WrappedUserKey wrapped() const {
    auto w = keys::wrap_user_key(host, user, password, kdf, random_array<keys::kSaltSize>(), user_key,
                                 random_array<crypto::kXChaChaNonceSize>());
    if (!w) throw std::runtime_error("wrap_user_key: " + w.error().message());
    return w.value();
  }

  std::vector<std::byte> seal(uint64_t version) const {
    keys::KeySetNonces nonces{random_array<crypto::kXChaChaNonceSize>(), random_array<crypto::kXChaChaNonceSize>()};
    auto file = keys::seal_keyset(wrapped(), version, user_key, host_key, body, nonces);
    if (!file) throw std::runtime_error("seal_keyset: " + file.error().message());
    return file.value();
  }

  // An update package to `version` carrying `next` (the whole new body),
  // sealed under this maker's current host key. With `new_host_key`, the
  // host key rotates: the package wraps it for this maker's user and is
  // sealed under it (then set host_key to it for later packages).
  std::vector<std::byte> update(uint64_t version, const keys::KeySetBody& next,
                                keys::UpdateKind kind = keys::UpdateKind::kKeys,
                                const crypto::SecretBytes& new_host_key = {}) const {
    keys::UpdateHeader header;
    header.host = host;
    header.version = version;
    header.kind = kind;
    header.new_host_key = !new_host_key.empty();
    // A new host key travels wrapped under this maker's user key only.
    std::vector<keys::UserKeyHolder> users;
    if (header.new_host_key) users.push_back({wrapped(), user_key, random_array<crypto::kXChaChaNonceSize>()});
    auto file = keys::seal_update(header, host_key, new_host_key, next, random_array<crypto::kXChaChaNonceSize>(),
                                  users);
    if (!file) throw std::runtime_error("seal_update: " + file.error().message());
    return file.value();
  }
};

}  // namespace cordon::testkit
