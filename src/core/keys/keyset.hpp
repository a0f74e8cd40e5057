// The key set: one host's address book and keys, exported by the
// administrator and installed as-is on the host, so it is encrypted at rest
// (docs/administration.md, "The key hierarchy" and "Key sets"; the key
// management of the ViPNet technology description). Key hierarchy:
//
//   password key = Argon2id(password, salt)  (password.hpp; never stored)
//     wraps the user key (32 random bytes per user of a host)
//       wraps the host key (32 random bytes per host)
//         encrypts the body: address book + link keys (one 32-byte key per link)
//
// File layout (big-endian):
//
//   +----------------+----------+-----------+------------+------------------+
//   | "CRDNKSET" 8   | format 1 | network 2 | host id 4  | version 8        |
//   +----------------+----------+-----------+------------+------------------+
//   | user len 1 | user name (1..64) | kdf alg 1 | opslimit 4 | memlimit 4  |
//   +------------+-------------------+-----------+------------+-------------+
//   | salt 16                                                               |
//   +=======================================================================+  <- end of "header"
//   | user key wrap:  nonce 24 | ciphertext 32 | tag 16    key: password key |
//   | host key wrap:  nonce 24 | ciphertext 32 | tag 16    key: user key     |
//   | body:  nonce 24 | length 4 | ciphertext (length) | tag 16  key: host key|
//   +-----------------------------------------------------------------------+
//
// All three are XChaCha20-Poly1305 (crypto/xchacha.hpp). Associated data:
//   user key wrap (label 1): the header WITHOUT the version field (magic,
//     format, network, host id, user len, user name, kdf, salt), then 0x01.
//     The administrator wraps a user key once, when the user is created or
//     the password reset, keeps that WrappedUserKey, and exports new
//     versions later without knowing the password.
//   host key wrap (label 2): the whole header, then 0x02.
//   body (label 3): the whole header, then 0x03.
// So every header byte is authenticated, and the pieces cannot be swapped
// or moved between key sets: the whole file, header included, is
// authenticated (docs/administration.md, "Key sets").
//
// Body plaintext (kept in crypto::SecretBytes and wiped):
//
//   +---------------------------------------------------------------+
//   | address book (address_book.hpp)                               |
//   +---------------------------------------------------------------+
//   | link count 2 | (peer host id 4 | link key 32) * link count     |
//   +---------------------------------------------------------------+
//   | served count 2 | (client host id 4 | peer count 2 |           |
//   |                   peer host id 4 * peer count) * served count |
//   +---------------------------------------------------------------+
//   | sections (optional), each: tag 1 | length 4 | content        |
//   +---------------------------------------------------------------+
//
//   tag 1, filter rules:
//     rule count 2 | (rule id 4 | kind 1 | length 2 | text) * count
//   tag 2, reach limits:
//     limit count 2 | (peer host id 4 | prefix count 1 |
//                      (family 1 (4|6) | address 4|16 | length 1) * prefix count) * limit count
//   tag 3, network settings:
//     setting count 1 | (setting id 1 | value 4) * setting count
//     setting 1, rekey period: seconds between rekeys of every link,
//       0 (off) or kMinRekeyPeriod..kMaxRekeyPeriod
//     setting 2, administration host: the host ID of the host the
//       administrator's updates come from (docs/couriers.md)
//     setting 3, administration courier: the courier that host's updates
//       leave through, and its receipts arrive through (the administration
//       host itself when it is a coordinator)
//   tag 4, revoked hosts (a coordinator's key set):
//     count 4 | host id 4 * count, in increasing order: hosts removed as
//     compromised, which the coordinator refuses outright (registry, relay,
//     TCP tunnel) and counts under `revoked_host` (docs/couriers.md,
//     "Revocation")
//
// The served section (docs/protocol.md, "Served links") lists, in a
// coordinator's key set, each client it serves as registry and the hosts
// that client is linked with, so that the registry tells each client about
// its linked hosts and no others. Every other key set has served count 0.
//
// Sections carry what only some hosts have, after the parts every body
// has; a body written before sections existed ends after the served links.
// Each present section appears once, in increasing tag order, and is left
// out when empty; an unknown tag is refused, since a section may carry
// policy that a host must not silently ignore.
//
// The filter rules (docs/gateways.md, "Central rules") are the
// administrator's rules for this host, in order: its own and its groups'.
// Each is one rule line (core/filter/rule.hpp) with peers named by host ID;
// `rule id` is the administrator's number for it, shown in `cordon status`;
// kind 1 = a protected-traffic rule, kind 2 = an open-traffic rule
// (docs/firewall.md, "Central open rules"; its grammar, which names no
// peer, is os/linux/open_rule_text.hpp). The text is
// checked by the daemon that applies it, which names the rule it refuses;
// decoding checks only the sizes and the kind.
//
// The reach limits (docs/gateways.md, "Reach") are in a gateway's key set:
// for each peer the administrator limits, the prefixes of this gateway's
// tunneled subnets it may reach (possibly none). A peer not listed reaches
// them all.
//
// The network settings are the administrator's settings for the whole
// network (docs/administration.md, "Network settings"), each at most once;
// an unknown setting is refused like an unknown section. The rekey period
// (docs/protocol.md, "Rekey exchange") is set for every link of the host.
// A body without the setting, such as one written before it existed, has
// the default, kDefaultRekeyPeriod; the administrator writes the setting
// only when the network's period is not the default, so that hosts running
// a Cordon from before it keep reading key sets of networks that keep the
// default.
//
// Nothing here draws randomness or makes system calls: salts and nonces are
// arguments (callers use os::random_bytes, a fresh value for every seal).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/crypto/xchacha.hpp"
#include "core/keys/address_book.hpp"
#include "core/keys/password.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace cordon::keys {

constexpr std::string_view kKeySetMagic = "CRDNKSET";
constexpr uint16_t kKeySetFormat = 1;
constexpr size_t kKeySize = 32;  // link, host, user and password keys
constexpr size_t kMaxUserNameSize = 64;
// nonce | ciphertext | tag of a wrapped 32-byte key
constexpr size_t kWrappedKeySize = crypto::kXChaChaNonceSize + kKeySize + crypto::kXChaChaTagSize;  // 72
constexpr size_t kMaxLinks = 65535;
constexpr size_t kMaxServedClients = 65535;  // served count is 2 bytes
constexpr size_t kMaxServedPeers = 65535;    // and so is each peer count
constexpr size_t kMaxFilterRules = 65535;    // rule count is 2 bytes
constexpr size_t kMaxFilterRuleSize = 1024;  // bytes of one rule's text, at least 1
constexpr size_t kMaxRevokedHosts = 1u << 20;  // far above any network's compromised hosts

// AAD labels (the last AAD byte): a piece sealed for one place cannot be
// moved to another. kUpdateHostKey: update_package.hpp, format 2.
enum class Label : uint8_t { kUserKey = 1, kHostKey = 2, kBody = 3, kUpdateBody = 4, kUpdateHostKey = 5 };

// ---- Errors -------------------------------------------------------------

// Every way a key set or update package can be refused. The names are
// stable (logs, JSON, tests); the messages say what to do.
enum class KeySetError : uint8_t {
  kTruncated,           // "truncated": the file ends early (N of M bytes); copy it again
  kTrailingBytes,       // "trailing_bytes": bytes after the end
  kBadMagic,            // "bad_magic": not a Cordon key set / update package
  kUnsupportedFormat,   // "unsupported_format": a newer format; upgrade Cordon
  kUnsupportedKdf,      // "unsupported_kdf": unknown KDF or parameters out of bounds
  kBadField,            // "bad_field": a field holds an impossible value (detail names it)
  kBadPasswordLength,   // "bad_password_length": not 9..32 characters
  kKdfFailed,           // "kdf_failed": Argon2id could not run (memory)
  kWrongPassword,       // "wrong_password": the user key wrap does not open
  kWrongUserKey,        // "wrong_user_key": the host key wrap does not open with the given user key
  kTampered,            // "tampered": authentication failed after the key opened
  kOtherNetwork,        // "other_network": made for another network
  kOtherHost,           // "other_host": made for another host
  kStaleVersion,        // "stale_version": an update not newer than the installed key set
  kUserRemoved,         // "user_removed": a package with a new host key has no wrap for this user
};

// What was being read: the messages name it.
enum class KeyFile : uint8_t { kKeySet, kUpdatePackage };

struct KeySetFailure {
  KeySetError code = KeySetError::kTampered;
  KeyFile file = KeyFile::kKeySet;
  std::string detail;  // the field, sizes or IDs involved; may be empty
  // A full sentence that says what happened and what to do, e.g.
  //   "the password does not open this key set; check it, or ask the
  //    administrator to reset it"
  //   "the key set ends early (100 of 412 bytes); copy it again"
  //   "the key set was altered or corrupted after export; export it again"
  // Callers prefix the path.
  std::string message() const;
};

std::string_view error_name(KeySetError code);  // "wrong_password", ...

template <typename T>
using Result = cordon::Result<T, KeySetFailure>;

// ---- Body ---------------------------------------------------------------

struct LinkKeyEntry {
  HostId peer;
  crypto::SecretBytes key;  // kKeySize bytes
};

// One client a coordinator serves as registry, and the hosts that client is
// linked with (docs/protocol.md, "Served links").
struct ServedClient {
  HostId client;
  std::vector<HostId> peers;
  friend bool operator==(const ServedClient&, const ServedClient&) = default;
};

enum class FilterRuleKind : uint8_t { kProtected = 1, kOpen = 2 };

// One of the administrator's filter rules for this host.
struct FilterRuleEntry {
  uint32_t id = 0;  // the administrator's rule number
  FilterRuleKind kind = FilterRuleKind::kProtected;
  std::string text;  // one rule line, peers by host ID
  friend bool operator==(const FilterRuleEntry&, const FilterRuleEntry&) = default;
};

// One peer's reach limit (docs/gateways.md, "Reach").
struct ReachLimit {
  HostId peer;
  std::vector<Prefix> prefixes;  // network prefixes; empty: none of the subnets
  friend bool operator==(const ReachLimit&, const ReachLimit&) = default;
};
constexpr size_t kMaxReachLimits = 65535;
constexpr size_t kMaxReachPrefixes = 255;

// The network's rekey period, in seconds (tag 3, setting 1). The default
// is the P³ functional specification's rekey_wait; the bounds keep a typo
// from rekeying every second or once a year.
constexpr uint32_t kDefaultRekeyPeriod = 3600;
constexpr uint32_t kMinRekeyPeriod = 60;
constexpr uint32_t kMaxRekeyPeriod = 86400;
constexpr bool rekey_period_allowed(int64_t seconds) {
  return seconds == 0 || (seconds >= kMinRekeyPeriod && seconds <= kMaxRekeyPeriod);
}
// "0 (off) or 60 to 86400 seconds", for messages.
std::string rekey_period_range();

struct KeySetBody {
  AddressBook book;
  std::vector<LinkKeyEntry> links;   // at most one per peer
  std::vector<ServedClient> served;  // empty unless entry 0 is a coordinator
  std::vector<FilterRuleEntry> rules;  // in the order they apply
  std::vector<ReachLimit> reach;       // a gateway's limited peers, each once
  // The network's rekey period in seconds; nullopt: the body has none
  // (kDefaultRekeyPeriod applies).
  std::optional<uint32_t> rekey_period;
  uint32_t rekey_period_or_default() const { return rekey_period.value_or(kDefaultRekeyPeriod); }
  // Settings 2 and 3: where updates come from and receipts go
  // (docs/couriers.md); both set or neither.
  std::optional<HostId> admin_host;
  std::optional<HostId> admin_courier;
  std::vector<HostId> revoked;  // section 4, increasing, no duplicates
  const LinkKeyEntry* link_to(HostId peer) const;
  // The served entry of `client`, or nullptr if this host does not serve it.
  // A linear scan: callers that look up per datagram build their own index.
  const ServedClient* served_client(HostId client) const;
};

// The body plaintext, in a secret buffer. Refuses (kBadField, detail names
// it) what check_address_book() refuses, a link key that is not 32 bytes,
// a duplicate peer, a peer that is not in the address book or is entry 0
// (this host), more than kMaxLinks links; and in the served section, a
// client listed twice, a client or peer ID with network or host number 0,
// more than kMaxServedClients clients or kMaxServedPeers peers of one
// client, and any served client when entry 0 is not a coordinator; more
// than kMaxFilterRules rules, an empty rule or one longer than
// kMaxFilterRuleSize, an unknown rule kind; a reach limit for a host ID
// with network or host number 0, for a peer twice, with more than
// kMaxReachPrefixes prefixes or one that is not a network prefix; a rekey
// period that rekey_period_allowed() refuses; an administration host
// without an administration courier or the reverse, either with network or
// host number 0; revoked hosts out of order, repeated or with number 0,
// more than kMaxRevokedHosts; and when decoding, an unknown
// section tag, a section twice or out of order, a section whose content
// does not fill its length exactly, an empty section, a network setting
// that is unknown or appears twice, or none.
Result<crypto::SecretBytes> encode_body(const KeySetBody& body, KeyFile file = KeyFile::kKeySet);
// The inverse; every byte must be used (kTrailingBytes otherwise).
Result<KeySetBody> decode_body(std::span<const std::byte> plaintext, KeyFile file = KeyFile::kKeySet);

// ---- Header and the wrapped user key ----------------------------------

struct KeySetHeader {
  HostId host;  // the file also carries host.network() separately; they must agree
  uint64_t version = 0;
  std::string user;  // 1..64 bytes
  KdfParams kdf;
  Salt salt{};
  uint16_t network() const { return host.network(); }
};

// A user key wrapped under a password key, made once (user creation or
// password reset) and reused for every later key-set version: its AAD does
// not include the version. `host` and `user` are bound into the AAD, so the
// wrap only works in key sets for that host and user name.
struct WrappedUserKey {
  HostId host;
  std::string user;
  KdfParams kdf;
  Salt salt{};
  std::array<std::byte, kWrappedKeySize> sealed{};  // nonce 24 | ciphertext 32 | tag 16

  // For the admin database: kdf alg 1 | opslimit 4 | memlimit 4 | salt 16 |
  // sealed 72 = 97 bytes (host and user live in the row). decode_record
  // returns nullopt for a wrong size, an unknown alg or unsupported params.
  static constexpr size_t kRecordSize = 1 + 4 + 4 + kSaltSize + kWrappedKeySize;
  std::vector<std::byte> encode_record() const;
  static std::optional<WrappedUserKey> decode_record(HostId host, std::string_view user,
                                                     std::span<const std::byte> record);
};

// Derives the password key (Argon2id with `kdf`, `salt`) and wraps
// `user_key`. Errors: kBadPasswordLength, kUnsupportedKdf, kKdfFailed,
// kBadField (host ID, user name length, user key not 32 bytes).
Result<WrappedUserKey> wrap_user_key(HostId host, std::string_view user, std::string_view password,
                                     const KdfParams& kdf, const Salt& salt, const crypto::SecretBytes& user_key,
                                     const crypto::XChaChaNonce& nonce);
// The same with an already derived password key (tests, benchmarks).
Result<WrappedUserKey> wrap_user_key_with_password_key(HostId host, std::string_view user,
                                                       const crypto::SecretBytes& password_key, const KdfParams& kdf,
                                                       const Salt& salt, const crypto::SecretBytes& user_key,
                                                       const crypto::XChaChaNonce& nonce);
// Unwraps with a password: kWrongPassword if it does not open.
Result<crypto::SecretBytes> unwrap_user_key(const WrappedUserKey& wrapped, std::string_view password);

// ---- Seal and open -------------------------------------------------------

struct KeySetNonces {
  crypto::XChaChaNonce host_key{};
  crypto::XChaChaNonce body{};
};

// Builds a key-set file: header from `wrapped` (host, user, kdf, salt) and
// `version`; the user key wrap copied from `wrapped`; the host key wrapped
// under `user_key`; the body under `host_key`. The body's address book
// entry 0 must be `wrapped.host` (checked here and when opening). `user_key` must be the key
// inside `wrapped` (not checkable without the password: a mismatch gives a
// file that answers kWrongUserKey/kTampered on the host). Errors: kBadField
// (key sizes, user name, body contents).
Result<std::vector<std::byte>> seal_keyset(const WrappedUserKey& wrapped, uint64_t version,
                                           const crypto::SecretBytes& user_key, const crypto::SecretBytes& host_key,
                                           const KeySetBody& body, const KeySetNonces& nonces);

// Reads the header and checks the layout of the whole file (every piece
// present, body length consistent, nothing after it) without a password:
// for `keyset install` to show network, host, version and user, and to
// refuse another host's key set. Nothing is authenticated yet.
// Errors: kTruncated, kTrailingBytes, kBadMagic, kUnsupportedFormat,
// kUnsupportedKdf, kBadField.
Result<KeySetHeader> parse_keyset_header(std::span<const std::byte> file);

struct OpenedKeySet {
  KeySetHeader header;
  WrappedUserKey wrapped_user_key;  // as found in the file: re-seal later versions without the password
  crypto::SecretBytes user_key;
  crypto::SecretBytes host_key;
  KeySetBody body;
};

// Opens with the password. A user key wrap that does not open is
// kWrongPassword (a wrong password, or a header altered in a field the
// wrap covers: the two cannot be told apart); a later failure is kTampered.
// Also kBadPasswordLength, kKdfFailed and the parse_keyset_header errors.
Result<OpenedKeySet> open_keyset(std::span<const std::byte> file, std::string_view password);

// Opens with a user key already unlocked (the daemon's reload). The user
// key wrap is not checked (it needs the password). A host key wrap that
// does not open is kWrongUserKey; a body that does not open is kTampered.
Result<OpenedKeySet> open_keyset_with_user_key(std::span<const std::byte> file, const crypto::SecretBytes& user_key);

// `cordon passwd`: the same key set (version, keys, body) under a new
// password: a new salt and user key wrap, and the host key wrap and body
// sealed again under the new header. Use kdf_policy(PasswordOrigin::kChosen).
// Errors as wrap_user_key and seal_keyset.
Result<std::vector<std::byte>> reseal_with_password(const OpenedKeySet& opened, std::string_view new_password,
                                                    const KdfParams& kdf, const Salt& salt,
                                                    const crypto::XChaChaNonce& user_key_nonce,
                                                    const KeySetNonces& nonces);

// kOtherNetwork / kOtherHost (detail names both IDs) if `got` is not
// `expected`; success if equal. For callers that compare a key set or
// update against the installed key set or the configured host ID.
Result<Ok> check_same_host(HostId expected, HostId got, KeyFile file);

// ---- Shared with update_package.cpp (not for other callers) ------------

namespace detail {

// kBadField unless address book entry 0 is `host` (the file's header).
Result<Ok> check_self(const KeySetBody& body, HostId host, KeyFile file);

// Maps a reader's error to a failure; `file_size` for "N of M bytes".
KeySetFailure parse_failure(const wire::ParseError& error, KeyFile file, size_t file_size);

// magic | format u16: kBadMagic, kTruncated, kUnsupportedFormat unless
// min_format <= format <= max_format; otherwise the format read.
Result<uint16_t> read_magic_and_format(wire::ByteReader& in, std::string_view magic, uint16_t min_format,
                                       uint16_t max_format, KeyFile file);

// nonce 24 | length u32 | ciphertext (length) | tag 16, which must end the
// file (kTruncated, kTrailingBytes otherwise).
struct SealedBody {
  crypto::XChaChaNonce nonce{};
  std::span<const std::byte> sealed;  // ciphertext || tag
};
Result<SealedBody> read_sealed_body(wire::ByteReader& in, KeyFile file);

// Writes a sealed body for `plaintext` under `key` with AAD header||label.
// Returns false if a size is wrong or the writer overflows.
bool write_sealed_body(wire::ByteWriter& out, std::span<const std::byte> header, Label label,
                       std::span<const std::byte> key, const crypto::XChaChaNonce& nonce,
                       std::span<const std::byte> plaintext);
constexpr size_t sealed_body_size(size_t plaintext_size) {
  return crypto::kXChaChaNonceSize + 4 + plaintext_size + crypto::kXChaChaTagSize;
}

// Wraps a 32-byte key under `wrapping_key`: nonce | ciphertext | tag.
bool wrap_key(std::span<const std::byte> wrapping_key, const crypto::XChaChaNonce& nonce,
              std::span<const std::byte> aad, std::span<const std::byte> key,
              std::span<std::byte, kWrappedKeySize> out);
// The inverse; nullopt if it does not verify.
std::optional<crypto::SecretBytes> unwrap_key(std::span<const std::byte> wrapping_key,
                                              std::span<const std::byte> aad, std::span<const std::byte> wrapped);

// Opens a sealed body: the plaintext, or nullopt if it does not verify.
std::optional<crypto::SecretBytes> open_sealed_body(const SealedBody& body, std::span<const std::byte> header,
                                                    Label label, std::span<const std::byte> key);

}  // namespace detail

}  // namespace cordon::keys
