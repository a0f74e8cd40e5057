// The hidden control channel (docs/protocol.md, "Control channel"): messages
// that travel inside an ordinary datagram, sealed a second time with the
// generation's control key, so that they look like data on the wire and a
// thief of the data key still cannot read or forge them (the P³ functional
// specification, Velocite Systems 2011, sections 2.1.2 and 2.1.3: control
// data is "encrypted using keys that are different from the data session"
// and then "handled the same as a data packet").
//
// Envelope: the plaintext of the outer datagram (big-endian):
//
//   0x07 | length 2 | inner ciphertext (length - 16) | inner tag 16 | zero padding
//
// The inner AEAD uses the control key of the outer datagram's generation
// and direction (keys/key_generation.hpp), the outer datagram's nonce (its
// counter) and the outer 8-byte header as associated data. The outer key
// and the control key differ, so sharing the nonce value is safe.
//
// Inner plaintext: type 1 | body
//
//   0x01 rekey offer     generation 4 | share 32 | kind 1 | material
//                        (kind 0: 32 bytes; kind 1: data array 4 | data index 2 | control array 4 | control index 2)
//   0x02 rekey status    generation 4 | status 1 | current 4 | share 32
//   0x03 rekey switch    generation 4 | first counter 8
//   0x04 rekey switched  generation 4 | first counter 8
//   0x05 rekey request   reason 1
//   0x06 heartbeat       sequence 4
//   0x07 heartbeat ack   sequence 4 (the heartbeat's)
//   0x08 session shutdown reason 1 (1: an administration command)
//   0x09 key array chunk kind 1 | array 4 | size 2 | first 2 | count 1 | entries (count x 32)
//   0x0a key array ack   kind 1 | array 4 | first 2
//   0x0b key array flush kind 1 | array 4
//   0x0c key array flushed kind 1 | array 4
//
// Every field is checked; a message with bytes after its body, a truncated
// one, or an unknown type is refused.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "core/crypto/aead.hpp"

namespace cordon::wire {

constexpr uint8_t kChannelControlType = 0x07;  // the envelope's byte among the control types
constexpr size_t kChannelHeaderSize = 3;       // type | length
constexpr size_t kShareSize = 32;              // an X25519 public value (RFC 7748, section 5)
constexpr size_t kMaterialSize = 32;
// Key arrays (docs/protocol.md, "Key arrays"): entries are 32 bytes of
// material, delivered 16 to a chunk (a chunk's message then fits the
// smallest MTU, 576 bytes), at most 4096 to an array.
constexpr size_t kArrayChunkEntries = 16;
constexpr uint16_t kMaxArraySize = 4096;

enum class ChannelType : uint8_t {
  kRekeyOffer = 0x01,
  kRekeyStatus = 0x02,
  kRekeySwitch = 0x03,
  kRekeySwitched = 0x04,
  kRekeyRequest = 0x05,
  kHeartbeat = 0x06,
  kHeartbeatAck = 0x07,
  kSessionShutdown = 0x08,
  kKeyArrayChunk = 0x09,
  kKeyArrayAck = 0x0a,
  kKeyArrayFlush = 0x0b,
  kKeyArrayFlushed = 0x0c,
};

using Share = std::array<std::byte, kShareSize>;

// The key master offers generation `generation`: its ephemeral X25519 share
// and either fresh key material or an entry of each key array delivered
// before (docs/protocol.md, "Key arrays").
struct RekeyOffer {
  enum class Kind : uint8_t { kCarried = 0, kArrayIndex = 1 };
  uint32_t generation = 0;
  Share share{};
  Kind kind = Kind::kCarried;
  std::array<std::byte, kMaterialSize> material{};  // kCarried
  uint32_t data_array = 0;                          // kArrayIndex: the data array's ID
  uint16_t data_index = 0;                          // and its entry
  uint32_t control_array = 0;                       // the control array's ID
  uint16_t control_index = 0;                       // and its entry
  friend bool operator==(const RekeyOffer&, const RekeyOffer&) = default;
};

// The other side's answer: on success its own share, with which both sides
// derive the generation; otherwise why not.
struct RekeyStatus {
  enum class Code : uint8_t {
    kOk = 0,
    kBadGeneration = 1,  // not the generation after the answering side's current one
    kBadShare = 2,       // the X25519 exchange failed (RFC 7748, section 6.1: all-zero output)
    kNoArray = 3,        // the offer names an array entry the answering side does not hold
    kInternal = 4,       // the answering side could not derive keys
  };
  uint32_t generation = 0;
  Code code = Code::kOk;
  uint32_t current = 0;  // the answering side's current generation
  Share share{};         // zero unless kOk
  friend bool operator==(const RekeyStatus&, const RekeyStatus&) = default;
};

// "From this counter on I seal with `generation`": the key master after a
// good status, the other side in answer (the reference order, "Encryption
// ReKeying").
struct RekeySwitch {
  uint32_t generation = 0;
  uint64_t first_counter = 0;
  friend bool operator==(const RekeySwitch&, const RekeySwitch&) = default;
};
struct RekeySwitched {
  uint32_t generation = 0;
  uint64_t first_counter = 0;
  friend bool operator==(const RekeySwitched&, const RekeySwitched&) = default;
};

// The side that is not the key master asks for a rekey (its sending volume
// reached the limit of a generation).
struct RekeyRequest {
  enum class Reason : uint8_t { kVolume = 1 };
  Reason reason = Reason::kVolume;
  friend bool operator==(const RekeyRequest&, const RekeyRequest&) = default;
};

// A site link's heartbeat (link/session.hpp): sent after heartbeat_time of
// quiet, answered at once with an ack carrying the same sequence number.
struct Heartbeat {
  uint32_t sequence = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};
struct HeartbeatAck {
  uint32_t sequence = 0;
  friend bool operator==(const HeartbeatAck&, const HeartbeatAck&) = default;
};
// "This gateway's administrator shut the session down": the receiver
// counts the session lost (reason peer_shutdown) until it hears again.
struct SessionShutdown {
  enum class Reason : uint8_t { kAdministration = 1 };
  Reason reason = Reason::kAdministration;
  friend bool operator==(const SessionShutdown&, const SessionShutdown&) = default;
};

// Key arrays: the key master delivers each array in chunks of
// kArrayChunkEntries entries (`first` a multiple of it, `count` the rest
// of the array at most), the other side acknowledges each chunk, and a
// flush (answered by flushed) makes both sides wipe an array.
enum class ArrayKind : uint8_t { kData = 0, kControl = 1 };
struct KeyArrayChunk {
  ArrayKind kind = ArrayKind::kData;
  uint32_t array = 0;  // never 0
  uint16_t size = 0;   // entries in the whole array, 1 .. kMaxArraySize
  uint16_t first = 0;
  uint8_t count = 0;
  std::array<std::byte, kArrayChunkEntries * kMaterialSize> entries{};  // the first count x 32 bytes
  friend bool operator==(const KeyArrayChunk&, const KeyArrayChunk&) = default;
};
struct KeyArrayAck {
  ArrayKind kind = ArrayKind::kData;
  uint32_t array = 0;
  uint16_t first = 0;
  friend bool operator==(const KeyArrayAck&, const KeyArrayAck&) = default;
};
struct KeyArrayFlush {
  ArrayKind kind = ArrayKind::kData;
  uint32_t array = 0;
  friend bool operator==(const KeyArrayFlush&, const KeyArrayFlush&) = default;
};
struct KeyArrayFlushed {
  ArrayKind kind = ArrayKind::kData;
  uint32_t array = 0;
  friend bool operator==(const KeyArrayFlushed&, const KeyArrayFlushed&) = default;
};

using ChannelMessage = std::variant<RekeyOffer, RekeyStatus, RekeySwitch, RekeySwitched, RekeyRequest, Heartbeat,
                                    HeartbeatAck, SessionShutdown, KeyArrayChunk, KeyArrayAck, KeyArrayFlush,
                                    KeyArrayFlushed>;
// Wipes the key material a message may carry (an offer's, a chunk's).
void wipe_secrets(ChannelMessage& m);

enum class ChannelError : uint8_t {
  kTruncated,    // ends inside a field, or the envelope's length runs past the plaintext
  kBadField,     // a field out of range
  kBadPadding,   // bytes after the body, or non-zero bytes after the envelope
  kUnknownType,
};

// The envelope's parts within an outer plaintext that starts with 0x07.
struct Envelope {
  std::span<std::byte> sealed;  // inner ciphertext
  std::span<std::byte, crypto::kTagSize> tag;
};
// Splits an outer plaintext; checks the length and that the padding is zero.
std::optional<Envelope> split_envelope(std::span<std::byte> plaintext);

// Parses the opened inner plaintext (type | body).
struct ParsedChannel {
  std::optional<ChannelMessage> message;
  ChannelError error = ChannelError::kTruncated;
};
ParsedChannel parse_channel(std::span<const std::byte> inner);
// Whether parse_channel accepts `inner` (it allocates nothing, so workers
// may call either).
inline bool check_channel(std::span<const std::byte> inner) { return parse_channel(inner).message.has_value(); }

// The outer plaintext for `m`: the envelope header, the inner plaintext and
// kTagSize zero bytes where the inner tag goes. The sender seals it in place
// (Node: seal with the channel flag) after the outer header is known.
std::vector<std::byte> encode_channel(const ChannelMessage& m);

}  // namespace cordon::wire
