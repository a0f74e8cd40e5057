#include "core/ipsec/gateway.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/crypto/aead.hpp"
#include "core/ipsec/ike_sa_state.hpp"
#include "core/ipsec/proposal_wire.hpp"

namespace cordon::ipsec {
namespace {

constexpr size_t kCookieSize = 1 + 16;  // version | truncated HMAC (section 2.6)

bool address_listed(const std::vector<IpAddress>& list, const IpAddress& a) {
  return list.empty() || std::find(list.begin(), list.end(), a) != list.end();
}

std::shared_ptr<const ConnectionConfig> share(const GatewayConfig& config, size_t i) {
  return std::make_shared<const ConnectionConfig>(ConnectionConfig(config.connections[i]));
}

}  // namespace

std::string_view ike_drop_name(IkeDrop drop) {
  switch (drop) {
    case IkeDrop::kMalformed: return "ike_malformed";
    case IkeDrop::kUnknownSpi: return "ike_unknown_spi";
    case IkeDrop::kNoConnection: return "ike_no_connection";
    case IkeDrop::kCookieRequired: return "ike_cookie_required";
    case IkeDrop::kBadCookie: return "ike_bad_cookie";
    case IkeDrop::kNotInitRequest: return "ike_not_init_request";
    case IkeDrop::kCount: break;
  }
  return "ike_unknown";
}

Gateway::Gateway(std::shared_ptr<const GatewayConfig> config, std::function<bool(std::span<std::byte>)> random,
                 const Now& now)
    : config_(std::move(config)) {
  context_.random = std::move(random);
  context_.new_child_spi = [this] {
    // RFC 4303 section 2.1: SPIs 1-255 are reserved; 0 is never used.
    for (;;) {
      std::array<std::byte, 4> b{};
      if (!context_.random(b)) return uint32_t{0};
      uint32_t spi = 0;
      for (std::byte x : b) spi = spi << 8 | static_cast<uint8_t>(x);
      if (spi >= 256 && inbound_spis_.insert(spi).second) return spi;
    }
  };
  context_.lease = [this](const std::string& pool, const Identity& peer) { return lease(pool, peer); };
  for (size_t i = 0; i < config_->connections.size(); ++i) connections_.push_back(share(*config_, i));
  context_.pools = config_->pools;
  context_.random(cookie_secret_);
  cookie_rotated_ns_ = now.mono_ns;
}

Gateway::~Gateway() = default;

std::shared_ptr<const ConnectionConfig> Gateway::connection(const std::string& name) const {
  for (const auto& c : connections_) {
    if (c->name == name) return c;
  }
  return nullptr;
}

Endpoint Gateway::local_for(const ConnectionConfig& conn, const IpAddress& remote) const {
  for (const IpAddress& a : conn.local_addrs) {
    if (a.family == remote.family) return Endpoint{a, kIkePort, 0};
  }
  Endpoint any;
  any.address.family = remote.family;
  any.port = kIkePort;
  return any;
}

void Gateway::initiate(const std::shared_ptr<const ConnectionConfig>& conn, const Now& now, IkeEvents& events) {
  if (conn->remote_addrs.empty() || conn->children.empty()) return;
  const IpAddress& to = conn->remote_addrs.front();
  const Endpoint remote{to, conn->remote_port, 0};
  auto sa = IkeSa::initiate(conn, &conn->children.front(), local_for(*conn, to), remote, now, context_, events);
  // The other children follow once the IKE SA is up (CREATE_CHILD_SA).
  for (size_t i = 1; i < conn->children.size(); ++i) sa->create_child(conn->children[i], now, context_, events);
  const uint64_t spi = our_spi(*sa);
  if (spi != 0) sas_[spi] = std::move(sa);
}

void Gateway::start(const Now& now, IkeEvents& events) {
  for (const auto& conn : connections_) {
    const bool start = std::any_of(conn->children.begin(), conn->children.end(),
                                   [](const ChildConfig& c) { return c.start_action == StartAction::kStart; });
    if (start) initiate(conn, now, events);
  }
}

void Gateway::reconfigure(std::shared_ptr<const GatewayConfig> config, const Now& now, IkeEvents& events) {
  std::vector<std::shared_ptr<const ConnectionConfig>> next;
  std::vector<std::shared_ptr<const ConnectionConfig>> added;
  for (size_t i = 0; i < config->connections.size(); ++i) next.push_back(share(*config, i));
  // A connection whose settings changed is closed and started again with
  // the new ones; an unchanged one keeps its SAs.
  for (auto& [spi, sa] : sas_) {
    const std::string& name = sa->connection_name();
    const auto old = connection(name);
    auto kept = std::find_if(next.begin(), next.end(), [&](const auto& c) { return c->name == name; });
    if (kept == next.end() || !old) {
      sa->close(now, context_, events);
    }
  }
  for (auto& c : next) {
    if (!connection(c->name)) added.push_back(c);
  }
  config_ = std::move(config);
  connections_ = std::move(next);
  context_.pools = config_->pools;
  for (const auto& c : added) {
    const bool start = std::any_of(c->children.begin(), c->children.end(),
                                   [](const ChildConfig& ch) { return ch.start_action == StartAction::kStart; });
    if (start) initiate(c, now, events);
  }
}

void Gateway::receive(const Now& now, Endpoint local, Endpoint remote, std::span<const std::byte> bytes,
                      IkeEvents& events) {
  auto parsed = parse_ike_message(bytes);
  if (!parsed) {
    // Section 2.5: a newer major version is answered, so the peer can fall
    // back; an unknown critical payload in IKE_SA_INIT likewise.
    auto raw = parse_ike_header(bytes);
    if (raw && !raw->header.response && raw->header.exchange == ExchangeType::kIkeSaInit) {
      IkeMessage request{raw->header, {}};
      if (parsed.error().kind == IkeParseError::Kind::kUnsupportedMajorVersion) {
        answer_unprotected(request, local, remote, NotifyType::kInvalidMajorVersion, {}, events);
      } else if (parsed.error().kind == IkeParseError::Kind::kUnsupportedCritical) {
        answer_unprotected(request, local, remote, NotifyType::kUnsupportedCriticalPayload,
                           {static_cast<std::byte>(parsed.error().payload_type)}, events);
      }
    }
    ++drops_[static_cast<size_t>(IkeDrop::kMalformed)];
    return;
  }
  const IkeMessage& m = *parsed;
  const IkeHeader& h = m.header;
  // The original initiator sets the I flag: then we are the responder and
  // our SPI is SPIr (section 3.1).
  const uint64_t ours = h.initiator ? h.spi_r : h.spi_i;
  if (ours == 0) {
    if (h.exchange != ExchangeType::kIkeSaInit || h.response || !h.initiator) {
      ++drops_[static_cast<size_t>(IkeDrop::kNotInitRequest)];
      return;
    }
    // A retransmitted IKE_SA_INIT request goes to the SA it created.
    for (auto& [spi, sa] : sas_) {
      if (!sa->initiator() && sa->spi_i() == h.spi_i && sa->remote().address == remote.address &&
          sa->state() == IkeState::kAuthWait) {
        sa->receive(m, bytes, remote, local.port, now, context_, events);
        return;
      }
    }
    respond(now, local, remote, m, bytes, events);
    return;
  }
  auto it = sas_.find(ours);
  if (it == sas_.end() || (h.initiator ? it->second->spi_i() != h.spi_i : false)) {
    ++drops_[static_cast<size_t>(IkeDrop::kUnknownSpi)];
    return;
  }
  it->second->receive(m, bytes, remote, local.port, now, context_, events);
  settle(now, events);
}

// After any call into the IKE SAs: rekeyed SAs join the table, stale ones
// leave it, and the inbound SPIs of removed children are free again.
void Gateway::settle(const Now& now, IkeEvents& events) {
  adopt_successors();
  drop_replaced(events);
  for (const uint32_t spi : events.child_down) inbound_spis_.erase(spi);
  reap(now, events);
}

// Section 2.4: a peer that sends INITIAL_CONTACT has no other IKE SA with
// us; ours with the same connection and identity are stale.
void Gateway::drop_replaced(IkeEvents& events) {
  for (const uint64_t fresh : events.initial_contact) {
    auto it = sas_.find(fresh);
    if (it == sas_.end()) continue;
    const IkeSa& sa = *it->second;
    for (auto& [spi, other] : sas_) {
      if (spi == fresh || other->state() == IkeState::kClosed) continue;
      if (other->connection_name() == sa.connection_name() && other->remote_identity() == sa.remote_identity()) {
        other->abandon(events);
      }
    }
  }
  events.initial_contact.clear();
}

void Gateway::respond(const Now& now, Endpoint local, Endpoint remote, const IkeMessage& message,
                      std::span<const std::byte> raw, IkeEvents& events) {
  // A socket on the wildcard address does not say which of ours the peer
  // sent to: then any connection's local_addrs match, and the chosen one's
  // own address stands for ours (NAT detection and default selectors).
  const bool wildcard = std::all_of(local.address.bytes.begin(), local.address.bytes.end(),
                                    [](uint8_t b) { return b == 0; });
  std::vector<std::shared_ptr<const ConnectionConfig>> candidates;
  for (const auto& c : connections_) {
    if ((wildcard || address_listed(c->local_addrs, local.address)) && address_listed(c->remote_addrs, remote.address)) {
      candidates.push_back(c);
    }
  }
  if (candidates.empty()) {
    ++drops_[static_cast<size_t>(IkeDrop::kNoConnection)];
    events.note("-", "no_connection", fmt::format("IKE_SA_INIT from {} to {}: no connection accepts this peer",
                                                  remote.to_string(), local.to_string()), true);
    answer_unprotected(message, local, remote, NotifyType::kNoProposalChosen, {}, events);
    return;
  }
  // Section 2.6: under load, only a peer that echoes our cookie (and so
  // owns its address) costs us a key exchange.
  if (half_open() >= config_->cookie_threshold && !cookie_ok(message, remote, now)) {
    const bool sent_one = find_notify(message.payloads, NotifyType::kCookie) != nullptr;
    ++drops_[static_cast<size_t>(sent_one ? IkeDrop::kBadCookie : IkeDrop::kCookieRequired)];
    answer_unprotected(message, local, remote, NotifyType::kCookie, cookie_for(message, remote, cookie_version_),
                       events);
    return;
  }
  // The first candidate whose proposals fit answers; IKE_AUTH may still
  // move to another candidate once the peer's identity is known.
  std::shared_ptr<const ConnectionConfig> chosen = candidates.front();
  if (const auto* sa = find_payload<SaPayload>(message.payloads)) {
    for (const auto& c : candidates) {
      if (select_from_wire(c->proposals, sa->proposals)) {
        chosen = c;
        break;
      }
    }
  }
  if (wildcard) {
    for (const IpAddress& a : chosen->local_addrs) {
      if (a.family == remote.address.family) {
        local.address = a;
        break;
      }
    }
  }
  auto sa = IkeSa::respond(chosen, candidates, message, raw, local, remote, now, context_, events);
  if (!sa || sa->state() == IkeState::kClosed) return;
  sas_[sa->spi_r()] = std::move(sa);
}

std::vector<std::byte> Gateway::cookie_for(const IkeMessage& message, const Endpoint& remote, uint8_t version) const {
  // Section 2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>),
  // here an HMAC keyed by the secret.
  std::vector<std::byte> input;
  if (const auto* nonce = find_payload<NoncePayload>(message.payloads)) {
    input.insert(input.end(), nonce->data.begin(), nonce->data.end());
  }
  input.insert(input.end(), reinterpret_cast<const std::byte*>(remote.address.bytes.data()),
               reinterpret_cast<const std::byte*>(remote.address.bytes.data()) + remote.address.size());
  for (int i = 0; i < 8; ++i) input.push_back(static_cast<std::byte>(message.header.spi_i >> (56 - 8 * i)));
  const auto& secret = version == cookie_version_ ? cookie_secret_ : previous_cookie_secret_;
  std::array<std::byte, crypto::kHmacSize> mac{};
  crypto::hmac_sha256(secret, input, mac);
  std::vector<std::byte> cookie = {static_cast<std::byte>(version)};
  cookie.insert(cookie.end(), mac.begin(), mac.begin() + (kCookieSize - 1));
  return cookie;
}

bool Gateway::cookie_ok(const IkeMessage& message, const Endpoint& remote, const Now& now) const {
  (void)now;
  const NotifyPayload* n = find_notify(message.payloads, NotifyType::kCookie);
  if (!n || n->data.size() != kCookieSize) return false;
  const auto version = static_cast<uint8_t>(n->data[0]);
  if (version != cookie_version_ && version != static_cast<uint8_t>(cookie_version_ - 1)) return false;
  return crypto::constant_time_equal(n->data, cookie_for(message, remote, version));
}

void Gateway::answer_unprotected(const IkeMessage& request, Endpoint local, Endpoint remote, NotifyType type,
                                 std::vector<std::byte> data, IkeEvents& events) {
  IkeMessage m;
  m.header = request.header;
  m.header.spi_r = 0;
  m.header.response = true;
  m.header.initiator = false;
  m.header.major_version = kIkeMajorVersion;
  m.header.minor_version = 0;
  m.payloads.push_back(ike::notify(type, std::move(data)));
  auto bytes = serialize_ike_message(m);
  if (!bytes) return;
  IkeDatagram out{local.port, remote, {}};
  if (local.port == kNatTraversalPort) out.payload.assign(4, std::byte{0});
  out.payload.insert(out.payload.end(), bytes->begin(), bytes->end());
  events.send.push_back(std::move(out));
}

size_t Gateway::half_open() const {
  return static_cast<size_t>(std::count_if(sas_.begin(), sas_.end(),
                                           [](const auto& e) { return e.second->state() == IkeState::kAuthWait; }));
}

void Gateway::adopt_successors() {
  std::vector<std::unique_ptr<IkeSa>> born;
  for (auto& [spi, sa] : sas_) {
    while (auto next = sa->take_successor()) born.push_back(std::move(next));
  }
  for (auto& sa : born) {
    const uint64_t spi = our_spi(*sa);
    sas_[spi] = std::move(sa);
  }
}

void Gateway::reap(const Now& now, IkeEvents& events) {
  for (auto it = sas_.begin(); it != sas_.end();) {
    IkeSa& sa = *it->second;
    if (sa.state() != IkeState::kClosed) {
      ++it;
      continue;
    }
    if (auto vip = sa.virtual_ip()) {
      for (auto& [pool, by_id] : leases_) std::erase_if(by_id, [&](const auto& e) { return e.second == *vip; });
    }
    // Section 2.4: a dead peer's connection is started again when the
    // administrator asked for it.
    if (sa.died()) {
      if (auto conn = connection(sa.connection_name());
          conn && conn->dpd_action == DpdAction::kRestart && !conn->remote_addrs.empty()) {
        restarts_.push_back(Restart{conn->name, now.mono_ns + kRestartDelayNs});
        events.note(conn->name, "restart_scheduled", "the peer is dead; initiating again in 5 s");
      }
    }
    it = sas_.erase(it);
  }
}

int64_t Gateway::tick(const Now& now, IkeEvents& events) {
  if (now.mono_ns - cookie_rotated_ns_ >= kCookieSecretLifetimeNs) {
    previous_cookie_secret_ = cookie_secret_;
    context_.random(cookie_secret_);
    ++cookie_version_;
    cookie_rotated_ns_ = now.mono_ns;
  }
  int64_t next = cookie_rotated_ns_ + kCookieSecretLifetimeNs;
  for (auto& [spi, sa] : sas_) next = std::min(next, sa->tick(now, context_, events));
  settle(now, events);
  for (auto it = restarts_.begin(); it != restarts_.end();) {
    if (now.mono_ns < it->at_ns) {
      next = std::min(next, it->at_ns);
      ++it;
      continue;
    }
    if (auto conn = connection(it->connection)) initiate(conn, now, events);
    it = restarts_.erase(it);
  }
  return next;
}

Result<Ok, std::string> Gateway::up(const std::string& name, const Now& now, IkeEvents& events) {
  auto conn = connection(name);
  if (!conn) return fail(fmt::format("no IPsec connection is named \"{}\"; `cordon ipsec connection list` shows them", name));
  if (conn->remote_addrs.empty()) {
    return fail(fmt::format("connection \"{}\" has no remote_addrs: it only answers; start it from the peer", name));
  }
  for (auto& [spi, sa] : sas_) {
    if (sa->connection_name() == name && sa->state() != IkeState::kClosed) {
      return fail(fmt::format("connection \"{}\" is already {}", name, ike_state_name(sa->state())));
    }
  }
  initiate(conn, now, events);
  settle(now, events);
  return Ok{};
}

Result<Ok, std::string> Gateway::down(const std::string& name, const Now& now, IkeEvents& events) {
  bool any = false;
  for (auto& [spi, sa] : sas_) {
    if (sa->connection_name() != name || sa->state() == IkeState::kClosed || sa->state() == IkeState::kDeleting) {
      continue;
    }
    sa->close(now, context_, events);
    any = true;
  }
  std::erase_if(restarts_, [&](const Restart& r) { return r.connection == name; });
  settle(now, events);
  if (!any) return fail(fmt::format("connection \"{}\" has no IKE SA to close", name));
  return Ok{};
}

void Gateway::child_limit_reached(uint32_t inbound_spi, const Now& now, IkeEvents& events) {
  for (auto& [spi, sa] : sas_) {
    const auto children = sa->children();
    if (std::find(children.begin(), children.end(), inbound_spi) != children.end()) {
      sa->child_limit_reached(inbound_spi, now, context_, events);
      settle(now, events);
      return;
    }
  }
}

bool Gateway::reserve_spi(uint32_t spi) { return inbound_spis_.insert(spi).second; }

std::optional<IpAddress> Gateway::lease(const std::string& pool_name, const Identity& peer) {
  const PoolConfig* pool = nullptr;
  for (const PoolConfig& p : config_->pools) {
    if (p.name == pool_name) pool = &p;
  }
  if (!pool) return std::nullopt;
  auto& by_id = leases_[pool_name];
  // The same identity gets its address back (a reconnecting client keeps
  // its connections), as strongSwan's pools do.
  if (auto it = by_id.find(peer.text); it != by_id.end()) return it->second;
  const Prefix& range = pool->addresses;
  const unsigned host_bits = (range.address.is_v4() ? 32u : 128u) - range.length;
  const uint64_t count = host_bits >= 16 ? 65536 : (uint64_t{1} << host_bits);
  for (uint64_t n = 1; n < count; ++n) {
    IpAddress a = range.address;
    uint64_t add = n;
    for (int i = static_cast<int>(a.size()) - 1; i >= 0 && add; --i) {
      const uint64_t sum = a.bytes[i] + (add & 0xff);
      a.bytes[i] = static_cast<uint8_t>(sum);
      add = (add >> 8) + (sum >> 8);
    }
    if (range.address.is_v4() && n == count - 1 && host_bits < 31) break;  // the broadcast address
    const bool taken = std::any_of(by_id.begin(), by_id.end(), [&](const auto& e) { return e.second == a; });
    if (!taken) {
      by_id[peer.text] = a;
      return a;
    }
  }
  return std::nullopt;
}

std::vector<IkeSaInfo> Gateway::list() const {
  std::vector<IkeSaInfo> out;
  for (const auto& [spi, sa] : sas_) {
    IkeSaInfo i;
    i.connection = sa->connection_name();
    i.spi_i = sa->spi_i();
    i.spi_r = sa->spi_r();
    i.initiator = sa->initiator();
    i.state = sa->state();
    i.remote = sa->remote();
    i.remote_identity = sa->remote_identity();
    i.proposal = sa->chosen_name();
    i.established_ns = sa->established_at();
    i.counters = sa->counters();
    i.children = sa->children();
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace cordon::ipsec
