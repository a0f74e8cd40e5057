#include "testing/fake_tun.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace cordon::testing {
namespace {

constexpr uint8_t kProtoUdp = 17;  // IANA protocol number
constexpr uint8_t kHopLimit = 64;  // IPv4 TTL and IPv6 hop limit
constexpr std::array<std::byte, 8> kMarker = {std::byte{'C'}, std::byte{'O'}, std::byte{'R'}, std::byte{'D'},
                                              std::byte{'S'}, std::byte{'I'}, std::byte{'M'}, std::byte{'1'}};
constexpr size_t kMaxPacket = 65535;

void put16(std::byte* p, uint16_t v) {
  p[0] = std::byte(v >> 8);
  p[1] = std::byte(v & 0xff);
}
void put32(std::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::byte((v >> (24 - 8 * i)) & 0xff);
}
void put64(std::byte* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = std::byte((v >> (56 - 8 * i)) & 0xff);
}
uint16_t get16(const std::byte* p) { return static_cast<uint16_t>((uint16_t(p[0]) << 8) | uint16_t(p[1])); }
uint32_t get32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | uint32_t(p[i]);
  return v;
}
uint64_t get64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | uint64_t(p[i]);
  return v;
}

// One's complement sum of 16-bit big-endian words (RFC 1071, section 4.1),
// not yet folded.
uint64_t ones_sum(ByteSpan data, uint64_t acc) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) acc += get16(&data[i]);
  if (i < data.size()) acc += uint64_t(data[i]) << 8;
  return acc;
}
uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

// The filler that follows the sequence number: every byte depends on the
// stream, the sequence number and its position, so a spliced or shifted
// payload does not pass.
std::byte filler(uint32_t stream, uint64_t seq, size_t i) {
  return std::byte(static_cast<uint8_t>(seq * 131 + uint64_t(stream) * 17 + i * 7 + (i >> 8)));
}

// UDP checksum with the pseudo-header of RFC 768 (IPv4) or RFC 8200
// section 8.1 (IPv6): source, destination, protocol and UDP length.
uint16_t udp_checksum(const IpAddress& src, const IpAddress& dst, ByteSpan udp) {
  uint64_t acc = 0;
  acc = ones_sum(std::as_bytes(std::span(src.bytes.data(), src.size())), acc);
  acc = ones_sum(std::as_bytes(std::span(dst.bytes.data(), dst.size())), acc);
  acc += kProtoUdp;
  acc += udp.size();  // fits in 16 bits (v4) or 32 bits (v6): both add the same
  acc = ones_sum(udp, acc);
  uint16_t sum = static_cast<uint16_t>(~fold(acc));
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  return sum == 0 ? 0xffff : sum;
}

}  // namespace

uint16_t internet_checksum(ByteSpan data) { return static_cast<uint16_t>(~fold(ones_sum(data, 0))); }

uint16_t ipv4_header_checksum(ByteSpan header) { return internet_checksum(header); }

std::vector<std::byte> make_test_packet(const TestPacketSpec& spec) {
  const bool v4 = spec.src.is_v4();
  const size_t ip_header = v4 ? kIpv4HeaderSize : kIpv6HeaderSize;
  const size_t size = std::clamp(spec.size, ip_header + kUdpHeaderSize + kTestPayloadMinSize, kMaxPacket);
  std::vector<std::byte> p(size);
  std::byte* ip = p.data();
  std::byte* udp = ip + ip_header;
  std::byte* payload = udp + kUdpHeaderSize;
  const size_t udp_length = size - ip_header;

  // Payload: marker, stream, sequence, filler.
  std::memcpy(payload, kMarker.data(), kMarker.size());
  put32(payload + 8, spec.stream);
  put64(payload + 12, spec.seq);
  for (size_t i = 0; i < udp_length - kUdpHeaderSize - kTestPayloadMinSize; ++i) {
    payload[kTestPayloadMinSize + i] = filler(spec.stream, spec.seq, i);
  }

  put16(udp + 0, spec.src_port);
  put16(udp + 2, spec.dst_port);
  put16(udp + 4, static_cast<uint16_t>(udp_length));
  put16(udp + 6, 0);
  put16(udp + 6, udp_checksum(spec.src, spec.dst, std::span<const std::byte>(udp, udp_length)));

  if (v4) {
    ip[0] = std::byte{0x45};  // version 4, IHL 5 words
    ip[1] = std::byte{0};
    put16(ip + 2, static_cast<uint16_t>(size));
    put16(ip + 4, static_cast<uint16_t>(spec.seq));  // identification
    put16(ip + 6, 0x4000);                           // DF, offset 0
    ip[8] = std::byte{kHopLimit};                    // TTL
    ip[9] = std::byte{kProtoUdp};
    std::memcpy(ip + 12, spec.src.bytes.data(), 4);
    std::memcpy(ip + 16, spec.dst.bytes.data(), 4);
    put16(ip + 10, ipv4_header_checksum(std::span<const std::byte>(ip, kIpv4HeaderSize)));
  } else {
    put32(ip, 0x60000000);  // version 6, traffic class 0, flow label 0
    put16(ip + 4, static_cast<uint16_t>(udp_length));
    ip[6] = std::byte{kProtoUdp};  // next header
    ip[7] = std::byte{kHopLimit};
    std::memcpy(ip + 8, spec.src.bytes.data(), 16);
    std::memcpy(ip + 24, spec.dst.bytes.data(), 16);
  }
  return p;
}

std::optional<TestPacketInfo> parse_test_packet(ByteSpan p) {
  if (p.empty()) return std::nullopt;
  TestPacketInfo info;
  info.size = p.size();
  const uint8_t version = static_cast<uint8_t>(p[0]) >> 4;
  size_t ip_header = 0;
  if (version == 4) {
    ip_header = kIpv4HeaderSize;
    if (p.size() < kMinTestPacketV4 || p[0] != std::byte{0x45}) return std::nullopt;
    if (get16(&p[2]) != p.size() || p[9] != std::byte{kProtoUdp}) return std::nullopt;
    if (internet_checksum(p.first(kIpv4HeaderSize)) != 0) return std::nullopt;
    std::array<uint8_t, 4> s{}, d{};
    std::memcpy(s.data(), &p[12], 4);
    std::memcpy(d.data(), &p[16], 4);
    info.src = IpAddress::v4(s);
    info.dst = IpAddress::v4(d);
  } else if (version == 6) {
    ip_header = kIpv6HeaderSize;
    if (p.size() < kMinTestPacketV6 || get32(&p[0]) != 0x60000000) return std::nullopt;
    if (get16(&p[4]) != p.size() - kIpv6HeaderSize || p[6] != std::byte{kProtoUdp} || p[7] != std::byte{kHopLimit}) {
      return std::nullopt;  // IPv6 has no header checksum: every field is checked by value
    }
    std::array<uint8_t, 16> s{}, d{};
    std::memcpy(s.data(), &p[8], 16);
    std::memcpy(d.data(), &p[24], 16);
    info.src = IpAddress::v6(s);
    info.dst = IpAddress::v6(d);
  } else {
    return std::nullopt;
  }

  const ByteSpan udp = p.subspan(ip_header);
  if (get16(&udp[4]) != udp.size()) return std::nullopt;
  // Verifying: the checksum computed over a datagram that includes its own
  // checksum field comes out as zero, which udp_checksum reports as 0xffff.
  const uint16_t stored = get16(&udp[6]);
  std::vector<std::byte> copy(udp.begin(), udp.end());
  put16(copy.data() + 6, 0);
  if (stored != udp_checksum(info.src, info.dst, copy)) return std::nullopt;
  info.src_port = get16(&udp[0]);
  info.dst_port = get16(&udp[2]);

  const ByteSpan payload = udp.subspan(kUdpHeaderSize);
  if (!std::equal(kMarker.begin(), kMarker.end(), payload.begin())) return std::nullopt;
  info.stream = get32(&payload[8]);
  info.seq = get64(&payload[12]);
  for (size_t i = kTestPayloadMinSize; i < payload.size(); ++i) {
    if (payload[i] != filler(info.stream, info.seq, i - kTestPayloadMinSize)) return std::nullopt;
  }
  return info;
}

void FakeTun::inject(std::vector<std::byte> packet) { outbound_.push_back(std::move(packet)); }

std::optional<std::vector<std::byte>> FakeTun::read() {
  if (outbound_.empty()) return std::nullopt;
  std::vector<std::byte> p = std::move(outbound_.front());
  outbound_.pop_front();
  return p;
}

os::Result<size_t> FakeTun::read(std::span<const std::span<std::byte>> buffers, std::span<size_t> sizes,
                                 size_t offset) {
  const size_t n = std::min(buffers.size(), sizes.size());
  size_t count = 0;
  for (; count < n && !outbound_.empty() && buffers[count].size() > offset; ++count) {
    const std::vector<std::byte>& p = outbound_.front();
    const std::span<std::byte> room = buffers[count].subspan(offset);
    const size_t length = std::min(p.size(), room.size());
    if (length < p.size()) ++truncated_;
    std::copy_n(p.begin(), length, room.begin());
    sizes[count] = length;
    outbound_.pop_front();
  }
  return count;
}

os::Status FakeTun::write(std::span<const std::byte> packet) {
  delivered_.emplace_back(packet.begin(), packet.end());
  ++delivered_total_;
  return os::Ok{};
}

std::vector<std::vector<std::byte>> FakeTun::take_delivered() {
  std::vector<std::vector<std::byte>> out(std::make_move_iterator(delivered_.begin()),
                                          std::make_move_iterator(delivered_.end()));
  delivered_.clear();
  return out;
}

}  // namespace cordon::testing
