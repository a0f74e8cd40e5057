// Update packages: the administrator's new state for one host (issue 3,
// "Updates"; seeds/000 "Updating Keys and Host Links"). A package carries
// the whole new address book and link table, not a diff, so a host that
// missed one update applies the next.
//
// File layout (big-endian):
//
//   +--------------+----------+-----------+-----------+-----------+
//   | "CRDNUPDT" 8 | format 2 | network 2 | host id 4 | version 8 |
//   +--------------+----------+-----------+-----------+-----------+
//   | kind 1 | new host key present 1 |                               <- end of "header"
//   +--------+------------------------+
//   | body: nonce 24 | length 4 | ciphertext (length) | tag 16 |
//   +---------------------------------------------------------+
//
//   version  the key-set version the package brings
//   kind     1 = keys changed, 2 = address book only (seeds/000 sorts
//            changes into those that need new keys and those that don't)
//   body     XChaCha20-Poly1305 under the host's CURRENT host key,
//            AAD = header || 0x04 (Label::kUpdateBody)
//
// Body plaintext: [new host key 32, if present] | address book | link table
// | served links (the key-set body encoding, keyset.hpp; the served links
// are empty unless the host is a coordinator).
//
// A host refuses a package whose version is not newer than its installed
// key set (old or replayed) or whose network or host differs
// (check_update_applies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/crypto/xchacha.hpp"
#include "core/keys/keyset.hpp"
#include "core/types.hpp"

namespace cordon::keys {

constexpr std::string_view kUpdateMagic = "CRDNUPDT";
constexpr uint16_t kUpdateFormat = 1;

enum class UpdateKind : uint8_t { kKeys = 1, kAddressBook = 2 };
std::string_view update_kind_name(UpdateKind kind);  // "keys", "address-book"

struct UpdateHeader {
  HostId host;
  uint64_t version = 0;
  UpdateKind kind = UpdateKind::kKeys;
  bool new_host_key = false;  // the host key was rotated; the body starts with the new one
  uint16_t network() const { return host.network(); }
};

// Seals a package under `current_host_key`. `new_host_key` is empty when
// the host key is not rotated, or the new 32-byte key (then
// header.new_host_key must be true; it is checked). The body's address
// book entry 0 must be header.host. Errors: kBadField.
Result<std::vector<std::byte>> seal_update(const UpdateHeader& header, const crypto::SecretBytes& current_host_key,
                                           const crypto::SecretBytes& new_host_key, const KeySetBody& body,
                                           const crypto::XChaChaNonce& nonce);

// Reads the header and checks the layout, without a key. Errors:
// kTruncated, kTrailingBytes, kBadMagic, kUnsupportedFormat, kBadField.
Result<UpdateHeader> parse_update_header(std::span<const std::byte> file);

struct OpenedUpdate {
  UpdateHeader header;
  crypto::SecretBytes new_host_key;  // empty unless header.new_host_key
  KeySetBody body;
};

// Opens with the host's current host key. A body that does not open is
// kTampered (altered, or built for another host key). Errors also as
// parse_update_header and decode_body.
Result<OpenedUpdate> open_update(std::span<const std::byte> file, const crypto::SecretBytes& host_key);

// kOtherNetwork, kOtherHost, or kStaleVersion ("version 4 is not newer than
// the installed version 5: an old or replayed package") against the
// installed key set; nullopt if the package applies.
std::optional<KeySetFailure> check_update_applies(const UpdateHeader& update, const KeySetHeader& installed);

// `cordon update apply`: the installed key set, opened (with its user key),
// plus an opened package -> the new key-set file: same user key wrap,
// header version = update version, host key = the new one if rotated, body
// = the package's. Runs check_update_applies first.
Result<std::vector<std::byte>> apply_update(const OpenedKeySet& installed, const OpenedUpdate& update,
                                            const KeySetNonces& nonces);

}  // namespace cordon::keys
