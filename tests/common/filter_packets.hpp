// Inner packets for the protected-traffic filter's tests: IPv4 (RFC 791)
// and IPv6 (RFC 8200) with TCP, UDP or ICMP headers, options, extension
// headers and fragments. Checksums are left zero: the filter reads none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/filter/flow.hpp"
#include "core/types.hpp"

namespace cordon::testing {

struct PacketSpec {
  IpAddress source = IpAddress::v4(0x0a000001);
  IpAddress destination = IpAddress::v4(0x0a000002);
  uint8_t protocol = filter::kTcp;
  uint16_t source_port = 40000;
  uint16_t destination_port = 443;
  uint8_t tcp_flags = filter::kSyn;
  uint8_t icmp_type = 8;
  uint8_t icmp_code = 0;
  uint16_t icmp_id = 7;
  size_t payload = 0;
  uint16_t fragment_offset = 0;  // 8-byte units
  bool more_fragments = false;
  size_t ipv4_option_words = 0;           // 4-byte words of IPv4 options
  std::vector<uint8_t> v6_extensions;      // IPv6 extension header types, in order
  std::vector<std::byte> quoted;           // after the ICMP header (an ICMP error's quoted packet)
  size_t transport_bytes = SIZE_MAX;       // cut the transport header to this many bytes
};

inline PacketSpec reversed(PacketSpec s) {
  std::swap(s.source, s.destination);
  std::swap(s.source_port, s.destination_port);
  return s;
}

inline std::vector<std::byte> make_packet(const PacketSpec& s) {
  std::vector<uint8_t> transport;
  const auto push16 = [&](uint16_t v) {
    transport.push_back(static_cast<uint8_t>(v >> 8));
    transport.push_back(static_cast<uint8_t>(v));
  };
  if (s.protocol == filter::kTcp || s.protocol == filter::kUdp) {
    push16(s.source_port);
    push16(s.destination_port);
    if (s.protocol == filter::kTcp) {
      transport.insert(transport.end(), 8, 0);  // sequence and acknowledgment numbers
      transport.push_back(0x50);                // data offset 5 words
      transport.push_back(s.tcp_flags);
      transport.insert(transport.end(), 6, 0);
    } else {
      push16(static_cast<uint16_t>(8 + s.payload));
      push16(0);
    }
  } else if (s.protocol == filter::kIcmp || s.protocol == filter::kIcmpv6) {
    transport = {s.icmp_type, s.icmp_code, 0, 0};
    push16(s.icmp_id);
    push16(1);
    for (const std::byte b : s.quoted) transport.push_back(std::to_integer<uint8_t>(b));
  }
  if (transport.size() > s.transport_bytes) transport.resize(s.transport_bytes);
  if (s.fragment_offset != 0) transport.clear();
  transport.insert(transport.end(), s.payload, 0x5a);

  std::vector<uint8_t> p;
  const uint16_t fragment = s.source.is_v4() ? static_cast<uint16_t>((s.more_fragments ? 0x2000 : 0) | s.fragment_offset)
                                             : static_cast<uint16_t>(s.fragment_offset << 3 | (s.more_fragments ? 1 : 0));
  if (s.source.is_v4()) {
    const size_t header = 20 + 4 * s.ipv4_option_words;
    const size_t total = header + transport.size();
    p = {static_cast<uint8_t>(0x40 | header / 4), 0, static_cast<uint8_t>(total >> 8), static_cast<uint8_t>(total), 0, 1,
         static_cast<uint8_t>(fragment >> 8), static_cast<uint8_t>(fragment), 64, s.protocol, 0, 0};
    p.insert(p.end(), s.source.bytes.begin(), s.source.bytes.begin() + 4);
    p.insert(p.end(), s.destination.bytes.begin(), s.destination.bytes.begin() + 4);
    p.insert(p.end(), 4 * s.ipv4_option_words, 1);  // NOP options
  } else {
    std::vector<uint8_t> chain;
    std::vector<uint8_t> types = s.v6_extensions;
    if (s.fragment_offset != 0 || s.more_fragments) types.push_back(44);
    for (size_t i = 0; i < types.size(); ++i) {
      const uint8_t next = i + 1 < types.size() ? types[i + 1] : s.protocol;
      if (types[i] == 44) {
        chain.insert(chain.end(), {next, 0, static_cast<uint8_t>(fragment >> 8), static_cast<uint8_t>(fragment), 0, 0, 0, 1});
      } else {
        chain.insert(chain.end(), {next, 0, 1, 4, 0, 0, 0, 0});  // 8 bytes: a PadN option
      }
    }
    const size_t payload = chain.size() + transport.size();
    const uint8_t first = types.empty() ? s.protocol : types[0];
    p = {0x60, 0, 0, 0, static_cast<uint8_t>(payload >> 8), static_cast<uint8_t>(payload), first, 64};
    p.insert(p.end(), s.source.bytes.begin(), s.source.bytes.end());
    p.insert(p.end(), s.destination.bytes.begin(), s.destination.bytes.end());
    p.insert(p.end(), chain.begin(), chain.end());
  }
  p.insert(p.end(), transport.begin(), transport.end());
  std::vector<std::byte> out(p.size());
  for (size_t i = 0; i < p.size(); ++i) out[i] = std::byte{p[i]};
  return out;
}

}  // namespace cordon::testing
