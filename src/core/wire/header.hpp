// Data-channel wire layout and spec constants (docs/protocol.md, "Wire format").
//
// Every Cordon datagram on a direct path is an 8-byte header in the clear,
// the ciphertext, and a 16-byte tag: 24 bytes of overhead in all.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +---+---+---+---+-------------------------------+---------------+
//   |fmt|sui|gen|ln |     sender host number        |   counter     |
//   +---+---+---+---+-------------------------------+               +
//   |                 counter (low 40 bits, continued)              |
//   +---------------------------------------------------------------+
//   |                      ciphertext ...                           |
//   +---------------------------------------------------------------+
//   |                   tag (16 bytes, 128 bits)                    |
//   +---------------------------------------------------------------+
//
//   fmt  2 bits  format: 0 = direct, 1 = relayed (wire/relay.hpp: this
//                header is then the hop header). 2 and 3 are reserved.
//   sui  2 bits  AEAD suite code (crypto::Suite); a mismatch with the
//                peer's configured suite is dropped as `suite_mismatch`.
//   gen  2 bits  key generation, modulo 4.
//   ln   2 bits  lane: which of the sender's workers sealed it (worker
//                index modulo 4). The receiver's socket group picks the
//                socket, hence the worker, from it (docs/design.md,
//                "Lanes"); it carries no meaning for the core.
//   sender host number  16 bits: the low half of the sender's host ID, a
//                hint that finds the link without trial decryption.
//   counter      low 40 bits of the 64-bit packet counter.
//
// The packet counter is time-anchored: counter = seconds * 2^24 + n, with the
// seconds taken from the sender's wall clock when the counter was last
// anchored. The receiver rebuilds the full 64 bits from its own clock, checks
// the time window, and uses the full value as the AEAD nonce. The header is
// the AEAD's associated data, so every bit of it is authenticated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/crypto/aead.hpp"
#include "core/types.hpp"

namespace cordon::wire {

constexpr size_t kHeaderSize = 8;
constexpr size_t kTagSize = crypto::kTagSize;
constexpr size_t kOverhead = kHeaderSize + kTagSize;  // 24 bytes
static_assert(kOverhead <= 24, "docs/design.md, decision 5: at most 24 bytes on a direct path");

// Buffers handed to the core keep this much room before and after an inner
// packet so that sealing happens in place (docs/design.md, practice 2). Room enough
// for a relayed datagram: hop header before the inner header, and after the
// inner tag the routing block and the hop tag (wire/relay.hpp).
constexpr size_t kHeadroom = 32;
constexpr size_t kRoutingBlockSize = 12;
constexpr size_t kRelayExtra = kHeaderSize + kRoutingBlockSize + kTagSize;  // 36 bytes on top of kOverhead
constexpr size_t kTailroom = kTagSize + kRoutingBlockSize + kTagSize;       // 44
static_assert(kHeadroom >= 2 * kHeaderSize);

enum class Format : uint8_t { kDirect = 0, kRelayed = 1 };

// The plaintext's first byte tells what it is: an IP version nibble (4 or 6)
// for an inner packet, 0x00 for a keepalive. A keepalive is one zero byte,
// not an empty payload, because OpenSSL 3.0's AES-SIV cannot seal an empty
// plaintext; zero bytes after it are padding.
constexpr std::byte kKeepaliveByte{0x00};
// A generation probe (docs/protocol.md, "Key generations"): a keepalive
// sealed with generation 0 whose byte says "answer me", sent to a peer that
// has gone silent while this host sends to it. It is answered with a
// keepalive under the answering side's sending generation, and it is the one
// generation-0 datagram that does not mean its sender restarted.
constexpr std::byte kGenerationProbeByte{0x08};
constexpr size_t kKeepaliveSize = 1;

// Counter layout (docs/protocol.md, "Packet counter").
constexpr unsigned kCounterSubsecondBits = 24;  // 16.7 M packets/s per link direction before the counter runs ahead of the clock
constexpr uint64_t kCounterUnitsPerSecond = uint64_t{1} << kCounterSubsecondBits;
constexpr unsigned kWireCounterBits = 40;  // 2^40 units = 18.2 h, rebuilt within +-9.1 h
constexpr uint64_t kWireCounterMask = (uint64_t{1} << kWireCounterBits) - 1;

constexpr unsigned kGenerationModulus = 4;
constexpr unsigned kLanes = 4;
// The lane a worker marks its datagrams with.
constexpr uint8_t lane_of_worker(unsigned worker) { return static_cast<uint8_t>(worker % kLanes); }

struct Header {
  Format format = Format::kDirect;
  crypto::Suite suite = crypto::Suite::kAes256Gcm;
  uint8_t generation = 0;       // modulo kGenerationModulus
  uint8_t lane = 0;             // modulo kLanes
  uint16_t sender_host = 0;     // low 16 bits of the sender's host ID
  uint64_t wire_counter = 0;    // low kWireCounterBits bits of the counter
};

enum class HeaderError : uint8_t { kTooShort, kBadFormat };

// Parses the first kHeaderSize bytes. The datagram must also hold a tag, so
// anything shorter than kOverhead is kTooShort.
struct ParsedHeader {
  std::optional<Header> header;
  HeaderError error = HeaderError::kTooShort;
};
ParsedHeader parse_header(std::span<const std::byte> datagram);

// The lane of a datagram whose header starts at datagram[0] (0 when empty),
// without parsing the rest.
uint8_t lane_of(std::span<const std::byte> datagram);

// Writes kHeaderSize bytes.
void write_header(const Header& h, std::span<std::byte, kHeaderSize> out);

// Rebuilds the full 64-bit counter from its low 40 bits: the value nearest to
// `reference` (the receiver's clock, in counter units).
uint64_t rebuild_counter(uint64_t wire_counter, uint64_t reference);

// The AEAD nonce: four zero bytes and the full counter, big-endian. Keys are
// unique per link, direction, suite and generation, so the counter alone makes
// the nonce unique (docs/protocol.md, "Nonce uniqueness").
std::array<std::byte, crypto::kNonceSize> make_nonce(uint64_t counter);

// Counter units for a wall-clock time in nanoseconds; negative times map to 0.
uint64_t counter_units(int64_t real_ns);

}  // namespace cordon::wire
