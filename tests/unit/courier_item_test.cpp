// Courier items and receipts (core/courier/item.hpp).
#include "core/courier/item.hpp"

#include <gtest/gtest.h>

namespace cordon::courier {
namespace {

crypto::SecretBytes key_of(uint8_t fill) {
  std::vector<std::byte> k(32, std::byte{fill});
  return crypto::SecretBytes(k);
}

Item sample_package() {
  Item item;
  item.kind = ItemKind::kPackage;
  item.flags = kFlagUrgent;
  item.dest = HostId{0x00010002};
  item.via = HostId{0x00010001};
  item.subject = HostId{0x00010002};
  item.version = 7;
  item.payload = {std::byte{1}, std::byte{2}, std::byte{3}};
  return item;
}

TEST(CourierItem, RoundTrip) {
  const Item item = sample_package();
  const auto bytes = encode_item(item);
  ASSERT_EQ(bytes.size(), kItemHeaderSize + 3);
  auto parsed = parse_item(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value(), item);
  EXPECT_TRUE(parsed.value().urgent());
  EXPECT_FALSE(parsed.value().new_host_key());
}

TEST(CourierItem, Refusals) {
  const auto good = encode_item(sample_package());
  // Every truncation is refused.
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = parse_item(std::span(good).first(n));
    ASSERT_FALSE(r.ok()) << n;
  }
  auto with_trailing = good;
  with_trailing.push_back(std::byte{0});
  EXPECT_EQ(parse_item(with_trailing).error(), ItemError::kTrailingBytes);
  auto bad = good;
  bad[0] = std::byte{2};
  EXPECT_EQ(parse_item(bad).error(), ItemError::kUnsupportedFormat);
  bad = good;
  bad[1] = std::byte{5};  // kind
  EXPECT_EQ(parse_item(bad).error(), ItemError::kBadField);
  bad = good;
  bad[2] = std::byte{0x04};  // unknown flag
  EXPECT_EQ(parse_item(bad).error(), ItemError::kBadField);
  bad = good;
  bad[6] = std::byte{0};  // dest host number 0
  EXPECT_EQ(parse_item(bad).error(), ItemError::kBadField);
  Item other = sample_package();
  other.subject = HostId{0x00010003};  // a package for someone other than its dest
  EXPECT_EQ(parse_item(encode_item(other)).error(), ItemError::kBadField);
  Item notice = sample_package();
  notice.kind = ItemKind::kNotice;
  notice.payload = {std::byte{0}};  // not a notice
  EXPECT_EQ(parse_item(encode_item(notice)).error(), ItemError::kBadField);
  notice.payload = encode_notice(Notice{HostId{0x00010001}, Notice::State::kHeld, 0});
  EXPECT_TRUE(parse_item(encode_item(notice)).ok());
}

TEST(CourierReceipt, VerifiesOnlyUnderTheHostKey) {
  Receipt r{HostId{0x00010002}, 7, 7, Receipt::Outcome::kApplied, 1'800'000'000, ""};
  auto sealed = seal_receipt(r, key_of(0x22));
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(receipt_host(*sealed), HostId{0x00010002});
  auto verified = verify_receipt(*sealed, key_of(0x22));
  ASSERT_TRUE(verified.has_value());
  EXPECT_EQ(*verified, r);
  EXPECT_FALSE(verify_receipt(*sealed, key_of(0x23)).has_value());
  // Any changed byte fails, body or tag.
  for (size_t i = 0; i < sealed->size(); ++i) {
    auto forged = *sealed;
    forged[i] ^= std::byte{0x01};
    EXPECT_FALSE(verify_receipt(forged, key_of(0x22)).has_value()) << i;
  }
  // Truncated.
  EXPECT_FALSE(verify_receipt(std::span(*sealed).first(sealed->size() - 1), key_of(0x22)).has_value());
  // The same receipt under another host's ID does not carry over: the key is bound to the host.
  Receipt other = r;
  other.host = HostId{0x00010003};
  auto sealed_other = seal_receipt(other, key_of(0x22));
  ASSERT_TRUE(sealed_other.has_value());
  EXPECT_NE(std::vector<std::byte>(sealed->end() - 32, sealed->end()),
            std::vector<std::byte>(sealed_other->end() - 32, sealed_other->end()));
}

TEST(CourierReceipt, RefusalCarriesItsReason) {
  Receipt r{HostId{0x00010002}, 9, 8, Receipt::Outcome::kRefused, 5, "tampered: the update package was altered"};
  auto sealed = seal_receipt(r, key_of(0x22));
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(verify_receipt(*sealed, key_of(0x22))->reason, r.reason);
  r.reason.assign(kMaxReceiptReason + 1, 'x');
  EXPECT_FALSE(seal_receipt(r, key_of(0x22)).has_value());
}

}  // namespace
}  // namespace cordon::courier
