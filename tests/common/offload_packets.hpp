// Inner packets built field by field, the slow and obvious way, for the
// offload tests, the split benchmark and the split fuzzer's seeds: an IPv4
// (RFC 791) or IPv6 (RFC 8200) header, then a TCP (RFC 9293) or UDP (RFC
// 768) header, then the payload, with checksums summed 16 bits at a time
// (RFC 1071) without the code under test.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cordon::test {

constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpUrg = 0x20,
                  kTcpEce = 0x40, kTcpCwr = 0x80;

// One flow's headers; the payload, identification, sequence number and
// flags of each packet are given separately.
struct Flow {
  bool v4 = true;
  bool udp = false;
  std::array<uint8_t, 16> source{10, 77, 0, 1};
  std::array<uint8_t, 16> destination{10, 77, 0, 2};
  uint8_t tos = 0;            // IPv4 type of service, IPv6 traffic class
  uint16_t fragment = 0x4000; // IPv4 flags and fragment offset: DF
  uint8_t ttl = 64;           // IPv4 TTL, IPv6 hop limit
  uint32_t flow_label = 0;
  uint8_t protocol = 0;       // 0: 6 or 17 as `udp` says
  std::vector<uint8_t> ip_options;   // IPv4 only, a multiple of 4 bytes
  uint16_t source_port = 40000;
  uint16_t destination_port = 5201;
  uint32_t ack = 0;
  uint16_t window = 512;
  uint16_t urgent = 0;
  std::vector<uint8_t> tcp_options;  // a multiple of 4 bytes

  uint8_t ip_protocol() const { return protocol != 0 ? protocol : udp ? 17 : 6; }
  size_t ip_header() const { return v4 ? 20 + ip_options.size() : 40; }
  size_t transport_header() const { return udp ? 8 : 20 + tcp_options.size(); }
  size_t headers() const { return ip_header() + transport_header(); }
};

// The 16-bit ones'-complement sum, one word at a time.
inline uint16_t naive_sum(std::span<const uint8_t> bytes, uint32_t sum = 0) {
  for (size_t i = 0; i < bytes.size(); i += 2) {
    sum += uint32_t{bytes[i]} << 8 | (i + 1 < bytes.size() ? bytes[i + 1] : 0u);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

inline void push16(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
inline void push32(std::vector<uint8_t>& out, uint32_t v) {
  push16(out, v >> 16);
  push16(out, v & 0xffff);
}
inline void put16(std::vector<uint8_t>& out, size_t at, uint16_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}

// The pseudo-header (RFC 9293 section 3.1; RFC 8200 section 8.1) as bytes.
inline std::vector<uint8_t> pseudo_header(const Flow& f, size_t transport_length) {
  std::vector<uint8_t> p;
  const size_t n = f.v4 ? 4 : 16;
  p.insert(p.end(), f.source.begin(), f.source.begin() + n);
  p.insert(p.end(), f.destination.begin(), f.destination.begin() + n);
  if (f.v4) {
    p.push_back(0);
    p.push_back(f.ip_protocol());
    push16(p, static_cast<uint32_t>(transport_length));
  } else {
    push32(p, static_cast<uint32_t>(transport_length));
    p.insert(p.end(), {0, 0, 0, f.ip_protocol()});
  }
  return p;
}

enum class Checksum { kComplete, kPartial };  // kPartial: the pseudo-header sum, as a kernel leaves it

// One packet of the flow. A complete UDP checksum of 0 is written 0xffff.
inline std::vector<uint8_t> build_packet(const Flow& f, std::span<const uint8_t> payload, uint16_t id, uint32_t seq,
                                         uint8_t flags, Checksum checksum = Checksum::kComplete) {
  const size_t transport_length = f.transport_header() + payload.size();
  std::vector<uint8_t> p;
  if (f.v4) {
    p.push_back(static_cast<uint8_t>(0x40 | f.ip_header() / 4));
    p.push_back(f.tos);
    push16(p, static_cast<uint32_t>(f.ip_header() + transport_length));
    push16(p, id);
    push16(p, f.fragment);
    p.push_back(f.ttl);
    p.push_back(f.ip_protocol());
    push16(p, 0);
    p.insert(p.end(), f.source.begin(), f.source.begin() + 4);
    p.insert(p.end(), f.destination.begin(), f.destination.begin() + 4);
    p.insert(p.end(), f.ip_options.begin(), f.ip_options.end());
    put16(p, 10, static_cast<uint16_t>(~naive_sum(p)));
  } else {
    p.push_back(static_cast<uint8_t>(0x60 | f.tos >> 4));
    p.push_back(static_cast<uint8_t>(f.tos << 4 | (f.flow_label >> 16 & 0x0f)));
    push16(p, f.flow_label & 0xffff);
    push16(p, static_cast<uint32_t>(transport_length));
    p.push_back(f.ip_protocol());
    p.push_back(f.ttl);
    p.insert(p.end(), f.source.begin(), f.source.end());
    p.insert(p.end(), f.destination.begin(), f.destination.end());
  }
  const size_t th = p.size();
  push16(p, f.source_port);
  push16(p, f.destination_port);
  if (f.udp) {
    push16(p, static_cast<uint32_t>(transport_length));
    push16(p, 0);
  } else {
    push32(p, seq);
    push32(p, f.ack);
    p.push_back(static_cast<uint8_t>(f.transport_header() / 4 << 4));
    p.push_back(flags);
    push16(p, f.window);
    push16(p, 0);
    push16(p, f.urgent);
    p.insert(p.end(), f.tcp_options.begin(), f.tcp_options.end());
  }
  p.insert(p.end(), payload.begin(), payload.end());
  const size_t field = th + (f.udp ? 6 : 16);
  const uint16_t pseudo = naive_sum(pseudo_header(f, transport_length));
  if (checksum == Checksum::kPartial) {
    put16(p, field, pseudo);
  } else {
    const auto sum = static_cast<uint16_t>(~naive_sum(std::span(p).subspan(th), pseudo));
    put16(p, field, f.udp && sum == 0 ? 0xffff : sum);
  }
  return p;
}

}  // namespace cordon::test
