// Proposals (RFC 7296 sections 2.7 and 3.3) as Cordon configures, offers and
// chooses them. A proposal lists, per transform type, the algorithms it
// accepts; the responder picks one proposal and one transform of each type.
//
// Written in configuration the way strongSwan's swanctl.conf writes them,
// so an administrator can copy a peer's proposal string unchanged:
//
//   "aes256gcm16-prfsha256-ecp256"        IKE, combined-mode cipher
//   "aes256-sha256-modp2048"              IKE, AES-CBC + HMAC-SHA-256-128 (PRF from the integrity algorithm)
//   "aes128gcm16-aes256gcm16-x25519-ecp256"  several choices of a type
//   "chacha20poly1305-esn"                ESP with extended sequence numbers
//   "aes256gcm16-ecp256"                  ESP with PFS (a DH group in CREATE_CHILD_SA)
//
// Keywords: aes128 aes192 aes256 (CBC), aes128gcm16 aes192gcm16 aes256gcm16
// (also aesNNNgcm128), chacha20poly1305; sha256 sha384 sha512 (HMAC,
// truncated per RFC 4868); prfsha256 prfsha384 prfsha512; modp2048 ecp256
// ecp384 x25519 (or curve25519); esn noesn.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ipsec/cipher.hpp"
#include "core/ipsec/ike_constants.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

// An encryption transform: ID and key length (RFC 7296 section 3.3.5).
struct Encryption {
  EncrId id = EncrId::kAesGcm16;
  uint16_t key_bits = 256;
  bool combined() const { return id == EncrId::kAesGcm16 || id == EncrId::kChaCha20Poly1305; }
  friend bool operator==(const Encryption&, const Encryption&) = default;
};

// One proposal: the acceptable algorithms of each transform type, in order
// of preference. An empty list means the type is absent (an ESP proposal
// has no PRF; an ESP proposal without DH groups asks for no PFS).
struct ProposalSpec {
  ProtocolId protocol = ProtocolId::kIke;
  std::vector<Encryption> encryption;
  std::vector<IntegId> integrity;
  std::vector<PrfId> prf;
  std::vector<DhGroup> dh;
  std::vector<EsnId> esn;
  friend bool operator==(const ProposalSpec&, const ProposalSpec&) = default;
};

// What negotiation settled on: one transform of each type.
struct Chosen {
  Encryption encryption;
  IntegId integrity = IntegId::kNone;
  PrfId prf = PrfId::kHmacSha256;       // IKE only
  DhGroup dh = DhGroup::kNone;          // kNone: no PFS (ESP)
  EsnId esn = EsnId::kNo;               // ESP only
  CipherSpec cipher() const { return CipherSpec{encryption.id, encryption.key_bits, integrity}; }
  friend bool operator==(const Chosen&, const Chosen&) = default;
};

// Parses one proposal string of `protocol` (kIke, kEsp or kAh). The error
// says which keyword is wrong and what would be accepted.
Result<ProposalSpec, std::string> parse_proposal(std::string_view text, ProtocolId protocol);

// The defaults when a connection names none: what strongSwan 5.9 and common
// hardware gateways accept, strongest first.
std::vector<ProposalSpec> default_ike_proposals();
std::vector<ProposalSpec> default_esp_proposals();

// The responder's choice (RFC 7296 section 2.7): the first of `ours` (our
// preference order) that shares at least one transform of every type with
// some proposal of `theirs`, taking our preferred algorithm of each type.
// Returns the chosen transforms and the index in `theirs` of the proposal
// they came from (its number is that index + 1). nullopt: NO_PROPOSAL_CHOSEN.
struct Selection {
  Chosen chosen;
  size_t their_index = 0;
};
std::optional<Selection> select_proposal(std::span<const ProposalSpec> ours, std::span<const ProposalSpec> theirs);

// The initiator's check of the responder's answer: the one proposal it sent
// back must hold exactly one transform of each type, each of them offered.
std::optional<Chosen> accept_answer(std::span<const ProposalSpec> offered, const ProposalSpec& answer);

// "aes256gcm16-prfsha256-ecp256": the strongSwan-style name, for logs
// (a NO_PROPOSAL_CHOSEN line names both sides' proposals).
std::string proposal_name(const ProposalSpec& proposal);
std::string proposals_name(std::span<const ProposalSpec> proposals);  // joined with ", "
std::string chosen_name(const Chosen& chosen, ProtocolId protocol);

}  // namespace cordon::ipsec
