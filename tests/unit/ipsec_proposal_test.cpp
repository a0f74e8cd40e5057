// ProposalSpec strings and the choice between two proposal lists
// (core/ipsec/proposal.hpp; RFC 7296 section 2.7).
#include "core/ipsec/proposal.hpp"

#include <gtest/gtest.h>

namespace cordon::ipsec {
namespace {

ProposalSpec ike(std::string_view text) { return parse_proposal(text, ProtocolId::kIke).value(); }
ProposalSpec esp(std::string_view text) { return parse_proposal(text, ProtocolId::kEsp).value(); }

TEST(IpsecProposal, ParsesStrongSwanStrings) {
  const ProposalSpec p = ike("aes256gcm16-prfsha256-ecp256");
  ASSERT_EQ(p.encryption.size(), 1u);
  EXPECT_EQ(p.encryption[0], (Encryption{EncrId::kAesGcm16, 256}));
  EXPECT_TRUE(p.integrity.empty());
  EXPECT_EQ(p.prf, std::vector<PrfId>{PrfId::kHmacSha256});
  EXPECT_EQ(p.dh, std::vector<DhGroup>{DhGroup::kEcp256});

  // A CBC IKE proposal without a PRF takes the integrity algorithm's.
  const ProposalSpec cbc = ike("aes128-sha384-modp2048");
  EXPECT_EQ(cbc.encryption[0], (Encryption{EncrId::kAesCbc, 128}));
  EXPECT_EQ(cbc.integrity, std::vector<IntegId>{IntegId::kHmacSha384_192});
  EXPECT_EQ(cbc.prf, std::vector<PrfId>{PrfId::kHmacSha384});

  const ProposalSpec e = esp("chacha20poly1305-x25519-esn");
  EXPECT_EQ(e.dh, std::vector<DhGroup>{DhGroup::kCurve25519});
  EXPECT_EQ(e.esn, std::vector<EsnId>{EsnId::kYes});
  EXPECT_EQ(proposal_name(e), "chacha20poly1305-x25519-esn");
  EXPECT_EQ(proposal_name(ike("aes256-sha256-modp2048")), "aes256-sha256-prfsha256-modp2048");
}

TEST(IpsecProposal, RefusesWithAReason) {
  struct Case {
    std::string_view text;
    ProtocolId protocol;
    std::string_view says;
  };
  const Case cases[] = {
      {"", ProtocolId::kIke, "empty"},
      {"aes256gcm16-prfsha256-ecp257", ProtocolId::kIke, "unknown algorithm \"ecp257\""},
      {"aes256gcm16-ecp256", ProtocolId::kIke, "needs a PRF"},
      {"aes256gcm16-prfsha256", ProtocolId::kIke, "needs a DH group"},
      {"aes256-ecp256", ProtocolId::kEsp, "needs an integrity"},
      {"aes256gcm16-aes256-sha256", ProtocolId::kEsp, "mixes"},
      {"aes256gcm16-sha256", ProtocolId::kEsp, "carries its own integrity"},
      {"aes256gcm16-prfsha256", ProtocolId::kEsp, "unknown algorithm \"prfsha256\""},
      {"aes256-sha256-esn", ProtocolId::kIke, "unknown algorithm \"esn\""},
      {"aes256-sha256", ProtocolId::kAh, "does not encrypt"},
      {"aes256gcm16--ecp256", ProtocolId::kEsp, "unknown algorithm \"\""},
  };
  for (const Case& c : cases) {
    auto r = parse_proposal(c.text, c.protocol);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().find(c.says), std::string::npos) << c.text << ": " << r.error();
  }
  EXPECT_TRUE(parse_proposal("sha256", ProtocolId::kAh).ok());
}

TEST(IpsecProposal, ResponderTakesItsOwnPreference) {
  const std::vector<ProposalSpec> ours = {ike("aes256gcm16-prfsha256-x25519-ecp256"), ike("aes128-sha256-modp2048")};
  const std::vector<ProposalSpec> theirs = {ike("aes128-sha256-modp2048"), ike("aes256gcm16-prfsha256-ecp256")};
  const auto s = select_proposal(ours, theirs);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->their_index, 1u);
  EXPECT_EQ(s->chosen.encryption, (Encryption{EncrId::kAesGcm16, 256}));
  EXPECT_EQ(s->chosen.dh, DhGroup::kEcp256);
  EXPECT_EQ(chosen_name(s->chosen, ProtocolId::kIke), "aes256gcm16-prfsha256-ecp256");
}

TEST(IpsecProposal, NoCommonTransformIsNoProposalChosen) {
  const std::vector<ProposalSpec> ours = {ike("aes256gcm16-prfsha256-ecp256")};
  const std::vector<ProposalSpec> theirs = {ike("aes256gcm16-prfsha256-modp2048"), ike("aes256-sha256-ecp256")};
  EXPECT_FALSE(select_proposal(ours, theirs));
  EXPECT_EQ(proposals_name(theirs), "aes256gcm16-prfsha256-modp2048, aes256-sha256-prfsha256-ecp256");
  // PFS on one side only is a mismatch too.
  const std::vector<ProposalSpec> pfs = {esp("aes256gcm16-ecp256")};
  const std::vector<ProposalSpec> none = {esp("aes256gcm16")};
  EXPECT_FALSE(select_proposal(pfs, none));
}

TEST(IpsecProposal, MissingEsnMeansNoEsn) {
  const std::vector<ProposalSpec> ours = {esp("aes128gcm16-esn-noesn")};
  const std::vector<ProposalSpec> theirs = {esp("aes128gcm16")};
  const auto s = select_proposal(ours, theirs);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->chosen.esn, EsnId::kNo);
}

TEST(IpsecProposal, InitiatorChecksTheAnswer) {
  const std::vector<ProposalSpec> offered = {ike("aes256gcm16-aes128gcm16-prfsha256-ecp256-x25519")};
  const auto ok = accept_answer(offered, ike("aes128gcm16-prfsha256-x25519"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->encryption.key_bits, 128);
  // Something never offered, or two transforms of a type, is refused.
  EXPECT_FALSE(accept_answer(offered, ike("aes256gcm16-prfsha256-modp2048")));
  EXPECT_FALSE(accept_answer(offered, ike("aes256gcm16-prfsha256-ecp256-x25519")));
}

TEST(IpsecProposal, DefaultsParse) {
  EXPECT_EQ(default_ike_proposals().size(), 2u);
  EXPECT_EQ(default_esp_proposals().size(), 2u);
}

}  // namespace
}  // namespace cordon::ipsec
