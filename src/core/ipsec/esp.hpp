// ESP (RFC 4303) in user space: the packet format and the state of one
// security association per direction.
//
// RFC 4303 section 2, an ESP packet as it follows the outer IP header (or
// the UDP header of RFC 3948):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |               Security Parameters Index (SPI)                 |  aad
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Sequence Number (the low 32 bits with ESN)           |  aad
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |   IV: 8 bytes (AES-GCM, ChaCha20-Poly1305), 16 (AES-CBC)      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Payload: the inner IP packet (tunnel mode) or the transport  |  encrypted
//   ~  payload (transport mode)                                     ~
//   +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |               |  Padding 1, 2, 3, ... (0-255 bytes)           |  encrypted
//   +-+-+-+-+-+-+-+-+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                               |  Pad Length   | Next Header   |  encrypted
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |   ICV: 16 bytes (AEAD tag; HMAC-SHA-256-128), 24, 32          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// With ESN the high 32 bits of the sequence number are authenticated but
// not sent: inside the aad of a combined-mode cipher (SPI | high | low,
// RFC 4106 section 5, RFC 7634 section 3), after the packet for an HMAC
// (RFC 4303 section 3.3.2.1).
//
// No TFC padding is sent (RFC 4303 section 2.7); a received packet's bytes
// after the inner packet's own length are dropped, as that section allows.
//
// Pure: no clock, no randomness, no allocation per packet. Not
// thread-safe: one SA per direction is owned by one worker.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "core/ipsec/anti_replay.hpp"
#include "core/ipsec/cipher.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

constexpr size_t kEspHeaderSize = 8;   // SPI and sequence number
constexpr size_t kEspTrailerSize = 2;  // Pad Length and Next Header
constexpr size_t kEspMaxIv = 16;
constexpr size_t kEspMaxIcv = 32;
// What a caller leaves before the inner packet, and after it, for seal().
constexpr size_t kEspHeadroom = kEspHeaderSize + kEspMaxIv;
constexpr size_t kEspTailroom = 15 + kEspTrailerSize + kEspMaxIcv;

// Next Header values (IANA protocol numbers).
constexpr uint8_t kNextHeaderIpv4 = 4;   // tunnel mode, an IPv4 packet
constexpr uint8_t kNextHeaderIpv6 = 41;  // tunnel mode, an IPv6 packet
constexpr uint8_t kNextHeaderNone = 59;  // a dummy packet (RFC 4303 section 2.6)

enum class SaMode : uint8_t { kTunnel, kTransport };
std::string_view sa_mode_name(SaMode mode);  // "tunnel", "transport"

// Every refused packet of the ESP and AH data path, with a stable name for
// logs, status and metrics (never rename one).
// X(enumerator, stable name, meaning)
#define CORDON_IPSEC_DROPS(X)                                                                      \
  X(kTruncated, "esp_truncated", "shorter than header, IV, trailer and ICV")                      \
  X(kMalformed, "esp_malformed", "ciphertext not a whole number of cipher blocks")                \
  X(kUnknownSpi, "esp_unknown_spi", "no inbound SA has this SPI")                                  \
  X(kTooOld, "esp_too_old", "sequence number behind the replay window")                           \
  X(kReplay, "esp_replay", "sequence number already received")                                    \
  X(kIcv, "esp_icv", "integrity check value does not verify")                                     \
  X(kPadding, "esp_padding", "pad length too long or pad bytes not 1, 2, 3, ...")                 \
  X(kNextHeader, "esp_next_header", "tunnel mode and the next header is not IPv4 (4) or IPv6 (41)") \
  X(kDummy, "esp_dummy", "dummy packet (next header 59), discarded as RFC 4303 section 2.6 says") \
  X(kInnerMalformed, "esp_inner_malformed", "the inner packet is not a well-formed IP packet")    \
  X(kSelector, "esp_selector", "the inner packet is outside the SA's traffic selectors")          \
  X(kSaExpired, "esp_sa_expired", "the SA reached its hard limit of packets or bytes")            \
  X(kSequenceExhausted, "esp_sequence_exhausted", "the sequence number would cycle: rekey first") \
  X(kNoRoom, "esp_no_room", "the caller's buffer lacks the headroom or tailroom")                 \
  X(kCryptoError, "esp_crypto_error", "the crypto library failed")                                \
  X(kAhTruncated, "ah_truncated", "shorter than the IP header, AH and its ICV")                   \
  X(kAhMalformed, "ah_malformed", "IP header not followed by AH, or AH's payload length wrong")   \
  X(kAhIpOptions, "ah_ip_options", "IPv4 options (not all immutable) are not authenticated here") \
  X(kAhIpv6Extension, "ah_ipv6_extension", "IPv6 extension headers before AH are refused")        \
  X(kAhUnknownSpi, "ah_unknown_spi", "no inbound AH SA has this SPI")                             \
  X(kAhTooOld, "ah_too_old", "AH sequence number behind the replay window")                       \
  X(kAhReplay, "ah_replay", "AH sequence number already received")                                \
  X(kAhIcv, "ah_icv", "AH integrity check value does not verify")                                 \
  X(kAhNextHeader, "ah_next_header", "tunnel mode and the next header is not IPv4 (4) or IPv6 (41)") \
  X(kAhInnerMalformed, "ah_inner_malformed", "the packet AH protects is not a well-formed IP packet") \
  X(kAhSelector, "ah_selector", "the inner packet is outside the AH SA's traffic selectors")      \
  X(kAhSaExpired, "ah_sa_expired", "the AH SA reached its hard limit of packets or bytes")         \
  X(kAhSequenceExhausted, "ah_sequence_exhausted", "the AH sequence number would cycle: rekey first") \
  X(kAhNoRoom, "ah_no_room", "the caller's buffer lacks the headroom for AH and the outer header")

enum class EspDrop : uint8_t {
#define CORDON_X(e, name, what) e,
  CORDON_IPSEC_DROPS(CORDON_X)
#undef CORDON_X
  kCount
};
constexpr size_t kEspDropCount = static_cast<size_t>(EspDrop::kCount);
std::string_view esp_drop_name(EspDrop drop);
std::string_view esp_drop_meaning(EspDrop drop);

// The lifetime of an SA in packets and bytes (RFC 4301 section 4.4.2.1):
// past a soft limit the SA reports kRekeyNeeded, at a hard one kExpired and
// protects nothing more. Bytes are inner bytes (what the SA protected).
struct SaLimits {
  static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  uint64_t soft_packets = kNone;
  uint64_t hard_packets = kNone;
  uint64_t soft_bytes = kNone;
  uint64_t hard_bytes = kNone;
};

enum class SaState : uint8_t { kActive, kRekeyNeeded, kExpired };

struct SaCounters {
  uint64_t packets = 0;  // sealed, or accepted
  uint64_t bytes = 0;    // inner bytes of those
  std::array<uint64_t, kEspDropCount> drops{};

  uint64_t dropped(EspDrop d) const { return drops[static_cast<size_t>(d)]; }
  void count(EspDrop d) { ++drops[static_cast<size_t>(d)]; }
};

// Where counters stand against limits (hard first).
SaState sa_state(const SaLimits& limits, const SaCounters& counters);
// The same for a sending SA, whose sequence number also runs out
// (last_sequence, rekey_sequence below).
SaState outbound_sa_state(const SaLimits& limits, const SaCounters& counters, uint64_t sequence, bool esn);

// Judges an accepted inner packet against the SA's traffic selectors
// (RFC 4301 section 5.2, step 4). An empty function accepts all.
using InnerCheck = std::function<bool(std::span<const std::byte> inner)>;

// The sequence numbers one SA may use, and where it asks for a rekey:
// RFC 4303 section 3.3.3 forbids cycling, so without ESN 2^32 - 1 is the
// last; a sixteenth of the space before it (2^28 packets, minutes at line
// rate) the SA reports kRekeyNeeded.
constexpr uint64_t last_sequence(bool esn) { return esn ? ~uint64_t{0} : 0xffffffffu; }
constexpr uint64_t rekey_sequence(bool esn) { return last_sequence(esn) - last_sequence(esn) / 16; }

// What every SA keeps besides its keys: SPI, mode, limits and counters.
class SaBase {
 public:
  uint32_t spi() const { return spi_; }
  SaMode mode() const { return mode_; }
  const SaCounters& counters() const { return counters_; }

 protected:
  SaBase(uint32_t spi, SaMode mode, SaLimits limits) : spi_(spi), mode_(mode), limits_(limits) {}
  Result<std::span<std::byte>, EspDrop> refuse(EspDrop d) {
    counters_.count(d);
    return d;
  }
  std::span<std::byte> done(std::span<std::byte> packet, size_t inner_bytes) {
    ++counters_.packets;
    counters_.bytes += inner_bytes;
    return packet;
  }

  uint32_t spi_;
  SaMode mode_;
  SaLimits limits_;
  SaCounters counters_;
};

// A sending SA's sequence number (RFC 4303 section 3.3.3).
class SendingSa : public SaBase {
 public:
  // Moves the counter forward to `last_used` (never back: a number is
  // never used twice). Tests use it to reach the sequence limits.
  void skip_sequence_to(uint64_t last_used) { sequence_ = std::max(sequence_, last_used); }
  uint64_t sequence() const { return sequence_; }  // the last one used; 0 before the first packet
  bool esn() const { return esn_; }
  SaState state() const { return outbound_sa_state(limits_, counters_, sequence_, esn_); }

 protected:
  SendingSa(uint32_t spi, bool esn, SaMode mode, SaLimits limits) : SaBase(spi, mode, limits), esn_(esn) {}
  // Why a packet cannot be sent now, before any number is spent.
  std::optional<EspDrop> exhausted(EspDrop expired, EspDrop no_number) const {
    if (sa_state(limits_, counters_) == SaState::kExpired) return expired;
    if (sequence_ >= last_sequence(esn_)) return no_number;
    return std::nullopt;
  }

  bool esn_;
  uint64_t sequence_ = 0;
};

// A receiving SA's replay window and selector check.
class ReceivingSa : public SaBase {
 public:
  bool esn() const { return replay_.esn(); }
  SaState state() const { return sa_state(limits_, counters_); }
  const AntiReplay& replay() const { return replay_; }

 protected:
  ReceivingSa(uint32_t spi, bool esn, SaMode mode, SaLimits limits, InnerCheck check)
      : SaBase(spi, mode, limits), replay_(esn), check_(std::move(check)) {}

  AntiReplay replay_;
  InnerCheck check_;
};

class OutboundEspSa : public SendingSa {
 public:
  OutboundEspSa(uint32_t spi, Cipher cipher, bool esn, SaMode mode, SaLimits limits = {});

  // Protects the inner IP packet buffer[inner_offset, inner_offset +
  // inner_len) in place. The buffer needs kEspHeadroom bytes before the
  // packet and kEspTailroom after it (less for a smaller IV or ICV).
  //   tunnel mode: returns the ESP packet (the whole inner packet is its
  //     payload, next header 4 or 41), to be sent after an outer IP or
  //     UDP header of the caller's;
  //   transport mode: returns the IP packet, its header moved in front of
  //     the ESP header with protocol 50 and its length (and IPv4 checksum)
  //     rewritten; IPv4 fragments and IPv6 extension headers are refused
  //     (kInnerMalformed).
  Result<std::span<std::byte>, EspDrop> seal(std::span<std::byte> buffer, size_t inner_offset, size_t inner_len);

  const CipherSpec& cipher_spec() const { return cipher_.spec(); }

 private:
  Cipher cipher_;
};

class InboundEspSa : public ReceivingSa {
 public:
  InboundEspSa(uint32_t spi, Cipher cipher, bool esn, SaMode mode, SaLimits limits = {}, InnerCheck check = {});

  // Verifies and decrypts the ESP packet that starts at buffer[esp_offset]
  // and runs to the end of `buffer`, in place. In transport mode the outer
  // IP header is buffer[0, esp_offset); in tunnel mode what lies before
  // esp_offset is ignored. Order (RFC 4303 section 3.4): SPI, lifetime,
  // replay check, ICV, then the window records the number (an authentic
  // packet spends it whatever it holds), padding, next header, inner
  // packet, selectors. Returns the inner IP packet (transport mode: the
  // IP header moved up to the payload, its protocol and length restored).
  Result<std::span<std::byte>, EspDrop> open(std::span<std::byte> buffer, size_t esp_offset);

  const CipherSpec& cipher_spec() const { return cipher_.spec(); }

 private:
  Result<std::span<std::byte>, EspDrop> inner(std::span<std::byte> buffer, size_t esp_offset,
                                              std::span<std::byte> payload, uint8_t next_header);

  Cipher cipher_;
};

// The SPI of an ESP packet (its first 4 bytes), to find its SA; nullopt if
// shorter.
std::optional<uint32_t> esp_spi(std::span<const std::byte> esp);

}  // namespace cordon::ipsec
