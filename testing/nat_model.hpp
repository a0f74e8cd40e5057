// NAT models for SimNetwork: what stands between a simulated host and the
// rest of the underlay.
//
// Every transport bound on a SimNetwork sits behind one NatModel (several
// transports may share one, as hosts behind one home router do). The
// network asks the model two questions:
//
//   outbound(inside, remote)  a datagram leaves the host: which source does
//                             the world see? (nullopt: the NAT drops it)
//   inbound(outside, remote)  a datagram arrives for one of the NAT's public
//                             endpoints: which host endpoint gets it?
//                             (nullopt: filtered)
//
// and serves(outside) to find the model that owns a destination. Translation
// on the way out happens when a datagram is sent; on the way in, when it is
// delivered, so a mapping that changes while a datagram is in flight affects
// it as it would on a real path.
//
// The models:
//  - PassThroughNat: no translation; the public underlay. SimNetwork puts
//    every host bound without a NAT behind its own shared instance.
//  - AddressRewriteNat: a static one-to-one NAT (RFC 2663, "Basic NAT") that
//    rewrites one inside address to one public address and keeps ports.
//    move_to() changes the public address, which is how a simulation makes a
//    host roam: its peers see its datagrams come from somewhere new.
//  - Rfc4787Nat: a home-router NAPT with one public address, any number of
//    hosts behind it, and the mapping and filtering behaviours of RFC 4787
//    sections 4.1 and 5. Its four classic combinations have names:
//      FullConeNat          endpoint-independent mapping and filtering
//      AddressRestrictedNat endpoint-independent mapping, address-dependent
//                           filtering
//      PortRestrictedNat    endpoint-independent mapping, address-and-port-
//                           dependent filtering
//      SymmetricNat         address-and-port-dependent mapping and filtering
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/types.hpp"

namespace cordon::testing {

class NatModel {
 public:
  virtual ~NatModel() = default;

  // A transport was bound at (or removed from) `inside` behind this NAT.
  virtual void attach(const Endpoint& inside) = 0;
  virtual void detach(const Endpoint& inside) = 0;

  // True if datagrams addressed to `outside` are this NAT's to translate.
  virtual bool serves(const Endpoint& outside) const = 0;

  virtual std::optional<Endpoint> outbound(const Endpoint& inside, const Endpoint& remote, int64_t mono_ns) = 0;
  virtual std::optional<Endpoint> inbound(const Endpoint& outside, const Endpoint& remote, int64_t mono_ns) = 0;
};

// No NAT: a host's endpoint is its public endpoint.
class PassThroughNat final : public NatModel {
 public:
  void attach(const Endpoint& inside) override;
  void detach(const Endpoint& inside) override;
  bool serves(const Endpoint& outside) const override;
  std::optional<Endpoint> outbound(const Endpoint& inside, const Endpoint& remote, int64_t mono_ns) override;
  std::optional<Endpoint> inbound(const Endpoint& outside, const Endpoint& remote, int64_t mono_ns) override;

 private:
  std::vector<Endpoint> attached_;
};

// Static one-to-one NAT: inside_address:port <-> public_address:port, for
// every port, no filtering. Datagrams from any other inside address are
// dropped (they would not be routed through this NAT).
class AddressRewriteNat final : public NatModel {
 public:
  AddressRewriteNat(IpAddress inside_address, IpAddress public_address)
      : inside_(inside_address), public_(public_address) {}

  // The host now appears at `public_address`. Datagrams in flight to the old
  // address find nobody there when they arrive.
  void move_to(const IpAddress& public_address) { public_ = public_address; }
  const IpAddress& public_address() const { return public_; }
  // The public endpoint of a transport bound at inside_address:port.
  Endpoint public_endpoint(uint16_t port) const { return Endpoint{public_, port}; }

  void attach(const Endpoint& inside) override;
  void detach(const Endpoint& inside) override;
  bool serves(const Endpoint& outside) const override;
  std::optional<Endpoint> outbound(const Endpoint& inside, const Endpoint& remote, int64_t mono_ns) override;
  std::optional<Endpoint> inbound(const Endpoint& outside, const Endpoint& remote, int64_t mono_ns) override;

 private:
  IpAddress inside_;
  IpAddress public_;
  std::vector<uint16_t> ports_;  // of the transports attached behind it
};

// RFC 4787 section 4.1: for which destinations a mapping is reused.
enum class NatMapping {
  kEndpointIndependent,      // one public endpoint per inside endpoint (REQ-1)
  kAddressDependent,         // one per inside endpoint and remote address
  kAddressAndPortDependent,  // one per inside endpoint and remote endpoint
};

// RFC 4787 section 5: who may send in through a mapping.
enum class NatFiltering {
  kEndpointIndependent,      // anyone
  kAddressDependent,         // addresses the inside endpoint has sent to through it
  kAddressAndPortDependent,  // endpoints the inside endpoint has sent to through it
};

struct NatOptions {
  // RFC 4787 section 4.3, REQ-5: a UDP mapping must not expire in less than
  // two minutes; 120 s is that floor, the most hostile NAT REQ-5 allows.
  int64_t idle_timeout_ns = 120 * kNsPerSecond;
  // RFC 4787 section 4.2.1 ("port preservation"): with endpoint-independent
  // mapping, the public port is the inside port when no other mapping holds
  // it. Off, or with the other mappings, ports come from kFirstPublicPort on.
  bool preserve_port = true;
};

// A NAPT with one public address and the RFC 4787 behaviours it is built
// with. Several hosts may sit behind it (attach() needs no inside address of
// its own). Deterministic: no randomness, and every time is the `mono_ns` of
// the call.
//
// - Mappings (section 4.1) are keyed by the inside endpoint plus the part of
//   the remote endpoint NatMapping names. A new one gets its public port
//   from a cursor that starts at kFirstPublicPort, moves on with every
//   allocation, wraps at 65535 and skips ports in use; so a symmetric NAT
//   gives each remote a fresh port, even after flush(). When every port is
//   in use, new flows are dropped.
// - Filtering (section 5) is per mapping: a mapping remembers the remotes it
//   has sent to, and each of these permissions lapses, as a
//   connection-tracking entry does, after the idle timeout without an
//   outbound datagram to that remote.
// - Refresh (section 4.3, REQ-6): outbound datagrams refresh a mapping and
//   the permission for their destination; inbound datagrams refresh nothing
//   (REQ-6 makes inbound refresh optional; without it a host must send to
//   keep its NAT open, the case keepalives are for). A mapping idle for the
//   timeout or longer is gone.
// - Hairpinning (section 6, REQ-9) is not modelled: a datagram from inside
//   to the NAT's own public address is dropped.
// - detach() keeps mappings: the NAT does not know a socket closed. A host
//   that binds the same inside endpoint again before they time out gets
//   them back.
// - serves() claims every port of the public address, so a datagram to a
//   port with no mapping is the NAT's to drop (SimNetwork: nat_dropped).
class Rfc4787Nat : public NatModel {
 public:
  static constexpr uint16_t kFirstPublicPort = 20000;

  Rfc4787Nat(NatMapping mapping, NatFiltering filtering, IpAddress public_address, NatOptions options = {});

  NatMapping mapping() const { return mapping_; }
  NatFiltering filtering() const { return filtering_; }
  const IpAddress& public_address() const { return public_; }
  int64_t idle_timeout_ns() const { return options_.idle_timeout_ns; }

  // Mappings alive at `mono_ns`.
  size_t mapping_count(int64_t mono_ns) const;
  // The public endpoint a datagram from `inside` to `remote` would leave
  // from at `mono_ns`, if a mapping for it is alive (creates nothing).
  std::optional<Endpoint> public_endpoint(const Endpoint& inside, const Endpoint& remote, int64_t mono_ns) const;

  // The NAT reboots: every mapping and permission is lost. The port cursor
  // is kept, so new mappings do not reuse ports old peers may still address
  // (unless port preservation picks the inside port again).
  void flush() { mappings_.clear(); }
  // A firewall on the path drops UDP both ways while true (a network that
  // blocks UDP, for the TCP fallback). Mappings stay, and time out.
  void set_udp_blocked(bool blocked) { udp_blocked_ = blocked; }
  bool udp_blocked() const { return udp_blocked_; }

  void attach(const Endpoint& inside) override;
  void detach(const Endpoint& inside) override;
  bool serves(const Endpoint& outside) const override;
  std::optional<Endpoint> outbound(const Endpoint& inside, const Endpoint& remote, int64_t mono_ns) override;
  std::optional<Endpoint> inbound(const Endpoint& outside, const Endpoint& remote, int64_t mono_ns) override;

 private:
  struct Permission {
    Endpoint remote;
    int64_t last_sent_ns;
  };
  struct Mapping {
    Endpoint inside;
    Endpoint key;  // the part of the remote endpoint the mapping is for
    uint16_t public_port;
    int64_t last_sent_ns;
    std::vector<Permission> permissions;
  };

  Endpoint key_of(const Endpoint& remote) const;
  bool alive(int64_t last_sent_ns, int64_t mono_ns) const;
  void expire(int64_t mono_ns);
  const Mapping* find_alive(const Endpoint& inside, const Endpoint& key, int64_t mono_ns) const;
  Mapping* find_by_port(uint16_t public_port);
  bool port_in_use(uint16_t port) const;
  std::optional<uint16_t> allocate_port(const Endpoint& inside);
  bool permits(const Mapping& m, const Endpoint& remote) const;

  NatMapping mapping_;
  NatFiltering filtering_;
  IpAddress public_;
  NatOptions options_;
  bool udp_blocked_ = false;
  uint16_t next_port_ = kFirstPublicPort;
  std::vector<Mapping> mappings_;  // in creation order
};

// The four classic NATs ("cone" names from RFC 3489 section 5, behaviours
// from RFC 4787 sections 4.1 and 5).
class FullConeNat final : public Rfc4787Nat {
 public:
  explicit FullConeNat(IpAddress public_address, NatOptions options = {})
      : Rfc4787Nat(NatMapping::kEndpointIndependent, NatFiltering::kEndpointIndependent, public_address, options) {}
};

class AddressRestrictedNat final : public Rfc4787Nat {
 public:
  explicit AddressRestrictedNat(IpAddress public_address, NatOptions options = {})
      : Rfc4787Nat(NatMapping::kEndpointIndependent, NatFiltering::kAddressDependent, public_address, options) {}
};

class PortRestrictedNat final : public Rfc4787Nat {
 public:
  explicit PortRestrictedNat(IpAddress public_address, NatOptions options = {})
      : Rfc4787Nat(NatMapping::kEndpointIndependent, NatFiltering::kAddressAndPortDependent, public_address,
                   options) {}
};

class SymmetricNat final : public Rfc4787Nat {
 public:
  explicit SymmetricNat(IpAddress public_address, NatOptions options = {})
      : Rfc4787Nat(NatMapping::kAddressAndPortDependent, NatFiltering::kAddressAndPortDependent, public_address,
                   options) {}
};

}  // namespace cordon::testing
