#include "core/ipsec/data_path.hpp"

#include <algorithm>

#include "core/ipsec/ip_header.hpp"

namespace cordon::ipsec {
namespace {

// The outer header of tunnel-mode AH, which AH authenticates (RFC 4302
// section 3.1).
TunnelEndpoints tunnel_of(const IpAddress& local, const IpAddress& remote) {
  TunnelEndpoints t;
  t.version = local.is_v4() ? 4 : 6;
  std::copy(local.bytes.begin(), local.bytes.end(), t.local.begin());
  std::copy(remote.bytes.begin(), remote.bytes.end(), t.remote.begin());
  return t;
}

SaMode mode_of(ChildMode m) { return m == ChildMode::kTransport ? SaMode::kTransport : SaMode::kTunnel; }

// Section 5.2 of RFC 4301, step 4: an inbound packet must fit the SA's
// selectors: its source among the remote ones, its destination among ours.
InnerCheck selector_check(std::vector<TrafficSelector> local, std::vector<TrafficSelector> remote) {
  return [local = std::move(local), remote = std::move(remote)](std::span<const std::byte> inner) {
    const auto p = packet_selector(inner, Direction::kIn);
    if (!p) return false;
    auto fits = [&](const std::vector<TrafficSelector>& list, const std::array<uint8_t, 16>& address,
                    std::optional<uint16_t> port) {
      return std::any_of(list.begin(), list.end(), [&](const TrafficSelector& ts) {
        return selector_matches(ts, p->version, address, p->protocol, port);
      });
    };
    return fits(local, p->local, p->local_port) && fits(remote, p->remote, p->remote_port);
  };
}

// RFC 4301 section 4.4.2.1: the soft limit comes before the hard one; we
// ask for a rekey at 90 % of a configured byte or packet limit.
SaLimits limits_of(uint64_t bytes, uint64_t packets) {
  SaLimits l;
  if (bytes) l.soft_bytes = bytes - bytes / 10, l.hard_bytes = bytes + bytes / 10;
  if (packets) l.soft_packets = packets - packets / 10, l.hard_packets = packets + packets / 10;
  return l;
}

}  // namespace

std::string_view seal_drop_name(SealDrop drop) {
  switch (drop) {
    case SealDrop::kNotIp: return "ipsec_not_ip";
    case SealDrop::kNoPolicy: return "ipsec_no_policy";
    case SealDrop::kDiscard: return "ipsec_discard";
    case SealDrop::kBypass: return "ipsec_bypass";
    case SealDrop::kNoSa: return "ipsec_no_sa";
    case SealDrop::kSa: return "ipsec_sa_refused";
    case SealDrop::kCount: break;
  }
  return "ipsec_unknown";
}

void DataPath::add_child_policies(uint64_t outbound_id, const std::vector<TrafficSelector>& local,
                                  const std::vector<TrafficSelector>& remote) {
  for (const TrafficSelector& l : local) {
    for (const TrafficSelector& r : remote) {
      if (l.type != r.type) continue;
      spd_.add(Policy{l, r, Direction::kOut, PolicyAction::kProtect, outbound_id});
    }
  }
}

bool DataPath::install(const ChildSaInstall& c) {
  const uint64_t out_id = next_outbound_id_++;
  const std::string peer = c.remote.to_string();
  const bool esn = c.chosen.esn == EsnId::kYes;
  const SaLimits limits = limits_of(c.rekey_bytes, c.rekey_packets);
  if (c.protocol == ProtocolId::kAh) {
    auto in = Integrity::create(c.chosen.integrity, c.inbound_integrity.view());
    auto out = Integrity::create(c.chosen.integrity, c.outbound_integrity.view());
    if (!in || !out) return false;
    const TunnelEndpoints tunnel = tunnel_of(c.local.address, c.remote.address);
    sad_.insert(InboundAhSa(c.inbound_spi, std::move(*in), esn, mode_of(c.mode), limits,
                            selector_check(c.local_ts, c.remote_ts)),
                peer, out_id);
    sad_.insert(OutboundAhSa(c.outbound_spi, std::move(*out), esn, mode_of(c.mode), tunnel, limits), peer, out_id);
  } else {
    const CipherSpec spec = c.chosen.cipher();
    auto in = Cipher::create(spec, c.inbound_encryption.view(), c.inbound_integrity.view());
    auto out = Cipher::create(spec, c.outbound_encryption.view(), c.outbound_integrity.view());
    if (!in || !out) return false;
    sad_.insert(InboundEspSa(c.inbound_spi, std::move(*in), esn, mode_of(c.mode), limits,
                             selector_check(c.local_ts, c.remote_ts)),
                peer, out_id);
    sad_.insert(OutboundEspSa(c.outbound_spi, std::move(*out), esn, mode_of(c.mode), limits), peer, out_id);
  }
  Child child;
  child.connection = c.connection;
  child.child = c.child;
  child.remote = c.remote;
  child.udp_encapsulation = c.udp_encapsulation;
  child.protocol = c.protocol;
  child.outbound_id = out_id;
  by_outbound_[out_id] = c.inbound_spi;
  const bool rekey = c.replaces_inbound_spi != 0 && children_.count(c.replaces_inbound_spi);
  child.replaces = rekey ? c.replaces_inbound_spi : 0;
  children_[c.inbound_spi] = child;
  if (!rekey) {
    add_child_policies(out_id, c.local_ts, c.remote_ts);
  } else if (c.send_now) {
    switch_to(c.inbound_spi);
  }
  return true;
}

void DataPath::switch_to(uint32_t inbound_spi) {
  auto it = children_.find(inbound_spi);
  if (it == children_.end() || it->second.replaces == 0) return;
  auto old = children_.find(it->second.replaces);
  it->second.replaces = 0;
  if (old == children_.end()) return;
  // The old child's protect entries now name the new outbound SA, in place,
  // so the SPD's order stays as it was.
  Spd next;
  for (Policy p : spd_.policies()) {
    if (p.action == PolicyAction::kProtect && p.child_id == old->second.outbound_id) p.child_id = it->second.outbound_id;
    next.add(p);
  }
  spd_ = std::move(next);
}

void DataPath::drop_policies(uint64_t outbound_id) {
  Spd next;
  for (const Policy& p : spd_.policies()) {
    if (!(p.action == PolicyAction::kProtect && p.child_id == outbound_id)) next.add(p);
  }
  spd_ = std::move(next);
}

void DataPath::remove(uint32_t inbound_spi) {
  auto it = children_.find(inbound_spi);
  if (it == children_.end()) return;
  // A rekeyed child whose successor still waits: the successor takes over.
  for (auto& [spi, c] : children_) {
    if (c.replaces == inbound_spi) switch_to(spi);
  }
  const uint64_t out_id = it->second.outbound_id;
  sad_.remove_inbound(inbound_spi);
  if (out_id) {
    sad_.remove_outbound(out_id);
    by_outbound_.erase(out_id);
    drop_policies(out_id);
  }
  children_.erase(it);
}

bool DataPath::install_manual(const ManualSaConfig& m) {
  const SaMode mode = mode_of(m.mode);
  const Endpoint remote{m.remote, 0, 0};
  Child child;
  child.connection = "manual";
  child.child = m.name;
  child.remote = remote;
  child.manual = true;
  child.protocol = m.protocol;
  if (m.inbound) {
    const InnerCheck check = selector_check(m.local_ts, m.remote_ts);
    if (m.protocol == ProtocolId::kAh) {
      auto integ = Integrity::create(m.cipher.integ, m.integrity_key.view());
      if (!integ || !sad_.insert(InboundAhSa(m.spi, std::move(*integ), false, mode, {}, check), m.name, 0)) return false;
    } else {
      auto cipher = Cipher::create(m.cipher, m.encryption_key.view(), m.integrity_key.view());
      if (!cipher || !sad_.insert(InboundEspSa(m.spi, std::move(*cipher), false, mode, {}, check), m.name, 0)) {
        return false;
      }
    }
    children_[m.spi] = child;
    return true;
  }
  const uint64_t out_id = next_outbound_id_++;
  if (m.protocol == ProtocolId::kAh) {
    auto integ = Integrity::create(m.cipher.integ, m.integrity_key.view());
    const TunnelEndpoints tunnel = tunnel_of(m.local, m.remote);
    if (!integ || !sad_.insert(OutboundAhSa(m.spi, std::move(*integ), false, mode, tunnel), m.name, out_id)) return false;
  } else {
    auto cipher = Cipher::create(m.cipher, m.encryption_key.view(), m.integrity_key.view());
    if (!cipher || !sad_.insert(OutboundEspSa(m.spi, std::move(*cipher), false, mode), m.name, out_id)) return false;
  }
  child.outbound_id = out_id;
  children_[kManualOutbound | m.spi] = child;
  by_outbound_[out_id] = kManualOutbound | m.spi;
  add_child_policies(out_id, m.local_ts, m.remote_ts);
  return true;
}

void DataPath::remove_manual(uint32_t spi, bool inbound) {
  if (inbound) {
    auto it = children_.find(spi);
    if (it != children_.end() && it->second.manual) remove(spi);
    return;
  }
  auto it = children_.find(kManualOutbound | spi);
  if (it == children_.end()) return;
  const uint64_t out_id = it->second.outbound_id;
  sad_.remove_outbound(out_id);
  by_outbound_.erase(out_id);
  drop_policies(out_id);
  children_.erase(it);
}

size_t DataPath::add_policy(const Policy& policy) {
  spd_.insert(operator_policies_, policy);
  return operator_policies_++;
}

bool DataPath::remove_policy(size_t position) {
  if (position >= operator_policies_) return false;
  --operator_policies_;
  return spd_.remove(position);
}

Result<SealedPacket, SealDrop> DataPath::seal(std::span<std::byte> buffer, size_t offset, size_t length) {
  const auto selector = packet_selector(buffer.subspan(offset, length), Direction::kOut);
  if (!selector) return refuse(SealDrop::kNotIp);
  const Policy* policy = spd_.lookup(Direction::kOut, *selector);
  if (!policy) return refuse(SealDrop::kNoPolicy);
  if (policy->action == PolicyAction::kDiscard) return refuse(SealDrop::kDiscard);
  if (policy->action == PolicyAction::kBypass) return refuse(SealDrop::kBypass);
  const auto owner = by_outbound_.find(policy->child_id);
  if (owner == by_outbound_.end()) return refuse(SealDrop::kNoSa);
  Child& child = children_[owner->second];
  SealedPacket out;
  out.to = child.remote;
  out.udp_encapsulation = child.udp_encapsulation;
  out.protocol = child.protocol;
  if (child.protocol == ProtocolId::kAh) {
    OutboundAhSa* sa = sad_.outbound_ah(policy->child_id);
    if (!sa) return refuse(SealDrop::kNoSa);
    auto sealed = sa->seal(buffer, offset, length);
    if (!sealed) return refuse(SealDrop::kSa);
    out.packet = *sealed;
    return out;
  }
  OutboundEspSa* sa = sad_.outbound_esp(policy->child_id);
  if (!sa) return refuse(SealDrop::kNoSa);
  auto sealed = sa->seal(buffer, offset, length);
  if (!sealed) return refuse(SealDrop::kSa);
  out.packet = *sealed;
  // Transport mode kept the packet's own IP header in front of ESP; the
  // socket that sends ESP (protocol 50, or UDP 4500) writes the header, so
  // the caller gets the ESP packet alone, as for tunnel mode.
  if (sa->mode() == SaMode::kTransport) {
    const auto h = ip::parse_header(out.packet);
    if (!h) return refuse(SealDrop::kSa);
    out.packet = out.packet.subspan(h->length);
  }
  return out;
}

Result<std::span<std::byte>, EspDrop> DataPath::open_esp(std::span<std::byte> buffer, size_t esp_offset) {
  auto inner = sad_.open_esp(buffer, esp_offset);
  if (!inner) {
    ++receive_drops_[static_cast<size_t>(inner.error())];
    return inner;
  }
  // The first packet on a rekeyed child's new SA: the peer has it, so we
  // send on it too.
  if (const auto spi = esp_spi(buffer.subspan(esp_offset))) {
    auto it = children_.find(*spi);
    if (it != children_.end() && it->second.replaces != 0) switch_to(*spi);
  }
  return inner;
}

Result<std::span<std::byte>, EspDrop> DataPath::open_ah(std::span<std::byte> packet) {
  auto inner = sad_.open_ah(packet);
  if (!inner) ++receive_drops_[static_cast<size_t>(inner.error())];
  return inner;
}

std::vector<uint32_t> DataPath::take_rekey_needed() {
  std::vector<uint32_t> out;
  for (const SaDescription& d : sad_.list()) {
    if (d.state != SaState::kRekeyNeeded) continue;
    const auto owner = by_outbound_.find(d.child_id);
    const uint64_t key = d.inbound ? d.spi : owner == by_outbound_.end() ? 0 : owner->second;
    auto it = children_.find(key);
    if (it == children_.end() || it->second.manual || it->second.rekey_reported) continue;
    it->second.rekey_reported = true;
    out.push_back(static_cast<uint32_t>(key));
  }
  return out;
}

std::vector<ChildSaView> DataPath::list() const {
  std::vector<ChildSaView> out;
  const std::vector<SaDescription> all = sad_.list();
  for (const auto& [spi, c] : children_) {
    ChildSaView v;
    v.connection = c.connection;
    v.child = c.child;
    v.remote = c.remote;
    v.udp_encapsulation = c.udp_encapsulation;
    v.manual = c.manual;
    bool have_inbound = false;
    for (const SaDescription& d : all) {
      if (d.inbound && spi < kManualOutbound && d.spi == spi) v.inbound = d, have_inbound = true;
      if (!d.inbound && c.outbound_id != 0 && d.child_id == c.outbound_id) v.outbound = d;
    }
    if (!have_inbound && !v.outbound) continue;
    if (!have_inbound) v.inbound.spi = 0;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace cordon::ipsec
