#include "testing/forge.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/keys/traffic_keys.hpp"

namespace cordon::testing {
namespace {

crypto::Aead hop_aead(const crypto::SecretBytes& link_key, HostId sender, HostId receiver) {
  auto key = keys::derive_traffic_key(link_key, crypto::Suite::kAes256Gcm, 0, sender, receiver);
  if (!key) throw std::runtime_error("forge: traffic key derivation failed");
  auto aead = crypto::Aead::create(crypto::Suite::kAes256Gcm, key->view());
  if (!aead) throw std::runtime_error("forge: AEAD context failed");
  return std::move(*aead);
}

wire::Header header(wire::Format format, HostId sender, uint64_t counter) {
  wire::Header h;
  h.format = format;
  h.sender_host = sender.host();
  h.wire_counter = counter & wire::kWireCounterMask;
  return h;
}

}  // namespace

std::vector<std::byte> forge_direct(const crypto::SecretBytes& link_key, HostId sender, HostId receiver,
                                    std::span<const std::byte> plaintext, uint64_t counter) {
  crypto::Aead aead = hop_aead(link_key, sender, receiver);
  std::vector<std::byte> d(wire::kOverhead + plaintext.size());
  wire::write_header(header(wire::Format::kDirect, sender, counter), std::span(d).first<wire::kHeaderSize>());
  std::copy(plaintext.begin(), plaintext.end(), d.begin() + wire::kHeaderSize);
  if (!aead.seal(wire::make_nonce(counter), std::span(d).first(wire::kHeaderSize),
                 std::span(d).subspan(wire::kHeaderSize, plaintext.size()), std::span(d).last<wire::kTagSize>())) {
    throw std::runtime_error("forge: seal failed");
  }
  return d;
}

std::vector<std::byte> forge_relayed(const crypto::SecretBytes& hop_key, HostId sender, HostId receiver,
                                     std::span<const std::byte> inner, const wire::RoutingBlock& routing,
                                     uint64_t counter) {
  crypto::Aead aead = hop_aead(hop_key, sender, receiver);
  std::vector<std::byte> d(wire::kHeaderSize + inner.size() + wire::kRoutingBlockSize + wire::kTagSize);
  std::copy(inner.begin(), inner.end(), d.begin() + wire::kHeaderSize);
  const auto parts = wire::split_relayed(d);
  if (!parts) throw std::runtime_error("forge: inner datagram too short to relay");
  wire::write_header(header(wire::Format::kRelayed, sender, counter), parts->aad.first<wire::kHeaderSize>());
  wire::write_routing_block(routing, parts->routing);
  if (!aead.seal(wire::make_nonce(counter), parts->aad, parts->routing, parts->tag)) {
    throw std::runtime_error("forge: seal failed");
  }
  return d;
}

}  // namespace cordon::testing
