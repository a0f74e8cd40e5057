// libFuzzer target for the IPsec receive path: ESP (core/ipsec/esp.hpp),
// AH (core/ipsec/ah.hpp) and the RFC 3948 classifier
// (core/ipsec/udp_encap.hpp), each behind a fixed inbound SA.
//
// The first input byte picks the path, the rest is the packet:
//   0  ESP, AES-256-GCM, tunnel mode, ESN
//   1  ESP, AES-128-CBC with HMAC-SHA-256-128, transport mode (the packet
//      is an IP header and ESP, split where the header says it ends)
//   2  ESP, ChaCha20-Poly1305, tunnel mode
//   3  AH, HMAC-SHA-256-128, tunnel mode
//   4  AH, HMAC-SHA-512-256, transport mode, ESN
//   5  a UDP/4500 payload: classified, and an ESP packet opened as by 0
//   6  an IP packet whose SPD selector is read (core/ipsec/spd.hpp), both
//      directions
// The SAs are made anew for every input, so an input means the same thing
// whatever ran before it. The seed corpus (corpus/esp_receive_fuzz) holds
// packets sealed by the matching outbound SAs under the keys below, so the
// fuzzer starts past the ICV.
//
// Asserts, besides "no crash, hang or leak": an accepted packet is a
// well-formed IP packet inside the input buffer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/ipsec/ah.hpp"
#include "core/ipsec/esp.hpp"
#include "core/ipsec/ip_header.hpp"
#include "core/ipsec/spd.hpp"
#include "core/ipsec/udp_encap.hpp"

namespace {

using namespace cordon::ipsec;
using cordon::Result;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::vector<std::byte> key(size_t n, uint8_t seed) {
  std::vector<std::byte> k(n);
  for (size_t i = 0; i < n; ++i) k[i] = static_cast<std::byte>(seed + 13 * i);
  return k;
}

Cipher cipher(const CipherSpec& spec) {
  auto c = Cipher::create(spec, key(spec.encryption_key_size(), 1), key(spec.integrity_key_size(), 2));
  check(c.has_value());
  return std::move(*c);
}

Integrity integrity(IntegId id) {
  auto i = Integrity::create(id, key(integrity_key_size(id), 3));
  check(i.has_value());
  return std::move(*i);
}

void accepted(std::span<const std::byte> buffer, const Result<std::span<std::byte>, EspDrop>& r) {
  if (!r) return;
  check(r->data() >= buffer.data() && r->data() + r->size() <= buffer.data() + buffer.size());
  const auto h = ip::parse_header(*r);
  check(h.has_value() && h->total_length == r->size());
}

constexpr uint32_t kSpi = 0x0c0dd0e5;

void esp_tunnel(std::span<std::byte> packet, const CipherSpec& spec, bool esn) {
  InboundEspSa sa(kSpi, cipher(spec), esn, SaMode::kTunnel);
  accepted(packet, sa.open(packet, 0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<std::byte> packet(size - 1);
  for (size_t i = 1; i < size; ++i) packet[i - 1] = static_cast<std::byte>(data[i]);
  const CipherSpec gcm{EncrId::kAesGcm16, 256, IntegId::kNone};
  switch (data[0] % 7) {
    case 0:
      esp_tunnel(packet, gcm, true);
      break;
    case 1: {
      InboundEspSa sa(kSpi, cipher({EncrId::kAesCbc, 128, IntegId::kHmacSha256_128}), false, SaMode::kTransport);
      const auto h = ip::parse_header(packet);
      accepted(packet, sa.open(packet, h ? h->length : 0));
      break;
    }
    case 2:
      esp_tunnel(packet, {EncrId::kChaCha20Poly1305, 256, IntegId::kNone}, false);
      break;
    case 3: {
      InboundAhSa sa(kSpi, integrity(IntegId::kHmacSha256_128), false, SaMode::kTunnel);
      accepted(packet, sa.open(packet));
      break;
    }
    case 4: {
      InboundAhSa sa(kSpi, integrity(IntegId::kHmacSha512_256), true, SaMode::kTransport);
      accepted(packet, sa.open(packet));
      break;
    }
    case 6: {
      const auto out = packet_selector(packet, Direction::kOut);
      const auto in = packet_selector(packet, Direction::kIn);
      check(out.has_value() == in.has_value());
      if (out) check(out->local == in->remote && out->local_port == in->remote_port);
      break;
    }
    default: {
      const UdpEncapClass c = classify_udp_encap(packet);
      if (c.kind == UdpEncapKind::kEsp) {
        check(c.payload.size() == packet.size());
        esp_tunnel(packet, gcm, true);
      } else if (c.kind == UdpEncapKind::kIke) {
        check(c.payload.size() + kNonEspMarkerSize == packet.size());
      }
      break;
    }
  }
  return 0;
}
