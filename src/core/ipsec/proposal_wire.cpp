#include "core/ipsec/proposal_wire.hpp"

#include <algorithm>
#include <vector>

namespace cordon::ipsec {
namespace {

Transform transform(TransformType type, uint16_t id, std::optional<uint16_t> key_length = std::nullopt) {
  Transform t;
  t.type = type;
  t.id = id;
  t.key_length = key_length;
  return t;
}

// RFC 7296 section 3.3.5: AES names its key length; ChaCha20-Poly1305 has
// one and takes no attribute (RFC 7634 section 2).
std::optional<uint16_t> key_length_of(const Encryption& e) {
  if (e.id == EncrId::kChaCha20Poly1305) return std::nullopt;
  return e.key_bits;
}

void add_transforms(const ProposalSpec& spec, std::vector<Transform>& out) {
  for (const Encryption& e : spec.encryption) {
    out.push_back(transform(TransformType::kEncryption, static_cast<uint16_t>(e.id), key_length_of(e)));
  }
  for (PrfId p : spec.prf) out.push_back(transform(TransformType::kPrf, static_cast<uint16_t>(p)));
  for (IntegId i : spec.integrity) out.push_back(transform(TransformType::kIntegrity, static_cast<uint16_t>(i)));
  for (DhGroup d : spec.dh) out.push_back(transform(TransformType::kDhGroup, static_cast<uint16_t>(d)));
  // RFC 7296 section 3.3.2: ESP and AH proposals always list ESN.
  if (spec.protocol != ProtocolId::kIke) {
    const std::vector<EsnId> esn = spec.esn.empty() ? std::vector<EsnId>{EsnId::kNo} : spec.esn;
    for (EsnId e : esn) out.push_back(transform(TransformType::kEsn, static_cast<uint16_t>(e)));
  }
}

std::optional<Encryption> known_encryption(const Transform& t) {
  switch (static_cast<EncrId>(t.id)) {
    case EncrId::kAesCbc:
    case EncrId::kAesGcm16:
      if (t.key_length == 128 || t.key_length == 192 || t.key_length == 256) {
        return Encryption{static_cast<EncrId>(t.id), *t.key_length};
      }
      return std::nullopt;
    case EncrId::kChaCha20Poly1305:
      if (t.key_length && *t.key_length != 256) return std::nullopt;
      return Encryption{EncrId::kChaCha20Poly1305, 256};
    default:
      return std::nullopt;
  }
}

template <typename E>
bool known_id(uint16_t id, std::initializer_list<E> known, std::vector<E>& out) {
  for (E e : known) {
    if (static_cast<uint16_t>(e) == id) {
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
      return true;
    }
  }
  return false;
}

}  // namespace

Proposal to_wire(const ProposalSpec& spec, uint8_t number, std::span<const std::byte> spi) {
  Proposal p;
  p.number = number;
  p.protocol = spec.protocol;
  p.spi.assign(spi.begin(), spi.end());
  add_transforms(spec, p.transforms);
  return p;
}

Proposal chosen_to_wire(const Chosen& chosen, ProtocolId protocol, uint8_t number, std::span<const std::byte> spi) {
  ProposalSpec spec;
  spec.protocol = protocol;
  if (protocol != ProtocolId::kAh) spec.encryption = {chosen.encryption};
  if (chosen.integrity != IntegId::kNone) spec.integrity = {chosen.integrity};
  if (protocol == ProtocolId::kIke) spec.prf = {chosen.prf};
  if (chosen.dh != DhGroup::kNone) spec.dh = {chosen.dh};
  if (protocol != ProtocolId::kIke) spec.esn = {chosen.esn};
  return to_wire(spec, number, spi);
}

std::optional<ProposalSpec> from_wire(const Proposal& proposal) {
  if (!proposal.understood()) return std::nullopt;
  ProposalSpec spec;
  spec.protocol = proposal.protocol;
  // Per type: whether the peer listed any transform, and whether any was ours.
  bool listed[6] = {}, usable[6] = {};
  for (const Transform& t : proposal.transforms) {
    const auto type = static_cast<uint8_t>(t.type);
    if (type >= 6) return std::nullopt;
    listed[type] = true;
    bool ok = false;
    switch (t.type) {
      case TransformType::kEncryption:
        if (auto e = known_encryption(t)) {
          if (std::find(spec.encryption.begin(), spec.encryption.end(), *e) == spec.encryption.end()) {
            spec.encryption.push_back(*e);
          }
          ok = true;
        }
        break;
      case TransformType::kPrf:
        ok = known_id(t.id, {PrfId::kHmacSha256, PrfId::kHmacSha384, PrfId::kHmacSha512}, spec.prf);
        break;
      case TransformType::kIntegrity:
        // INTEG "NONE" (0) beside an AEAD cipher means no integrity
        // transform (RFC 7296 section 3.3.3).
        ok = t.id == 0 || known_id(t.id, {IntegId::kHmacSha256_128, IntegId::kHmacSha384_192,
                                          IntegId::kHmacSha512_256}, spec.integrity);
        break;
      case TransformType::kDhGroup:
        // NONE (0) in a child proposal offers "no PFS" as one choice.
        ok = known_id(t.id, {DhGroup::kNone, DhGroup::kModp2048, DhGroup::kEcp256, DhGroup::kEcp384,
                             DhGroup::kCurve25519}, spec.dh);
        break;
      case TransformType::kEsn:
        ok = known_id(t.id, {EsnId::kNo, EsnId::kYes}, spec.esn);
        break;
    }
    usable[type] = usable[type] || ok;
  }
  for (int type = 1; type < 6; ++type) {
    if (listed[type] && !usable[type]) return std::nullopt;
  }
  return spec;
}

std::optional<Selection> select_from_wire(std::span<const ProposalSpec> ours, std::span<const Proposal> theirs) {
  std::vector<ProposalSpec> usable;
  std::vector<size_t> index;
  for (size_t i = 0; i < theirs.size(); ++i) {
    if (auto spec = from_wire(theirs[i])) {
      usable.push_back(std::move(*spec));
      index.push_back(i);
    }
  }
  auto selection = select_proposal(ours, usable);
  if (selection) selection->their_index = index[selection->their_index];
  return selection;
}

}  // namespace cordon::ipsec
