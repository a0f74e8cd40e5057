// The IPsec data path of one gateway (docs/ipsec.md, "Data path"): the SPD
// and the SAD (RFC 4301 section 4.4), filled from what IKE negotiates
// (ike_sa.hpp, ChildSaInstall) and from manually keyed SAs, and the two
// directions a packet takes through them:
//
//   seal  an IP packet from the IPsec tunnel device: SPD lookup (first
//         match), then the protect entry's outbound SA; the result is an
//         ESP packet for UDP port 4500 of the peer (RFC 3948), or an ESP
//         or AH packet for IP protocol 50 or 51.
//   open  an ESP packet (from UDP 4500 or protocol 50) or an AH packet:
//         the SPI names the inbound SA, which checks replay, ICV and the
//         inner packet's selectors (RFC 4301 section 5.2).
//
// Make before break (RFC 7296 section 2.8): a rekeyed CHILD_SA's new SAs
// are installed beside the old ones. Whoever started the rekey sends on the
// new outbound SA at once; the other end keeps sending on the old one
// until a packet arrives on the new inbound SA or the old SA is deleted,
// so nothing is sent before the peer can read it.
//
// Pure and single-threaded: one owner (the IPsec thread) calls it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ipsec/connection.hpp"
#include "core/ipsec/esp.hpp"
#include "core/ipsec/ike_sa.hpp"
#include "core/ipsec/sad.hpp"
#include "core/ipsec/spd.hpp"

namespace cordon::ipsec {

// Why a packet from the tunnel device was not sent (counted; stable names).
enum class SealDrop : uint8_t {
  kNotIp,        // not a well-formed IPv4 or IPv6 packet
  kNoPolicy,     // no SPD entry matches: discard (RFC 4301 section 5.1)
  kDiscard,      // a discard entry matched
  kBypass,       // a bypass entry matched: the packet is not ours to send
  kNoSa,         // the protect entry's SA is gone (being rekeyed or deleted)
  kSa,           // the SA refused it (EspDrop counted on the SA)
  kCount,
};
std::string_view seal_drop_name(SealDrop drop);

struct SealedPacket {
  std::span<std::byte> packet;  // ESP (UDP encapsulation or protocol 50), or a whole IP packet (AH)
  Endpoint to;                   // the peer, with port 4500 for UDP encapsulation
  bool udp_encapsulation = false;
  ProtocolId protocol = ProtocolId::kEsp;
};

// One child's SAs as `cordon ipsec sa list` shows them.
struct ChildSaView {
  std::string connection;
  std::string child;
  Endpoint remote;
  bool udp_encapsulation = false;
  bool manual = false;
  SaDescription inbound;
  std::optional<SaDescription> outbound;
};

class DataPath {
 public:
  // Installs both SAs of a negotiated CHILD_SA and its SPD entries.
  // False when an SA could not be built (a cipher OpenSSL refuses).
  bool install(const ChildSaInstall& child);
  // Removes the CHILD_SA whose inbound SPI this is, and its policies.
  void remove(uint32_t inbound_spi);
  // A manually keyed SA (RFC 4301 section 4.5), with its SPD entry when
  // outbound. False when the key does not fit the cipher.
  bool install_manual(const ManualSaConfig& sa);

  // Removes a manually keyed SA (and, outbound, its policies).
  void remove_manual(uint32_t spi, bool inbound);

  // Operator policies (`cordon ipsec policy add|remove`), ahead of the
  // ones CHILD_SAs install: positions 0 to operator_policies() - 1.
  size_t add_policy(const Policy& policy);
  bool remove_policy(size_t position);
  const std::vector<Policy>& policies() const { return spd_.policies(); }
  size_t operator_policies() const { return operator_policies_; }

  // An IP packet in buffer[offset, offset + length), with kEspHeadroom
  // (or kAhHeadroom) before and kEspTailroom after it.
  Result<SealedPacket, SealDrop> seal(std::span<std::byte> buffer, size_t offset, size_t length);
  // An ESP packet at buffer[esp_offset...] (UDP: esp_offset 0; raw: after
  // the IP header). The inner IP packet, or why not.
  Result<std::span<std::byte>, EspDrop> open_esp(std::span<std::byte> buffer, size_t esp_offset);
  // An IP packet carrying AH.
  Result<std::span<std::byte>, EspDrop> open_ah(std::span<std::byte> packet);

  // Inbound SPIs of children whose SAs reached a soft limit since the last
  // call (for IKE to rekey them).
  std::vector<uint32_t> take_rekey_needed();

  std::vector<ChildSaView> list() const;
  uint64_t drops(SealDrop drop) const { return drops_[static_cast<size_t>(drop)]; }
  const std::array<uint64_t, kEspDropCount>& receive_drops() const { return receive_drops_; }

 private:
  struct Child {
    std::string connection, child;
    Endpoint remote;
    bool udp_encapsulation = false;
    bool manual = false;
    ProtocolId protocol = ProtocolId::kEsp;
    uint64_t outbound_id = 0;      // the SAD's outbound child id (0: none, inbound-only manual SA)
    uint32_t replaces = 0;         // rekey: the old child's inbound SPI, until we switch to this one
    bool rekey_reported = false;
  };
  void switch_to(uint32_t inbound_spi);
  void drop_policies(uint64_t outbound_id);
  void add_child_policies(uint64_t outbound_id, const std::vector<TrafficSelector>& local,
                          const std::vector<TrafficSelector>& remote);
  Result<SealedPacket, SealDrop> refuse(SealDrop d) {
    ++drops_[static_cast<size_t>(d)];
    return d;
  }

  Sad sad_;
  Spd spd_;
  size_t operator_policies_ = 0;  // the first entries of spd_ are the operator's
  // By inbound SPI; a manual outbound-only SA by kManualOutbound | its SPI.
  static constexpr uint64_t kManualOutbound = uint64_t{1} << 32;
  std::map<uint64_t, Child> children_;
  std::map<uint64_t, uint64_t> by_outbound_;  // outbound id -> the child's key in children_
  uint64_t next_outbound_id_ = 1;
  std::array<uint64_t, static_cast<size_t>(SealDrop::kCount)> drops_{};
  std::array<uint64_t, kEspDropCount> receive_drops_{};
};

}  // namespace cordon::ipsec
