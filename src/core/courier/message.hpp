// Courier messages: how items move over one link (docs/couriers.md,
// "Transport: courier messages"). They are the body of a control message
// of type 0x09 (wire/control.hpp), so each one is already authenticated,
// decrypted and replay-checked when it gets here; the parser still trusts
// no size.
//
// Layout (big-endian), after the control type and length:
//
//   0x01 hello    installed version 8
//   0x02 segment  transfer 8 | total 4 | offset 4 | length 2 | data (length)
//   0x03 ack      transfer 8 | received 4 | state 1 | reason 1
//
//   transfer  the sender's number for one item on one hop
//   total     the encoded item's size, 1..kMaxTransferSize
//   offset    where `data` starts in it; offset + length <= total
//   received  the receiver's contiguous bytes of the transfer
//   state     0 receiving, 1 stored, 2 refused (reason), 3 unknown transfer
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "core/courier/item.hpp"

namespace cordon::courier {

constexpr size_t kMaxSegmentData = 1152;
constexpr size_t kMaxTransferSize = kItemHeaderSize + kMaxItemPayload;
constexpr size_t kMaxMessageSize = 1 + 8 + 4 + 4 + 2 + kMaxSegmentData;  // a full segment

enum class MessageType : uint8_t { kHello = 1, kSegment = 2, kAck = 3 };

struct Hello {
  uint64_t installed = 0;  // the host's installed key-set version
  friend bool operator==(const Hello&, const Hello&) = default;
};

struct Segment {
  uint64_t transfer = 0;
  uint32_t total = 0;
  uint32_t offset = 0;
  std::span<const std::byte> data;  // into the parsed buffer
};

enum class AckState : uint8_t { kReceiving = 0, kStored = 1, kRefused = 2, kUnknown = 3 };

// Why a hop refused an item (docs/couriers.md): stable names.
enum class Refusal : uint8_t {
  kNone = 0,
  kMalformed = 1,
  kNotServed = 2,
  kUntrustedSender = 3,
  kSpoolFull = 4,
  kTooLarge = 5,
  kBusy = 6,
  kStorageFailed = 7,
};
constexpr uint8_t kMaxRefusal = 7;
std::string_view refusal_name(Refusal reason);  // "none", "malformed", ...

struct Ack {
  uint64_t transfer = 0;
  uint32_t received = 0;
  AckState state = AckState::kReceiving;
  Refusal reason = Refusal::kNone;
  friend bool operator==(const Ack&, const Ack&) = default;
};

using Message = std::variant<Hello, Segment, Ack>;

// nullopt for anything malformed: unknown type, short, trailing bytes,
// total 0 or above kMaxTransferSize, a segment past `total` or empty, an
// unknown state or reason.
std::optional<Message> parse_message(std::span<const std::byte> body);
std::vector<std::byte> encode_hello(const Hello& hello);
std::vector<std::byte> encode_segment(uint64_t transfer, uint32_t total, uint32_t offset,
                                      std::span<const std::byte> data);
std::vector<std::byte> encode_ack(const Ack& ack);

}  // namespace cordon::courier
