#include "core/courier/status_report.hpp"

#include <algorithm>
#include <map>

#include "core/courier/host_tag.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::courier {
namespace {

constexpr std::string_view kStatusInfo = "cordon courier status";
constexpr size_t kFixed = 4 + 8 + 8 + 8;

bool valid_host(HostId id) { return id.network() != 0 && id.host() != 0; }

void write_endpoint(wire::ByteWriter& w, const std::optional<Endpoint>& e) {
  if (!e) return w.u8(0);
  w.u8(e->address.is_v4() ? 4 : 6);
  w.bytes(std::as_bytes(std::span(e->address.bytes).first(e->address.size())));
  w.u16(e->port);
}

bool read_endpoint(wire::ByteReader& in, std::optional<Endpoint>& out) {
  const auto family = in.u8();
  if (!family) return false;
  if (*family == 0) return true;
  if (*family != 4 && *family != 6) return false;
  const auto bytes = in.bytes(*family == 4 ? 4 : 16);
  const auto port = in.u16();
  if (!bytes || !port) return false;
  Endpoint e;
  e.address.family = *family == 4 ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
  for (size_t i = 0; i < bytes->size(); ++i) e.address.bytes[i] = static_cast<uint8_t>((*bytes)[i]);
  e.port = *port;
  out = e;
  return true;
}

template <typename Enum>
std::optional<Enum> read_enum(wire::ByteReader& in, uint8_t last) {
  const auto v = in.u8();
  if (!v || *v > last) return std::nullopt;
  return static_cast<Enum>(*v);
}

void write_body(wire::ByteWriter& w, const StatusReport& r) {
  w.u32(r.coordinator.value);
  w.u64(static_cast<uint64_t>(r.time_s));
  w.u64(r.relay_packets);
  w.u64(r.relay_bytes);
  w.u8(static_cast<uint8_t>(r.drops.size()));
  for (const auto& [reason, count] : r.drops) {
    w.u8(static_cast<uint8_t>(reason));
    w.u64(count);
  }
  w.u16(static_cast<uint16_t>(r.links.size()));
  for (const CoordinatorLink& l : r.links) {
    w.u32(l.host.value);
    w.u8(static_cast<uint8_t>(l.state));
    w.u8(static_cast<uint8_t>(l.path));
  }
  w.u32(static_cast<uint32_t>(r.clients.size()));
  for (const ClientState& c : r.clients) {
    w.u32(c.host.value);
    w.u8(static_cast<uint8_t>(c.state));
    w.u8(c.tcp ? 1 : 0);
    w.u64(static_cast<uint64_t>(c.last_heard_s));
    w.u64(c.relayed_packets);
    write_endpoint(w, c.public_endpoint);
    w.u16(static_cast<uint16_t>(c.peers.size()));
    for (const PeerPath& p : c.peers) {
      w.u32(p.host.value);
      w.u8(static_cast<uint8_t>(p.path));
    }
  }
}

bool sealable(const StatusReport& r) {
  if (!valid_host(r.coordinator) || r.drops.size() > kDropReasonCount || r.links.size() > kMaxReportLinks ||
      r.clients.size() > kMaxReportClients) {
    return false;
  }
  for (const CoordinatorLink& l : r.links) {
    if (!valid_host(l.host)) return false;
  }
  for (const ClientState& c : r.clients) {
    if (!valid_host(c.host) || c.peers.size() > kMaxReportPeers) return false;
    for (const PeerPath& p : c.peers) {
      if (!valid_host(p.host)) return false;
    }
  }
  return true;
}

bool read_drops(wire::ByteReader& in, StatusReport& r) {
  const auto count = in.u8();
  if (!count || *count > kDropReasonCount) return false;
  for (unsigned i = 0; i < *count; ++i) {
    const auto reason = in.u8();
    const auto n = in.u64();
    if (!reason || !n || *reason >= kDropReasonCount) return false;
    r.drops.emplace_back(static_cast<DropReason>(*reason), *n);
  }
  return true;
}

bool read_links(wire::ByteReader& in, StatusReport& r) {
  const auto count = in.u16();
  if (!count) return false;
  for (unsigned i = 0; i < *count; ++i) {
    const auto host = in.u32();
    const auto state = read_enum<Reachability>(in, 2);
    const auto path = read_enum<PathKind>(in, 3);
    if (!host || !state || !path || !valid_host(HostId{*host})) return false;
    r.links.push_back(CoordinatorLink{HostId{*host}, *state, *path});
  }
  return true;
}

bool read_client(wire::ByteReader& in, ClientState& c) {
  const auto host = in.u32();
  const auto state = read_enum<Reachability>(in, 2);
  const auto transport = in.u8();
  const auto heard = in.u64();
  const auto relayed = in.u64();
  if (!host || !state || !transport || *transport > 1 || !heard || !relayed || !valid_host(HostId{*host})) {
    return false;
  }
  c.host = HostId{*host};
  c.state = *state;
  c.tcp = *transport == 1;
  c.last_heard_s = static_cast<int64_t>(*heard);
  c.relayed_packets = *relayed;
  if (!read_endpoint(in, c.public_endpoint)) return false;
  const auto peers = in.u16();
  if (!peers) return false;
  for (unsigned i = 0; i < *peers; ++i) {
    const auto peer = in.u32();
    const auto path = read_enum<PathKind>(in, 3);
    if (!peer || !path || !valid_host(HostId{*peer})) return false;
    c.peers.push_back(PeerPath{HostId{*peer}, *path});
  }
  return true;
}

std::optional<StatusReport> parse_body(std::span<const std::byte> body) {
  wire::ByteReader in(body);
  StatusReport r;
  const auto coordinator = in.u32();
  const auto time = in.u64();
  const auto packets = in.u64();
  const auto bytes = in.u64();
  if (!coordinator || !time || !packets || !bytes || !valid_host(HostId{*coordinator})) return std::nullopt;
  r.coordinator = HostId{*coordinator};
  r.time_s = static_cast<int64_t>(*time);
  r.relay_packets = *packets;
  r.relay_bytes = *bytes;
  if (!read_drops(in, r) || !read_links(in, r)) return std::nullopt;
  const auto clients = in.u32();
  // Each client takes at least 25 bytes: a count beyond what is left is
  // malformed, and no memory is reserved for it.
  if (!clients || *clients > kMaxReportClients || *clients > in.remaining() / 25) return std::nullopt;
  r.clients.resize(*clients);
  for (ClientState& c : r.clients) {
    if (!read_client(in, c)) return std::nullopt;
  }
  if (!in.at_end()) return std::nullopt;
  return r;
}

}  // namespace

StatusReport report_of(const NodeStatus& status, int64_t real_ns) {
  StatusReport r;
  r.coordinator = status.self;
  r.time_s = real_ns / kNsPerSecond;
  r.relay_packets = status.relay.packets;
  r.relay_bytes = status.relay.bytes;
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    if (status.drops[i] != 0) r.drops.emplace_back(static_cast<DropReason>(i), status.drops[i]);
  }
  std::map<uint32_t, const PeerStatus*> peers;
  for (const PeerStatus& p : status.peers) {
    peers.emplace(p.id.value, &p);
    if (p.role == keys::Role::kCoordinator && r.links.size() < kMaxReportLinks) {
      r.links.push_back(CoordinatorLink{p.id, p.reachability, p.path});
    }
  }
  for (const RegisteredClient& c : status.clients) {
    if (r.clients.size() == kMaxReportClients) break;
    ClientState out;
    out.host = c.id;
    out.state = c.state;
    out.tcp = c.tcp;
    out.last_heard_s = c.last_heard_real_ns / kNsPerSecond;
    if (c.public_endpoint && c.public_endpoint->is_udp()) out.public_endpoint = c.public_endpoint;
    if (const auto p = peers.find(c.id.value); p != peers.end()) out.relayed_packets = p->second->relayed_packets;
    for (const auto& [peer, path] : c.peer_paths) {
      if (out.peers.size() == kMaxReportPeers) break;
      out.peers.push_back(PeerPath{peer, path});
    }
    r.clients.push_back(std::move(out));
  }
  std::sort(r.clients.begin(), r.clients.end(), [](const auto& a, const auto& b) { return a.host.value < b.host.value; });
  return r;
}

bool same_state(const StatusReport& a, const StatusReport& b) {
  if (a.coordinator != b.coordinator || a.links != b.links || a.clients.size() != b.clients.size()) return false;
  for (size_t i = 0; i < a.clients.size(); ++i) {
    const ClientState& x = a.clients[i];
    const ClientState& y = b.clients[i];
    if (x.host != y.host || x.state != y.state || x.tcp != y.tcp || x.public_endpoint != y.public_endpoint ||
        x.peers != y.peers) {
      return false;
    }
  }
  return true;
}

std::optional<std::vector<std::byte>> seal_status_report(const StatusReport& report,
                                                          const crypto::SecretBytes& host_key) {
  if (!sealable(report)) return std::nullopt;
  wire::ByteWriter counter;
  write_body(counter, report);
  std::vector<std::byte> body(counter.size());
  wire::ByteWriter w(body);
  write_body(w, report);
  if (w.overflow()) return std::nullopt;
  return append_host_tag(std::move(body), host_key, kStatusInfo, report.coordinator);
}

std::optional<HostId> status_report_host(std::span<const std::byte> payload) {
  if (payload.size() < kFixed + kHostTagSize) return std::nullopt;
  const auto r = parse_body(payload.first(payload.size() - kHostTagSize));
  if (!r) return std::nullopt;
  return r->coordinator;
}

std::optional<StatusReport> verify_status_report(std::span<const std::byte> payload,
                                                 const crypto::SecretBytes& host_key) {
  if (payload.size() < kFixed + kHostTagSize) return std::nullopt;
  auto r = parse_body(payload.first(payload.size() - kHostTagSize));
  if (!r || !host_tag_valid(payload, host_key, kStatusInfo, r->coordinator)) return std::nullopt;
  return r;
}

}  // namespace cordon::courier
