#include "core/ipsec/traffic_selector.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace cordon::ipsec {
namespace {

unsigned __int128 value_of(const std::array<uint8_t, 16>& a, size_t n) {
  unsigned __int128 v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | a[i];
  return v;
}

IpAddress address_of(const std::array<uint8_t, 16>& a, size_t n) {
  IpAddress out;
  out.family = n == 4 ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
  std::copy_n(a.begin(), n, out.bytes.begin());
  return out;
}

}  // namespace

std::optional<TrafficSelector> parse_selector(std::string_view text) {
  std::optional<Prefix> p = Prefix::parse(text);
  if (!p) {
    auto a = IpAddress::parse(text);
    if (!a) return std::nullopt;
    p = Prefix{*a, static_cast<uint8_t>(a->is_v4() ? 32 : 128)};
  }
  TrafficSelector t;
  t.type = p->address.is_v4() ? TsType::kIpv4AddrRange : TsType::kIpv6AddrRange;
  for (size_t i = 0; i < p->address.size(); ++i) {
    const int bits = std::clamp(static_cast<int>(p->length) - static_cast<int>(i * 8), 0, 8);
    const auto network = static_cast<uint8_t>(bits == 0 ? 0 : 0xff << (8 - bits));
    t.start_address[i] = p->address.bytes[i] & network;
    t.end_address[i] = static_cast<uint8_t>(p->address.bytes[i] | static_cast<uint8_t>(~network));
  }
  return t;
}

std::vector<Prefix> selector_prefixes(const TrafficSelector& ts) {
  std::vector<Prefix> out;
  const size_t n = ts.address_size();
  const unsigned bits = static_cast<unsigned>(n * 8);
  unsigned __int128 start = value_of(ts.start_address, n);
  const unsigned __int128 end = value_of(ts.end_address, n);
  // The whole IPv6 space: its block size does not fit in 128 bits.
  if (n == 16 && start == 0 && end == ~static_cast<unsigned __int128>(0)) {
    return {Prefix{address_of({}, n), 0}};
  }
  while (start <= end && out.size() < 64) {
    // The largest block aligned at `start` that stays within the range.
    unsigned host = 0;
    while (host < bits) {
      const unsigned __int128 block = static_cast<unsigned __int128>(1) << (host + 1);
      if (host + 1 == 128 || (start & (block - 1)) != 0 || end - start < block - 1) break;
      ++host;
    }
    std::array<uint8_t, 16> a{};
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint8_t>(start >> (8 * (n - 1 - i)));
    out.push_back(Prefix{address_of(a, n), static_cast<uint8_t>(bits - host)});
    if (host >= bits) break;
    const unsigned __int128 next = start + (static_cast<unsigned __int128>(1) << host);
    if (next == 0 || next > end) break;
    start = next;
  }
  return out;
}

std::string selector_text(const TrafficSelector& ts) {
  const auto prefixes = selector_prefixes(ts);
  std::string text = prefixes.size() == 1
                         ? prefixes.front().to_string()
                         : fmt::format("{}-{}", address_of(ts.start_address, ts.address_size()).to_string(),
                                       address_of(ts.end_address, ts.address_size()).to_string());
  if (ts.ip_protocol != 0) text += fmt::format(" proto {}", ts.ip_protocol);
  if (ts.start_port != 0 || ts.end_port != 65535) {
    text += ts.start_port == ts.end_port ? fmt::format(" port {}", ts.start_port)
                                         : fmt::format(" port {}-{}", ts.start_port, ts.end_port);
  }
  return text;
}

}  // namespace cordon::ipsec
