// The control channel's codec and envelope (wire/channel.hpp), the X25519
// wrapper and the generation chain (keys/key_generation.hpp).
#include "core/wire/channel.hpp"

#include <gtest/gtest.h>

#include "core/crypto/x25519.hpp"
#include "core/keys/key_generation.hpp"
#include "core/keys/traffic_keys.hpp"

namespace cordon::wire {
namespace {

std::vector<ChannelMessage> every_message() {
  RekeyOffer carried{7, {}, RekeyOffer::Kind::kCarried, {}, 0, 0};
  carried.share[0] = std::byte{1};
  carried.material[31] = std::byte{2};
  RekeyOffer indexed{8, {}, RekeyOffer::Kind::kArrayIndex, {}, 3, 255, 0xfffffffe, 4095};
  indexed.share[31] = std::byte{4};
  RekeyStatus status{7, RekeyStatus::Code::kOk, 6, {}};
  status.share[5] = std::byte{9};
  KeyArrayChunk full{ArrayKind::kData, 5, 256, 16, 16, {}};
  full.entries[0] = std::byte{1};
  full.entries.back() = std::byte{2};
  KeyArrayChunk last{ArrayKind::kControl, 6, 20, 16, 4, {}};  // the rest of a 20-entry array
  last.entries[4 * 32 - 1] = std::byte{3};
  return {carried, indexed, status, RekeyStatus{9, RekeyStatus::Code::kInternal, 2, {}}, RekeySwitch{7, 1ull << 50},
          RekeySwitched{7, 12345}, RekeyRequest{},        Heartbeat{0xdeadbeef}, HeartbeatAck{1},
          SessionShutdown{}, full, last, KeyArrayAck{ArrayKind::kControl, 6, 4080}, KeyArrayFlush{ArrayKind::kData, 9},
          KeyArrayFlushed{ArrayKind::kControl, 0xffffffff}};
}

// The inner plaintext of an encoded message (between the envelope header and the tag room).
std::vector<std::byte> inner_of(const std::vector<std::byte>& encoded) {
  return {encoded.begin() + kChannelHeaderSize, encoded.end() - crypto::kTagSize};
}

TEST(Channel, EveryMessageParsesBackToItself) {
  for (const ChannelMessage& m : every_message()) {
    auto encoded = encode_channel(m);
    ASSERT_EQ(encoded[0], std::byte{kChannelControlType});
    const auto parsed = parse_channel(inner_of(encoded));
    ASSERT_TRUE(parsed.message);
    EXPECT_EQ(*parsed.message, m);
    // The envelope splits at the declared length, padding included.
    encoded.resize(encoded.size() + 100);
    const auto env = split_envelope(encoded);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->sealed.size(), inner_of(encode_channel(m)).size());
  }
}

TEST(Channel, TruncatedOrPaddedOrUnknownInnerMessagesAreRefused) {
  for (const ChannelMessage& m : every_message()) {
    const auto inner = inner_of(encode_channel(m));
    for (size_t n = 0; n < inner.size(); ++n) {
      EXPECT_FALSE(parse_channel(std::span(inner).first(n)).message) << n;
    }
    auto longer = inner;
    longer.push_back(std::byte{0});
    const auto p = parse_channel(longer);
    EXPECT_FALSE(p.message);
    EXPECT_EQ(p.error, ChannelError::kBadPadding);
  }
  const std::vector<std::byte> unknown{std::byte{0x7f}};
  EXPECT_EQ(parse_channel(unknown).error, ChannelError::kUnknownType);
  // Generation 0 is never offered; a first counter is never 0.
  EXPECT_EQ(parse_channel(inner_of(encode_channel(RekeySwitch{0, 5}))).error, ChannelError::kBadField);
  EXPECT_EQ(parse_channel(inner_of(encode_channel(RekeySwitch{5, 0}))).error, ChannelError::kBadField);
  // A session shutdown names its reason; only 1 is defined.
  auto shutdown = inner_of(encode_channel(SessionShutdown{}));
  shutdown[1] = std::byte{2};
  EXPECT_EQ(parse_channel(shutdown).error, ChannelError::kBadField);
}

// A chunk starts on a chunk boundary inside its array and holds 16
// entries or the rest; array ID 0 and kinds past control are refused.
TEST(Channel, KeyArrayMessagesOutOfRangeAreRefused) {
  const auto refused = [](const ChannelMessage& m) {
    return parse_channel(inner_of(encode_channel(m))).error == ChannelError::kBadField;
  };
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 0, 16, 0, 16, {}}));     // array 0
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 1, 0, 0, 0, {}}));      // empty array
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 1, 4097, 0, 16, {}}));  // too big
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 1, 64, 8, 16, {}}));    // off a chunk boundary
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 1, 64, 64, 0, {}}));    // past the end
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 1, 20, 16, 3, {}}));    // not the rest
  EXPECT_TRUE(refused(KeyArrayChunk{ArrayKind::kData, 1, 64, 0, 15, {}}));    // short of a full chunk
  EXPECT_TRUE(refused(KeyArrayAck{ArrayKind::kData, 1, 7}));
  EXPECT_TRUE(refused(KeyArrayFlush{ArrayKind::kData, 0}));
  auto kind = inner_of(encode_channel(KeyArrayFlush{ArrayKind::kData, 3}));
  kind[1] = std::byte{2};
  EXPECT_EQ(parse_channel(kind).error, ChannelError::kBadField);
  // A count byte over 16 is refused before the entries are read.
  auto count = inner_of(encode_channel(KeyArrayChunk{ArrayKind::kData, 1, 16, 0, 16, {}}));
  count[10] = std::byte{17};
  EXPECT_EQ(parse_channel(count).error, ChannelError::kBadField);
}

TEST(Channel, WipeSecretsClearsOffersAndChunks) {
  ChannelMessage offer = RekeyOffer{7, {}, RekeyOffer::Kind::kCarried, {}, 0, 0};
  std::get<RekeyOffer>(offer).material.fill(std::byte{5});
  ChannelMessage chunk = KeyArrayChunk{ArrayKind::kData, 1, 16, 0, 16, {}};
  std::get<KeyArrayChunk>(chunk).entries.fill(std::byte{6});
  wipe_secrets(offer);
  wipe_secrets(chunk);
  const std::array<std::byte, 32> zero{};
  EXPECT_EQ(std::get<RekeyOffer>(offer).material, zero);
  for (const std::byte b : std::get<KeyArrayChunk>(chunk).entries) ASSERT_EQ(b, std::byte{0});
}

TEST(Channel, AnEnvelopeWithABadLengthOrDirtyPaddingIsRefused) {
  auto encoded = encode_channel(RekeyRequest{});
  encoded.resize(encoded.size() + 4);
  EXPECT_TRUE(split_envelope(encoded));
  auto dirty = encoded;
  dirty.back() = std::byte{1};
  EXPECT_FALSE(split_envelope(dirty));
  auto too_long = encoded;
  too_long[2] = std::byte{0xff};
  EXPECT_FALSE(split_envelope(too_long));
  auto too_short = encoded;
  too_short[1] = std::byte{0};
  too_short[2] = std::byte{crypto::kTagSize};  // no type byte inside
  EXPECT_FALSE(split_envelope(too_short));
  EXPECT_FALSE(split_envelope(std::span(encoded).first(2)));
}

TEST(X25519, BothSidesAgreeAndALowOrderShareIsRefused) {
  std::array<std::byte, 32> a{}, b{};
  a[0] = std::byte{1};
  b[0] = std::byte{2};
  const auto ka = crypto::X25519Key::from_private(a);
  const auto kb = crypto::X25519Key::from_private(b);
  ASSERT_TRUE(ka && kb);
  const auto pa = ka->public_value();
  const auto pb = kb->public_value();
  const auto s1 = ka->agree(pb);
  const auto s2 = kb->agree(pa);
  ASSERT_TRUE(s1 && s2);
  EXPECT_TRUE(*s1 == *s2);
  const std::array<std::byte, 32> zero{};
  EXPECT_FALSE(ka->agree(zero));  // RFC 7748, section 6.1
}

TEST(KeyGeneration, ControlKeysDifferFromTrafficKeysAndGenerationsDiffer) {
  crypto::SecretBytes link(32);
  link.mutable_view()[0] = std::byte{7};
  const HostId a{0x00010001}, b{0x00010002};
  const auto g0 = keys::generation_keys(link, crypto::Suite::kAes256Gcm, 0, a, b);
  ASSERT_TRUE(g0);
  EXPECT_FALSE(g0->tx == g0->control_tx);
  EXPECT_FALSE(g0->tx == g0->rx);
  // Generation 0's traffic key is the one every earlier version used.
  EXPECT_TRUE(g0->tx == *keys::derive_traffic_key(link, crypto::Suite::kAes256Gcm, 0, a, b));
  const auto s0 = keys::chain_start(link);
  crypto::SecretBytes shared(32);
  const std::array<std::byte, 32> material{};
  const auto s1 = keys::chain_next(*s0, shared, material, 1, a, b);
  const auto s2 = keys::chain_next(*s1, shared, material, 2, a, b);
  ASSERT_TRUE(s1 && s2);
  EXPECT_FALSE(*s1 == *s2);
  const auto g1 = keys::generation_keys(*s1, crypto::Suite::kAes256Gcm, 1, a, b);
  EXPECT_FALSE(g1->tx == g0->tx);
  // The other side's view: its rx is our tx.
  const auto g1b = keys::generation_keys(*s1, crypto::Suite::kAes256Gcm, 1, b, a);
  EXPECT_TRUE(g1->tx == g1b->rx);
  EXPECT_TRUE(g1->control_tx == g1b->control_rx);
}

}  // namespace
}  // namespace cordon::wire
