#include "core/ipsec/sad.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

namespace cordon::ipsec {
namespace {

std::string integ_name(IntegId id) {
  switch (id) {
    case IntegId::kHmacSha256_128: return "sha256";
    case IntegId::kHmacSha384_192: return "sha384";
    case IntegId::kHmacSha512_256: return "sha512";
    case IntegId::kNone: break;
  }
  return "none";
}

template <typename Sa>
SaDescription describe(const Sa& sa) {
  constexpr bool kInbound = std::is_same_v<Sa, InboundEspSa> || std::is_same_v<Sa, InboundAhSa>;
  constexpr bool kAh = std::is_same_v<Sa, InboundAhSa> || std::is_same_v<Sa, OutboundAhSa>;
  SaDescription d;
  d.inbound = kInbound;
  d.spi = sa.spi();
  d.protocol = kAh ? SecurityProtocol::kAh : SecurityProtocol::kEsp;
  d.mode = sa.mode();
  if constexpr (kAh) {
    d.cipher = integ_name(sa.integ());
  } else {
    d.cipher = sa.cipher_spec().name();
  }
  if constexpr (kInbound) {
    d.sequence = sa.replay().top();
  } else {
    d.sequence = sa.sequence();
  }
  d.esn = sa.esn();
  d.state = sa.state();
  d.counters = sa.counters();
  return d;
}

}  // namespace

std::string_view security_protocol_name(SecurityProtocol p) { return p == SecurityProtocol::kEsp ? "esp" : "ah"; }

bool Sad::insert(InboundEspSa sa, std::string peer, uint64_t child_id) {
  const uint32_t spi = sa.spi();
  return inbound_.try_emplace(spi, Inbound{std::move(sa), std::move(peer), child_id}).second;
}

bool Sad::insert(InboundAhSa sa, std::string peer, uint64_t child_id) {
  const uint32_t spi = sa.spi();
  return inbound_.try_emplace(spi, Inbound{std::move(sa), std::move(peer), child_id}).second;
}

bool Sad::insert(OutboundEspSa sa, std::string peer, uint64_t child_id) {
  return outbound_.try_emplace(child_id, Outbound{std::move(sa), std::move(peer), child_id}).second;
}

bool Sad::insert(OutboundAhSa sa, std::string peer, uint64_t child_id) {
  return outbound_.try_emplace(child_id, Outbound{std::move(sa), std::move(peer), child_id}).second;
}

bool Sad::remove_inbound(uint32_t spi) { return inbound_.erase(spi) > 0; }
bool Sad::remove_outbound(uint64_t child_id) { return outbound_.erase(child_id) > 0; }

InboundEspSa* Sad::find_esp(uint32_t spi) {
  const auto it = inbound_.find(spi);
  return it == inbound_.end() ? nullptr : std::get_if<InboundEspSa>(&it->second.sa);
}

InboundAhSa* Sad::find_ah(uint32_t spi) {
  const auto it = inbound_.find(spi);
  return it == inbound_.end() ? nullptr : std::get_if<InboundAhSa>(&it->second.sa);
}

OutboundEspSa* Sad::outbound_esp(uint64_t child_id) {
  const auto it = outbound_.find(child_id);
  return it == outbound_.end() ? nullptr : std::get_if<OutboundEspSa>(&it->second.sa);
}

OutboundAhSa* Sad::outbound_ah(uint64_t child_id) {
  const auto it = outbound_.find(child_id);
  return it == outbound_.end() ? nullptr : std::get_if<OutboundAhSa>(&it->second.sa);
}

Result<std::span<std::byte>, EspDrop> Sad::open_esp(std::span<std::byte> buffer, size_t esp_offset) {
  const auto spi = esp_spi(esp_offset <= buffer.size() ? buffer.subspan(esp_offset) : std::span<std::byte>{});
  if (!spi) return refuse(EspDrop::kTruncated);
  InboundEspSa* sa = find_esp(*spi);
  if (sa == nullptr) return refuse(EspDrop::kUnknownSpi);
  return sa->open(buffer, esp_offset);
}

Result<std::span<std::byte>, EspDrop> Sad::open_ah(std::span<std::byte> packet) {
  const auto spi = ah_spi(packet);
  if (!spi) return refuse(EspDrop::kAhMalformed);
  InboundAhSa* sa = find_ah(*spi);
  if (sa == nullptr) return refuse(EspDrop::kAhUnknownSpi);
  return sa->open(packet);
}

std::vector<SaDescription> Sad::list() const {
  std::vector<SaDescription> all;
  all.reserve(size());
  for (const auto& [spi, entry] : inbound_) {
    SaDescription d = std::visit([](const auto& sa) { return describe(sa); }, entry.sa);
    d.peer = entry.peer;
    d.child_id = entry.child_id;
    all.push_back(std::move(d));
  }
  for (const auto& [child, entry] : outbound_) {
    SaDescription d = std::visit([](const auto& sa) { return describe(sa); }, entry.sa);
    d.peer = entry.peer;
    d.child_id = entry.child_id;
    all.push_back(std::move(d));
  }
  std::sort(all.begin(), all.end(), [](const SaDescription& a, const SaDescription& b) {
    return a.inbound != b.inbound ? a.inbound : a.spi < b.spi;
  });
  return all;
}

}  // namespace cordon::ipsec
