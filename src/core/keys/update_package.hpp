// Update packages: the administrator's new state for one host
// (docs/administration.md, "Changing the network: updates"). A package
// carries the whole new address book and link table, not a diff, so a host
// that missed one update applies the next.
//
// File layout, format 2 (big-endian):
//
//   +--------------+----------+-----------+-----------+-----------+
//   | "CRDNUPDT" 8 | format 2 | network 2 | host id 4 | version 8 |
//   +--------------+----------+-----------+-----------+-----------+
//   | kind 1 | new host key 1 | wrap count 2 |        <- end of "fixed header" (28 bytes)
//   +--------+----------------+--------------+
//   | host key wraps, wrap count times:                                  |
//   |   user len 1 | user name (1..64)                                   |
//   |   user key record 97: kdf alg 1 | opslimit 4 | memlimit 4 |        |
//   |                       salt 16 | user key wrap 72                   |
//   |   host key wrap 72:   nonce 24 | ciphertext 32 | tag 16            |  <- end of "header"
//   +--------------------------------------------------------------------+
//   | body: nonce 24 | length 4 | ciphertext (length) | tag 16           |
//   +--------------------------------------------------------------------+
//
//   version       the key-set version the package brings
//   kind          1 = keys changed, 2 = address book only
//   new host key  0 = the host key stays: no wraps, and the body is sealed
//                 under the host's CURRENT host key;
//                 1 = the host key is replaced (rotation, a user removed, a
//                 user key rotated): one wrap per user of the host, and the
//                 body is sealed under the NEW host key. Whoever holds only
//                 the old host key, or the user key of a removed user,
//                 learns nothing from the package (docs/administration.md,
//                 "Revocation").
//   user key record   the user's user key wrapped under the password key,
//                 exactly as in a key set (keyset.hpp, WrappedUserKey; AAD
//                 label 1 with this host ID and user name). A host whose
//                 user key was rotated opens it with the new password.
//   host key wrap the new host key, XChaCha20-Poly1305 under the user key,
//                 AAD = fixed header || user len || user name || 0x05
//                 (Label::kUpdateHostKey).
//   body          XChaCha20-Poly1305, AAD = header || 0x04
//                 (Label::kUpdateBody): the wraps are authenticated too.
//
// Body plaintext: address book | link table | served links (the key-set
// body encoding, keyset.hpp; the served links are empty unless the host is
// a coordinator).
//
// Format 1 (still read): the fixed header ends after "new host key" (26
// bytes, no wrap count, no wraps); the body is always sealed under the
// current host key and, when the flag is 1, its plaintext starts with the
// new 32-byte host key. Format 1 revokes nobody (a holder of the old host
// key reads the new one), so it is only read, never written.
//
// A host refuses a package whose version is not newer than its installed
// key set (old or replayed) or whose network or host differs
// (check_update_applies).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/crypto/xchacha.hpp"
#include "core/keys/keyset.hpp"
#include "core/types.hpp"

namespace cordon::keys {

constexpr std::string_view kUpdateMagic = "CRDNUPDT";
constexpr uint16_t kUpdateFormat = 2;
constexpr uint16_t kUpdateFormatWithoutWraps = 1;  // read only
constexpr size_t kMaxHostKeyWraps = 65535;          // wrap count is 2 bytes

enum class UpdateKind : uint8_t { kKeys = 1, kAddressBook = 2 };
std::string_view update_kind_name(UpdateKind kind);  // "keys", "address-book"

// One user's copy of a package's new host key (format 2).
struct HostKeyWrap {
  WrappedUserKey user_key;  // host and user name included
  std::array<std::byte, kWrappedKeySize> host_key{};
};

struct UpdateHeader {
  HostId host;
  uint64_t version = 0;
  UpdateKind kind = UpdateKind::kKeys;
  bool new_host_key = false;  // the host key was rotated
  uint16_t format = kUpdateFormat;
  std::vector<HostKeyWrap> wraps{};  // format 2 with new_host_key: one per user of the host
  uint16_t network() const { return host.network(); }
  // The wrap for `user`, or nullptr (a removed user, or no rotation).
  const HostKeyWrap* wrap_for(std::string_view user) const;
  // Format 2 with a new host key: the body is sealed under the new key.
  bool sealed_under_new_host_key() const { return format >= kUpdateFormat && new_host_key; }
};

// What seal_update needs per remaining user of the host to wrap a new
// host key: the stored user-key record, the user key, a fresh nonce.
struct UserKeyHolder {
  WrappedUserKey wrapped;
  crypto::SecretBytes user_key;
  crypto::XChaChaNonce nonce{};
};

// Seals a format-2 package. Without a new host key (`new_host_key` empty,
// header.new_host_key false) the body is sealed under `current_host_key`
// and `users` must be empty. With one (32 bytes, header.new_host_key
// true) `users` lists every user of the host (at least one), each gets a
// wrap of the new key under its user key, the body is sealed under the new
// key, and `current_host_key` is not used. header.format and header.wraps
// are ignored (written fresh). The body's address book entry 0 must be
// header.host; every user's wrapped.host must be too. Errors: kBadField.
Result<std::vector<std::byte>> seal_update(const UpdateHeader& header, const crypto::SecretBytes& current_host_key,
                                           const crypto::SecretBytes& new_host_key, const KeySetBody& body,
                                           const crypto::XChaChaNonce& nonce,
                                           std::span<const UserKeyHolder> users = {});

// Reads the header (wraps included) and checks the layout, without a key.
// Errors: kTruncated, kTrailingBytes, kBadMagic, kUnsupportedFormat,
// kUnsupportedKdf, kBadField.
Result<UpdateHeader> parse_update_header(std::span<const std::byte> file);

struct OpenedUpdate {
  UpdateHeader header;
  crypto::SecretBytes new_host_key;  // empty unless header.new_host_key
  KeySetBody body;
};

// Opens the body with `host_key`: the host's current host key, or for a
// package sealed_under_new_host_key(), the new one (unwrap_update_host_key;
// it is returned as new_host_key). A body that does not open is kTampered
// (altered, or built for another host key). Errors also as
// parse_update_header and decode_body.
Result<OpenedUpdate> open_update(std::span<const std::byte> file, const crypto::SecretBytes& host_key);

// The new host key of a format-2 package, for `user` holding `user_key`.
// kUserRemoved if the package has no wrap for `user` (removed from the
// host); kWrongUserKey if the wrap does not open (the user key was
// rotated: the record in the wrap opens with the new password).
Result<crypto::SecretBytes> unwrap_update_host_key(const UpdateHeader& header, std::string_view user,
                                                   const crypto::SecretBytes& user_key);

// Opens a package for an installed key set: with its host key, or, when
// the package replaces the host key under user-key wraps, with the wrap of
// installed.header.user opened by installed.user_key (installed.host_key
// is then not used). Errors as open_update and unwrap_update_host_key.
Result<OpenedUpdate> open_update_for(std::span<const std::byte> file, const OpenedKeySet& installed);

// kOtherNetwork, kOtherHost, or kStaleVersion ("version 4 is not newer than
// the installed version 5: an old or replayed package") against the
// installed key set; success if the package applies.
Result<Ok> check_update_applies(const UpdateHeader& update, const KeySetHeader& installed);

// `cordon update apply`: the installed key set, opened (with its user key),
// plus an opened package -> the new key-set file: installed.wrapped_user_key
// and installed.user_key (the store passes the package's record and the
// new user key when the user key was rotated), header version = update
// version, host key = the new one if rotated, body = the package's. Runs
// check_update_applies first.
Result<std::vector<std::byte>> apply_update(const OpenedKeySet& installed, const OpenedUpdate& update,
                                            const KeySetNonces& nonces);

}  // namespace cordon::keys
