// Configured proposals on the wire and back (core/ipsec/proposal_wire.hpp;
// RFC 7296 section 3.3).
#include "core/ipsec/proposal_wire.hpp"

#include <gtest/gtest.h>

namespace cordon::ipsec {
namespace {

ProposalSpec spec(std::string_view text, ProtocolId p = ProtocolId::kIke) { return parse_proposal(text, p).value(); }

TEST(IpsecProposalWire, RoundTripsThroughTheSaPayload) {
  for (const char* text : {"aes256gcm16-prfsha256-ecp256", "aes128-aes256-sha256-sha384-modp2048-x25519",
                           "chacha20poly1305-prfsha512-ecp384"}) {
    const ProposalSpec p = spec(text);
    const Proposal wire = to_wire(p, 1, {});
    ASSERT_TRUE(from_wire(wire)) << text;
    EXPECT_EQ(*from_wire(wire), p) << text;
  }
  const ProposalSpec esp = spec("aes256gcm16-esn", ProtocolId::kEsp);
  const std::vector<std::byte> spi = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const Proposal wire = to_wire(esp, 2, spi);
  EXPECT_EQ(wire.number, 2);
  EXPECT_EQ(wire.spi, spi);
  EXPECT_EQ(*from_wire(wire), esp);
  // An ESP proposal always lists ESN (section 3.3.2).
  const Proposal no_esn = to_wire(spec("aes256gcm16", ProtocolId::kEsp), 1, spi);
  EXPECT_TRUE(std::any_of(no_esn.transforms.begin(), no_esn.transforms.end(),
                          [](const Transform& t) { return t.type == TransformType::kEsn; }));
}

TEST(IpsecProposalWire, UnknownAlgorithmsAreSkippedUnlessATypeIsLeftEmpty) {
  Proposal p = to_wire(spec("aes256gcm16-prfsha256-ecp256"), 1, {});
  Transform unknown;
  unknown.type = TransformType::kDhGroup;
  unknown.id = 999;
  p.transforms.push_back(unknown);
  ASSERT_TRUE(from_wire(p));
  EXPECT_EQ(from_wire(p)->dh, std::vector<DhGroup>{DhGroup::kEcp256});
  // Only unknown DH groups: the proposal can never be chosen.
  std::erase_if(p.transforms, [](const Transform& t) { return t.type == TransformType::kDhGroup && t.id == 19; });
  EXPECT_FALSE(from_wire(p));
  // AES without a key length is not acceptable (section 3.3.5).
  Proposal bare = to_wire(spec("aes256gcm16-prfsha256-ecp256"), 1, {});
  bare.transforms.front().key_length.reset();
  EXPECT_FALSE(from_wire(bare));
}

TEST(IpsecProposalWire, SelectionCountsInTheReceivedList) {
  std::vector<Proposal> theirs;
  Proposal junk = to_wire(spec("aes256gcm16-prfsha256-ecp256"), 1, {});
  junk.transforms.front().id = 1;  // ENCR_DES_IV64: nothing Cordon does
  theirs.push_back(junk);
  theirs.push_back(to_wire(spec("aes128-sha256-modp2048"), 2, {}));
  const std::vector<ProposalSpec> ours = {spec("aes128-sha256-modp2048")};
  const auto s = select_from_wire(ours, theirs);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->their_index, 1u);
  const Proposal answer = chosen_to_wire(s->chosen, ProtocolId::kIke, theirs[1].number, {});
  EXPECT_EQ(answer.number, 2);
  EXPECT_TRUE(accept_answer(ours, *from_wire(answer)));
}

}  // namespace
}  // namespace cordon::ipsec
