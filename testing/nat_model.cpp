#include "testing/nat_model.hpp"

#include <algorithm>

namespace cordon::testing {

void PassThroughNat::attach(const Endpoint& inside) { attached_.push_back(inside); }

void PassThroughNat::detach(const Endpoint& inside) { std::erase(attached_, inside); }

bool PassThroughNat::serves(const Endpoint& outside) const {
  return std::find(attached_.begin(), attached_.end(), outside) != attached_.end();
}

std::optional<Endpoint> PassThroughNat::outbound(const Endpoint& inside, const Endpoint&, int64_t) { return inside; }

std::optional<Endpoint> PassThroughNat::inbound(const Endpoint& outside, const Endpoint&, int64_t) {
  if (!serves(outside)) return std::nullopt;
  return outside;
}

void AddressRewriteNat::attach(const Endpoint& inside) {
  if (inside.address == inside_) ports_.push_back(inside.port);
}

void AddressRewriteNat::detach(const Endpoint& inside) {
  if (inside.address != inside_) return;
  auto it = std::find(ports_.begin(), ports_.end(), inside.port);
  if (it != ports_.end()) ports_.erase(it);
}

bool AddressRewriteNat::serves(const Endpoint& outside) const {
  return outside.address == public_ && std::find(ports_.begin(), ports_.end(), outside.port) != ports_.end();
}

std::optional<Endpoint> AddressRewriteNat::outbound(const Endpoint& inside, const Endpoint&, int64_t) {
  if (inside.address != inside_) return std::nullopt;
  return Endpoint{public_, inside.port};
}

std::optional<Endpoint> AddressRewriteNat::inbound(const Endpoint& outside, const Endpoint&, int64_t) {
  if (!serves(outside)) return std::nullopt;
  return Endpoint{inside_, outside.port};
}

Rfc4787Nat::Rfc4787Nat(NatMapping mapping, NatFiltering filtering, IpAddress public_address, NatOptions options)
    : mapping_(mapping), filtering_(filtering), public_(public_address), options_(options) {}

// Hosts behind a NAPT need nothing from it until they send.
void Rfc4787Nat::attach(const Endpoint&) {}
void Rfc4787Nat::detach(const Endpoint&) {}

bool Rfc4787Nat::serves(const Endpoint& outside) const { return outside.address == public_; }

Endpoint Rfc4787Nat::key_of(const Endpoint& remote) const {
  switch (mapping_) {
    case NatMapping::kEndpointIndependent:
      return Endpoint{};
    case NatMapping::kAddressDependent:
      return Endpoint{remote.address, 0};
    case NatMapping::kAddressAndPortDependent:
      return remote;
  }
  return remote;
}

bool Rfc4787Nat::alive(int64_t last_sent_ns, int64_t mono_ns) const {
  return mono_ns - last_sent_ns < options_.idle_timeout_ns;
}

void Rfc4787Nat::expire(int64_t mono_ns) {
  std::erase_if(mappings_, [&](const Mapping& m) { return !alive(m.last_sent_ns, mono_ns); });
  for (Mapping& m : mappings_) {
    std::erase_if(m.permissions, [&](const Permission& p) { return !alive(p.last_sent_ns, mono_ns); });
  }
}

const Rfc4787Nat::Mapping* Rfc4787Nat::find_alive(const Endpoint& inside, const Endpoint& key,
                                                  int64_t mono_ns) const {
  for (const Mapping& m : mappings_) {
    if (m.inside == inside && m.key == key && alive(m.last_sent_ns, mono_ns)) return &m;
  }
  return nullptr;
}

Rfc4787Nat::Mapping* Rfc4787Nat::find_by_port(uint16_t public_port) {
  for (Mapping& m : mappings_) {
    if (m.public_port == public_port) return &m;
  }
  return nullptr;
}

bool Rfc4787Nat::port_in_use(uint16_t port) const {
  return std::any_of(mappings_.begin(), mappings_.end(), [&](const Mapping& m) { return m.public_port == port; });
}

// RFC 4787 section 4.2.1: port preservation where the mapping behaviour lets
// one public endpoint stand for the inside endpoint; otherwise the cursor.
std::optional<uint16_t> Rfc4787Nat::allocate_port(const Endpoint& inside) {
  if (options_.preserve_port && mapping_ == NatMapping::kEndpointIndependent && inside.port != 0 &&
      !port_in_use(inside.port)) {
    return inside.port;
  }
  constexpr int kPoolSize = 65536 - kFirstPublicPort;
  for (int tries = 0; tries < kPoolSize; ++tries) {
    const uint16_t port = next_port_;
    next_port_ = next_port_ == 65535 ? kFirstPublicPort : static_cast<uint16_t>(next_port_ + 1);
    if (!port_in_use(port)) return port;
  }
  return std::nullopt;
}

bool Rfc4787Nat::permits(const Mapping& m, const Endpoint& remote) const {
  switch (filtering_) {
    case NatFiltering::kEndpointIndependent:
      return true;
    case NatFiltering::kAddressDependent:
      return std::any_of(m.permissions.begin(), m.permissions.end(),
                         [&](const Permission& p) { return p.remote.address == remote.address; });
    case NatFiltering::kAddressAndPortDependent:
      return std::any_of(m.permissions.begin(), m.permissions.end(),
                         [&](const Permission& p) { return p.remote == remote; });
  }
  return false;
}

size_t Rfc4787Nat::mapping_count(int64_t mono_ns) const {
  return static_cast<size_t>(std::count_if(mappings_.begin(), mappings_.end(),
                                           [&](const Mapping& m) { return alive(m.last_sent_ns, mono_ns); }));
}

std::optional<Endpoint> Rfc4787Nat::public_endpoint(const Endpoint& inside, const Endpoint& remote,
                                                    int64_t mono_ns) const {
  const Mapping* m = find_alive(inside, key_of(remote), mono_ns);
  if (m == nullptr) return std::nullopt;
  return Endpoint{public_, m->public_port};
}

std::optional<Endpoint> Rfc4787Nat::outbound(const Endpoint& inside, const Endpoint& remote, int64_t mono_ns) {
  if (udp_blocked_) return std::nullopt;
  if (remote.address == public_) return std::nullopt;  // hairpinning: not modelled
  expire(mono_ns);
  const Endpoint key = key_of(remote);
  auto it = std::find_if(mappings_.begin(), mappings_.end(),
                         [&](const Mapping& m) { return m.inside == inside && m.key == key; });
  Mapping* m = it == mappings_.end() ? nullptr : &*it;
  if (m == nullptr) {
    const std::optional<uint16_t> port = allocate_port(inside);
    if (!port) return std::nullopt;
    m = &mappings_.emplace_back(Mapping{inside, key, *port, mono_ns, {}});
  }
  m->last_sent_ns = mono_ns;
  auto p = std::find_if(m->permissions.begin(), m->permissions.end(),
                        [&](const Permission& q) { return q.remote == remote; });
  if (p != m->permissions.end()) {
    p->last_sent_ns = mono_ns;
  } else {
    m->permissions.push_back(Permission{remote, mono_ns});
  }
  return Endpoint{public_, m->public_port};
}

std::optional<Endpoint> Rfc4787Nat::inbound(const Endpoint& outside, const Endpoint& remote, int64_t mono_ns) {
  if (udp_blocked_ || outside.address != public_) return std::nullopt;
  expire(mono_ns);
  const Mapping* m = find_by_port(outside.port);
  if (m == nullptr || !permits(*m, remote)) return std::nullopt;
  return m->inside;
}

}  // namespace cordon::testing
