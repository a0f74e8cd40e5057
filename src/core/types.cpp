// Text forms of the basic vocabulary (types.hpp). These parse configuration
// files and control-socket requests, so they are strict: one spelling in,
// one canonical spelling out, and anything else is nullopt for the caller
// to report with the file, line and field.
//
// inet_pton/inet_ntop are plain libc string conversions (no system call), so
// the core may use them. glibc's inet_pton accepts exactly four decimal
// octets for IPv4 (no leading zeros, no "1.2.3" shorthand), and RFC 4291
// section 2.2 forms for IPv6; inet_ntop writes RFC 5952 text.
#include "core/types.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace cordon {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decimal without sign, leading zeros or overflow: "0" alone is allowed,
// "00", "07", "+7", "" and "7a" are not.
std::optional<uint32_t> parse_decimal(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// Long enough for any valid address text; longer input is invalid anyway.
constexpr size_t kMaxAddressText = INET6_ADDRSTRLEN;

bool pton(int af, std::string_view text, void* out) {
  char buf[kMaxAddressText + 1];
  if (text.empty() || text.size() > kMaxAddressText) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  // inet_pton reads a C string: an embedded NUL would silently cut the text
  // short ("192.0.2.1\0junk"), so such text is refused.
  return std::memchr(buf, '\0', text.size()) == nullptr && inet_pton(af, buf, out) == 1;
}

}  // namespace

// ---------------------------------------------------------------------------
// HostId: 0xNNNNHHHH (docs/design.md, "Vocabulary").

std::string HostId::to_string() const {
  std::string out = "0x00000000";
  for (int i = 0; i < 8; ++i) out[9 - i] = kHexDigits[(value >> (4 * i)) & 0xf];
  return out;
}

std::optional<HostId> HostId::parse(std::string_view text) {
  if (text.size() != 10 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) return std::nullopt;
  uint32_t value = 0;
  for (char c : text.substr(2)) {
    const int v = hex_value(c);
    if (v < 0) return std::nullopt;
    value = (value << 4) | static_cast<uint32_t>(v);
  }
  const HostId id{value};
  // Network 0 and host 0 are reserved (types.hpp).
  if (id.network() == 0 || id.host() == 0) return std::nullopt;
  return id;
}

// ---------------------------------------------------------------------------
// IpAddress

IpAddress IpAddress::v4(uint32_t host_order) {
  return v4({static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
             static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order)});
}

IpAddress IpAddress::v4(std::array<uint8_t, 4> b) {
  IpAddress a;
  a.family = Family::kV4;
  std::memcpy(a.bytes.data(), b.data(), b.size());
  return a;
}

IpAddress IpAddress::v6(std::array<uint8_t, 16> b) {
  IpAddress a;
  a.family = Family::kV6;
  a.bytes = b;
  return a;
}

// A dotted quad is IPv4; anything with a colon is IPv6. A v4-mapped IPv6
// text ("::ffff:192.0.2.1") stays IPv6: the OS layer hands the core plain
// IPv4 endpoints (udp.hpp), so the only way to get a v4 address is to write
// one.
std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    std::array<uint8_t, 4> b{};
    if (!pton(AF_INET, text, b.data())) return std::nullopt;
    return v4(b);
  }
  std::array<uint8_t, 16> b{};
  if (!pton(AF_INET6, text, b.data())) return std::nullopt;
  return v6(b);
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = is_v4() ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), buf, sizeof(buf)) == nullptr) return "?";  // cannot happen with this buffer
  return buf;
}

// ---------------------------------------------------------------------------
// Endpoint: "192.0.2.1:51820" or "[2001:db8::1]:51820". Brackets are
// required around IPv6 (RFC 3986 section 3.2.2) and only allowed there.

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // "[192.0.2.1]:1"
  } else {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const auto address = IpAddress::parse(host);
  const auto number = parse_decimal(port, 65535);
  if (!address || !number || *number == 0) return std::nullopt;  // port 0 is "any", not a destination
  return Endpoint{*address, static_cast<uint16_t>(*number)};
}

std::string Endpoint::to_string() const {
  const std::string host = address.to_string();
  const std::string p = std::to_string(port);
  std::string out = address.is_v4() ? host + ":" + p : "[" + host + "]:" + p;
  if (stream != 0) out += " (tcp stream " + std::to_string(stream) + ")";
  return out;
}

// ---------------------------------------------------------------------------
// Prefix: "10.77.0.0/24", "fd77::/64". Host bits are kept as written, so a
// tunnel address such as "10.77.0.1/24" is a Prefix too; contains() masks.

std::optional<Prefix> Prefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  const auto length = parse_decimal(text.substr(slash + 1), address->is_v4() ? 32 : 128);
  if (!length) return std::nullopt;
  return Prefix{*address, static_cast<uint8_t>(*length)};
}

bool Prefix::contains(const IpAddress& a) const {
  if (a.family != address.family || length > a.size() * 8) return false;
  const size_t whole = length / 8;
  if (std::memcmp(a.bytes.data(), address.bytes.data(), whole) != 0) return false;
  const unsigned rest = length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return ((a.bytes[whole] ^ address.bytes[whole]) & mask) == 0;
}

std::string Prefix::to_string() const { return address.to_string() + "/" + std::to_string(length); }

}  // namespace cordon
