// Between the configured proposals (proposal.hpp) and the SA payload's
// proposals and transforms on the wire (ike_payloads.hpp; RFC 7296 section
// 3.3).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "core/ipsec/ike_payloads.hpp"
#include "core/ipsec/proposal.hpp"

namespace cordon::ipsec {

// The SA payload proposal numbered `number` offering `spec`, with `spi`
// (empty for IKE_SA_INIT, 8 bytes for an IKE_SA rekey, 4 for ESP/AH).
Proposal to_wire(const ProposalSpec& spec, uint8_t number, std::span<const std::byte> spi);
// The answer: the one proposal a responder sends back (section 3.3.1).
Proposal chosen_to_wire(const Chosen& chosen, ProtocolId protocol, uint8_t number, std::span<const std::byte> spi);

// What a received proposal offers that Cordon knows. nullopt when the
// proposal is not understood (section 3.3.6) or a transform type it lists
// holds nothing Cordon implements: it can then never be chosen.
std::optional<ProposalSpec> from_wire(const Proposal& proposal);
// The responder's choice among the received proposals (select_proposal
// over those Cordon can use); their_index counts in `theirs`, so the answer
// carries theirs[their_index].number.
std::optional<Selection> select_from_wire(std::span<const ProposalSpec> ours, std::span<const Proposal> theirs);

}  // namespace cordon::ipsec
