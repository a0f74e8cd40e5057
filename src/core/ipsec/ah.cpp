#include "core/ipsec/ah.hpp"

#include <cstring>
#include <utility>

#include "core/ipsec/ip_header.hpp"

namespace cordon::ipsec {
namespace {

// The IP header with RFC 4302 section 3.3.3.1's mutable fields zeroed,
// copied out so that the packet itself keeps them. Only option-less IPv4
// and extension-less IPv6 headers get here (20 or 40 bytes).
std::array<std::byte, ip::kIpv6Header> immutable_copy(std::span<const std::byte> header) {
  std::array<std::byte, ip::kIpv6Header> copy{};
  std::memcpy(copy.data(), header.data(), header.size());
  if (header.size() == ip::kIpv4MinHeader) {
    copy[1] = std::byte{0};                     // TOS / DSCP and ECN
    copy[6] = copy[7] = std::byte{0};           // flags, fragment offset
    copy[8] = std::byte{0};                     // TTL
    copy[10] = copy[11] = std::byte{0};         // header checksum
  } else {
    copy[0] = std::byte{0x60};                  // version kept; traffic class and
    copy[1] = copy[2] = copy[3] = std::byte{0};  // flow label zeroed
    copy[7] = std::byte{0};                     // hop limit
  }
  return copy;
}

// The ICV input: header (zeroed copy), then AH and payload with the ICV
// field zeroed by the caller, then the ESN high half.
struct IcvInput {
  std::array<std::byte, ip::kIpv6Header> header;
  size_t header_len;
  std::array<std::byte, 4> high{};
  bool esn;

  std::array<std::span<const std::byte>, 3> parts(std::span<const std::byte> rest) const {
    return {std::span(header).first(header_len), rest, std::span(high).first(esn ? 4 : 0)};
  }
};

IcvInput icv_input(std::span<const std::byte> header, bool esn, uint64_t sequence) {
  IcvInput in{immutable_copy(header), header.size(), {}, esn};
  ip::store32(in.high.data(), static_cast<uint32_t>(sequence >> 32));  // RFC 4302 section 2.5.1
  return in;
}

// Writes the outer header (`out` is exactly its length) of a tunnel-mode
// packet of `total` bytes.
void write_outer(std::span<std::byte> out, const TunnelEndpoints& t, size_t total, uint64_t sequence) {
  std::memset(out.data(), 0, out.size());
  if (t.version == 4) {
    out[0] = std::byte{0x45};
    ip::store16(&out[4], static_cast<uint16_t>(sequence));  // identification: unique enough per SA
    out[8] = static_cast<std::byte>(t.ttl);
    std::memcpy(&out[12], t.local.data(), 4);
    std::memcpy(&out[16], t.remote.data(), 4);
  } else {
    out[0] = std::byte{0x60};
    out[7] = static_cast<std::byte>(t.ttl);
    std::memcpy(&out[8], t.local.data(), 16);
    std::memcpy(&out[24], t.remote.data(), 16);
  }
  ip::Header h;
  h.version = t.version;
  h.length = t.version == 4 ? ip::kIpv4MinHeader : ip::kIpv6Header;
  ip::rewrite(out, h, kIpProtoAh, total);
}

// The IP header in front of AH: option-less IPv4 or extension-less IPv6.
Result<ip::Header, EspDrop> header_before_ah(std::span<const std::byte> packet) {
  const auto h = ip::parse_header(packet);
  if (!h) return packet.size() < ip::kIpv4MinHeader ? EspDrop::kAhTruncated : EspDrop::kAhMalformed;
  if (h->total_length != packet.size()) return EspDrop::kAhMalformed;
  if (h->version == 4 && h->length != ip::kIpv4MinHeader) return EspDrop::kAhIpOptions;
  if (h->protocol != kIpProtoAh) {
    return h->version == 6 && ip::is_ipv6_extension(h->protocol) ? EspDrop::kAhIpv6Extension : EspDrop::kAhMalformed;
  }
  return *h;
}

}  // namespace

std::optional<uint32_t> ah_spi(std::span<const std::byte> packet) {
  const auto h = header_before_ah(packet);
  if (!h || packet.size() < h->length + kAhFixedSize) return std::nullopt;
  return ip::load32(&packet[h->length + 4]);
}

// ---------------------------------------------------------------------------
// Outbound

OutboundAhSa::OutboundAhSa(uint32_t spi, Integrity integrity, bool esn, SaMode mode, TunnelEndpoints tunnel,
                           SaLimits limits)
    : SendingSa(spi, esn, mode, limits), integrity_(std::move(integrity)), tunnel_(tunnel) {}

Result<std::span<std::byte>, EspDrop> OutboundAhSa::seal(std::span<std::byte> buffer, size_t inner_offset,
                                                         size_t inner_len) {
  if (inner_offset > buffer.size() || inner_len > buffer.size() - inner_offset) return refuse(EspDrop::kAhNoRoom);
  const auto h = ip::parse_header(buffer.subspan(inner_offset, inner_len));
  if (!h || h->total_length != inner_len) return refuse(EspDrop::kAhInnerMalformed);
  if (const auto why = exhausted(EspDrop::kAhSaExpired, EspDrop::kAhSequenceExhausted)) return refuse(*why);

  const bool tunnel = mode_ == SaMode::kTunnel;
  uint8_t next_header = h->version == 4 ? kNextHeaderIpv4 : kNextHeaderIpv6;
  size_t header_len = tunnel ? (tunnel_.version == 4 ? ip::kIpv4MinHeader : ip::kIpv6Header) : h->length;
  const uint8_t outer_version = tunnel ? tunnel_.version : h->version;
  if (!tunnel) {
    if (h->version == 4 && h->length != ip::kIpv4MinHeader) return refuse(EspDrop::kAhIpOptions);
    if (h->version == 6 && ip::is_ipv6_extension(h->protocol)) return refuse(EspDrop::kAhIpv6Extension);
    if (h->fragment) return refuse(EspDrop::kAhInnerMalformed);  // RFC 4302 section 3.3.4: whole datagrams
    next_header = h->protocol;
  }
  const size_t icv_size = integrity_.icv_size();
  const size_t ah_len = ah_length(icv_size, outer_version);
  // Transport mode: the header moves back by AH's length; tunnel mode: an
  // outer header and AH go in front.
  const size_t added = tunnel ? header_len + ah_len : ah_len;
  const size_t length_field = inner_len + added - (outer_version == 6 ? ip::kIpv6Header : 0);
  if (inner_offset < added || length_field > 0xffff) return refuse(EspDrop::kAhNoRoom);

  const uint64_t sequence = ++sequence_;
  const size_t start = inner_offset - added;
  const size_t total = inner_len + added;
  const auto packet = buffer.subspan(start, total);
  if (tunnel) {
    write_outer(packet.first(header_len), tunnel_, total, sequence);
  } else {
    std::memmove(packet.data(), &buffer[inner_offset], header_len);
    ip::rewrite(packet, *h, kIpProtoAh, total);
  }
  std::byte* ah = &packet[header_len];
  std::memset(ah, 0, ah_len);
  ah[0] = static_cast<std::byte>(next_header);
  ah[1] = static_cast<std::byte>(ah_len / 4 - 2);  // RFC 4302 section 2.2
  ip::store32(ah + 4, spi_);
  ip::store32(ah + 8, static_cast<uint32_t>(sequence));
  const IcvInput in = icv_input(packet.first(header_len), esn_, sequence);
  if (!integrity_.compute(in.parts(packet.subspan(header_len)), std::span(ah + kAhFixedSize, icv_size))) {
    return refuse(EspDrop::kCryptoError);
  }
  return done(packet, inner_len);
}

// ---------------------------------------------------------------------------
// Inbound

InboundAhSa::InboundAhSa(uint32_t spi, Integrity integrity, bool esn, SaMode mode, SaLimits limits,
                         InnerCheck check)
    : ReceivingSa(spi, esn, mode, limits, std::move(check)), integrity_(std::move(integrity)) {}

Result<std::span<std::byte>, EspDrop> InboundAhSa::open(std::span<std::byte> packet) {
  const auto h = header_before_ah(packet);
  if (!h) return refuse(h.error());
  const size_t header_len = h->length;
  const size_t icv_size = integrity_.icv_size();
  const size_t ah_len = ah_length(icv_size, h->version);
  if (packet.size() < header_len + ah_len) return refuse(EspDrop::kAhTruncated);
  std::byte* ah = &packet[header_len];
  if (std::to_integer<size_t>(ah[1]) != ah_len / 4 - 2) return refuse(EspDrop::kAhMalformed);
  if (ip::load32(ah + 4) != spi_) return refuse(EspDrop::kAhUnknownSpi);
  if (state() == SaState::kExpired) return refuse(EspDrop::kAhSaExpired);

  const auto judged = replay_.check(ip::load32(ah + 8));
  if (judged.verdict == AntiReplay::Verdict::kTooOld) return refuse(EspDrop::kAhTooOld);
  if (judged.verdict == AntiReplay::Verdict::kReplay) return refuse(EspDrop::kAhReplay);

  // The ICV field is zeroed for the computation (RFC 4302 section 3.3.3.1);
  // the packet is consumed either way, so it is not put back.
  std::array<std::byte, 32> icv{};
  std::memcpy(icv.data(), ah + kAhFixedSize, icv_size);
  std::memset(ah + kAhFixedSize, 0, icv_size);
  const IcvInput in = icv_input(packet.first(header_len), replay_.esn(), judged.sequence);
  if (!integrity_.verify(in.parts(packet.subspan(header_len)), std::span(icv).first(icv_size))) {
    return refuse(EspDrop::kAhIcv);
  }
  replay_.record(judged.sequence);
  return inner(packet, header_len, ah_len, std::to_integer<uint8_t>(ah[0]));
}

Result<std::span<std::byte>, EspDrop> InboundAhSa::inner(std::span<std::byte> packet, size_t header_len,
                                                         size_t ah_len, uint8_t next_header) {
  std::span<std::byte> result;
  const auto payload = packet.subspan(header_len + ah_len);
  if (mode_ == SaMode::kTunnel) {
    if (next_header != kNextHeaderIpv4 && next_header != kNextHeaderIpv6) return refuse(EspDrop::kAhNextHeader);
    const auto h = ip::parse_header(payload);
    if (!h || h->version != (next_header == kNextHeaderIpv4 ? 4 : 6)) return refuse(EspDrop::kAhInnerMalformed);
    result = payload.first(h->total_length);
  } else {
    const auto outer = ip::parse_header(packet);  // verified by header_before_ah
    std::memmove(&packet[ah_len], packet.data(), header_len);
    result = packet.subspan(ah_len);
    ip::rewrite(result, *outer, next_header, result.size());
  }
  if (check_ && !check_(result)) return refuse(EspDrop::kAhSelector);
  return done(result, result.size());
}

}  // namespace cordon::ipsec
