#include "core/ipsec/spd.hpp"

#include <cstring>

#include "core/ipsec/ip_header.hpp"

namespace cordon::ipsec {
namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoUdpLite = 136;

bool has_ports(uint8_t protocol) {
  return protocol == kProtoTcp || protocol == kProtoUdp || protocol == kProtoSctp || protocol == kProtoUdpLite;
}

// IPv6 headers that are skipped to reach the transport header (RFC 8200
// section 4): hop-by-hop (0), routing (43), destination options (60) have
// their length in 8-byte units after the first 8; the fragment header
// (44) is 8 bytes.
struct Transport {
  uint8_t protocol;
  size_t offset;
  bool first_fragment;
};

std::optional<Transport> ipv6_transport(std::span<const std::byte> packet, uint8_t next, size_t offset) {
  bool first = true;
  for (int hops = 0; hops < 8; ++hops) {
    if (next != 0 && next != 43 && next != 44 && next != 60) return Transport{next, offset, first};
    if (packet.size() < offset + 8) return std::nullopt;
    const uint8_t following = std::to_integer<uint8_t>(packet[offset]);
    if (next == 44) {
      first = first && (ip::load16(&packet[offset + 2]) & 0xfff8) == 0;
      offset += 8;
    } else {
      offset += (std::to_integer<size_t>(packet[offset + 1]) + 1) * 8;
    }
    next = following;
  }
  return std::nullopt;  // more extension headers than any real packet has
}

bool in_range(const std::array<uint8_t, 16>& start, const std::array<uint8_t, 16>& end,
              const std::array<uint8_t, 16>& address, size_t size) {
  return std::memcmp(start.data(), address.data(), size) <= 0 && std::memcmp(address.data(), end.data(), size) <= 0;
}

}  // namespace

std::string_view policy_action_name(PolicyAction a) {
  switch (a) {
    case PolicyAction::kProtect: return "protect";
    case PolicyAction::kBypass: return "bypass";
    case PolicyAction::kDiscard: break;
  }
  return "discard";
}

std::optional<PacketSelector> packet_selector(std::span<const std::byte> packet, Direction direction) {
  const auto h = ip::parse_header(packet);
  if (!h) return std::nullopt;
  PacketSelector s;
  s.version = h->version;
  const size_t address_size = h->version == 4 ? 4 : 16;
  const size_t source_at = h->version == 4 ? 12 : 8;
  std::array<uint8_t, 16> source{}, destination{};
  std::memcpy(source.data(), &packet[source_at], address_size);
  std::memcpy(destination.data(), &packet[source_at + address_size], address_size);
  s.local = direction == Direction::kOut ? source : destination;
  s.remote = direction == Direction::kOut ? destination : source;

  const auto packet_of = packet.first(h->total_length);
  Transport t{h->protocol, h->length, !h->fragment || (ip::load16(&packet[6]) & 0x1fff) == 0};
  if (h->version == 6) {
    const auto walked = ipv6_transport(packet_of, h->protocol, h->length);
    if (!walked) return std::nullopt;
    t = *walked;
  }
  s.protocol = t.protocol;
  if (!t.first_fragment) return s;
  if (has_ports(t.protocol) && packet_of.size() >= t.offset + 4) {
    const uint16_t source_port = ip::load16(&packet_of[t.offset]);
    const uint16_t destination_port = ip::load16(&packet_of[t.offset + 2]);
    s.local_port = direction == Direction::kOut ? source_port : destination_port;
    s.remote_port = direction == Direction::kOut ? destination_port : source_port;
  } else if ((t.protocol == kProtoIcmp || t.protocol == kProtoIcmpv6) && packet_of.size() >= t.offset + 2) {
    s.local_port = s.remote_port = ip::load16(&packet_of[t.offset]);  // type, code
  }
  return s;
}

bool selector_matches(const TrafficSelector& ts, uint8_t version, const std::array<uint8_t, 16>& address,
                      uint8_t protocol, std::optional<uint16_t> port) {
  if ((ts.type == TsType::kIpv4AddrRange) != (version == 4)) return false;
  if (!in_range(ts.start_address, ts.end_address, address, ts.address_size())) return false;
  if (ts.ip_protocol != 0 && ts.ip_protocol != protocol) return false;
  if (!port) return ts.start_port == 0 && ts.end_port == 65535;
  return ts.start_port <= *port && *port <= ts.end_port;
}

size_t Spd::add(const Policy& policy) {
  policies_.push_back(policy);
  return policies_.size() - 1;
}

bool Spd::insert(size_t position, const Policy& policy) {
  if (position > policies_.size()) return false;
  policies_.insert(policies_.begin() + static_cast<std::ptrdiff_t>(position), policy);
  return true;
}

bool Spd::remove(size_t position) {
  if (position >= policies_.size()) return false;
  policies_.erase(policies_.begin() + static_cast<std::ptrdiff_t>(position));
  return true;
}

const Policy* Spd::lookup(Direction direction, const PacketSelector& p) const {
  for (const Policy& policy : policies_) {
    if (policy.direction == direction &&
        selector_matches(policy.local, p.version, p.local, p.protocol, p.local_port) &&
        selector_matches(policy.remote, p.version, p.remote, p.protocol, p.remote_port)) {
      return &policy;
    }
  }
  return nullptr;
}

}  // namespace cordon::ipsec
