#include "core/wire/relay.hpp"

namespace cordon::wire {
namespace {

void put32(std::span<std::byte> out, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) out[i] = std::byte{static_cast<uint8_t>(v >> (8 * (3 - i)))};
}

uint32_t get32(std::span<const std::byte> in) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | std::to_integer<uint32_t>(in[i]);
  return v;
}

bool valid(HostId id) { return id.network() != 0 && id.host() != 0; }

}  // namespace

void write_routing_block(const RoutingBlock& r, std::span<std::byte, kRoutingBlockSize> out) {
  put32(out.subspan(0, 4), r.destination.value);
  put32(out.subspan(4, 4), r.source.value);
  out[8] = std::byte{r.hops};
  out[9] = out[10] = out[11] = std::byte{0};
}

std::optional<RoutingBlock> read_routing_block(std::span<const std::byte, kRoutingBlockSize> in) {
  if (in[9] != std::byte{0} || in[10] != std::byte{0} || in[11] != std::byte{0}) return std::nullopt;
  RoutingBlock r{HostId{get32(in.subspan(0, 4))}, HostId{get32(in.subspan(4, 4))}, std::to_integer<uint8_t>(in[8])};
  if (!valid(r.destination) || !valid(r.source)) return std::nullopt;
  return r;
}

std::optional<RelayedParts> split_relayed(std::span<std::byte> datagram) {
  if (datagram.size() < kMinRelayedSize) return std::nullopt;
  const size_t tail = kRoutingBlockSize + kTagSize;
  const size_t aad_size = datagram.size() - tail;
  return RelayedParts{
      datagram.first(aad_size),
      datagram.subspan(kHeaderSize, aad_size - kHeaderSize),
      datagram.subspan(aad_size).first<kRoutingBlockSize>(),
      datagram.last<kTagSize>(),
  };
}

}  // namespace cordon::wire
