#include "daemon/activity_log.hpp"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/logging.hpp"

namespace cordon::daemon {
namespace {

// "auth_failure=3 replay=1" for the counters that grew since `before`.
std::string drop_delta(const std::array<uint64_t, kDropReasonCount>& now,
                       const std::array<uint64_t, kDropReasonCount>& before) {
  std::string out;
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    if (now[i] <= before[i]) continue;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", drop_reason_name(static_cast<DropReason>(i)), now[i] - before[i]);
  }
  return out;
}

// CORDON_REASON of a drops record: the reason whose counter grew most.
std::string_view top_reason(const std::array<uint64_t, kDropReasonCount>& now,
                            const std::array<uint64_t, kDropReasonCount>& before) {
  size_t top = kDropReasonCount;
  uint64_t most = 0;
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    if (now[i] > before[i] && now[i] - before[i] > most) {
      most = now[i] - before[i];
      top = i;
    }
  }
  return top == kDropReasonCount ? std::string_view() : drop_reason_name(static_cast<DropReason>(top));
}

std::string endpoint_text(const std::optional<Endpoint>& e) { return e ? e->to_string() : "(none)"; }

std::string error_text(int err) { return err != 0 ? std::strerror(err) : "unknown error"; }

// One sample per reason from each worker since the last report.
struct Samples {
  std::optional<DropSample> unknown_peer;
  std::vector<DropSample> auth_failure;

  explicit Samples(WorkerPool& workers) {
    for (size_t i = 0; i < workers.size(); ++i) {
      WorkerCounters& c = workers.worker(i).counters();
      if (auto s = c.unknown_peer.take(); s && !unknown_peer) unknown_peer = s;
      if (auto s = c.auth_failure.take()) auth_failure.push_back(*s);
    }
  }
  // A sample from `peer`'s host number, if a worker has one.
  std::optional<DropSample> auth_failure_from(HostId peer) const {
    for (const DropSample& s : auth_failure) {
      if (s.sender_host == peer.host()) return s;
    }
    return std::nullopt;
  }
};

// "; auth_failure from ...: causes" when that counter grew.
std::string cause_if_grew(DropReason reason, const std::array<uint64_t, kDropReasonCount>& now,
                          const std::array<uint64_t, kDropReasonCount>& before,
                          const std::optional<DropSample>& sample) {
  const size_t i = static_cast<size_t>(reason);
  return now[i] > before[i] ? "; " + drop_cause(reason, sample) : "";
}

}  // namespace

void ActivityLog::started(const OffloadStatus& o) {
  offloads_ = o;
  if (!o.enabled) {
    spdlog::info("offloads: off (offloads = false): one packet per TUN read and write, one datagram per message");
    return;
  }
  if (!o.vnet_header) {
    spdlog::warn("offloads: the TUN device refused virtio-net headers; one packet per TUN read and write");
  } else {
    spdlog::info("offloads: TUN checksum {}, TSO {}, USO {}; UDP GSO {}, GRO {}", o.checksum ? "on" : "off",
                 o.tso ? "on" : "off", o.uso ? "on" : "off", o.gso ? "on" : "off", o.gro ? "on" : "off");
  }
}

void ActivityLog::report_offloads(const OffloadStatus& now) {
  if (now.split_drops > offloads_.split_drops) {
    spdlog::warn("{} packets from the tunnel could not be cut into MTU-sized packets and were dropped (last reason: "
                 "{})",
                 now.split_drops - offloads_.split_drops, now.last_split_drop);
  }
  if (now.gso_fallbacks > offloads_.gso_fallbacks) {
    spdlog::warn("{} UDP GSO sends were refused by the kernel and went out one datagram per message",
                 now.gso_fallbacks - offloads_.gso_fallbacks);
  }
  if (offloads_.gso && !now.gso) {
    spdlog::warn("UDP GSO is now off on this host (the kernel refused it with EIO: the route's device cannot "
                 "segment); datagrams go out one per message");
  }
  offloads_ = now;
}

void ActivityLog::report(const NodeStatus& status, WorkerPool& workers, const OffloadStatus& offloads) {
  report_offloads(offloads);
  const Samples samples(workers);
  for (const PeerStatus& peer : status.peers) {
    auto [it, fresh] = peers_.try_emplace(peer.id.value);
    PeerSeen& seen = it->second;
    const std::string who = peer.name.empty() ? peer.id.to_string()
                                              : fmt::format("{} ({})", peer.id.to_string(), peer.name);
    if (!seen.heard && peer.last_rx_real_ns != 0) {
      log_peer_event(spdlog::level::info, LogEvent::kPeerUp, peer.id, "peer {} is up: first authentic packet, endpoint {}",
                     who, endpoint_text(peer.endpoint));
      seen.heard = true;
    } else if (!fresh && seen.heard && !(seen.endpoint == peer.endpoint)) {
      log_peer_event(spdlog::level::info, LogEvent::kPeerMoved, peer.id, "peer {} moved: endpoint {} -> {}", who,
                     endpoint_text(seen.endpoint), endpoint_text(peer.endpoint));
    }
    seen.endpoint = peer.endpoint;
    if (auto delta = drop_delta(peer.drops, seen.drops); !delta.empty()) {
      log_with(spdlog::level::info,
               LogContext{.event = log_event_name(LogEvent::kPeerDrops), .reason = top_reason(peer.drops, seen.drops),
                          .peer = peer.id},
               "peer {} drops in the last {} s: {}{}", who, kActivityIntervalNs / kNsPerSecond, delta,
               cause_if_grew(DropReason::kAuthFailure, peer.drops, seen.drops, samples.auth_failure_from(peer.id)));
    }
    seen.drops = peer.drops;
  }
  if (auto delta = drop_delta(status.drops, node_drops_); !delta.empty()) {
    log_with(spdlog::level::info,
             LogContext{.event = log_event_name(LogEvent::kHostDrops), .reason = top_reason(status.drops, node_drops_)},
             "drops not tied to a peer in the last {} s: {}{}", kActivityIntervalNs / kNsPerSecond, delta,
             cause_if_grew(DropReason::kUnknownPeer, status.drops, node_drops_, samples.unknown_peer));
  }
  node_drops_ = status.drops;

  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerCounters& c = std::as_const(workers).worker(i).counters();
    WorkerSeen& seen = workers_[i];
    const WorkerSeen now{c.truncated.load(std::memory_order_relaxed),
                         c.tun_write_errors.load(std::memory_order_relaxed),
                         c.udp_receive_errors.load(std::memory_order_relaxed),
                         c.udp_send_failures.load(std::memory_order_relaxed),
                         c.stream_drops.load(std::memory_order_relaxed)};
    const std::string last_error = error_text(c.last_errno.load(std::memory_order_relaxed));
    if (now.truncated > seen.truncated) {
      spdlog::warn("worker {}: {} datagrams were larger than this host's mtu allows and were dropped; set the same "
                   "mtu on both ends",
                   i, now.truncated - seen.truncated);
    }
    if (now.tun_write_errors > seen.tun_write_errors) {
      spdlog::warn("worker {}: the tunnel refused {} packets (last error: {})", i,
                   now.tun_write_errors - seen.tun_write_errors, last_error);
    }
    if (now.udp_receive_errors > seen.udp_receive_errors) {
      spdlog::warn("worker {}: {} UDP receive errors (last error: {})", i,
                   now.udp_receive_errors - seen.udp_receive_errors, last_error);
    }
    if (now.udp_send_failures > seen.udp_send_failures) {
      spdlog::warn("worker {}: {} datagrams could not be sent (last error: {})", i,
                   now.udp_send_failures - seen.udp_send_failures, last_error);
    }
    if (now.stream_drops > seen.stream_drops) {
      spdlog::warn("worker {}: {} datagrams for TCP tunnel streams were dropped: the streams are not keeping up", i,
                   now.stream_drops - seen.stream_drops);
    }
    seen = now;
  }
}

}  // namespace cordon::daemon
