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

}  // namespace cordon::testing
