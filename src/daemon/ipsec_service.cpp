#include "daemon/ipsec_service.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/ipsec/manual_sa.hpp"
#include "core/ipsec/udp_encap.hpp"
#include "os/linux/clock.hpp"
#include "os/linux/random.hpp"

namespace cordon::daemon {
namespace {

constexpr size_t kHeadroom = std::max(ipsec::kEspHeadroom, ipsec::kAhHeadroom);
constexpr size_t kUdpBatch = 32;
constexpr size_t kUdpSlot = 65536;  // an unfragmented IKE message may be this large
constexpr size_t kLargestDatagram = 65527;  // UDP over IPv6: 65,535 - 8
// Rounds of on_tun before the thread looks at its sockets again.
constexpr int kTunRounds = 4;
constexpr int64_t kMaxWaitMs = 1000;
// The metric of the unreachable routes that stand in for a tunnel while
// its CHILD_SA is down (guard_routes): above any route an administrator or
// the IPsec device adds (0 by default), so it only answers when they are gone.
constexpr uint32_t kGuardMetric = 4000;
constexpr auto kCommandTimeout = std::chrono::seconds(5);

std::string hex32(uint32_t v) { return fmt::format("{:08x}", v); }

nlohmann::json sa_json(const ipsec::SaDescription& d) {
  nlohmann::json drops = nlohmann::json::object();
  for (size_t i = 0; i < ipsec::kEspDropCount; ++i) {
    if (d.counters.drops[i]) drops[std::string(ipsec::esp_drop_name(static_cast<ipsec::EspDrop>(i)))] = d.counters.drops[i];
  }
  return {{"spi", hex32(d.spi)},
          {"protocol", std::string(ipsec::security_protocol_name(d.protocol))},
          {"mode", std::string(ipsec::sa_mode_name(d.mode))},
          {"cipher", d.cipher},
          {"esn", d.esn},
          {"sequence", d.sequence},
          {"packets", d.counters.packets},
          {"bytes", d.counters.bytes},
          {"drops", drops}};
}

}  // namespace

IpsecService::IpsecService(const IpsecSettings& settings) : settings_(settings) {}

cordon::Result<std::unique_ptr<IpsecService>, std::string> IpsecService::start(const IpsecSettings& settings) {
  std::unique_ptr<IpsecService> service(new IpsecService(settings));
  if (auto opened = service->open(); !opened) return fail(std::move(opened.error()));
  service->thread_ = std::thread([s = service.get()] { s->run(); });
  return service;
}

cordon::Status<std::string> IpsecService::open() {
  auto tun = os::TunDevice::open(settings_.interface, 1, settings_.offloads);
  if (!tun) {
    return fail(fmt::format("ipsec.interface {}: {}; check that /dev/net/tun exists and the name is free",
                            settings_.interface, tun.error().message()));
  }
  tun_.emplace(std::move(*tun));
  auto nl = os::Netlink::open();
  if (!nl) return fail(fmt::format("IPsec: rtnetlink: {}", nl.error().message()));
  netlink_.emplace(std::move(*nl));
  if (auto s = netlink_->set_mtu(tun_->ifindex(), settings_.mtu); !s) {
    return fail(fmt::format("ipsec.mtu {}: {}", settings_.mtu, s.error().message()));
  }
  // No link-local address: the device would send its own router
  // solicitations into the SPD, which has no policy for them.
  (void)netlink_->disable_ipv6_address_generation(tun_->ifindex());
  if (auto s = netlink_->set_up(tun_->ifindex(), true); !s) {
    return fail(fmt::format("ipsec.interface {}: {}", settings_.interface, s.error().message()));
  }
  for (auto [port, socket] : {std::pair{ipsec::kIkePort, &ike_}, std::pair{ipsec::kNatTraversalPort, &natt_}}) {
    auto bound = os::UdpSocket::bind(settings_.listen_address, port, false);
    if (!bound) {
      return fail(fmt::format("ipsec.listen_address {} port {}: {}; is another IKE daemon (charon) running?",
                              settings_.listen_address.to_string(), port, bound.error().message()));
    }
    socket->emplace(std::move(*bound));
  }
  // ESP in UDP leaves in GSO messages and arrives in GRO ones, where the
  // kernel has them (docs/design.md, "Offloads").
  if (settings_.offloads) natt_->enable_offloads(kLargestDatagram);
  open_raw(false);
  open_raw(true);
  auto poller = os::Poller::create();
  auto wake = os::EventFd::create();
  if (!poller || !wake) return fail(std::string("IPsec: cannot create the poller"));
  poller_.emplace(std::move(*poller));
  wake_.emplace(std::move(*wake));
  for (int fd : {tun_->queue_fd(0), ike_->fd(), natt_->fd(), wake_->fd()}) {
    if (auto s = poller_->add_readable(fd); !s) return fail(fmt::format("IPsec: epoll: {}", s.error().message()));
  }
  for (const RawSockets& r : raw_) {
    if (!r.esp) continue;
    for (int fd : {r.esp->fd(), r.ah->fd()}) {
      if (auto s = poller_->add_readable(fd); !s) return fail(fmt::format("IPsec: epoll: {}", s.error().message()));
    }
  }
  tun_io_.emplace(tun_->queue(0), settings_.mtu, kHeadroom, ipsec::kEspTailroom);
  receive_buffer_.resize(kUdpBatch * kUdpSlot);
  batch_.resize(natt_->offloads().gro ? os::UdpSocket::kMaxCoalescedBatch : kUdpBatch);
  outgoing_.reserve(IpsecTun::kSlots);
  const Now now = os::now();
  gateway_ = std::make_unique<ipsec::Gateway>(
      std::make_shared<const ipsec::GatewayConfig>(settings_.gateway),
      [](std::span<std::byte> out) { return os::random_bytes(out).ok(); }, now);
  for (const ipsec::ManualSaConfig& sa : settings_.gateway.manual_sas) {
    if (sa.inbound && !gateway_->reserve_spi(sa.spi)) {
      return fail(fmt::format("ipsec.sa {}: inbound SPI {:08x} is used twice", sa.name, sa.spi));
    }
    if (!data_.install_manual(sa)) {
      return fail(fmt::format("ipsec.sa {}: the SA could not be built (check encryption and key_file)", sa.name));
    }
    if (!sa.inbound) {
      for (const auto& ts : sa.remote_ts) {
        for (const Prefix& p : ipsec::selector_prefixes(ts)) {
          if (routes_[p.to_string()]++ == 0) add_route(p);
        }
      }
    }
  }
  guard_routes(settings_.gateway);
  ipsec::IkeEvents events;
  gateway_->start(now, events);
  handle(events, now);
  return Ok{};
}

IpsecService::~IpsecService() {
  stop_ = true;
  if (wake_) wake_->notify();
  if (thread_.joinable()) thread_.join();
}

void IpsecService::run() {
  std::array<int, 8> ready{};
  int64_t next_ns = 0;
  while (!stop_) {
    Now now = os::now();
    const int64_t wait_ms = std::clamp<int64_t>((next_ns - now.mono_ns) / kNsPerMs + 1, 0, kMaxWaitMs);
    auto n = poller_->wait(static_cast<int>(wait_ms), ready);
    if (!n) {
      spdlog::error("ipsec: {}", n.error().message());
      continue;
    }
    now = os::now();
    for (size_t i = 0; i < *n; ++i) {
      const int fd = ready[i];
      if (fd == tun_->queue_fd(0)) {
        on_tun(now);
      } else if (fd == ike_->fd()) {
        on_udp(*ike_, ipsec::kIkePort, now);
      } else if (fd == natt_->fd()) {
        on_udp(*natt_, ipsec::kNatTraversalPort, now);
      } else if (fd == wake_->fd()) {
        wake_->drain();
        serve_requests(now);
      } else {
        for (RawSockets& r : raw_) {
          if (r.esp && fd == r.esp->fd()) on_raw(*r.esp, false, now);
          if (r.ah && fd == r.ah->fd()) on_raw(*r.ah, true, now);
        }
      }
    }
    ipsec::IkeEvents events;
    for (uint32_t spi : data_.take_rekey_needed()) gateway_->child_limit_reached(spi, now, events);
    next_ns = gateway_->tick(now, events);
    handle(events, now);
  }
  // Leaving: tell the peers (best effort, one attempt).
  ipsec::IkeEvents events;
  const Now now = os::now();
  std::set<std::string> names;
  for (const ipsec::IkeSaInfo& sa : gateway_->list()) names.insert(sa.connection);
  for (const std::string& name : names) (void)gateway_->down(name, now, events);
  handle(events, now);
  guard_routes(ipsec::GatewayConfig{});
}

// Each round seals up to IpsecTun::kSlots inner packets in place and sends
// the ESP-in-UDP ones together, so that the kernel can pack those to one
// peer into one GSO message.
void IpsecService::on_tun(const Now& now) {
  for (int round = 0; round < kTunRounds; ++round) {
    const size_t n = tun_io_->read();
    for (size_t i = 0; i < n; ++i) {
      auto sealed = data_.seal(tun_io_->slot(i), tun_io_->headroom(), tun_io_->length(i));
      if (sealed) send_sealed(*sealed);
    }
    send_encapsulated();
    if (n < IpsecTun::kSlots && !tun_io_->pending()) break;
  }
  (void)now;
}

void IpsecService::send_encapsulated() {
  std::span<const os::Datagram> left(outgoing_);
  while (!left.empty()) {
    auto sent = natt_->send(left);
    // A failed datagram is counted and skipped; a full send buffer after
    // the socket's bounded wait drops the rest of the batch.
    const size_t k = sent ? sent.value() : 1;
    if (!sent) ++send_errors_;
    if (sent && k == 0) {
      send_errors_ += left.size();
      break;
    }
    left = left.subspan(std::min(k, left.size()));
  }
  outgoing_.clear();
}

void IpsecService::send_sealed(const ipsec::SealedPacket& sealed) {
  if (sealed.udp_encapsulation) {
    outgoing_.push_back(os::Datagram{sealed.packet, sealed.packet.size(), sealed.to, false});
    return;
  }
  RawSockets& raw = raw_[sealed.to.address.is_v4() ? 0 : 1];
  if (!raw.send) {
    ++send_errors_;
    return;
  }
  // ESP: the kernel writes the IP header (protocol 50). AH: the SA wrote
  // a whole IP packet.
  const bool whole = sealed.protocol == ipsec::ProtocolId::kAh;
  auto& socket = whole ? *raw.send : *raw.esp;
  if (!socket.send(sealed.packet, sealed.to.address)) ++send_errors_;
}

// Opened packets of one receive batch are written at its end, coalesced
// per flow (IpsecTun::flush).
void IpsecService::deliver(std::span<const std::byte> inner) { tun_io_->write(inner); }

void IpsecService::on_udp(os::UdpSocket& socket, uint16_t port, const Now& now) {
  for (size_t i = 0; i < kUdpBatch; ++i) {
    batch_[i].data = std::span(receive_buffer_).subspan(i * kUdpSlot, kUdpSlot);
  }
  // With UDP GRO the socket points the entries at its own buffers.
  const bool coalesced = &socket == &*natt_ && socket.offloads().gro;
  auto n = socket.receive(coalesced ? std::span(batch_) : std::span(batch_).first(kUdpBatch));
  if (!n) return;
  ipsec::IkeEvents events;
  const Endpoint local{settings_.listen_address, port, 0};
  for (size_t i = 0; i < *n; ++i) {
    const os::Datagram& d = batch_[i];
    if (d.truncated) continue;
    const auto payload = d.data.first(d.length);
    if (port == ipsec::kIkePort) {
      gateway_->receive(now, local, d.peer, payload, events);
      continue;
    }
    const ipsec::UdpEncapClass c = ipsec::classify_udp_encap(payload);
    if (c.kind == ipsec::UdpEncapKind::kIke) {
      gateway_->receive(now, local, d.peer, c.payload, events);
    } else if (c.kind == ipsec::UdpEncapKind::kEsp) {
      auto inner = data_.open_esp(d.data.first(d.length), 0);
      if (inner) deliver(*inner);
    }
  }
  tun_io_->flush();
  handle(events, now);
}

void IpsecService::on_raw(os::RawIpSocket& socket, bool ah, const Now& now) {
  // A slot per packet: the opened packets stay valid until the flush.
  for (size_t i = 0; i < kUdpBatch; ++i) {
    auto buffer = std::span(receive_buffer_).subspan(i * kUdpSlot, kUdpSlot);
    auto got = socket.receive(buffer);
    if (!got || got->length == 0) break;
    if (got->length > buffer.size() || got->length < 20) continue;
    auto packet = buffer.first(got->length);
    // IPv4 with its own header; IPv6 with the one the socket rebuilt.
    const bool v6 = (static_cast<uint8_t>(packet[0]) >> 4) == 6;
    const size_t header = v6 ? os::RawIpSocket::kIpv6Header : (static_cast<uint8_t>(packet[0]) & 0x0f) * 4u;
    if (header < 20 || header > packet.size()) continue;
    auto inner = ah ? data_.open_ah(packet) : data_.open_esp(packet, header);
    if (inner) deliver(*inner);
  }
  tun_io_->flush();
  (void)now;
}

// Raw ESP and AH of one family need CAP_NET_RAW (and, for IPv6, a kernel
// with IPv6); without them that family uses ESP in UDP only, which the
// log says once.
void IpsecService::open_raw(bool v6) {
  auto esp = os::RawIpSocket::open(ipsec::kIpProtoEsp, v6);
  auto ah = os::RawIpSocket::open(ipsec::kIpProtoAh, v6);
  auto raw = os::RawIpSocket::open(255, v6);
  if (esp && ah && raw) {
    RawSockets& r = raw_[v6 ? 1 : 0];
    r.esp.emplace(std::move(*esp));
    r.ah.emplace(std::move(*ah));
    r.send.emplace(std::move(*raw));
    return;
  }
  spdlog::warn("ipsec: raw ESP and AH over {} are off ({}); only ESP in UDP on port 4500 is used", v6 ? "IPv6" : "IPv4",
               esp ? (ah ? raw.error().message() : ah.error().message()) : esp.error().message());
}

// Every configured tunnel-mode child's remote selectors get an unreachable
// route of low priority for as long as the connection is configured, so
// that while its CHILD_SA is down (not yet up, rekey failed, peer dead),
// packets for the peer's subnets are refused with ICMP "unreachable"
// instead of leaving in the clear by the host's default route. The
// CHILD_SA's own route through the IPsec device wins while it is up. A
// prefix that holds a peer's address is not guarded (IKE must reach the
// peer), and neither are the selectors of remote-access clients, which
// are known only when they connect. `config` empty: all are removed.
void IpsecService::guard_routes(const ipsec::GatewayConfig& config) {
  std::map<std::string, Prefix> wanted;
  for (const ipsec::ConnectionConfig& c : config.connections) {
    for (const ipsec::ChildConfig& child : c.children) {
      if (child.mode != ipsec::ChildMode::kTunnel) continue;
      for (const auto& ts : child.remote_ts) {
        for (const Prefix& p : ipsec::selector_prefixes(ts)) {
          const bool holds_peer = std::any_of(c.remote_addrs.begin(), c.remote_addrs.end(),
                                              [&](const IpAddress& a) { return p.contains(a); });
          if (!holds_peer && p.length > 0) wanted.emplace(p.to_string(), p);
        }
      }
    }
  }
  for (auto it = guards_.begin(); it != guards_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (auto s = netlink_->delete_unreachable_route(it->second, kGuardMetric); !s && s.error().err != ESRCH) {
      spdlog::warn("ipsec: {}", s.error().message());
    }
    it = guards_.erase(it);
  }
  for (const auto& [text, p] : wanted) {
    if (guards_.contains(text)) continue;
    if (auto s = netlink_->add_unreachable_route(p, kGuardMetric); !s) {
      spdlog::warn("ipsec: {}; while its CHILD_SA is down, traffic for it follows the host's other routes",
                   s.error().message());
      continue;
    }
    guards_.emplace(text, p);
  }
}

// A route for `p` through the IPsec device. One that exists already (the
// same prefix routed elsewhere, such as a directly connected LAN) keeps
// the traffic away from the device, which the log says.
void IpsecService::add_route(const Prefix& p) {
  auto s = netlink_->add_route(tun_->ifindex(), p);
  if (s) return;
  if (s.error().err == EEXIST) {
    spdlog::warn("ipsec: {} is already routed elsewhere, so its traffic does not enter {}; narrow the remote "
                 "selectors or remove the other route",
                 p.to_string(), settings_.interface);
    return;
  }
  spdlog::warn("ipsec: route {} via {}: {}", p.to_string(), settings_.interface, s.error().message());
}

void IpsecService::route(const ipsec::ChildSaInstall& child, bool add) {
  if (add) {
    if (child.mode != ipsec::ChildMode::kTunnel) return;
    std::vector<Prefix> mine;
    for (const auto& ts : child.remote_ts) {
      for (const Prefix& p : ipsec::selector_prefixes(ts)) {
        mine.push_back(p);
        if (routes_[p.to_string()]++ > 0) continue;
        add_route(p);
      }
    }
    child_routes_[child.inbound_spi] = std::move(mine);
    return;
  }
}

void IpsecService::handle(ipsec::IkeEvents& events, const Now& now) {
  for (const ipsec::IkeDatagram& d : events.send) {
    os::UdpSocket& socket = d.local_port == ipsec::kNatTraversalPort ? *natt_ : *ike_;
    os::Datagram out{std::span(const_cast<std::byte*>(d.payload.data()), d.payload.size()), d.payload.size(), d.remote,
                     false};
    if (!socket.send(std::span(&out, 1))) ++send_errors_;
  }
  for (const ipsec::ChildSaInstall& c : events.child_up) {
    if (!data_.install(c)) {
      spdlog::error("ipsec: connection {} child {}: its SAs could not be built", c.connection, c.child);
      continue;
    }
    route(c, true);
  }
  for (uint32_t spi : events.child_down) {
    data_.remove(spi);
    auto it = child_routes_.find(spi);
    if (it == child_routes_.end()) continue;
    for (const Prefix& p : it->second) {
      if (--routes_[p.to_string()] == 0) {
        routes_.erase(p.to_string());
        (void)netlink_->delete_route(tun_->ifindex(), p);
      }
    }
    child_routes_.erase(it);
  }
  for (const ipsec::IkeLogEvent& e : events.log) {
    if (e.warning) {
      spdlog::warn("ipsec {} connection={} {}", e.event, e.connection, e.detail);
    } else {
      spdlog::info("ipsec {} connection={} {}", e.event, e.connection, e.detail);
    }
  }
  events = {};
  (void)now;
}

nlohmann::json IpsecService::command(const nlohmann::json& request) {
  auto r = std::make_unique<Request>();
  r->body = request;
  auto future = r->reply.get_future();
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(r));
  }
  wake_->notify();
  if (future.wait_for(kCommandTimeout) != std::future_status::ready) {
    return {{"error", "the IPsec thread did not answer within 5 s"}};
  }
  return future.get();
}

void IpsecService::serve_requests(const Now& now) {
  std::vector<std::unique_ptr<Request>> todo;
  {
    std::lock_guard lock(mutex_);
    todo.swap(requests_);
  }
  for (auto& r : todo) r->reply.set_value(answer(r->body, now));
}

nlohmann::json IpsecService::status_json() const {
  nlohmann::json connections = nlohmann::json::array();
  for (const ipsec::IkeSaInfo& sa : gateway_->list()) {
    connections.push_back({{"connection", sa.connection},
                           {"state", std::string(ipsec::ike_state_name(sa.state))},
                           {"remote", sa.remote.to_string()},
                           {"remote_id", sa.remote_identity},
                           {"initiator", sa.initiator},
                           {"spi_i", fmt::format("{:016x}", sa.spi_i)},
                           {"spi_r", fmt::format("{:016x}", sa.spi_r)},
                           {"proposal", sa.proposal},
                           {"rekeys", sa.counters.ike_rekeys},
                           {"child_rekeys", sa.counters.child_rekeys},
                           {"retransmits", sa.counters.retransmits},
                           {"dropped", sa.counters.dropped}});
  }
  nlohmann::json children = nlohmann::json::array();
  for (const ipsec::ChildSaView& v : data_.list()) {
    nlohmann::json c = {{"connection", v.connection}, {"child", v.child}, {"remote", v.remote.to_string()},
                        {"udp_encapsulation", v.udp_encapsulation}, {"manual", v.manual}};
    if (v.inbound.spi != 0) c["inbound"] = sa_json(v.inbound);
    if (v.outbound) c["outbound"] = sa_json(*v.outbound);
    children.push_back(std::move(c));
  }
  nlohmann::json drops = nlohmann::json::object();
  for (size_t i = 0; i < static_cast<size_t>(ipsec::SealDrop::kCount); ++i) {
    const auto d = static_cast<ipsec::SealDrop>(i);
    if (data_.drops(d)) drops[std::string(ipsec::seal_drop_name(d))] = data_.drops(d);
  }
  for (size_t i = 0; i < static_cast<size_t>(ipsec::IkeDrop::kCount); ++i) {
    const auto d = static_cast<ipsec::IkeDrop>(i);
    if (gateway_->drops(d)) drops[std::string(ipsec::ike_drop_name(d))] = gateway_->drops(d);
  }
  for (size_t i = 0; i < ipsec::kEspDropCount; ++i) {
    if (data_.receive_drops()[i]) {
      drops[std::string(ipsec::esp_drop_name(static_cast<ipsec::EspDrop>(i)))] = data_.receive_drops()[i];
    }
  }
  const IpsecTunCounters& tun = tun_io_->counters();
  if (tun.write_errors) drops["tun_write_errors"] = tun.write_errors;
  if (tun.split_drops) drops["split_drops"] = tun.split_drops;
  if (send_errors_) drops["send_errors"] = send_errors_;
  const os::UdpOffloads udp = natt_->offloads();
  const nlohmann::json offloads = {{"tun", tun_io_->offloads()},      {"udp_gso", udp.gso},
                                   {"udp_gro", udp.gro},              {"super_packets", tun.super_packets},
                                   {"segments", tun.segments},        {"coalesced", tun.coalesced},
                                   {"coalesced_writes", tun.coalesced_writes}, {"gso_messages", udp.gso_messages},
                                   {"gso_datagrams", udp.gso_datagrams}, {"gro_messages", udp.gro_messages},
                                   {"gro_datagrams", udp.gro_datagrams}};
  return {{"interface", settings_.interface}, {"ike_sas", connections}, {"child_sas", children},
          {"half_open", gateway_->half_open()}, {"drops", drops}, {"offloads", offloads}};
}

}  // namespace cordon::daemon

namespace cordon::daemon {
namespace {

std::string text_field(const nlohmann::json& j, const char* key, std::string fallback = {}) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::vector<std::string> list_field(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

nlohmann::json policy_json(size_t position, const ipsec::Policy& p) {
  return {{"position", position},
          {"direction", p.direction == ipsec::Direction::kOut ? "out" : "in"},
          {"action", std::string(ipsec::policy_action_name(p.action))},
          {"local", ipsec::selector_text(p.local)},
          {"remote", ipsec::selector_text(p.remote)}};
}

}  // namespace

nlohmann::json IpsecService::answer(const nlohmann::json& request, const Now& now) {
  const std::string object = text_field(request, "object", "status");
  const std::string action = text_field(request, "action", "list");
  ipsec::IkeEvents events;
  nlohmann::json reply;
  if (object == "status" || (object == "sa" && action == "list")) {
    reply = status_json();
  } else if (object == "connection") {
    const std::string name = text_field(request, "name");
    if (action == "list") {
      nlohmann::json configured = nlohmann::json::array();
      for (const ipsec::ConnectionConfig& c : gateway_->config().connections) {
        nlohmann::json remote = nlohmann::json::array();
        for (const IpAddress& a : c.remote_addrs) remote.push_back(a.to_string());
        configured.push_back({{"name", c.name}, {"remote_addrs", remote}, {"children", c.children.size()}});
      }
      reply = status_json();
      reply["connections"] = configured;
    } else if (action == "up" || action == "down") {
      auto done = action == "up" ? gateway_->up(name, now, events) : gateway_->down(name, now, events);
      reply = done ? nlohmann::json{{"ok", true}} : nlohmann::json{{"error", done.error()}};
    } else {
      reply = {{"error", fmt::format("unknown connection action \"{}\"; use list, up or down", action)}};
    }
  } else if (object == "sa") {
    reply = answer_sa(request, action);
  } else if (object == "policy") {
    reply = answer_policy(request, action);
  } else if (object == "reconfigure") {
    reply = apply_settings(now, events);
  } else {
    reply = {{"error", fmt::format("unknown ipsec object \"{}\"; use status, connection, sa or policy", object)}};
  }
  handle(events, now);
  return reply;
}

nlohmann::json IpsecService::answer_sa(const nlohmann::json& request, const std::string& action) {
  if (action == "add") {
    ipsec::ManualSaFields f;
    f.name = text_field(request, "name", "manual");
    f.spi = text_field(request, "spi");
    f.direction = text_field(request, "direction");
    f.protocol = text_field(request, "protocol", "esp");
    f.mode = text_field(request, "mode", "tunnel");
    f.encryption = text_field(request, "encryption");
    f.key_hex = text_field(request, "key");
    f.local = text_field(request, "local");
    f.remote = text_field(request, "remote");
    f.local_ts = list_field(request, "local_ts");
    f.remote_ts = list_field(request, "remote_ts");
    auto sa = ipsec::build_manual_sa(f);
    crypto::wipe(std::as_writable_bytes(std::span(f.key_hex.data(), f.key_hex.size())));
    if (!sa) return {{"error", fmt::format("{}: {}", sa.error().field, sa.error().message)}};
    if (sa->inbound && !gateway_->reserve_spi(sa->spi)) {
      return {{"error", fmt::format("inbound SPI {:08x} is in use; choose another", sa->spi)}};
    }
    if (!data_.install_manual(*sa)) return {{"error", "the SA could not be built; check encryption and the key"}};
    spdlog::info("ipsec manual_sa_added name={} spi={:08x} {}", sa->name, sa->spi, sa->inbound ? "in" : "out");
    return {{"ok", true}};
  }
  if (action == "remove") {
    const std::string spi_text = text_field(request, "spi");
    const auto parsed = ipsec::parse_spi(spi_text);
    if (!parsed) return {{"error", fmt::format("\"{}\": give the SPI as 0x and up to 8 hex digits", spi_text)}};
    const uint32_t spi = *parsed;
    for (const ipsec::ChildSaView& v : data_.list()) {
      const bool match = v.inbound.spi == spi || (v.outbound && v.outbound->spi == spi);
      if (!match) continue;
      if (!v.manual) {
        return {{"error", fmt::format("SA {:08x} belongs to connection {}; use `cordon ipsec connection down {}`",
                                      spi, v.connection, v.connection)}};
      }
      data_.remove_manual(spi, v.inbound.spi == spi);
      return {{"ok", true}};
    }
    return {{"error", fmt::format("no SA has SPI {:08x}; `cordon ipsec sa list` shows them", spi)}};
  }
  return {{"error", fmt::format("unknown sa action \"{}\"; use list, add or remove", action)}};
}

nlohmann::json IpsecService::answer_policy(const nlohmann::json& request, const std::string& action) {
  if (action == "list") {
    nlohmann::json out = nlohmann::json::array();
    const auto& policies = data_.policies();
    for (size_t i = 0; i < policies.size(); ++i) out.push_back(policy_json(i, policies[i]));
    return {{"policies", out}, {"operator_policies", data_.operator_policies()}};
  }
  if (action == "add") {
    ipsec::Policy p;
    auto local = ipsec::parse_selector(text_field(request, "local"));
    auto remote = ipsec::parse_selector(text_field(request, "remote"));
    if (!local || !remote) return {{"error", "local and remote must be addresses or CIDR prefixes"}};
    const std::string act = text_field(request, "policy_action");
    if (act != "bypass" && act != "discard") {
      return {{"error", fmt::format("\"{}\": an operator policy is bypass or discard (protect entries come from SAs)", act)}};
    }
    p.local = *local;
    p.remote = *remote;
    p.action = act == "bypass" ? ipsec::PolicyAction::kBypass : ipsec::PolicyAction::kDiscard;
    p.direction = ipsec::Direction::kOut;
    const size_t at = data_.add_policy(p);
    return {{"ok", true}, {"position", at}};
  }
  if (action == "remove") {
    const auto it = request.find("position");
    if (it == request.end() || !it->is_number_unsigned() || !data_.remove_policy(it->get<size_t>())) {
      return {{"error", "give the position of an operator policy (`cordon ipsec policy list` shows them)"}};
    }
    return {{"ok", true}};
  }
  return {{"error", fmt::format("unknown policy action \"{}\"; use list, add or remove", action)}};
}

nlohmann::json IpsecService::reconfigure(const IpsecSettings& settings) {
  {
    std::lock_guard lock(mutex_);
    pending_settings_ = settings;
  }
  return command({{"object", "reconfigure"}});
}

// On the IPsec thread: connections and pools are swapped (gateway.hpp says
// what happens to their SAs); manual SAs are replaced by the new file's.
nlohmann::json IpsecService::apply_settings(const Now& now, ipsec::IkeEvents& events) {
  std::optional<IpsecSettings> next;
  {
    std::lock_guard lock(mutex_);
    next.swap(pending_settings_);
  }
  if (!next) return {{"ok", true}};
  for (const ipsec::ManualSaConfig& sa : settings_.gateway.manual_sas) data_.remove_manual(sa.spi, sa.inbound);
  for (const ipsec::ManualSaConfig& sa : next->gateway.manual_sas) {
    if (sa.inbound) gateway_->reserve_spi(sa.spi);
    if (!data_.install_manual(sa)) spdlog::error("ipsec: manual SA {} could not be built", sa.name);
  }
  gateway_->reconfigure(std::make_shared<const ipsec::GatewayConfig>(next->gateway), now, events);
  guard_routes(next->gateway);
  settings_.gateway = std::move(next->gateway);
  return {{"ok", true}, {"connections", settings_.gateway.connections.size()}};
}

}  // namespace cordon::daemon
