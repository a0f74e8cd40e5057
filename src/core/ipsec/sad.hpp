// The security association database (RFC 4301 section 4.4.2): the SAs this
// gateway holds. Inbound SAs are found by the SPI a packet carries (section
// 4.4.2: for unicast traffic the SPI alone names the SA; Cordon allocates
// inbound SPIs itself, unique across ESP and AH); outbound SAs by the child
// SA that an SPD "protect" entry names (spd.hpp).
//
// Not thread-safe: one owner (the worker that runs the data path) or a
// lock around it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/ipsec/ah.hpp"
#include "core/ipsec/esp.hpp"

namespace cordon::ipsec {

enum class SecurityProtocol : uint8_t { kEsp, kAh };
std::string_view security_protocol_name(SecurityProtocol p);  // "esp", "ah"

// One SA as `cordon status` lists it.
struct SaDescription {
  bool inbound = true;
  uint32_t spi = 0;
  SecurityProtocol protocol = SecurityProtocol::kEsp;
  SaMode mode = SaMode::kTunnel;
  std::string cipher;  // CipherSpec::name(), or "sha256" (and so on) for AH
  bool esn = false;
  std::string peer;    // as the IKE side names it
  uint64_t child_id = 0;
  SaState state = SaState::kActive;
  uint64_t sequence = 0;  // outbound: last used; inbound: highest accepted
  SaCounters counters;
};

class Sad {
 public:
  // False (and nothing changes) when the SPI, or for outbound SAs the
  // child, already has an SA.
  bool insert(InboundEspSa sa, std::string peer, uint64_t child_id);
  bool insert(InboundAhSa sa, std::string peer, uint64_t child_id);
  bool insert(OutboundEspSa sa, std::string peer, uint64_t child_id);
  bool insert(OutboundAhSa sa, std::string peer, uint64_t child_id);

  bool remove_inbound(uint32_t spi);
  bool remove_outbound(uint64_t child_id);

  // nullptr when there is none, or it is of the other protocol.
  InboundEspSa* find_esp(uint32_t spi);
  InboundAhSa* find_ah(uint32_t spi);
  OutboundEspSa* outbound_esp(uint64_t child_id);
  OutboundAhSa* outbound_ah(uint64_t child_id);

  // The receive path: the SA named by the packet's SPI opens it
  // (InboundEspSa::open, InboundAhSa::open). A packet too short to carry an
  // SPI, or one no SA has, is counted here (drops()).
  Result<std::span<std::byte>, EspDrop> open_esp(std::span<std::byte> buffer, size_t esp_offset);
  Result<std::span<std::byte>, EspDrop> open_ah(std::span<std::byte> packet);

  // Every SA, inbound first, each direction by SPI.
  std::vector<SaDescription> list() const;
  size_t size() const { return inbound_.size() + outbound_.size(); }
  // Drops of packets that reached no SA.
  const SaCounters& counters() const { return counters_; }

 private:
  struct Inbound {
    std::variant<InboundEspSa, InboundAhSa> sa;
    std::string peer;
    uint64_t child_id;
  };
  struct Outbound {
    std::variant<OutboundEspSa, OutboundAhSa> sa;
    std::string peer;
    uint64_t child_id;
  };
  Result<std::span<std::byte>, EspDrop> refuse(EspDrop d) {
    counters_.count(d);
    return d;
  }

  std::unordered_map<uint32_t, Inbound> inbound_;
  std::unordered_map<uint64_t, Outbound> outbound_;
  SaCounters counters_;
};

}  // namespace cordon::ipsec
