// Update packages (src/core/keys/update_package.hpp): seal, open, refuse,
// and apply to an installed key set.
#include "core/keys/update_package.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace cordon::keys {
namespace {

using Bytes = std::vector<std::byte>;

constexpr std::string_view kPassword = "correct-horse-battery";
const HostId kHost{0x0001000a};
const HostId kPeerB{0x0001000b};
const HostId kPeerC{0x0001000c};

crypto::SecretBytes key_of(uint8_t fill) {
  crypto::SecretBytes k(kKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

template <size_t N>
std::array<std::byte, N> filled(uint8_t v) {
  std::array<std::byte, N> a{};
  for (size_t i = 0; i < N; ++i) a[i] = static_cast<std::byte>(v + i);
  return a;
}

AddressBookEntry entry(HostId id, std::string name, Role role) {
  AddressBookEntry e;
  e.id = id;
  e.name = std::move(name);
  e.role = role;
  e.tunnel_v4 = Prefix::parse("10.77.0." + std::to_string(id.host()) + "/16");
  return e;
}

KeySetBody body_with(std::vector<HostId> peers, uint8_t key_base) {
  KeySetBody body;
  body.book.entries.push_back(entry(kHost, "alpha", Role::kClient));
  for (HostId p : peers) {
    body.book.entries.push_back(entry(p, "peer-" + std::to_string(p.host()), Role::kCoordinator));
    body.links.push_back({p, key_of(static_cast<uint8_t>(key_base + p.host()))});
  }
  return body;
}

void expect_same_body(const KeySetBody& a, const KeySetBody& b) {
  EXPECT_EQ(a.book, b.book);
  ASSERT_EQ(a.links.size(), b.links.size());
  for (size_t i = 0; i < a.links.size(); ++i) {
    EXPECT_EQ(a.links[i].peer, b.links[i].peer);
    EXPECT_TRUE(a.links[i].key == b.links[i].key);
  }
}

UpdateHeader header(uint64_t version, bool rotate = false, UpdateKind kind = UpdateKind::kKeys) {
  return UpdateHeader{kHost, version, kind, rotate};
}

Bytes sample_update(uint64_t version = 8, bool rotate = false) {
  auto r = seal_update(header(version, rotate), key_of(0x22), rotate ? key_of(0x33) : crypto::SecretBytes(),
                       body_with({kPeerC}, 0x40), filled<24>(0x10));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.value();
}

OpenedKeySet installed(uint64_t version = 7) {
  auto w = wrap_user_key(kHost, "alice", kPassword, kGeneratedPasswordKdf, filled<kSaltSize>(1), key_of(0x11),
                         filled<24>(2));
  auto file = seal_keyset(w.value(), version, key_of(0x11), key_of(0x22), body_with({kPeerB, kPeerC}, 0x80),
                          KeySetNonces{filled<24>(3), filled<24>(4)});
  auto opened = open_keyset(file.value(), kPassword);
  EXPECT_TRUE(opened.ok());
  return std::move(opened.value());
}

KeySetError code_of(const Result<OpenedUpdate>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? KeySetError::kWrongUserKey : r.error().code;
}

constexpr size_t kOffNetwork = 10, kOffHost = 12, kOffVersion = 16, kOffKind = 24, kOffFlag = 25;
constexpr size_t kOffNonce = 26, kOffLength = kOffNonce + 24, kOffBody = kOffLength + 4;

TEST(UpdatePackage, RoundTrip) {
  const Bytes file = sample_update();
  EXPECT_EQ(std::memcmp(file.data(), "CRDNUPDT", 8), 0);
  EXPECT_EQ(file[kOffKind], std::byte{1});
  EXPECT_EQ(file[kOffFlag], std::byte{0});
  auto parsed = parse_update_header(file);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().host, kHost);
  EXPECT_EQ(parsed.value().version, 8u);
  EXPECT_FALSE(parsed.value().new_host_key);
  auto opened = open_update(file, key_of(0x22));
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_TRUE(opened.value().new_host_key.empty());
  EXPECT_EQ(opened.value().header.kind, UpdateKind::kKeys);
  expect_same_body(opened.value().body, body_with({kPeerC}, 0x40));
}

TEST(UpdatePackage, RotatedHostKey) {
  const Bytes file = sample_update(9, true);
  EXPECT_EQ(file[kOffFlag], std::byte{1});
  auto opened = open_update(file, key_of(0x22));
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_TRUE(opened.value().new_host_key == key_of(0x33));
  expect_same_body(opened.value().body, body_with({kPeerC}, 0x40));
}

TEST(UpdatePackage, AddressBookKind) {
  auto r = seal_update(header(3, false, UpdateKind::kAddressBook), key_of(0x22), {}, body_with({}, 0), {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(parse_update_header(r.value()).value().kind, UpdateKind::kAddressBook);
  EXPECT_EQ(update_kind_name(UpdateKind::kAddressBook), "address-book");
  EXPECT_EQ(update_kind_name(UpdateKind::kKeys), "keys");
}

TEST(UpdatePackage, WrongHostKeyIsTampered) {
  auto r = open_update(sample_update(), key_of(0x23));
  EXPECT_EQ(code_of(r), KeySetError::kTampered);
  EXPECT_NE(r.error().message().find("update package"), std::string::npos);
  EXPECT_EQ(code_of(open_update(sample_update(), crypto::SecretBytes())), KeySetError::kTampered);
}

TEST(UpdatePackage, SealRefusesInconsistentInputs) {
  const auto body = body_with({kPeerC}, 0x40);
  EXPECT_EQ(seal_update(header(1, true), key_of(0x22), {}, body, {}).error().code, KeySetError::kBadField);
  EXPECT_EQ(seal_update(header(1, false), key_of(0x22), key_of(0x33), body, {}).error().code, KeySetError::kBadField);
  EXPECT_EQ(seal_update(header(1), crypto::SecretBytes(16), {}, body, {}).error().code, KeySetError::kBadField);
  EXPECT_EQ(seal_update(UpdateHeader{HostId{0x00010000}, 1, UpdateKind::kKeys, false}, key_of(0x22), {}, body, {})
                .error()
                .code,
            KeySetError::kBadField);
  KeySetBody other = body;
  other.book.entries[0].id = HostId{0x0001000d};
  EXPECT_EQ(seal_update(header(1), key_of(0x22), {}, other, {}).error().code, KeySetError::kBadField);
  KeySetBody empty;
  EXPECT_EQ(seal_update(header(1), key_of(0x22), {}, empty, {}).error().code, KeySetError::kBadField);
}

TEST(UpdatePackage, TruncationAtEveryOffset) {
  const Bytes file = sample_update(8, true);
  for (size_t n = 0; n < file.size(); ++n) {
    auto r = open_update(std::span(file).first(n), key_of(0x22));
    ASSERT_EQ(code_of(r), KeySetError::kTruncated) << n;
    EXPECT_EQ(r.error().message().rfind("the update package ends early (" + std::to_string(n) + " of ", 0), 0u)
        << r.error().message();
  }
  Bytes longer = file;
  longer.push_back(std::byte{1});
  EXPECT_EQ(code_of(open_update(longer, key_of(0x22))), KeySetError::kTrailingBytes);
}

TEST(UpdatePackage, EveryBitFlip) {
  const Bytes file = sample_update();
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = file;
      bad[i] ^= static_cast<std::byte>(1 << bit);
      const auto r = open_update(bad, key_of(0x22));
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      std::set<KeySetError> allowed;
      if (i < 8) {
        allowed = {KeySetError::kBadMagic};
      } else if (i < kOffNetwork) {
        allowed = {KeySetError::kUnsupportedFormat};
      } else if (i < kOffHost + 2) {
        allowed = {KeySetError::kBadField};  // network vs host ID
      } else if (i < kOffVersion) {
        allowed = {KeySetError::kTampered, KeySetError::kBadField};  // host number
      } else if (i < kOffKind) {
        allowed = {KeySetError::kTampered};  // version
      } else if (i == kOffKind) {
        allowed = {KeySetError::kBadField};  // 1 -> 0, 3, 5, ...: never another valid kind
      } else if (i == kOffFlag) {
        allowed = {bit == 0 ? KeySetError::kTampered : KeySetError::kBadField};
      } else if (i < kOffLength || i >= kOffBody) {
        allowed = {KeySetError::kTampered};
      } else {
        allowed = {KeySetError::kTruncated, KeySetError::kTrailingBytes};
      }
      EXPECT_TRUE(allowed.count(r.error().code)) << "byte " << i << " bit " << bit << ": "
                                                 << error_name(r.error().code);
    }
  }
}

TEST(UpdatePackage, KeySetIsNotAnUpdate) {
  auto w = wrap_user_key(kHost, "alice", kPassword, kGeneratedPasswordKdf, {}, key_of(0x11), {});
  auto keyset = seal_keyset(w.value(), 1, key_of(0x11), key_of(0x22), body_with({}, 0), {});
  EXPECT_EQ(parse_update_header(keyset.value()).error().code, KeySetError::kBadMagic);
  EXPECT_EQ(parse_keyset_header(sample_update()).error().code, KeySetError::kBadMagic);
}

TEST(UpdatePackage, CheckUpdateApplies) {
  const KeySetHeader installed_header{kHost, 7, "alice", kGeneratedPasswordKdf, {}};
  EXPECT_FALSE(check_update_applies(header(8), installed_header));
  auto same = check_update_applies(header(7), installed_header);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->code, KeySetError::kStaleVersion);
  EXPECT_NE(same->message().find("version 7, installed version 7"), std::string::npos) << same->message();
  EXPECT_EQ(check_update_applies(header(3), installed_header)->code, KeySetError::kStaleVersion);
  UpdateHeader other = header(8);
  other.host = kPeerB;
  EXPECT_EQ(check_update_applies(other, installed_header)->code, KeySetError::kOtherHost);
  other.host = HostId{0x0002000a};
  EXPECT_EQ(check_update_applies(other, installed_header)->code, KeySetError::kOtherNetwork);
}

TEST(UpdatePackage, ApplyKeepsPasswordAndBringsNewState) {
  const OpenedKeySet before = installed(7);
  auto update = open_update(sample_update(8, true), before.host_key);
  ASSERT_TRUE(update.ok());
  auto file = apply_update(before, update.value(), KeySetNonces{filled<24>(5), filled<24>(6)});
  ASSERT_TRUE(file.ok()) << file.error().message();
  auto after = open_keyset(file.value(), kPassword);
  ASSERT_TRUE(after.ok()) << after.error().message();
  EXPECT_EQ(after.value().header.version, 8u);
  EXPECT_EQ(after.value().header.user, "alice");
  EXPECT_TRUE(after.value().host_key == key_of(0x33));
  expect_same_body(after.value().body, body_with({kPeerC}, 0x40));
  EXPECT_TRUE(open_keyset_with_user_key(file.value(), before.user_key).ok());

  // The next package is sealed under the rotated key; the old key no longer opens it.
  auto next = seal_update(header(9), key_of(0x33), {}, body_with({kPeerB}, 0x50), filled<24>(7));
  EXPECT_EQ(code_of(open_update(next.value(), before.host_key)), KeySetError::kTampered);
  EXPECT_TRUE(open_update(next.value(), after.value().host_key).ok());

  // Replaying the applied package is refused.
  auto replay = apply_update(after.value(), update.value(), KeySetNonces{});
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, KeySetError::kStaleVersion);
}

TEST(UpdatePackage, ApplyWithoutRotationKeepsHostKey) {
  const OpenedKeySet before = installed(7);
  auto update = open_update(sample_update(10, false), before.host_key);
  ASSERT_TRUE(update.ok());
  auto file = apply_update(before, update.value(), KeySetNonces{});
  auto after = open_keyset(file.value(), kPassword);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value().header.version, 10u);
  EXPECT_TRUE(after.value().host_key == key_of(0x22));
}

}  // namespace
}  // namespace cordon::keys
