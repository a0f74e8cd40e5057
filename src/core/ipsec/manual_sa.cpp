#include "core/ipsec/manual_sa.hpp"

#include <fmt/format.h>

namespace cordon::ipsec {
namespace {

std::optional<std::vector<TrafficSelector>> selectors(const std::vector<std::string>& texts, const IpAddress& end) {
  std::vector<TrafficSelector> out;
  for (const std::string& t : texts) {
    auto s = parse_selector(t);
    if (!s) return std::nullopt;
    out.push_back(*s);
  }
  if (out.empty()) out.push_back(*parse_selector(end.to_string()));
  return out;
}

}  // namespace

std::optional<std::vector<std::byte>> decode_hex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  std::vector<std::byte> out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    unsigned v = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = text[i + j];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<unsigned>(d);
    }
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

std::optional<uint32_t> parse_spi(std::string_view text) {
  if (text.size() <= 2 || text.size() > 10 || text.substr(0, 2) != "0x") return std::nullopt;
  auto bytes = decode_hex(std::string(10 - text.size(), '0') + std::string(text.substr(2)));
  if (!bytes) return std::nullopt;
  uint32_t spi = 0;
  for (std::byte b : *bytes) spi = spi << 8 | static_cast<uint8_t>(b);
  return spi;
}

Result<ManualSaConfig, FieldError> build_manual_sa(const ManualSaFields& f) {
  ManualSaConfig sa;
  sa.name = f.name;
  const auto spi = parse_spi(f.spi);
  sa.spi = spi.value_or(0);
  if (sa.spi < 256) {
    return FieldError{"spi", fmt::format("\"{}\": write 0x and up to 8 hex digits, at least 0x100 (RFC 4303 section 2.1)", f.spi)};
  }
  if (f.direction != "in" && f.direction != "out") {
    return FieldError{"direction", fmt::format("\"{}\": use \"in\" or \"out\"", f.direction)};
  }
  sa.inbound = f.direction == "in";
  if (f.protocol != "esp" && f.protocol != "ah") {
    return FieldError{"protocol", fmt::format("\"{}\": use \"esp\" or \"ah\"", f.protocol)};
  }
  sa.protocol = f.protocol == "ah" ? ProtocolId::kAh : ProtocolId::kEsp;
  if (f.mode != "tunnel" && f.mode != "transport") {
    return FieldError{"mode", fmt::format("\"{}\": use \"tunnel\" or \"transport\"", f.mode)};
  }
  sa.mode = f.mode == "transport" ? ChildMode::kTransport : ChildMode::kTunnel;
  auto p = parse_proposal(f.encryption, sa.protocol);
  if (!p) return FieldError{"encryption", p.error()};
  if ((sa.protocol == ProtocolId::kEsp && p->encryption.size() != 1) || p->integrity.size() > 1 || !p->dh.empty() ||
      p->esn.size() > 1) {
    return FieldError{"encryption", fmt::format("\"{}\": name exactly one algorithm of each kind, and no DH group",
                                                f.encryption)};
  }
  if (!p->encryption.empty()) sa.cipher = CipherSpec{p->encryption[0].id, p->encryption[0].key_bits, IntegId::kNone};
  sa.cipher.integ = p->integrity.empty() ? IntegId::kNone : p->integrity[0];
  const size_t enc = sa.protocol == ProtocolId::kAh ? 0 : sa.cipher.encryption_key_size();
  const size_t integ = integrity_key_size(sa.cipher.integ);
  auto key = decode_hex(f.key_hex);
  if (!key || key->size() != enc + integ) {
    if (key) crypto::wipe(*key);
    return FieldError{"key", fmt::format("expected {} hex digits: {} bytes of encryption key{} then {} of integrity key",
                                         2 * (enc + integ), enc, sa.cipher.combined() ? " with its 4-byte salt" : "",
                                         integ)};
  }
  sa.encryption_key = crypto::SecretBytes(std::span(*key).first(enc));
  sa.integrity_key = crypto::SecretBytes(std::span(*key).subspan(enc));
  crypto::wipe(*key);
  auto local = IpAddress::parse(f.local);
  if (!local) return FieldError{"local", fmt::format("\"{}\" is not an IP address", f.local)};
  auto remote = IpAddress::parse(f.remote);
  if (!remote) return FieldError{"remote", fmt::format("\"{}\" is not an IP address", f.remote)};
  sa.local = *local;
  sa.remote = *remote;
  auto lts = selectors(f.local_ts, sa.local);
  if (!lts) return FieldError{"local_ts", "write addresses or CIDR prefixes, e.g. \"10.1.0.0/24\""};
  auto rts = selectors(f.remote_ts, sa.remote);
  if (!rts) return FieldError{"remote_ts", "write addresses or CIDR prefixes, e.g. \"10.2.0.0/24\""};
  sa.local_ts = std::move(*lts);
  sa.remote_ts = std::move(*rts);
  return sa;
}

}  // namespace cordon::ipsec
