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
// The classic behaviours of RFC 4787 (endpoint-independent, address- and
// port-dependent mapping and filtering: "full cone", "restricted",
// "port-restricted", "symmetric") fit this interface: each keeps its mapping
// table keyed by what RFC 4787 section 4.1 names, and times it out with the
// `mono_ns` passed to every call. Two models exist today:
//  - PassThroughNat: no translation; the public underlay. SimNetwork puts
//    every host bound without a NAT behind its own shared instance.
//  - AddressRewriteNat: a static one-to-one NAT (RFC 2663, "Basic NAT") that
//    rewrites one inside address to one public address and keeps ports.
//    move_to() changes the public address, which is how a simulation makes a
//    host roam: its peers see its datagrams come from somewhere new.
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

}  // namespace cordon::testing
