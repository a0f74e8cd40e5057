// Basic vocabulary shared by every part of Cordon: host IDs, underlay
// endpoints, overlay prefixes and the time the caller hands to the core.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cordon {

using ByteSpan = std::span<const std::byte>;
using MutableByteSpan = std::span<std::byte>;

// A host ID: 16-bit network number and 16-bit host number (docs/design.md,
// "Vocabulary"), written 0x0001000a.
struct HostId {
  uint32_t value = 0;

  constexpr uint16_t network() const { return static_cast<uint16_t>(value >> 16); }
  constexpr uint16_t host() const { return static_cast<uint16_t>(value & 0xffff); }
  std::string to_string() const;
  // Accepts 0xNNNNHHHH (exactly eight hex digits after 0x). The prefix may be
  // 0x or 0X and the digits either case ("0X0001000A" == "0x0001000a");
  // to_string() always writes lower case. Host number 0 and network number 0
  // are invalid.
  static std::optional<HostId> parse(std::string_view text);
  friend constexpr auto operator<=>(HostId, HostId) = default;
};

// An IPv4 or IPv6 address, kept as 16 bytes; IPv4 uses the first four.
// Equality compares the family and all 16 bytes, so an IPv4 address must be
// built with IpAddress::v4() (or parse()), which leaves bytes 4..15 zero;
// filling `bytes` by hand with junk past byte 3 makes equal addresses differ.
struct IpAddress {
  enum class Family : uint8_t { kV4 = 4, kV6 = 6 };
  Family family = Family::kV4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(uint32_t host_order);
  static IpAddress v4(std::array<uint8_t, 4> b);
  static IpAddress v6(std::array<uint8_t, 16> b);
  static std::optional<IpAddress> parse(std::string_view text);
  bool is_v4() const { return family == Family::kV4; }
  size_t size() const { return is_v4() ? 4 : 16; }
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// An underlay endpoint: where a peer's encrypted packets come from or go to.
// `stream` is 0 for UDP. A datagram carried by a TCP tunnel (docs/protocol.md,
// "TCP tunnel") names the stream the daemon numbered, with the TCP peer's
// address and port: the core answers on the same stream.
struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
  uint32_t stream = 0;
  bool is_udp() const { return stream == 0; }

  // "192.0.2.1:51820" or "[2001:db8::1]:51820" (UDP only). to_string()
  // adds " (tcp stream N)" for a stream.
  static std::optional<Endpoint> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// An overlay prefix such as 10.77.0.0/24 or fd00::/64.
struct Prefix {
  IpAddress address;
  uint8_t length = 0;

  static std::optional<Prefix> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
  friend bool operator==(const Prefix&, const Prefix&) = default;
};

// The time the caller hands to the core on every call. The core never reads
// a clock (docs/design.md, practice 1).
//  - mono_ns: monotonic, drives timers and deadlines.
//  - real_ns: wall clock (Unix epoch), stamped into the packet counter and
//    checked against the peer's clock (docs/design.md, decision 6). It may jump
//    backwards; the core copes (docs/protocol.md, "Nonce uniqueness").
struct Now {
  int64_t mono_ns = 0;
  int64_t real_ns = 0;
};

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kNsPerMs = 1'000'000;

}  // namespace cordon
