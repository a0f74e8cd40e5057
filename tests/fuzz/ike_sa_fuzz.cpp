// libFuzzer target for the IKEv2 responder (core/ipsec/gateway.hpp,
// ike_sa.hpp): a Gateway with one PSK connection that answers anyone
// (docs/ipsec.md, "Configuration", remote_addrs empty) is fed the input as
// a sequence of IKE datagrams, with the timers run in between on an
// advancing clock, so that half-open SAs, retransmissions, cookies and
// timeouts are exercised along with the parsers.
//
// Input: one flags byte, then records of
//   [1 byte: time step, in units of 250 ms] [2 bytes: length, big endian] [datagram]
// (a short last record takes what is left). Flags:
//   bit 0  an honest initiator (a second Gateway in this process) first
//          sets up an IKE SA and a CHILD_SA with the responder, and then
//          receives whatever the responder answers, so that fuzzed
//          messages meet an established IKE SA whose SPIs are fixed (the
//          randomness is deterministic);
//   bit 1  the datagrams arrive on UDP 4500 (after the non-ESP marker)
//          instead of 500;
//   bit 2  they come from a second source address.
//
// Asserts, besides "no crash, hang or leak": the honest exchange
// establishes an IKE SA with one CHILD_SA; the responder never has more
// half-open IKE SAs than datagrams it was given; every datagram either
// gateway sends fits in a UDP payload.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/ipsec/gateway.hpp"

namespace {

using namespace cordon;
using namespace cordon::ipsec;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr int64_t kStepNs = 250 * kNsPerMs;
constexpr size_t kMaxShuttles = 16;  // datagrams passed between the two gateways per record

IpAddress address(const char* text) { return *IpAddress::parse(text); }

crypto::SecretBytes secret(std::string_view text) {
  return crypto::SecretBytes(std::as_bytes(std::span(text.data(), text.size())));
}

ConnectionConfig connection(bool responder) {
  ConnectionConfig c;
  c.name = "site";
  c.local_addrs = {address(responder ? "192.0.2.2" : "192.0.2.1")};
  if (!responder) c.remote_addrs = {address("192.0.2.2")};
  // What strongSwan proposes by default (the seed's IKE_SA_INIT) and GCM.
  c.proposals = {*parse_proposal("aes256gcm16-aes128gcm16-prfsha256-ecp256-x25519-modp2048", ProtocolId::kIke),
                 *parse_proposal("aes256-aes128-sha256-sha384-ecp256-x25519-modp2048", ProtocolId::kIke)};
  c.local.kind = c.remote.kind = AuthKind::kPsk;
  c.local.id = *parse_identity(responder ? "b.example" : "a.example");
  c.remote.id = *parse_identity(responder ? "%any" : "b.example");
  c.local.psk = secret("a pre-shared key for the IKE fuzz target");
  c.remote.psk = secret("a pre-shared key for the IKE fuzz target");
  c.dpd_delay_ns = 10 * kNsPerSecond;
  c.rekey_time_ns = 60 * kNsPerSecond;  // reached within an input
  ChildConfig child;
  child.name = "net";
  child.local_ts = {*parse_selector(responder ? "10.2.0.0/16" : "10.1.0.0/24")};
  child.remote_ts = {*parse_selector(responder ? "10.1.0.0/16" : "10.2.0.0/24")};
  child.proposals = {*parse_proposal("aes256gcm16-esn-noesn", ProtocolId::kEsp),
                     *parse_proposal("aes128-sha256-esn-noesn", ProtocolId::kEsp)};
  child.rekey_time_ns = 30 * kNsPerSecond;
  if (!responder) child.start_action = StartAction::kStart;
  c.children = {child};
  return c;
}

// Made once: parsing proposals is not what is fuzzed.
std::shared_ptr<const GatewayConfig> config(bool responder) {
  static const auto make = [](bool r) {
    auto g = std::make_shared<GatewayConfig>();
    g->connections = {connection(r)};
    g->cookie_threshold = 4;
    return std::shared_ptr<const GatewayConfig>(std::move(g));
  };
  static const std::shared_ptr<const GatewayConfig> ours = make(true), theirs = make(false);
  return responder ? ours : theirs;
}

// Deterministic randomness: the same input takes the same path.
struct Random {
  uint64_t state = 0x9e3779b97f4a7c15u;
  bool operator()(std::span<std::byte> out) {
    for (std::byte& b : out) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      b = static_cast<std::byte>(state);
    }
    return true;
  }
};

struct Harness {
  Now now{1'000 * kNsPerSecond, 1'700'000'000 * kNsPerSecond};
  std::shared_ptr<Random> rng = std::make_shared<Random>();
  Gateway responder{config(true), [r = rng](std::span<std::byte> out) { return (*r)(out); }, now};
  std::unique_ptr<Gateway> initiator;
  IkeEvents to_responder_events, to_initiator_events;  // what each gateway emitted
  size_t given = 0;

  void sent_checked(IkeEvents& ev) {
    for (const IkeDatagram& d : ev.send) check(d.payload.size() <= 65535 - 8);
    ev.child_up.clear();
    ev.child_down.clear();
    ev.log.clear();
  }

  // Passes what the gateways sent to each other, a bounded number of times.
  void shuttle() {
    for (size_t i = 0; i < kMaxShuttles; ++i) {
      sent_checked(to_initiator_events);
      sent_checked(to_responder_events);
      std::vector<IkeDatagram> from_responder = std::move(to_initiator_events.send);
      std::vector<IkeDatagram> from_initiator = std::move(to_responder_events.send);
      to_initiator_events.send.clear();
      to_responder_events.send.clear();
      if (from_responder.empty() && from_initiator.empty()) return;
      for (const IkeDatagram& d : from_initiator) {
        responder.receive(now, Endpoint{address("192.0.2.2"), d.remote.port, 0},
                          Endpoint{address("192.0.2.1"), d.local_port, 0}, strip(d), to_initiator_events);
      }
      if (!initiator) continue;
      for (const IkeDatagram& d : from_responder) {
        initiator->receive(now, Endpoint{address("192.0.2.1"), d.remote.port, 0},
                           Endpoint{address("192.0.2.2"), d.local_port, 0}, strip(d), to_responder_events);
      }
    }
  }

  // The non-ESP marker the daemon removes on port 4500 (RFC 3948 section 2.2).
  static std::span<const std::byte> strip(const IkeDatagram& d) {
    std::span<const std::byte> m = d.payload;
    if (d.local_port == kNatTraversalPort && m.size() >= 4) m = m.subspan(4);
    return m;
  }

  void tick() {
    responder.tick(now, to_initiator_events);
    if (initiator) initiator->tick(now, to_responder_events);
    shuttle();
  }

  void advance(int64_t ns) {
    now.mono_ns += ns;
    now.real_ns += ns;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::span<const std::byte> rest = std::as_bytes(std::span(data + 1, size - 1));
  Harness h;
  if (flags & 1) {
    h.initiator = std::make_unique<Gateway>(config(false),
                                            [r = h.rng](std::span<std::byte> out) { return (*r)(out); }, h.now);
    h.initiator->start(h.now, h.to_responder_events);
    for (int i = 0; i < 8; ++i) {
      h.shuttle();
      h.advance(kNsPerMs);
      h.tick();
    }
    // The honest exchange completes before any fuzzed datagram arrives.
    const auto sas = h.responder.list();
    check(sas.size() == 1 && sas.front().state == IkeState::kEstablished && sas.front().children.size() == 1);
  }
  const uint16_t port = (flags & 2) ? kNatTraversalPort : kIkePort;
  const Endpoint local{address("192.0.2.2"), port, 0};
  const Endpoint remote{address((flags & 4) ? "198.51.100.7" : "192.0.2.1"), static_cast<uint16_t>(port), 0};
  while (rest.size() >= 3) {
    const int64_t step = std::to_integer<int64_t>(rest[0]) * kStepNs;
    size_t length = std::to_integer<size_t>(rest[1]) << 8 | std::to_integer<size_t>(rest[2]);
    rest = rest.subspan(3);
    length = std::min(length, rest.size());
    h.advance(step);
    h.tick();
    h.responder.receive(h.now, local, remote, rest.first(length), h.to_initiator_events);
    ++h.given;
    rest = rest.subspan(length);
    h.shuttle();
    check(h.responder.half_open() <= h.given + 1);
  }
  // Run the timers out: retransmissions give up, half-open SAs expire.
  for (int i = 0; i < 6; ++i) {
    h.advance(60 * kNsPerSecond);
    h.tick();
  }
  (void)h.responder.list();
  return 0;
}
