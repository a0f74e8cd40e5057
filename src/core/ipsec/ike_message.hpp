// IKEv2 messages: the IKE header and the payload chain (RFC 7296 sections
// 3.1 and 3.2), and the envelope of the Encrypted payload (section 3.14) and
// of Encrypted Fragments (RFC 7383 section 2.5). The payload bodies are
// ike_payloads.hpp's. Pure: no system call, no clock, no exception.
//
// IKE header (section 3.1), big-endian:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       IKE SA Initiator's SPI                  |
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       IKE SA Responder's SPI                  |
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                          Message ID                           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                            Length                             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
//   Flags: |X|X|R|V|I|X|X|X|  (R response 0x20, V version 0x10, I initiator
//   0x08; the X bits are sent as zero and ignored on receipt).
//
// The header is followed by a chain of payloads, each naming the type of the
// next in its generic header; the header's Next Payload names the first.
//
// How a message is checked, in order (section 2.5 for versions and the
// critical bit):
//   - the datagram is at most kMaxIkeMessageSize and at least the header;
//   - the major version is 2 (above: kUnsupportedMajorVersion, for the
//     caller to answer INVALID_MAJOR_VERSION; below: kOldMajorVersion);
//   - the Length field equals the datagram's size;
//   - each payload's length is at least its generic header and fits;
//   - a payload type this codec does not know is skipped when its critical
//     bit is clear, and fails the message with kUnsupportedCritical (naming
//     the type) when it is set;
//   - SK and SKF end the chain: their Next Payload names the first
//     encrypted payload, and nothing may follow them in the datagram;
//   - at most kMaxPayloads payloads per chain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <variant>
#include <vector>

#include "core/ipsec/ike_constants.hpp"
#include "core/ipsec/ike_payloads.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

// A UDP datagram carries at most 65535 bytes; IKE over TCP (RFC 8229) is
// not supported, so no message is larger.
constexpr size_t kMaxIkeMessageSize = 65535;
// Far above what an exchange needs (strongSwan's IKE_SA_INIT request
// carries 9, tests/unit/ike_strongswan_capture.hpp), low enough that a
// chain of empty payloads costs little to refuse.
constexpr size_t kMaxPayloads = 128;

struct IkeHeader {
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  uint8_t major_version = kIkeMajorVersion;
  uint8_t minor_version = 0;
  ExchangeType exchange = ExchangeType::kIkeSaInit;  // may hold a number outside the enum
  bool initiator = false;  // I: sent by the original initiator of the IKE SA
  bool response = false;   // R
  bool version = false;    // V: the sender could speak a higher major version
  uint32_t message_id = 0;
  MessageRole role() const { return response ? MessageRole::kResponse : MessageRole::kRequest; }
  friend bool operator==(const IkeHeader&, const IkeHeader&) = default;
};

// The header fields as sent, before any check: what a caller needs to
// answer a message the full parser refuses (INVALID_MAJOR_VERSION,
// section 2.5, echoes the SPIs and message ID).
struct RawIkeHeader {
  IkeHeader header;
  PayloadType next_payload = PayloadType::kNone;
  uint32_t length = 0;
};

struct IkeMessage {
  IkeHeader header;
  std::vector<Payload> payloads;  // in the order received; unknown non-critical ones left out
  friend bool operator==(const IkeMessage&, const IkeMessage&) = default;
};

// The first payload of type T in `payloads` (a parsed message's, or an SK
// payload's inner chain), or nullptr.
template <typename T>
const T* find_payload(std::span<const Payload> payloads) {
  for (const Payload& p : payloads) {
    if (const T* body = std::get_if<T>(&p.body)) return body;
  }
  return nullptr;
}

// The first Notify of this type, or nullptr (e.g. NAT_DETECTION_SOURCE_IP,
// COOKIE, INVALID_KE_PAYLOAD).
const NotifyPayload* find_notify(std::span<const Payload> payloads, NotifyType type);

// Reads the first kIkeHeaderSize bytes; fails only when they are missing.
Result<RawIkeHeader, IkeParseError> parse_ike_header(std::span<const std::byte> datagram);

// Parses a whole datagram (checks listed above). An SK or SKF payload comes
// back with its body still encrypted and its offset in `datagram`.
Result<IkeMessage, IkeParseError> parse_ike_message(std::span<const std::byte> datagram);

// Parses a payload chain that starts with a payload of type `first`: the
// decrypted content of an SK payload (inner payloads only, padding already
// removed), or the reassembled content of SKF fragments. Error offsets are
// relative to `bytes`. An SK or SKF inside is refused (kBadField).
Result<std::vector<Payload>, IkeParseError> parse_payload_chain(PayloadType first, std::span<const std::byte> bytes,
                                                               MessageRole role);

// Serializes header and payloads, computing every length and the chain of
// Next Payload fields. SK or SKF, if present, must be last (their Next
// Payload is their first_inner); their offset field is ignored.
Result<IkeBytes, IkeBuildError> serialize_ike_message(const IkeMessage& message);

// Serializes payloads alone, as the plaintext of an SK payload: the first
// payload's type goes in the SK header (payloads.front().type()).
Result<IkeBytes, IkeBuildError> serialize_payload_chain(std::span<const Payload> payloads);

// ---------------------------------------------------------------------------
// Building an encrypted message in place (section 3.14; RFC 7383 section 2.5).
//
//   IKE header | SK header | IV | inner payloads | padding | pad length | ICV
//                               \____ encrypted in place (plaintext) ___/
//
// The codec lays the message out, writes the header (with the final Length)
// and the inner payloads, the zero padding and the pad length; the caller's
// sealer then fills the IV, encrypts `plaintext` in place and writes the ICV.

struct SkLayout {
  size_t iv_size = 0;     // bytes of IV before the ciphertext
  size_t block_size = 1;  // the cipher's block: plaintext is padded to a multiple of it (1 for none)
  size_t icv_size = 0;    // bytes of integrity check value / AEAD tag at the end
};

struct SkSealView {
  // IKE header through the SK (or SKF) header: an AEAD's associated data
  // (RFC 5282 section 5.1; RFC 7383 section 2.5 for SKF, header with
  // its fragment fields).
  std::span<const std::byte> associated_data;
  std::span<std::byte> iv;
  // Inner payloads | padding | pad length: encrypt in place.
  std::span<std::byte> plaintext;
  std::span<std::byte> icv;
  // The whole message but the ICV: what an integrity transform covers
  // (section 3.14), ciphertext included once `plaintext` is encrypted.
  std::span<const std::byte> authenticated;
};

// Returns false if sealing failed (the message is then not returned).
using SkSealer = std::function<bool(const SkSealView&)>;

// A message whose only payload is SK, around `inner` (serialize_payload_chain's
// output, whose first payload is of type `first_inner`). The header's Length
// and Next Payload are computed.
Result<IkeBytes, IkeBuildError> build_encrypted_message(const IkeHeader& header, PayloadType first_inner,
                                                        std::span<const std::byte> inner, const SkLayout& layout,
                                                        const SkSealer& seal);

// One message per fragment (RFC 7383 section 2.5): `inner` is cut into
// pieces of at most `fragment_content_size` bytes, each sent in an SKF
// payload numbered from 1 and sealed on its own; only the first names
// `first_inner`. Fails if that would take more than 65535 fragments.
Result<std::vector<IkeBytes>, IkeBuildError> build_encrypted_fragments(const IkeHeader& header,
                                                                       PayloadType first_inner,
                                                                       std::span<const std::byte> inner,
                                                                       size_t fragment_content_size,
                                                                       const SkLayout& layout, const SkSealer& seal);

// The parts of a received SK or SKF body, for the IKE SA to decrypt.
struct SkParts {
  std::span<const std::byte> iv;
  std::span<const std::byte> ciphertext;
  std::span<const std::byte> icv;
};
Result<SkParts, IkeParseError> split_encrypted_body(std::span<const std::byte> body, const SkLayout& layout);

// The inner payloads of a decrypted SK plaintext: drops the padding and the
// pad length byte (section 3.14). Fails if the pad length exceeds the data.
Result<std::span<const std::byte>, IkeParseError> strip_sk_padding(std::span<const std::byte> plaintext);

}  // namespace cordon::ipsec
