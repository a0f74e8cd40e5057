#include "daemon/ipsec_tun.hpp"

#include "core/offload/gso_split.hpp"
#include "core/result.hpp"

namespace cordon::daemon {

// A TSO super-packet holds at most 64 KiB of IP packet.
constexpr size_t kSuperPacket = 65536;

IpsecTun::IpsecTun(os::TunDeviceQueue& queue, size_t mtu, size_t headroom, size_t tailroom)
    : queue_(queue), mtu_(mtu), headroom_(headroom), offload_(queue.offloads()) {
  const size_t slot = headroom + mtu + tailroom;
  storage_.resize(kSlots * slot);
  sizes_.resize(kSlots);
  for (size_t i = 0; i < kSlots; ++i) slots_.push_back(std::span(storage_).subspan(i * slot, slot));
  if (offload_) {
    super_.resize(kSuperPacket);
    const os::TunFeatures f = queue.features();
    if (f.tso || f.uso) coalescer_.emplace(offload::GroOptions{.tcp = f.tso, .udp = f.uso, .max_packets = 1024});
  }
}

size_t IpsecTun::read() {
  if (!offload_) return read_plain();
  size_t count = 0;
  while (count < kSlots) {
    if (super_segments_ != 0) {
      split_pending(count);
      continue;
    }
    auto got = queue_.read_offloaded(super_header_bytes_, super_);
    if (!got || got.value() == 0) break;
    super_length_ = got.value();
    const auto header = offload::decode_virtio_net(super_header_bytes_);
    const auto packet = std::span<const std::byte>(super_).first(super_length_);
    auto segments = header ? offload::segment_count(*header, packet, mtu_)
                           : cordon::Result<size_t, offload::SplitDrop>(fail(offload::SplitDrop::kUnsupportedGso));
    // A packet over the MTU without GSO was cut by the room; the SPD would
    // drop it as malformed, so it is counted here instead.
    if (!segments || (header->gso_type == offload::GsoType::kNone && super_length_ > mtu_)) {
      ++counters_.split_drops;
      continue;
    }
    super_header_ = *header;
    super_next_ = 0;
    super_segments_ = segments.value();
    if (super_segments_ > 1) {
      ++counters_.super_packets;
      counters_.segments += super_segments_;
    }
  }
  return count;
}

size_t IpsecTun::read_plain() {
  auto got = queue_.read(slots_, sizes_, headroom_);
  return got ? got.value() : 0;
}

void IpsecTun::split_pending(size_t& count) {
  const size_t free = kSlots - count;
  auto cut = offload::split(super_header_, std::span<const std::byte>(super_).first(super_length_), mtu_, super_next_,
                            std::span<const std::span<std::byte>>(slots_).subspan(count, free),
                            std::span(sizes_).subspan(count, free), headroom_);
  if (!cut || cut.value() == 0) {
    if (!cut) ++counters_.split_drops;
    super_segments_ = 0;
    return;
  }
  count += cut.value();
  super_next_ += cut.value();
  if (super_next_ >= super_segments_) super_segments_ = 0;
}

void IpsecTun::write(std::span<const std::byte> inner) {
  if (!coalescer_) {
    write_one(inner);
    return;
  }
  if (coalescer_->add(inner)) return;
  flush();  // the batch is full: write it and start the next one
  if (!coalescer_->add(inner)) write_one(inner);
}

void IpsecTun::write_one(std::span<const std::byte> packet) {
  if (!queue_.write(packet)) ++counters_.write_errors;
}

void IpsecTun::flush() {
  if (!coalescer_) return;
  for (const offload::GroPacket& packet : coalescer_->finish()) {
    // parts[0] is the virtio-net header (with the headers of a
    // super-packet); every other part is one inner packet's payload, or
    // the one whole packet.
    const size_t packets = packet.parts.size() - 1;
    if (!queue_.write_offloaded(packet.parts)) {
      ++counters_.write_errors;
      continue;
    }
    if (packets > 1) {
      counters_.coalesced += packets;
      ++counters_.coalesced_writes;
    }
  }
}

}  // namespace cordon::daemon
