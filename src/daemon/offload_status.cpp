#include "daemon/offload_status.hpp"

#include "core/offload/gso_split.hpp"

namespace cordon::daemon {

OffloadStatus offload_status(bool enabled, const os::TunDevice& tun, std::span<const os::UdpSocket> sockets,
                             const WorkerPool& workers) {
  OffloadStatus o;
  o.enabled = enabled;
  if (const auto features = tun.offloads()) {
    o.vnet_header = true;
    o.checksum = features->checksum;
    o.tso = features->tso;
    o.uso = features->uso;
  }
  o.gso = o.gro = !sockets.empty();
  for (const os::UdpSocket& socket : sockets) {
    const os::UdpOffloads u = socket.offloads();
    o.gso = o.gso && u.gso;
    o.gro = o.gro && u.gro;
    o.gso_messages += u.gso_messages;
    o.gso_datagrams += u.gso_datagrams;
    o.gso_fallbacks += u.gso_fallbacks;
    o.gro_messages += u.gro_messages;
    o.gro_datagrams += u.gro_datagrams;
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerCounters& c = workers.worker(i).counters();
    o.super_packets += c.super_packets.load(std::memory_order_relaxed);
    o.segments += c.segments.load(std::memory_order_relaxed);
    o.coalesced += c.coalesced.load(std::memory_order_relaxed);
    o.coalesced_writes += c.coalesced_writes.load(std::memory_order_relaxed);
    if (const uint64_t drops = c.split_drops.load(std::memory_order_relaxed); drops != 0) {
      o.split_drops += drops;
      o.last_split_drop = offload::to_string(
          static_cast<offload::SplitDrop>(c.last_split_drop.load(std::memory_order_relaxed)));
    }
  }
  return o;
}

WorkersStatus workers_status(bool lanes, const std::string& lanes_off, const WorkerPool& workers) {
  WorkersStatus w{.lanes = lanes, .lanes_off = lanes_off};
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerCounters& c = workers.worker(i).counters();
    w.datagrams_in.push_back(c.datagrams_in.load(std::memory_order_relaxed));
    w.packets_in.push_back(c.packets_in.load(std::memory_order_relaxed));
  }
  return w;
}

}  // namespace cordon::daemon
