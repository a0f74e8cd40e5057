// Courier items: the unit that couriers store and forward
// (docs/couriers.md, "Items"). An item is an update package on its way to
// a host, a host's receipt on its way back to the administration host, a
// courier's notice about a package it holds or refused, or a coordinator's
// status report.
//
// Encoding (big-endian), the same on the wire (inside a transfer) and in
// the spool (daemon/courier_spool.hpp):
//
//   format 1 | kind 1 | flags 1 | dest 4 | via 4 | subject 4 | version 8 |
//   payload length 4 | payload
//
//   kind     1 package: payload = the update package file
//                       (keys/update_package.hpp); subject = dest = the
//                       host it is for; version = its key-set version
//            2 receipt: payload = a receipt (below), from host `subject`
//            3 notice:  payload = courier 4 | state 1 | reason 1, from the
//                       courier that holds (state 1) or refused (state 2)
//                       package `version` for host `subject`
//            4 status:  payload = a coordinator's status report
//                       (status_report.hpp) from coordinator `subject`;
//                       version = when it was made, in Unix milliseconds,
//                       so that a newer one supersedes it on every hop
//   flags    bit 0: the package replaces the host key (a host that misses
//                   it cannot open later packages; docs/administration.md,
//                   "Missed packages")
//            bit 1: urgent: a revocation; forwarded ahead of routine items
//            other bits zero
//   dest     the host the item is for
//   via      the courier that hands it to `dest` (dest itself when dest is
//            a coordinator)
//
// Receipt (the payload of kind 2):
//
//   host 4 | version 8 | installed 8 | outcome 1 | time 8 | reason length 2 |
//   reason | tag 32
//
//   version    the package version the receipt answers
//   installed  the key-set version installed after it was handled
//   outcome    1 applied, 2 already applied (installed >= version: a
//              duplicate, applied once before), 3 refused (reason says why)
//   time       Unix seconds at the host when it was handled
//   tag        HMAC-SHA256 (RFC 2104) over every byte before it, under
//              HKDF-SHA256 (RFC 5869) of the host key with info
//              "cordon courier receipt" || host 4: only the host and the
//              administrator hold the host key, so a courier or another
//              host cannot forge one
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/result.hpp"
#include "core/types.hpp"

namespace cordon::courier {

constexpr uint8_t kItemFormat = 1;
constexpr size_t kItemHeaderSize = 1 + 1 + 1 + 4 + 4 + 4 + 8 + 4;  // 27
// The largest payload: far above the largest package a 10,000-host network
// produces (docs/couriers.md, "Limits").
constexpr size_t kMaxItemPayload = 256u * 1024 * 1024;
constexpr size_t kMaxReceiptReason = 512;
constexpr size_t kReceiptTagSize = 32;

enum class ItemKind : uint8_t { kPackage = 1, kReceipt = 2, kNotice = 3, kStatus = 4 };
std::string_view item_kind_name(ItemKind kind);  // "package", "receipt", "notice", "status"

constexpr uint8_t kFlagNewHostKey = 0x01;
constexpr uint8_t kFlagUrgent = 0x02;

struct Item {
  ItemKind kind = ItemKind::kPackage;
  uint8_t flags = 0;
  HostId dest;
  HostId via;
  HostId subject;
  uint64_t version = 0;
  std::vector<std::byte> payload;

  bool urgent() const { return (flags & kFlagUrgent) != 0; }
  bool new_host_key() const { return (flags & kFlagNewHostKey) != 0; }
  size_t encoded_size() const { return kItemHeaderSize + payload.size(); }
  friend bool operator==(const Item&, const Item&) = default;
};

// Why an item was refused. Stable names (logs, status, notices).
enum class ItemError : uint8_t {
  kTruncated = 1,
  kTrailingBytes = 2,
  kUnsupportedFormat = 3,
  kBadField = 4,  // a kind, flag, host ID or length out of range
};
std::string_view item_error_name(ItemError error);

std::vector<std::byte> encode_item(const Item& item);
// Every field is checked: host IDs with network or host number 0, unknown
// kinds or flags, a payload longer than kMaxItemPayload or than the input,
// bytes after the payload. A package item's payload is not opened here.
Result<Item, ItemError> parse_item(std::span<const std::byte> bytes);

// A notice's payload.
struct Notice {
  enum class State : uint8_t { kHeld = 1, kRefused = 2 };
  HostId courier;
  State state = State::kHeld;
  uint8_t reason = 0;  // a RefusalReason (message.hpp) when kRefused, else 0
  friend bool operator==(const Notice&, const Notice&) = default;
};
std::vector<std::byte> encode_notice(const Notice& notice);
std::optional<Notice> parse_notice(std::span<const std::byte> payload);

struct Receipt {
  enum class Outcome : uint8_t { kApplied = 1, kAlreadyApplied = 2, kRefused = 3 };
  HostId host;
  uint64_t version = 0;
  uint64_t installed = 0;
  Outcome outcome = Outcome::kApplied;
  int64_t time_s = 0;
  std::string reason;  // at most kMaxReceiptReason bytes
  friend bool operator==(const Receipt&, const Receipt&) = default;
};
std::string_view receipt_outcome_name(Receipt::Outcome outcome);  // "applied", "already_applied", "refused"

// The receipt, tagged under `host_key` (32 bytes). nullopt only if HMAC or
// HKDF fails, or the reason is too long.
std::optional<std::vector<std::byte>> seal_receipt(const Receipt& receipt, const crypto::SecretBytes& host_key);
// Parses a receipt and checks its tag in constant time: the receipt when
// the tag verifies under `host_key`, nullopt otherwise (malformed, or
// forged, or tagged under another host key).
std::optional<Receipt> verify_receipt(std::span<const std::byte> payload, const crypto::SecretBytes& host_key);
// The host a receipt claims to come from, without verifying it (to pick
// the key); nullopt when malformed.
std::optional<HostId> receipt_host(std::span<const std::byte> payload);

}  // namespace cordon::courier
