#include "core/ipsec/esp.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/ipsec/ip_header.hpp"

namespace cordon::ipsec {
namespace {

constexpr uint8_t kProtoEsp = kIpProtoEsp;

// What one packet authenticates besides IV and ciphertext: the aad, and
// for an HMAC with ESN the high half after the packet (esp.hpp).
struct Authenticated {
  std::array<std::byte, 12> aad{};
  size_t aad_size = 8;
  std::array<std::byte, 4> suffix{};
  size_t suffix_size = 0;

  std::span<const std::byte> aad_span() const { return std::span(aad).first(aad_size); }
  std::span<const std::byte> suffix_span() const { return std::span(suffix).first(suffix_size); }
};

Authenticated authenticated(bool combined, bool esn, uint32_t spi, uint64_t sequence) {
  Authenticated a;
  const auto high = static_cast<uint32_t>(sequence >> 32);
  const auto low = static_cast<uint32_t>(sequence);
  ip::store32(&a.aad[0], spi);
  if (combined && esn) {  // RFC 4106 section 5, RFC 7634 section 3: SPI | high | low
    ip::store32(&a.aad[4], high);
    ip::store32(&a.aad[8], low);
    a.aad_size = 12;
    return a;
  }
  ip::store32(&a.aad[4], low);
  if (esn) {  // RFC 4303 section 3.3.2.1: appended for the ICV only
    ip::store32(&a.suffix[0], high);
    a.suffix_size = 4;
  }
  return a;
}

// RFC 4303 section 2.4: the ciphertext ends on the cipher's block and on a
// 4-byte boundary.
size_t pad_unit(const Cipher& cipher) { return std::max<size_t>(cipher.block_size(), 4); }

// Padding 1, 2, 3, ... then Pad Length and Next Header (RFC 4303 section
// 2.4); `trailer` is exactly their length.
void write_trailer(std::span<std::byte> trailer, uint8_t next_header) {
  const size_t pad = trailer.size() - kEspTrailerSize;
  for (size_t i = 0; i < pad; ++i) trailer[i] = static_cast<std::byte>(i + 1);
  trailer[pad] = static_cast<std::byte>(pad);
  trailer[pad + 1] = static_cast<std::byte>(next_header);
}

}  // namespace

SaState sa_state(const SaLimits& limits, const SaCounters& c) {
  if (c.packets >= limits.hard_packets || c.bytes >= limits.hard_bytes) return SaState::kExpired;
  if (c.packets >= limits.soft_packets || c.bytes >= limits.soft_bytes) return SaState::kRekeyNeeded;
  return SaState::kActive;
}

SaState outbound_sa_state(const SaLimits& limits, const SaCounters& counters, uint64_t sequence, bool esn) {
  if (sequence >= last_sequence(esn)) return SaState::kExpired;
  const SaState s = sa_state(limits, counters);
  if (s == SaState::kActive && sequence >= rekey_sequence(esn)) return SaState::kRekeyNeeded;
  return s;
}

std::string_view sa_mode_name(SaMode mode) { return mode == SaMode::kTunnel ? "tunnel" : "transport"; }

namespace {

struct DropText {
  std::string_view name;
  std::string_view meaning;
};

constexpr std::array<DropText, kEspDropCount> kDropTexts = {{
#define CORDON_X(e, name, what) {name, what},
    CORDON_IPSEC_DROPS(CORDON_X)
#undef CORDON_X
}};

}  // namespace

std::string_view esp_drop_name(EspDrop drop) {
  return static_cast<size_t>(drop) < kEspDropCount ? kDropTexts[static_cast<size_t>(drop)].name : "unknown";
}

std::string_view esp_drop_meaning(EspDrop drop) {
  return static_cast<size_t>(drop) < kEspDropCount ? kDropTexts[static_cast<size_t>(drop)].meaning : "unknown";
}

std::optional<uint32_t> esp_spi(std::span<const std::byte> esp) {
  if (esp.size() < 4) return std::nullopt;
  return ip::load32(esp.data());
}

// ---------------------------------------------------------------------------
// Outbound

OutboundEspSa::OutboundEspSa(uint32_t spi, Cipher cipher, bool esn, SaMode mode, SaLimits limits)
    : SendingSa(spi, esn, mode, limits), cipher_(std::move(cipher)) {}

Result<std::span<std::byte>, EspDrop> OutboundEspSa::seal(std::span<std::byte> buffer, size_t inner_offset,
                                                          size_t inner_len) {
  if (inner_offset > buffer.size() || inner_len > buffer.size() - inner_offset) return refuse(EspDrop::kNoRoom);
  const auto h = ip::parse_header(buffer.subspan(inner_offset, inner_len));
  if (!h || h->total_length != inner_len) return refuse(EspDrop::kInnerMalformed);
  if (const auto why = exhausted(EspDrop::kSaExpired, EspDrop::kSequenceExhausted)) return refuse(*why);

  uint8_t next_header = h->version == 4 ? kNextHeaderIpv4 : kNextHeaderIpv6;
  size_t header_len = 0;  // of the IP header kept outside ESP (transport mode)
  if (mode_ == SaMode::kTransport) {
    // RFC 4303 section 3.3.4: transport mode protects whole datagrams; the
    // extension headers of RFC 8200 would belong outside ESP.
    if ((h->version == 4 && h->fragment) || (h->version == 6 && ip::is_ipv6_extension(h->protocol))) {
      return refuse(EspDrop::kInnerMalformed);
    }
    next_header = h->protocol;
    header_len = h->length;
  }
  const size_t iv_size = cipher_.iv_size();
  const size_t icv_size = cipher_.icv_size();
  const size_t payload_offset = inner_offset + header_len;
  const size_t payload_len = inner_len - header_len;
  const size_t unit = pad_unit(cipher_);
  const size_t encrypted = (payload_len + kEspTrailerSize + unit - 1) / unit * unit;
  const size_t pad = encrypted - payload_len - kEspTrailerSize;
  const size_t total = header_len + kEspHeaderSize + iv_size + encrypted + icv_size;
  const bool fits_length_field = header_len == 0 || total - (h->version == 6 ? ip::kIpv6Header : 0) <= 0xffff;
  if (inner_offset < kEspHeaderSize + iv_size || buffer.size() - payload_offset < encrypted + icv_size ||
      !fits_length_field) {
    return refuse(EspDrop::kNoRoom);
  }

  const uint64_t sequence = ++sequence_;
  const size_t packet_offset = inner_offset - kEspHeaderSize - iv_size;  // transport: the IP header's new place
  if (header_len > 0) std::memmove(&buffer[packet_offset], &buffer[inner_offset], header_len);
  const size_t esp_offset = packet_offset + header_len;

  write_trailer(buffer.subspan(payload_offset + payload_len, pad + kEspTrailerSize), next_header);

  ip::store32(&buffer[esp_offset], spi_);
  ip::store32(&buffer[esp_offset + 4], static_cast<uint32_t>(sequence));
  const auto iv = buffer.subspan(esp_offset + kEspHeaderSize, iv_size);
  cipher_.make_iv(sequence, iv);
  const Authenticated a = authenticated(cipher_.spec().combined(), esn_, spi_, sequence);
  if (!cipher_.seal(a.aad_span(), iv, buffer.subspan(payload_offset, encrypted),
                    buffer.subspan(payload_offset + encrypted, icv_size), a.suffix_span())) {
    return refuse(EspDrop::kCryptoError);
  }
  const auto packet = buffer.subspan(packet_offset, total);
  if (header_len > 0) ip::rewrite(packet, *h, kProtoEsp, total);
  return done(packet, inner_len);
}

// ---------------------------------------------------------------------------
// Inbound

InboundEspSa::InboundEspSa(uint32_t spi, Cipher cipher, bool esn, SaMode mode, SaLimits limits, InnerCheck check)
    : ReceivingSa(spi, esn, mode, limits, std::move(check)), cipher_(std::move(cipher)) {}

Result<std::span<std::byte>, EspDrop> InboundEspSa::open(std::span<std::byte> buffer, size_t esp_offset) {
  if (esp_offset > buffer.size()) return refuse(EspDrop::kTruncated);
  const auto esp = buffer.subspan(esp_offset);
  const size_t iv_size = cipher_.iv_size();
  const size_t icv_size = cipher_.icv_size();
  const size_t least_encrypted = std::max<size_t>(kEspTrailerSize, cipher_.block_size());
  if (esp.size() < kEspHeaderSize + iv_size + least_encrypted + icv_size) return refuse(EspDrop::kTruncated);
  if (ip::load32(esp.data()) != spi_) return refuse(EspDrop::kUnknownSpi);
  if (state() == SaState::kExpired) return refuse(EspDrop::kSaExpired);

  const auto judged = replay_.check(ip::load32(&esp[4]));
  if (judged.verdict == AntiReplay::Verdict::kTooOld) return refuse(EspDrop::kTooOld);
  if (judged.verdict == AntiReplay::Verdict::kReplay) return refuse(EspDrop::kReplay);

  const auto iv = esp.subspan(kEspHeaderSize, iv_size);
  const auto text = esp.subspan(kEspHeaderSize + iv_size, esp.size() - kEspHeaderSize - iv_size - icv_size);
  const auto icv = esp.last(icv_size);
  if (text.size() % cipher_.block_size() != 0) return refuse(EspDrop::kMalformed);
  const Authenticated a = authenticated(cipher_.spec().combined(), replay_.esn(), spi_, judged.sequence);
  if (!cipher_.open(a.aad_span(), iv, text, icv, a.suffix_span())) return refuse(EspDrop::kIcv);
  replay_.record(judged.sequence);

  const size_t pad = std::to_integer<size_t>(text[text.size() - 2]);
  const uint8_t next_header = std::to_integer<uint8_t>(text[text.size() - 1]);
  if (pad + kEspTrailerSize > text.size()) return refuse(EspDrop::kPadding);
  const size_t payload_len = text.size() - kEspTrailerSize - pad;
  for (size_t i = 0; i < pad; ++i) {
    if (std::to_integer<size_t>(text[payload_len + i]) != i + 1) return refuse(EspDrop::kPadding);
  }
  if (next_header == kNextHeaderNone) return refuse(EspDrop::kDummy);
  return inner(buffer, esp_offset, text.first(payload_len), next_header);
}

Result<std::span<std::byte>, EspDrop> InboundEspSa::inner(std::span<std::byte> buffer, size_t esp_offset,
                                                          std::span<std::byte> payload, uint8_t next_header) {
  std::span<std::byte> packet;
  if (mode_ == SaMode::kTunnel) {
    if (next_header != kNextHeaderIpv4 && next_header != kNextHeaderIpv6) return refuse(EspDrop::kNextHeader);
    const auto h = ip::parse_header(payload);
    if (!h || h->version != (next_header == kNextHeaderIpv4 ? 4 : 6)) return refuse(EspDrop::kInnerMalformed);
    packet = payload.first(h->total_length);  // anything after it was TFC padding (RFC 4303 section 2.7)
  } else {
    // The outer header ends where ESP starts and covers exactly the buffer.
    const auto h = ip::parse_header(buffer);
    if (!h || h->length != esp_offset || h->protocol != kProtoEsp || h->total_length != buffer.size()) {
      return refuse(EspDrop::kInnerMalformed);
    }
    const size_t start = static_cast<size_t>(payload.data() - buffer.data()) - h->length;
    std::memmove(&buffer[start], buffer.data(), h->length);
    packet = buffer.subspan(start, h->length + payload.size());
    ip::rewrite(packet, *h, next_header, packet.size());
  }
  if (check_ && !check_(packet)) return refuse(EspDrop::kSelector);
  return done(packet, packet.size());
}

}  // namespace cordon::ipsec
