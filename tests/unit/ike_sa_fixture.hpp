// Configurations for the IKE state-machine tests: two sites, A (192.0.2.1,
// LAN 10.1.0.0/24) and B (192.0.2.2, LAN 10.2.0.0/24), with a pre-shared
// key, and a small PKI (tests/unit/ipsec_test_pki.hpp) for certificate
// authentication.
#pragma once

#include <string_view>

#include "core/ipsec/connection.hpp"
#include "core/ipsec/proposal.hpp"
#include "tests/unit/ipsec_test_pki.hpp"

namespace cordon::ipsec::ike_fixture {

inline crypto::SecretBytes secret(std::string_view text) {
  return crypto::SecretBytes(std::as_bytes(std::span(text.data(), text.size())));
}

inline std::vector<TrafficSelector> selectors(std::string_view cidr) { return {*parse_selector(cidr)}; }

inline GatewayConfig site(std::string_view self, std::string_view peer, std::string_view self_id,
                          std::string_view peer_id, std::string_view local_net, std::string_view remote_net,
                          std::string_view ike, std::string_view esp) {
  ConnectionConfig c;
  c.name = "site";
  c.local_addrs = {*IpAddress::parse(self)};
  c.remote_addrs = {*IpAddress::parse(peer)};
  c.proposals = {*parse_proposal(ike, ProtocolId::kIke)};
  c.local.kind = c.remote.kind = AuthKind::kPsk;
  c.local.id = *parse_identity(self_id);
  c.remote.id = *parse_identity(peer_id);
  c.local.psk = c.remote.psk = secret("a pre-shared key of some length");
  c.dpd_delay_ns = 0;
  ChildConfig child;
  child.name = "net";
  child.local_ts = selectors(local_net);
  child.remote_ts = selectors(remote_net);
  child.proposals = {*parse_proposal(esp, ProtocolId::kEsp)};
  child.rekey_time_ns = 0;
  c.children = {child};
  c.rekey_time_ns = 0;
  GatewayConfig g;
  g.connections = {c};
  return g;
}

// A initiates (start_action = start); B only answers.
inline GatewayConfig site_a(std::string_view ike = "aes256gcm16-prfsha256-ecp256", std::string_view esp = "aes256gcm16") {
  GatewayConfig g = site("192.0.2.1", "192.0.2.2", "a.example", "b.example", "10.1.0.0/24", "10.2.0.0/24", ike, esp);
  g.connections[0].children[0].start_action = StartAction::kStart;
  return g;
}
inline GatewayConfig site_b(std::string_view ike = "aes256gcm16-prfsha256-ecp256", std::string_view esp = "aes256gcm16") {
  return site("192.0.2.2", "192.0.2.1", "b.example", "a.example", "10.2.0.0/24", "10.1.0.0/24", ike, esp);
}

enum class KeyKind { kEcdsa, kRsa, kEd25519 };

struct Pki {
  test::Bytes ca;  // DER
  struct Entity {
    test::Bytes cert;  // DER
    test::Bytes key;   // DER
  };
  std::map<std::string, Entity> entities;  // by DNS name
};

inline test::Bytes key_der(EVP_PKEY* key) {
  const int len = i2d_PrivateKey(key, nullptr);
  test::Bytes out(static_cast<size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_PrivateKey(key, &p);
  return out;
}

// A CA and certificates for a.example and b.example, valid around the
// ManualClock's default time (2024).
inline Pki make_pki(KeyKind kind) {
  const test::TestKey k = kind == KeyKind::kRsa ? test::TestKey::kRsa
                          : kind == KeyKind::kEd25519 ? test::TestKey::kEd25519
                                                      : test::TestKey::kP256;
  constexpr int64_t kFrom = 1'600'000'000, kUntil = 2'000'000'000;
  Pki pki;
  ossl::Pkey ca_key = test::generate_key(k);
  test::CertSpec ca_spec{"Cordon test CA", 1, kFrom, kUntil, true, ""};
  ossl::X509Ptr ca = test::make_cert(ca_spec, ca_key.get(), nullptr, nullptr);
  pki.ca = test::cert_der(ca.get());
  long serial = 2;
  for (const char* name : {"a.example", "b.example"}) {
    ossl::Pkey key = test::generate_key(k);
    test::CertSpec spec{name, serial++, kFrom, kUntil, false, std::string("DNS:") + name};
    ossl::X509Ptr cert = test::make_cert(spec, key.get(), ca.get(), ca_key.get());
    pki.entities[name] = Pki::Entity{test::cert_der(cert.get()), key_der(key.get())};
  }
  return pki;
}

inline GatewayConfig with_certificates(GatewayConfig g, const Pki& pki, const std::string& self,
                                       const std::string& peer) {
  ConnectionConfig& c = g.connections[0];
  c.local.kind = c.remote.kind = AuthKind::kPubkey;
  c.local.psk = c.remote.psk = crypto::SecretBytes();
  c.local.certificate = pki.entities.at(self).cert;
  c.local.private_key = crypto::SecretBytes(pki.entities.at(self).key);
  c.remote.ca_certificates = {pki.ca};
  c.local.id = *parse_identity(self);
  c.remote.id = *parse_identity(peer);
  return g;
}

}  // namespace cordon::ipsec::ike_fixture
