// Update packages (src/core/keys/update_package.hpp): seal, open, refuse,
// and apply to an installed key set.
#include "core/keys/update_package.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

WrappedUserKey wrapped_for(std::string user, uint8_t user_key) {
  auto w = wrap_user_key(kHost, user, kPassword, kGeneratedPasswordKdf, filled<kSaltSize>(1), key_of(user_key),
                         filled<24>(2));
  EXPECT_TRUE(w.ok());
  return w.value();
}

// alice (user key 0x11, the installed key set's user) and bob (0x12).
std::vector<UserKeyHolder> holders(bool with_alice = true) {
  std::vector<UserKeyHolder> out;
  if (with_alice) out.push_back({wrapped_for("alice", 0x11), key_of(0x11), filled<24>(0x30)});
  out.push_back({wrapped_for("bob", 0x12), key_of(0x12), filled<24>(0x31)});
  return out;
}

// Rotating: the new host key 0x33, wrapped for `users`.
Bytes sample_update(uint64_t version = 8, bool rotate = false, const std::vector<UserKeyHolder>& users = holders()) {
  auto r = seal_update(header(version, rotate), key_of(0x22), rotate ? key_of(0x33) : crypto::SecretBytes(),
                       body_with({kPeerC}, 0x40), filled<24>(0x10),
                       rotate ? std::span<const UserKeyHolder>(users) : std::span<const UserKeyHolder>());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.value();
}

// Format 1, written by hand as earlier versions of Cordon did: the body is
// sealed under the current host key, a new host key leads its plaintext.
Bytes format1_update(uint64_t version, const crypto::SecretBytes& current, const crypto::SecretBytes& next) {
  std::array<std::byte, 26> h{};
  wire::ByteWriter hw(h);
  hw.text(kUpdateMagic);
  hw.u16(1);
  hw.u16(kHost.network());
  hw.u32(kHost.value);
  hw.u64(version);
  hw.u8(1);
  hw.u8(next.empty() ? 0 : 1);
  auto body = encode_body(body_with({kPeerC}, 0x40));
  crypto::SecretBytes plaintext(next.size() + body.value().size());
  wire::ByteWriter pw(plaintext.mutable_view());
  pw.bytes(next.view());
  pw.bytes(body.value().view());
  Bytes file(h.size() + detail::sealed_body_size(plaintext.size()));
  wire::ByteWriter w(file);
  w.bytes(h);
  EXPECT_TRUE(detail::write_sealed_body(w, h, Label::kUpdateBody, current.view(), filled<24>(9), plaintext.view()));
  return file;
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

constexpr size_t kOffNetwork = 10, kOffHost = 12, kOffVersion = 16, kOffKind = 24, kOffFlag = 25, kOffCount = 26;
constexpr size_t kOffNonce = 28, kOffLength = kOffNonce + 24, kOffBody = kOffLength + 4;

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

TEST(UpdatePackage, RotatedHostKeyIsWrappedPerUserAndSealsTheBody) {
  const Bytes file = sample_update(9, true);
  EXPECT_EQ(file[8], std::byte{0});
  EXPECT_EQ(file[9], std::byte{2});  // format 2
  EXPECT_EQ(file[kOffFlag], std::byte{1});
  EXPECT_EQ(file[kOffCount + 1], std::byte{2});  // two wraps
  auto parsed = parse_update_header(file);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed.value().wraps.size(), 2u);
  EXPECT_EQ(parsed.value().wraps[1].user_key.user, "bob");
  EXPECT_TRUE(parsed.value().sealed_under_new_host_key());

  // The old host key opens nothing: the body is sealed under the new one.
  EXPECT_EQ(code_of(open_update(file, key_of(0x22))), KeySetError::kTampered);
  for (auto [user, key] : {std::pair{"alice", 0x11}, std::pair{"bob", 0x12}}) {
    auto unwrapped = unwrap_update_host_key(parsed.value(), user, key_of(static_cast<uint8_t>(key)));
    ASSERT_TRUE(unwrapped.ok()) << user;
    EXPECT_TRUE(unwrapped.value() == key_of(0x33));
  }
  EXPECT_EQ(unwrap_update_host_key(parsed.value(), "bob", key_of(0x11)).error().code, KeySetError::kWrongUserKey);
  auto opened = open_update(file, key_of(0x33));
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_TRUE(opened.value().new_host_key == key_of(0x33));
  expect_same_body(opened.value().body, body_with({kPeerC}, 0x40));
  auto for_alice = open_update_for(file, installed());
  ASSERT_TRUE(for_alice.ok()) << for_alice.error().message();
  EXPECT_TRUE(for_alice.value().new_host_key == key_of(0x33));
}

TEST(UpdatePackage, RemovedUserLearnsNothingOfTheNextPackage) {
  // alice was removed: the package wraps the new host key for bob only.
  const Bytes file = sample_update(9, true, holders(false));
  const OpenedKeySet alice = installed();
  auto r = open_update_for(file, alice);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeySetError::kUserRemoved);
  EXPECT_NE(r.error().message().find("user was removed"), std::string::npos) << r.error().message();
  // Neither her host key nor her user key opens any part of it.
  EXPECT_EQ(code_of(open_update(file, alice.host_key)), KeySetError::kTampered);
  EXPECT_EQ(code_of(open_update(file, alice.user_key)), KeySetError::kTampered);
  const auto header = parse_update_header(file).value();
  EXPECT_EQ(unwrap_update_host_key(header, "bob", alice.user_key).error().code, KeySetError::kWrongUserKey);
  EXPECT_EQ(unwrap_update_host_key(header, "alice", alice.user_key).error().code, KeySetError::kUserRemoved);
  // The new link key is nowhere in the file in the clear.
  const auto link = body_with({kPeerC}, 0x40).links[0].key;
  EXPECT_EQ(std::search(file.begin(), file.end(), link.view().begin(), link.view().end()), file.end());
}

TEST(UpdatePackage, Format1IsStillRead) {
  const Bytes plain = format1_update(8, key_of(0x22), {});
  auto opened = open_update(plain, key_of(0x22));
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened.value().header.format, 1u);
  EXPECT_TRUE(opened.value().new_host_key.empty());
  expect_same_body(opened.value().body, body_with({kPeerC}, 0x40));

  const Bytes rotating = format1_update(9, key_of(0x22), key_of(0x33));
  auto rotated = open_update_for(rotating, installed());
  ASSERT_TRUE(rotated.ok()) << rotated.error().message();
  EXPECT_TRUE(rotated.value().new_host_key == key_of(0x33));
  auto applied = apply_update(installed(), rotated.value(), KeySetNonces{filled<24>(5), filled<24>(6)});
  ASSERT_TRUE(applied.ok());
  EXPECT_TRUE(open_keyset(applied.value(), kPassword).value().host_key == key_of(0x33));
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
  // A new host key wrapped for nobody, or a wrap without a new host key.
  EXPECT_EQ(seal_update(header(1, true), key_of(0x22), key_of(0x33), body, {}).error().code, KeySetError::kBadField);
  const auto users = holders();
  EXPECT_EQ(seal_update(header(1), key_of(0x22), {}, body, {}, users).error().code, KeySetError::kBadField);
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
    auto r = open_update(std::span(file).first(n), key_of(0x33));
    ASSERT_EQ(code_of(r), KeySetError::kTruncated) << n;
    EXPECT_EQ(r.error().message().rfind("the update package ends early (" + std::to_string(n) + " of ", 0), 0u)
        << r.error().message();
  }
  Bytes longer = file;
  longer.push_back(std::byte{1});
  EXPECT_EQ(code_of(open_update(longer, key_of(0x33))), KeySetError::kTrailingBytes);
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
      } else if (i == kOffFlag || i == kOffCount || i == kOffCount + 1) {
        allowed = {KeySetError::kBadField};  // flag and wrap count must agree
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
  EXPECT_TRUE(check_update_applies(header(8), installed_header).ok());
  auto same = check_update_applies(header(7), installed_header);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().code, KeySetError::kStaleVersion);
  EXPECT_NE(same.error().message().find("version 7, installed version 7"), std::string::npos)
      << same.error().message();
  EXPECT_EQ(check_update_applies(header(3), installed_header).error().code, KeySetError::kStaleVersion);
  UpdateHeader other = header(8);
  other.host = kPeerB;
  EXPECT_EQ(check_update_applies(other, installed_header).error().code, KeySetError::kOtherHost);
  other.host = HostId{0x0002000a};
  EXPECT_EQ(check_update_applies(other, installed_header).error().code, KeySetError::kOtherNetwork);
}

TEST(UpdatePackage, ApplyKeepsPasswordAndBringsNewState) {
  const OpenedKeySet before = installed(7);
  auto update = open_update_for(sample_update(8, true), before);
  ASSERT_TRUE(update.ok()) << update.error().message();
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
